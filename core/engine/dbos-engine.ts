import { AsyncLocalStorage } from 'node:async_hooks';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { DBOS, Error as DbosErrors } from '@dbos-inc/dbos-sdk';
import { sql } from 'kysely';
import pg from 'pg';
import { NotFoundError, PatchbayError } from '../errors.js';
import { type StoreDatabase, redactUrl } from '../store/sql.js';
import { type AuditEvent, AuditLog } from './audit.js';
import type { Clock } from './clock.js';
import { type SerializedError, StepFailedError, serializeError as serialize, toRunRecord as toRecord } from './embedded-engine.js';
import { newId } from './ids.js';
import {
  ConnectorUnavailable,
  connectorWait,
  type NewRun,
  type RunContext,
  type RunRecord,
  type RunStatus,
  type SignalResult,
  type StartResult,
  type StepOptions,
  type StoreRunEngine,
  type Workflow,
  type WorkflowResult,
} from './port.js';
import { isRetryable, noRetry, retryDelayMs } from './retry.js';

/**
 * DBOS Transact could not be launched or used: the system database is unreachable, DBOS is not
 * launched in this process, or no engine of that name is attached. Keeps DBOS's error as `cause`.
 */
export class DbosEngineError extends PatchbayError {
  readonly code = 'dbos-engine';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Where DBOS keeps its own state, and who this process is among the workers sharing it. */
export interface DbosLaunchOptions {
  /**
   * The DBOS system database (postgres://…). It may be Patchbay's own database (DBOS keeps its
   * tables in the `dbos` schema) or another one; DBOS creates and migrates it on launch.
   */
  readonly systemDatabaseUrl: string;
  /** DBOS application name: scopes workflows, queues and schedules in the system database (default `patchbay`). */
  readonly appName?: string;
  /**
   * This process among the workers (default DBOS__VMID, else `local`). DBOS recovers on launch only
   * the workflows that were running under this executor ID, so a restarted worker must reuse its
   * ID; two live processes must never share one.
   */
  readonly executorId?: string;
  /**
   * The code version workflows are recorded under; DBOS recovers only workflows of the version it
   * runs (default: DBOS's hash of the registered workflow code).
   */
  readonly applicationVersion?: string;
  /** Connections DBOS keeps to its system database (DBOS's default is 10). */
  readonly poolSize?: number;
  /**
   * Queues this process registers (after launch) and dequeues from: runs started with `queue` are
   * executed by whichever worker listening on it has room (`workerConcurrency` runs at a time in
   * one process; `globalConcurrency` across all). DBOS keeps a queue's settings in one row of the
   * system database: the last process that dequeues from it and launches sets them for all.
   */
  readonly queues?: readonly { readonly name: string; readonly workerConcurrency?: number; readonly globalConcurrency?: number; readonly pollingIntervalMs?: number }[];
  /**
   * The queues this process dequeues from (default: every queue in `queues`, or every queue when
   * none is given). `[]` for a process that only starts runs, such as a server in front of workers.
   */
  readonly listen?: readonly string[];
  /** DBOS's own log level (default `warn`: DBOS logs every launch and recovery at `info`). */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Holds a PostgreSQL session lock named after the executor ID on the system database while DBOS
   * runs here (default false), so that other processes can tell this executor is alive: the
   * workflows of an executor whose lock is free are taken over by recoverOrphans(). A process that
   * executes runs (a worker) holds it; one that only starts and reads them need not.
   */
  readonly advertise?: boolean;
}

/** A unique executor ID for a process: `<host>-<pid>-<random>` (never reused, so a restart does not claim a dead process's workflows by name). */
export function newExecutorId(): string {
  return `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The first key of the liveness locks ("pbbx"); the second is hashtext(executor ID). */
const livenessLockSpace = 0x70626278;

/** The first key of the lock one recoverer at a time holds across processes (see DbosRunEngine.recoverOrphans). */
const recoveryLockSpace = 0x70626272;

/** Whether this process is recovering orphans now (the session lock is re-entrant within the process). */
let recovering = false;

/** The connection holding this process's liveness lock, also used to test other executors' locks. */
let liveness: { client: pg.Client; executorId: string; url: string; closing: boolean } | undefined;

async function holdLiveness(url: string, executorId: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  const state = { client, executorId, url, closing: false };
  client.on('error', () => {
    // The connection broke: the lock went with it. Take it again on a new one, unless stopping.
    if (state.closing || liveness !== state) return;
    liveness = undefined;
    const retry = () => void holdLiveness(url, executorId).catch(() => setTimeout(retry, 2000).unref());
    setTimeout(retry, 500).unref();
  });
  await client.connect();
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [livenessLockSpace, executorId]);
  liveness = state;
}

async function releaseLiveness(): Promise<void> {
  const held = liveness;
  liveness = undefined;
  if (!held) return;
  held.closing = true;
  await held.client.end().catch(() => {});
}

/**
 * Whether the executor is gone: nobody holds its liveness lock. Tested on this process's liveness
 * connection (a lock taken to test it is released at once). Without a liveness connection nothing
 * is judged gone.
 */
async function executorGone(executorId: string): Promise<boolean> {
  if (!liveness || executorId === liveness.executorId) return false;
  const { rows } = await liveness.client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [livenessLockSpace, executorId]);
  if (!rows[0]?.got) return false;
  await liveness.client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [livenessLockSpace, executorId]);
  return true;
}

/** Runs a function in the async context this module was loaded in: outside any store transaction. */
const detached: <R>(fn: () => R) => R = AsyncLocalStorage.snapshot();

/** Engines attached in this process by name; the DBOS workflow finds its engine here, also after recovery. */
const engines = new Map<string, DbosRunEngine>();
const waitingForEngine = new Map<string, ((engine: DbosRunEngine) => void)[]>();

/** The engine attached under `name` once it has its workflow (a run recovered at launch may begin before either). */
function engineNamed(name: string): Promise<DbosRunEngine> {
  const engine = engines.get(name);
  if (engine?.ready) return Promise.resolve(engine);
  return new Promise((resolve) => waitingForEngine.set(name, [...(waitingForEngine.get(name) ?? []), resolve]));
}

function engineReady(engine: DbosRunEngine): void {
  for (const resolve of waitingForEngine.get(engine.name) ?? []) resolve(engine);
  waitingForEngine.delete(engine.name);
}

/** The one DBOS workflow of Patchbay: executes run `runId` on the engine attached as `engineName`. */
let runWorkflow: ((engineName: string, runId: string) => Promise<WorkflowResult | null>) | undefined;

function registerRunWorkflow(): (engineName: string, runId: string) => Promise<WorkflowResult | null> {
  runWorkflow ??= DBOS.registerWorkflow(
    async (engineName: string, runId: string) => (await engineNamed(engineName)).execute(runId),
    { name: 'patchbay.run' },
  );
  return runWorkflow;
}

/** What a schedule passes to a job's workflow: the engine it belongs to and the job's name. */
interface JobContext {
  readonly engine: string;
  readonly job: string;
}

/** The DBOS workflow of every scheduled job: one step that runs the job on the engine attached under its name. */
let jobWorkflow: ((at: Date, context: JobContext) => Promise<void>) | undefined;

function registerJobWorkflow(): (at: Date, context: JobContext) => Promise<void> {
  jobWorkflow ??= DBOS.registerWorkflow(
    async (_at: Date, context: JobContext) => {
      const engine = await engineNamed(context.engine);
      // The job's own work runs outside DBOS's step context (as code called from anywhere): what it starts (runs of the leaver feed) are workflows of their own.
      await DBOS.runStep(() => detached(() => engine.runJob(context.job)), { name: context.job });
    },
    { name: 'patchbay.job' },
  );
  return jobWorkflow;
}

/**
 * A crontab (DBOS's, with seconds) that fires every `seconds`: a divisor of 60 seconds, or a
 * whole number of minutes that divides an hour.
 * @throws DbosEngineError for an interval a crontab cannot express.
 */
export function cronEvery(seconds: number): string {
  if (Number.isInteger(seconds) && seconds >= 1 && seconds < 60 && 60 % seconds === 0) return `*/${seconds} * * * * *`;
  const minutes = seconds / 60;
  if (Number.isInteger(minutes) && minutes >= 1 && minutes <= 60 && 60 % minutes === 0) return `0 */${minutes} * * * *`;
  throw new DbosEngineError(`an interval of ${seconds} s cannot be scheduled on DBOS: use a divisor of 60 s (1, 2, 5, 10, 15, 30) or of an hour in minutes (60, 120, 300, …)`);
}

/**
 * Launches DBOS Transact in this process (once per process: DBOS is a process-wide singleton).
 * Registers Patchbay's run workflow first, so that DBOS can recover runs that were executing here
 * when the process stopped; they resume as soon as their engine is attached.
 * @throws DbosEngineError when DBOS cannot reach or migrate its system database (the DBOS error is the cause).
 */
export async function launchDbos(options: DbosLaunchOptions): Promise<void> {
  if (DBOS.isInitialized()) return;
  registerRunWorkflow();
  registerJobWorkflow();
  DBOS.setConfig({
    name: options.appName ?? 'patchbay',
    systemDatabaseUrl: options.systemDatabaseUrl,
    logLevel: options.logLevel ?? 'warn',
    ...(options.executorId ? { executorID: options.executorId } : {}),
    ...(options.applicationVersion ? { applicationVersion: options.applicationVersion } : {}),
    ...(options.poolSize ? { systemDatabasePoolSize: options.poolSize } : {}),
    ...(options.listen ? { listenQueues: [...options.listen] } : options.queues?.length ? { listenQueues: options.queues.map((q) => q.name) } : {}),
  });
  try {
    // Alive before DBOS starts dequeuing: a worker's runs taken between its launch and its lock
    // looked orphaned to another worker's takeover, which queued them again, and two workers then
    // executed one run (chaos: its DBOS workflow ended in ERROR, its run open for ever).
    // Without an executor ID given, DBOS's own is known only after launch.
    if (options.advertise && options.executorId) await holdLiveness(options.systemDatabaseUrl, options.executorId);
    await DBOS.launch();
    for (const queue of options.queues ?? []) {
      // A queue's settings are one row in the system database, shared by every process: a process
      // that dequeues from it writes its settings, one that only enqueues (a server) creates the row
      // when missing and changes nothing (it set the workers' run slots to its own default).
      const dequeues = !options.listen || options.listen.includes(queue.name);
      await DBOS.registerQueue(queue.name, {
        ...(queue.workerConcurrency ? { workerConcurrency: queue.workerConcurrency } : {}),
        ...(queue.globalConcurrency ? { globalConcurrency: queue.globalConcurrency } : {}),
        ...(queue.pollingIntervalMs ? { minPollingIntervalMs: queue.pollingIntervalMs } : {}),
        onConflict: dequeues ? 'always_update' : 'never_update',
      });
    }
    if (options.advertise && !options.executorId) await holdLiveness(options.systemDatabaseUrl, DBOS.executorID);
  } catch (cause) {
    await releaseLiveness();
    await DBOS.shutdown().catch(() => {});
    // Two processes creating DBOS's tables at once deadlock; `patchbay migrate --engine dbos` creates them before any starts.
    const hint = /deadlock/.test((cause as Error).message) ? ' (several processes created DBOS\'s tables at once: run patchbay migrate --engine dbos before starting them)' : '';
    throw new DbosEngineError(`cannot launch DBOS on ${redactUrl(options.systemDatabaseUrl)}: ${(cause as Error).message}${hint}`, { cause });
  }
}

/**
 * Creates or migrates DBOS's own tables (its `dbos` schema) in the system database without
 * launching DBOS: the step before several processes start at once (each launch would otherwise
 * migrate, and concurrent migrations deadlock).
 * @throws DbosEngineError when the database refuses (the DBOS error is the cause).
 */
export async function migrateDbos(systemDatabaseUrl: string): Promise<void> {
  try {
    await DBOS.migrate(systemDatabaseUrl);
  } catch (cause) {
    throw new DbosEngineError(`cannot migrate DBOS's tables on ${redactUrl(systemDatabaseUrl)}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Stops DBOS in this process: no more dequeues; workflows running here stop at their next DBOS call
 * and are recovered by the next launch with the same executor ID. `waitMs` lets running workflows
 * finish first (default: do not wait). `deregister` forgets the registered workflow (tests that
 * launch again in the same process).
 */
export async function shutdownDbos(options: { waitMs?: number; deregister?: boolean } = {}): Promise<void> {
  await DBOS.shutdown({ ...(options.waitMs ? { workflowCompletionTimeoutMS: options.waitMs } : {}), ...(options.deregister ? { deregister: true } : {}) });
  // After DBOS has stopped: from here on this executor's unfinished workflows are free to take over.
  await releaseLiveness();
  if (options.deregister) {
    runWorkflow = undefined;
    jobWorkflow = undefined;
  }
}

/** A job the engine runs on a DBOS schedule: once per tick across every process on the system database. */
export interface DbosJob {
  /** The job's name (unique per engine); the schedule is `<engine>.<name>`. */
  readonly name: string;
  /** How often, in seconds (see cronEvery). */
  readonly everySeconds: number;
  /** The queue its ticks are enqueued on: a queue with globalConcurrency 1 runs one tick at a time across processes. */
  readonly queue: string;
  /** The work; at least once per tick (a tick whose process dies is taken over and runs again), so it must be idempotent. */
  readonly run: () => Promise<unknown>;
}

/** How to run the engine. */
export interface DbosEngineOptions {
  /**
   * The engine's name in this process (default `patchbay`). The name is recorded with every DBOS
   * workflow, so a process that recovers a run must attach an engine of the same name.
   */
  readonly name?: string;
  /** The workflow every run executes; may also be set later with use(). */
  readonly workflow?: Workflow;
  /**
   * A DBOS queue to start runs on (see DbosLaunchOptions.queues): any worker listening on it
   * executes them. Without one, a run executes in the process that started it.
   */
  readonly queue?: string;
  /**
   * Appends one audit event inside the caller's store transaction (at: epoch ms). Default: this
   * file's appender, which writes the same hash chain as core/engine/audit.ts under the store's
   * audit-chain lock.
   */
  readonly appendAudit?: (store: StoreDatabase, event: AuditEvent, at: number) => Promise<void>;
  /** The time in epoch ms (default Date.now); `clock` wins when both are given. */
  readonly now?: () => number;
  /** The runtime's clock (the one the task store and the outbox read). */
  readonly clock?: Clock;
  /** The audit log the rest of the runtime appends to (its listeners, such as the event outbox, see the engine's events too). Default: a new one on the store. */
  readonly audit?: AuditLog;
  /**
   * How long a wait for a signal sleeps before it looks in `signals` again by itself (ms, default
   * 5 minutes): the bound on how late a signal whose DBOS message was lost (its sender stopped
   * between the commit and the send) is seen, should drive() not repair it first.
   */
  readonly recheckMs?: number;
  /** How often drive() (a worker's loop) takes over the runs of stopped workers, at most (ms, default 2 s; see recoverOrphans). */
  readonly recoverEveryMs?: number;
  /**
   * How many runs of stopped workers one takeover hands back to the queue (default 5); the rest on
   * the next, so that they spread over the workers polling in between instead of all going to one.
   */
  readonly recoverBatch?: number;
}

/** What a run parked for: a connector this process's catalogue lacks, tried again in retryInMs (see ConnectorUnavailable). */
interface MissingConnector {
  readonly connector: string;
  readonly retryInMs: number;
}

/** A signal's DBOS message: only a doorbell. What the signal says is the committed `signals` row. */
interface Doorbell {
  readonly dedupeKey: string;
}

/** Doorbells to ring once the engine-level transaction they were recorded in has committed. */
const pendingDoorbells = new AsyncLocalStorage<{ runId: string; name: string; dedupeKey: string }[]>();

const open = ['running', 'waiting'] as const;

/**
 * The run engine on DBOS Transact and PostgreSQL: each run is one DBOS workflow whose workflow ID
 * is the run id, so DBOS checkpoints its steps, messages and timers in its system database and
 * resumes it after a crash (in the process that restarts with the same executor ID). Patchbay's
 * own `runs`, `steps`, `signals`, `journal` and `audit` tables are kept as the embedded engine
 * keeps them (same columns and meanings), through the store's query layer, so lists, pages and
 * the audit chain read the same on either engine.
 *
 * - Idempotent starts: the same idempotency key, or the same tenant|playbook|app|email while a run
 *   for it is open (the `runs_open_key` unique index), returns the existing run (`created: false`),
 *   also when two servers start it at the same moment.
 * - Signals are DBOS messages on the topic of the signal's name, sent with the signal's dedupe key
 *   as DBOS's idempotency key: a repeated signal is delivered once.
 * - Status, outcome and what a run waits for are written to `runs` as the workflow moves; writes
 *   only ever move an open run (a cancelled or finished run is never reopened).
 *
 * DBOS must be launched in the process (launchDbos) before start() or signal().
 */
export class DbosRunEngine implements StoreRunEngine {
  readonly name: string;
  private workflow: Workflow | undefined;
  private readonly queue: string | undefined;
  private readonly appendAudit: (store: StoreDatabase, event: AuditEvent, at: number) => Promise<void>;
  private readonly now: () => number;
  readonly clock: Clock;
  readonly audit: AuditLog;
  readonly recheckMs: number;
  /** Task escalation and the outbox run as scheduled DBOS jobs (scheduleJobs), once across processes, not in each process's loop. */
  readonly schedulesMaintenance = true;
  private readonly jobs = new Map<string, DbosJob>();
  /** How often a worker's drive() looks for the runs of stopped workers (ms). */
  private readonly recoverEveryMs: number;
  private lastRecovery = 0;
  /** Orphans handed back to the queues per recoverOrphans() call, at most. */
  private readonly recoverBatch: number;

  constructor(
    readonly store: StoreDatabase,
    options: DbosEngineOptions = {},
  ) {
    if (store.dialect !== 'postgres') throw new DbosEngineError(`the DBOS engine runs on PostgreSQL; ${store.location} is the embedded SQLite store`);
    this.name = options.name ?? 'patchbay';
    this.workflow = options.workflow;
    this.queue = options.queue;
    this.audit = options.audit ?? new AuditLog(store);
    this.appendAudit = options.appendAudit ?? ((_store, event, at) => this.audit.append(event, at));
    const clock = options.clock;
    this.now = clock ? () => clock.now() : (options.now ?? Date.now);
    this.clock = clock ?? { now: this.now };
    this.recheckMs = options.recheckMs ?? 300_000;
    this.recoverEveryMs = options.recoverEveryMs ?? 2_000;
    this.recoverBatch = options.recoverBatch ?? 5;
    engines.set(this.name, this);
    if (this.workflow) engineReady(this);
  }

  /** The workflow every run executes; set once by the composition root. Runs recovered before it is set wait for it. */
  use(workflow: Workflow): void {
    this.workflow = workflow;
    if (engines.get(this.name) === this) engineReady(this);
  }

  /** Whether the engine has its workflow, so that runs can execute. */
  get ready(): boolean {
    return this.workflow !== undefined;
  }

  /** The query builder: the open store transaction of the calling context, else the database. */
  get db(): StoreDatabase['db'] {
    return this.store.db;
  }

  /**
   * Runs `fn` in a store transaction (or the one already open); the signals it gives reach their
   * runs (their DBOS messages are sent) once it has committed, so a run never wakes to a signal
   * that is not yet, or never, committed.
   */
  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.store.inTransaction) return fn();
    const doorbells: { runId: string; name: string; dedupeKey: string }[] = [];
    const result = await pendingDoorbells.run(doorbells, () => this.store.transaction(fn));
    for (const bell of doorbells) await this.ring(bell.runId, bell.name, bell.dedupeKey);
    return result;
  }

  /** Applies `change` in one commit; DBOS moves the runs it signals (on whichever worker executes them). */
  async changeAndDrive<T>(change: () => T | Promise<T>): Promise<T> {
    return this.transaction(async () => change());
  }

  /**
   * Schedules `jobs` as DBOS scheduled workflows (DBOS.applySchedules, an upsert: every process may
   * apply the same ones) and runs them here when this process dequeues their ticks. Each tick has
   * one workflow ID across all processes, so it runs once, wherever it is dequeued.
   * @throws DbosEngineError for an interval a crontab cannot express.
   */
  async scheduleJobs(jobs: readonly DbosJob[]): Promise<void> {
    const schedules = jobs.map((job) => ({ scheduleName: `${this.name}.${job.name}`, workflowFn: registerJobWorkflow(), schedule: cronEvery(job.everySeconds), context: { engine: this.name, job: job.name } satisfies JobContext, queueName: job.queue }));
    for (const job of jobs) this.jobs.set(job.name, job);
    await DBOS.applySchedules(schedules);
  }

  /**
   * Runs the job of that name (a scheduled tick dequeued here). A tick dequeued before this process
   * has scheduled the job (it listens on the job's queue from launch, and schedules a moment later)
   * waits up to 30 s for it; a job this process never schedules is skipped.
   */
  async runJob(name: string): Promise<unknown> {
    for (let waited = 0; !this.jobs.has(name) && waited < 30_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    const job = this.jobs.get(name);
    return job ? job.run() : { skipped: `no job ${name} in this process` };
  }

  /**
   * Hands the unfinished workflows of executors that are gone (no process holds their liveness
   * lock: killed, or shut down before their runs ended) to the queue, where a live worker takes
   * them and DBOS resumes each from its last checkpoint, at most recoverBatch per call (the rest on
   * the next call). Returns how many were handed over.
   * One process at a time across the system database (a session lock on the liveness connection,
   * and one call at a time in the process): DBOS's resume re-enqueues whatever is not finished, so
   * a second recoverer acting on a list read before the first one's resume would enqueue a
   * workflow a live worker has just taken, and two workers would execute it. A process that holds
   * no liveness lock (not a worker) recovers nothing.
   */
  async recoverOrphans(): Promise<number> {
    const held = liveness;
    if (!held || recovering) return 0;
    recovering = true;
    try {
      const { rows } = await held.client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [recoveryLockSpace, 'patchbay']);
      if (!rows[0]?.got) return 0;
      try {
        return await this.resumeOrphans();
      } finally {
        await held.client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [recoveryLockSpace, 'patchbay']).catch(() => {});
      }
    } finally {
      recovering = false;
    }
  }

  private async resumeOrphans(): Promise<number> {
    const pending = await DBOS.listWorkflows({ status: 'PENDING', loadInput: false, loadOutput: false });
    const byExecutor = new Map<string, typeof pending>();
    for (const wf of pending) if (wf.executorId) byExecutor.set(wf.executorId, [...(byExecutor.get(wf.executorId) ?? []), wf]);
    let recovered = 0;
    for (const [executorId, workflows] of byExecutor) {
      if (!(await executorGone(executorId))) continue;
      // Back on the queue each came from (a run started without a queue goes on the engine's); DBOS's own temporary workflows are left alone.
      const byQueue = new Map<string | undefined, string[]>();
      for (const wf of workflows.filter((w) => !w.workflowName.startsWith('temp_'))) {
        const queue = wf.queueName ?? (wf.workflowName === 'patchbay.run' ? this.queue : undefined);
        byQueue.set(queue, [...(byQueue.get(queue) ?? []), wf.workflowID]);
      }
      for (const [queueName, all] of byQueue) {
        // A few per queue and pass: a worker dequeues every queued run it has room for when it polls,
        // so a dead worker's runs queued all at once went to one worker, and their browser jobs waited
        // for its contexts while the others idled. The rest wait for the next pass (recoverEveryMs).
        const ids = all.slice(0, Math.max(0, this.recoverBatch - recovered));
        if (!ids.length) continue;
        await DBOS.resumeWorkflows(ids, queueName ? { queueName } : undefined);
        recovered += ids.length;
      }
    }
    return recovered;
  }

  /**
   * recoverOrphans() from a worker's own loop (drive()), at most once per recoverEveryMs: not only
   * from the maintenance job, whose queue runs one tick at a time across processes, so a tick left
   * running by a killed worker held the queue until it was recovered, which only a tick could do,
   * and every run of a killed worker waited for ever. Its failure is said on stderr, not thrown:
   * the worker's loop goes on, and the next pass tries again.
   */
  private async recoverNow(): Promise<void> {
    if (!liveness || Date.now() - this.lastRecovery < this.recoverEveryMs) return;
    this.lastRecovery = Date.now();
    await this.recoverOrphans().catch((error: unknown) => process.stderr.write(`patchbay dbos engine: could not take over the runs of stopped workers (tried again on the next pass): ${(error as Error)?.message ?? String(error)}\n`));
  }

  /** Forgets this engine in the process (its runs wait, durably, for an engine of the same name). */
  detach(): void {
    if (engines.get(this.name) === this) engines.delete(this.name);
  }

  /**
   * Records each run (or finds the open one for the same key or person), then starts the DBOS
   * workflow of each new one. Resolves once every new run is durably recorded and its workflow
   * durably started; the workflows execute in the background (or on the queue's workers). Called
   * inside a store transaction, it records the runs in it and commits it before starting the
   * workflows, because a workflow must find its run; with `drive: false` (record only, as a server
   * does inside its group commit) it does not commit the caller's transaction but starts the
   * workflows once that has committed, and resolves before they are started. A process that stops
   * in between leaves runs without a workflow: drive() (or the first signal to such a run) starts them.
   * @throws DbosEngineError when DBOS is not launched in this process.
   */
  async start(runs: readonly NewRun[], options: { drive?: boolean } = {}): Promise<StartResult[]> {
    const results: StartResult[] = [];
    for (const run of runs) results.push(await this.record(run));
    const created = results.filter((r) => r.created).map((r) => r.run.id);
    if (!created.length) return results;
    if (options.drive === false && this.store.inTransaction) {
      // Only recorded, in the caller's transaction (a server's group commit, whose other requests
      // share it: committing it here would commit theirs half-way). The workflows start once it has
      // committed; a process that stops before they have started leaves them to drive().
      this.store.afterCommit(() => this.inBackground('start the workflows of the runs just recorded', async () => {
        for (const runId of created) await this.startWorkflow(runId);
      }));
      return results;
    }
    await this.store.outside(async () => {
      for (const runId of created) await this.startWorkflow(runId);
    });
    return results;
  }

  /**
   * Runs `work` in the background, outside the caller's async context: what is left to do once a
   * caller's transaction has committed. Its failure is logged to stderr, not thrown (nobody waits
   * for it); what it leaves undone is what drive() repairs.
   */
  private inBackground(what: string, work: () => Promise<void>): void {
    detached(() => {
      work().catch((error: unknown) => process.stderr.write(`patchbay dbos engine: could not ${what} (drive() repairs it): ${(error as Error)?.message ?? String(error)}\n`));
    });
  }

  private async record(run: NewRun): Promise<StartResult> {
    const openKey = `${run.profile.tenant}|${run.request.playbook}|${run.request.app}|${run.request.subject.email.toLowerCase()}`;
    return this.store.transaction(async () => {
      const now = this.now();
      const id = newId('run', now);
      // No conflict target: a clash on the idempotency key or on the open-run index both do nothing;
      // a concurrent insert of the same person waits for the other transaction and then does nothing.
      const inserted = await this.store.db
        .insertInto('runs')
        .values({
          id, idempotency_key: run.idempotencyKey, open_key: openKey, batch_id: run.batchId ?? null, tenant: run.profile.tenant,
          playbook: run.request.playbook, app: run.request.app, subject: run.request.subject.email, request: JSON.stringify(run.request),
          plan: JSON.stringify(run.plan), profile: JSON.stringify(run.profile), status: 'running', wake_at: null, lease_owner: null,
          lease_until: null, created_at: now, updated_at: now,
        })
        .onConflict((oc) => oc.doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!inserted) {
        const existing = await this.store.db
          .selectFrom('runs')
          .selectAll()
          .where((eb) => eb.or([eb('idempotency_key', '=', run.idempotencyKey), eb.and([eb('open_key', '=', openKey), eb('status', 'in', open)])]))
          .limit(1)
          .executeTakeFirst();
        if (!existing) throw new DbosEngineError(`run for ${run.request.subject.email} was neither recorded nor found (it finished while being started); start it again`);
        return { run: toRecord(existing), created: false };
      }
      if (run.plan.steps.length) {
        await this.store.db
          .insertInto('steps')
          .values(run.plan.steps.map((step, position) => ({ run_id: id, step_id: step.id, position, status: 'pending', channel: null, detail: null, updated_at: now })))
          .execute();
      }
      await this.appendAudit(this.store, {
        type: 'run.started', actor: run.request.requestedBy ?? 'patchbay', runId: id,
        data: { playbook: run.request.playbook, app: run.request.app, subject: run.request.subject.email, steps: run.plan.steps.length, ...(run.request.onBehalfOf ? { onBehalfOf: run.request.onBehalfOf } : {}) },
      }, now);
      return { run: toRecord(inserted), created: true };
    });
  }

  private async startWorkflow(runId: string): Promise<void> {
    if (!DBOS.isInitialized()) throw new DbosEngineError('DBOS is not launched in this process: call launchDbos() before starting runs');
    try {
      // Started in this module's own async context, not the caller's: a workflow started in place runs
      // in the background in the context it was started from, and would otherwise inherit the
      // caller's ambient store transaction (the store's AsyncLocalStorage) and write into it.
      await detached(() => DBOS.startWorkflow(registerRunWorkflow(), { workflowID: runId, ...(this.queue ? { queueName: this.queue } : {}) })(this.name, runId));
    } catch (cause) {
      throw new DbosEngineError(`cannot start the DBOS workflow of run ${runId}: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * Delivers a signal to an open run: recorded in `signals` (once per `dedupeKey`: its unique key)
   * and audited, in the caller's store transaction when there is one, so that the signal commits
   * with the change it tells of (a task closed) or not at all. Once that has committed, a DBOS
   * message on topic `name`, sent with `dedupeKey` as DBOS's idempotency key, wakes the run, which
   * reads the signal from `signals`. Returns false when the run is finished or the key was seen.
   * @throws NotFoundError when there is no such run.
   */
  async signal(runId: string, name: string, payload: unknown, dedupeKey: string, actor: string): Promise<boolean> {
    return this.transaction(async () => {
      const row = await this.store.db.selectFrom('runs').select('status').where('id', '=', runId).executeTakeFirst();
      if (!row) throw new NotFoundError('run', runId);
      if (row.status !== 'running' && row.status !== 'waiting') return false;
      const now = this.now();
      const inserted = await this.store.db
        .insertInto('signals')
        .values({ run_id: runId, name, payload: JSON.stringify(payload ?? null), dedupe_key: dedupeKey, at: now })
        .onConflict((oc) => oc.column('dedupe_key').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) return false;
      await this.appendAudit(this.store, { type: 'run.signalled', actor, runId, data: { signal: name } }, now);
      const bells = pendingDoorbells.getStore();
      // The bell rings after the commit: this engine's transaction rings its bells once committed;
      // a transaction the engine did not open (a server's group commit) rings it from afterCommit.
      if (bells) bells.push({ runId, name, dedupeKey });
      else this.store.afterCommit(() => this.inBackground(`send signal ${name} to run ${runId}`, () => this.ring(runId, name, dedupeKey)));
      return true;
    });
  }

  /**
   * Sends the DBOS message that wakes a run waiting for signal `name` (idempotency key `key`:
   * sent twice, delivered once). A run recorded by a process that stopped before starting its
   * workflow has none: it is started, then rung.
   * @throws DbosEngineError when DBOS cannot send it.
   */
  private async ring(runId: string, name: string, key: string): Promise<void> {
    const send = () => detached(() => DBOS.send<Doorbell>(runId, { dedupeKey: key }, name, key));
    try {
      try {
        await send();
      } catch (error) {
        if (!(error instanceof DbosErrors.DBOSNonExistentWorkflowError)) throw error;
        await this.startWorkflow(runId);
        await send();
      }
    } catch (cause) {
      throw new DbosEngineError(`cannot send signal ${name} to run ${runId}: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * Runs `fn` once for (run, key) with its store writes: the writes and a `journal` row holding
   * the result commit in one transaction, so a DBOS step that re-executes after a crash (DBOS had
   * not yet checkpointed it) finds the row and returns the result without writing again.
   */
  async once<T>(runId: string, key: string, fn: () => Promise<T>): Promise<T> {
    return this.transaction(async () => {
      const done = await this.store.db.selectFrom('journal').select('value').where('run_id', '=', runId).where('key', '=', key).executeTakeFirst();
      if (done) return (JSON.parse(done.value) as { value: T }).value;
      const value = await fn();
      // BigInt (a driver's row count) as a number: DBOS's checkpoint keeps it, the journal is JSON.
      const json = JSON.stringify({ value }, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
      await this.store.db.insertInto('journal').values({ run_id: runId, key, value: json, at: this.now() }).execute();
      return value;
    });
  }

  /**
   * The signal a wait takes (the `occurrence`-th wait of the run for `name`): the one it took before
   * (journal `occurrence`), else the oldest signal of that name not taken by another wait, marked
   * taken in the same commit. Answers the time too, for the wait's deadline.
   */
  async takeSignal(runId: string, name: string, occurrence: string): Promise<{ found: { payload: unknown } | null; now: number }> {
    const found = await this.transaction(async () => {
      const taken = await this.store.db.selectFrom('journal').select(['key', 'value']).where('run_id', '=', runId).where('key', 'like', 'signal%').execute();
      const mine = taken.find((t) => t.key === occurrence);
      if (mine) return JSON.parse(mine.value) as { payload: unknown };
      const used = new Set(taken.filter((t) => t.key.startsWith('signal-taken:')).map((t) => t.key));
      const signals = await this.store.db.selectFrom('signals').select(['id', 'payload']).where('run_id', '=', runId).where('name', '=', name).orderBy('id').execute();
      const next = signals.find((sig) => !used.has(`signal-taken:${sig.id}`));
      if (!next) return null;
      const at = this.now();
      const result = { payload: JSON.parse(next.payload) as unknown };
      await this.store.db.insertInto('journal').values([
        { run_id: runId, key: `signal-taken:${next.id}`, value: JSON.stringify(occurrence), at },
        { run_id: runId, key: occurrence, value: JSON.stringify(result), at },
      ]).execute();
      return result;
    });
    return { found, now: this.now() };
  }

  /** @throws NotFoundError when there is no such run. */
  async get(runId: string): Promise<RunRecord> {
    const row = await this.store.db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
    if (!row) throw new NotFoundError('run', runId);
    return toRecord(row);
  }

  /** Runs newest first (at most `limit`, default 1000). */
  async list(filter: { status?: RunStatus; batchId?: string; limit?: number } = {}): Promise<RunRecord[]> {
    let query = this.store.db.selectFrom('runs').selectAll();
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.batchId) query = query.where('batch_id', '=', filter.batchId);
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 1000).execute();
    return rows.map(toRecord);
  }

  /**
   * Cancels an open run: its DBOS workflow first (it stops at its next DBOS call: a step in flight
   * finishes, nothing after it runs), then the row, with an audit event. A finished run is
   * returned as it is.
   * @throws NotFoundError when there is no such run.
   */
  async cancel(runId: string, reason: string, actor: string): Promise<RunRecord> {
    const run = await this.get(runId);
    if (run.status !== 'running' && run.status !== 'waiting') return run;
    try {
      await DBOS.cancelWorkflow(runId);
    } catch (cause) {
      throw new DbosEngineError(`cannot cancel the DBOS workflow of run ${runId}: ${(cause as Error).message}`, { cause });
    }
    await this.store.transaction(async () => {
      const now = this.now();
      const changed = await this.store.db
        .updateTable('runs')
        .set({ status: 'cancelled', outcome: 'cancelled', waiting_for: null, wake_at: null, updated_at: now, finished_at: now })
        .where('id', '=', runId)
        .where('status', 'in', open)
        .executeTakeFirst();
      if (Number(changed.numUpdatedRows) > 0) await this.appendAudit(this.store, { type: 'run.cancelled', actor, runId, data: { reason } }, now);
    });
    return this.get(runId);
  }

  /**
   * DBOS executes runs by itself; drive() only repairs. In a worker it first takes over the runs
   * of stopped workers (recoverOrphans, at most every recoverEveryMs). It starts the DBOS workflow of every
   * running run that has none (a process stopped between recording a run and starting its
   * workflow; a run that waits has one, since its workflow marked it), and rings again for a
   * signal committed more than 2 s ago to a run still waiting for it (its sender stopped between
   * the commit and the send), once per signal (key `<dedupe key>:again`). Starting is idempotent on
   * the workflow ID, so two drivers at once start each run once. Returns how many it repaired.
   */
  async drive(options: { maxSlices?: number } = {}): Promise<{ slices: number }> {
    await this.recoverNow();
    const rows = await this.store.db.selectFrom('runs').select('id').where('status', '=', 'running').orderBy('created_at').limit(options.maxSlices ?? 10_000).execute();
    let slices = 0;
    for (const { id } of rows) {
      if (await DBOS.getWorkflowStatus(id)) continue;
      await this.startWorkflow(id);
      slices++;
    }
    const missed = await this.store.db
      .selectFrom('signals as s')
      .innerJoin('runs as r', 'r.id', 's.run_id')
      .select(['s.run_id as runId', 's.name', 's.dedupe_key as key'])
      .where('r.status', '=', 'waiting')
      .whereRef('r.waiting_for', '=', 's.name')
      // Given while the run was getting ready to wait (its mark comes after its first look), or since.
      .where(sql<boolean>`s.at >= r.updated_at - 5000`)
      .where('s.at', '<', this.now() - 2000)
      .limit(100)
      .execute();
    for (const bell of missed) {
      await this.ring(bell.runId, bell.name, `${bell.key}:again`);
      slices++;
    }
    return { slices };
  }

  /**
   * The body of the DBOS workflow: executes the run's workflow code and records how it ended.
   * Returns null (and does nothing) when the run is no longer open: cancelled, or finished by an
   * execution whose end DBOS had not yet recorded. An error of the workflow code fails the run;
   * a DBOS error (cancelled, its database unreachable) is not the run's outcome and is rethrown.
   * @throws NotFoundError when the run's row does not exist.
   */
  async execute(runId: string): Promise<WorkflowResult | null> {
    // The run's request, plan and profile never change: reading them outside a step replays the same.
    const row = await this.store.db.selectFrom('runs').selectAll().where('id', '=', runId).executeTakeFirst();
    if (!row) throw new NotFoundError('run', runId);
    if (row.status !== 'running' && row.status !== 'waiting') return null;
    const run = toRecord(row);
    let result: WorkflowResult | undefined;
    for (let attempt = 1; !result; attempt++) {
      // A connector missing from this process's catalogue is the process's problem, not the run's
      // (as on the embedded engine): the run waits, with the reason, and the workflow is tried again
      // after a durable DBOS sleep. An attempt that parked before (its journal row committed) is not
      // run again on replay: the workflow checks its catalogue before its first call, so the park is
      // the attempt's only record, and running it again in a process that now has the connector would
      // put the workflow's first step where DBOS recorded the park.
      const key = `connector-unavailable@${attempt}`;
      let missing = await this.parkedFor(runId, key);
      if (!missing) {
        const context = new DbosContext(this, run);
        try {
          result = await this.workflow!(context, run);
        } catch (error) {
          // Cancelled, or DBOS itself failed (its database, a conflict with another executor): not the run's outcome.
          if (error instanceof DbosErrors.DBOSError) throw error;
          // Only before the workflow's first call: after it, a replay could not tell the attempt's calls from the next one's.
          if (error instanceof ConnectorUnavailable && context.calls === 0) missing = { connector: error.connector, retryInMs: error.retryInMs };
          else result = { outcome: 'failed', summary: (error as Error)?.message ?? String(error) };
        }
      }
      if (missing) {
        const parked = missing;
        await DBOS.runStep(() => this.park(runId, key, parked), { name: 'patchbay.connector-unavailable' });
        await DBOS.sleep(parked.retryInMs);
        await this.mark(runId, null, null);
      }
    }
    // Not a DBOS step: finish() changes only an open run, so a replay after a crash between it and
    // DBOS recording the workflow's end changes nothing and audits nothing (and saves a checkpoint).
    await this.finish(runId, result);
    return result;
  }

  /** The connector attempt `key` of the run parked for, when it did (its journal row). */
  private async parkedFor(runId: string, key: string): Promise<MissingConnector | undefined> {
    const row = await this.store.db.selectFrom('journal').select('value').where('run_id', '=', runId).where('key', '=', key).executeTakeFirst();
    return row ? (JSON.parse(row.value) as MissingConnector) : undefined;
  }

  /**
   * Parks an open run whose connector is missing here: waiting, for the reason connectorWait()
   * gives, until now + retryInMs, audited as run.connector-unavailable (as the embedded engine
   * does). Once per (run, key): the journal row, the mark and the event commit together.
   */
  private async park(runId: string, key: string, missing: MissingConnector): Promise<void> {
    await this.store.transaction(async () => {
      const now = this.now();
      const marked = await this.store.db
        .insertInto('journal')
        .values({ run_id: runId, key, value: JSON.stringify(missing), at: now })
        .onConflict((oc) => oc.columns(['run_id', 'key']).doNothing())
        .returning('key')
        .executeTakeFirst();
      if (!marked) return;
      const retryAt = now + missing.retryInMs;
      await this.mark(runId, connectorWait(missing.connector), retryAt);
      await this.appendAudit(this.store, { type: 'run.connector-unavailable', actor: 'patchbay', runId, data: { connector: missing.connector, retryAt } }, now);
    });
  }

  private async finish(runId: string, result: WorkflowResult): Promise<void> {
    await this.store.transaction(async () => {
      const now = this.now();
      const status: RunStatus = result.outcome === 'failed' ? 'failed' : 'completed';
      const changed = await this.store.db
        .updateTable('runs')
        .set({ status, outcome: result.outcome, waiting_for: null, wake_at: null, updated_at: now, finished_at: now })
        .where('id', '=', runId)
        .where('status', 'in', open)
        .executeTakeFirst();
      // Conditional on the run being open: a repeated finish (the step re-executed after a crash) changes nothing and audits nothing.
      if (Number(changed.numUpdatedRows) > 0) {
        await this.appendAudit(this.store, { type: status === 'failed' ? 'run.failed' : 'run.completed', actor: 'patchbay', runId, data: { outcome: result.outcome, summary: result.summary } }, now);
      }
    });
  }

  /**
   * Marks an open run as waiting for `what` (until `wakeAt`, epoch ms) or, with `what` null, running.
   * The mark is what lists and pages show, not what the run resumes from (DBOS's checkpoints are),
   * and a replay writes it again; so its commit does not wait for the disk: one statement that
   * turns synchronous_commit off for its own (implicit) transaction, which saves a flush per mark.
   */
  async mark(runId: string, what: string | null, wakeAt: number | null): Promise<void> {
    await this.store.db
      .updateTable('runs')
      .set({ status: what === null ? 'running' : 'waiting', waiting_for: what, wake_at: wakeAt, updated_at: this.now() })
      .where('id', '=', runId)
      .where('status', 'in', open)
      .$if(!this.store.inTransaction, (q) => q.where(sql<boolean>`set_config('synchronous_commit', 'off', true) IS NOT NULL`))
      .execute();
  }

  /**
   * Appends an audit event once for (run, key): the marker row in `journal` and the event commit
   * together, so a DBOS step that re-executes after a crash appends nothing the second time.
   */
  async auditOnce(runId: string, key: string, event: Omit<AuditEvent, 'runId'>): Promise<void> {
    await this.store.transaction(async () => {
      const now = this.now();
      const marked = await this.store.db
        .insertInto('journal')
        .values({ run_id: runId, key, value: JSON.stringify(event.type), at: now })
        .onConflict((oc) => oc.columns(['run_id', 'key']).doNothing())
        .returning('key')
        .executeTakeFirst();
      if (marked) await this.appendAudit(this.store, { ...event, runId }, now);
    });
  }

}

/**
 * The RunContext of a run on DBOS: every call is a DBOS operation checkpointed in the run's
 * workflow, so a recovered run replays the answers recorded the first time. Calls are told apart
 * by their order in the workflow (DBOS's function IDs), which is why workflow code must call them
 * in the same order on every execution (as on the embedded engine).
 */
class DbosContext implements RunContext {
  private readonly occurrences = new Map<string, number>();
  /** How many calls the workflow made on this context (each is a DBOS operation or more). */
  calls = 0;

  constructor(
    private readonly engine: DbosRunEngine,
    private readonly run: RunRecord,
  ) {}

  get runId(): string {
    return this.run.id;
  }

  private key(name: string): string {
    this.calls++;
    const n = (this.occurrences.get(name) ?? 0) + 1;
    this.occurrences.set(name, n);
    return n === 1 ? name : `${name}#${n}`;
  }

  /**
   * Each attempt is one DBOS step; a retryable failure (isRetryable) is recorded with its delay
   * (retryDelayMs: Retry-After when given, else jittered backoff), audited as step.retry, and
   * waited for with a durable DBOS sleep. A final failure throws StepFailedError, on replay too.
   */
  async step<T>(name: string, fn: (attempt: number) => T | Promise<T>, options: StepOptions = {}): Promise<T> {
    const key = this.key(`step:${name}`);
    const policy = options.retry ?? noRetry;
    for (let attempt = 1; ; attempt++) {
      let thrown: unknown;
      const outcome = await DBOS.runStep<Attempt<T>>(async () => {
        try {
          // An external step calls out: at least once, made safe by its idempotency key. Any other
          // step's store writes commit with its journal row: exactly once (see DbosRunEngine.once).
          if (options.external) return { kind: 'value', value: await fn(attempt) };
          return { kind: 'value', value: await this.engine.once(this.run.id, `${key}@${attempt}`, async () => fn(attempt)) };
        } catch (error) {
          thrown = error;
          const failure = serialize(error);
          if (isRetryable(error) && attempt < policy.maxAttempts) return { kind: 'retry', failure, delayMs: retryDelayMs(error, attempt, policy) };
          return { kind: 'error', failure };
        }
      }, { name });
      if (outcome.kind === 'value') return outcome.value as T;
      if (outcome.kind === 'error') throw new StepFailedError(name, outcome.failure, thrown === undefined ? undefined : { cause: thrown });
      await this.audit({ type: 'step.retry', actor: 'patchbay', data: { step: name, attempt, delayMs: outcome.delayMs, error: outcome.failure.message } });
      if (outcome.delayMs > 0) await this.pause(`retry of ${name}`, outcome.delayMs);
    }
  }

  /**
   * Takes the next signal of this name from `signals` (a DBOS step: the answer is checkpointed);
   * when there is none yet, sleeps on a DBOS recv of the topic until the signal's message rings, the
   * timeout, or recheckMs, and looks again. The deadline is taken once and checkpointed.
   */
  async waitForSignal<T>(name: string, timeoutMs?: number): Promise<SignalResult<T>> {
    const occurrence = this.key(`signal:${name}`);
    let deadline: number | null = null;
    if (timeoutMs !== undefined) deadline = (await this.now()) + timeoutMs;
    let marked = false;
    for (;;) {
      const { found, now } = await DBOS.runStep(() => this.engine.takeSignal(this.run.id, name, occurrence), { name: 'patchbay.signal' });
      if (found || (deadline !== null && now >= deadline)) {
        if (marked) await this.engine.mark(this.run.id, null, null);
        return found ? { timedOut: false, payload: found.payload as T } : { timedOut: true };
      }
      if (!marked) await this.engine.mark(this.run.id, name, deadline);
      marked = true;
      const wait = Math.min(deadline === null ? this.engine.recheckMs : deadline - now, this.engine.recheckMs);
      await DBOS.recv<Doorbell>(name, { timeoutSeconds: Math.max(wait, 1) / 1000 });
    }
  }

  async sleep(ms: number): Promise<void> {
    await this.pause('a timer', ms);
  }

  private async pause(what: string, ms: number): Promise<void> {
    this.calls++;
    await this.engine.mark(this.run.id, what, this.engine.clock.now() + ms);
    await DBOS.sleep(ms);
    await this.engine.mark(this.run.id, null, null);
  }

  async now(): Promise<number> {
    this.calls++;
    return DBOS.runStep(async () => this.engine.clock.now(), { name: 'patchbay.now' });
  }

  async audit(event: Omit<AuditEvent, 'runId'>): Promise<void> {
    const key = this.key('audit');
    await DBOS.runStep(() => this.engine.auditOnce(this.run.id, key, event), { name: 'patchbay.audit' });
  }
}

/** One attempt of a step as DBOS records it (tagged: a value of undefined does not survive serialization as a key). */
type Attempt<T> = { kind: 'value'; value: T } | { kind: 'error'; failure: SerializedError } | { kind: 'retry'; failure: SerializedError; delayMs: number };

/**
 * Appends one event to the audit chain (core/engine/audit.ts), in the open transaction or its own,
 * so that `patchbay audit verify` checks rows from either engine alike.
 */
export async function appendAuditEvent(store: StoreDatabase, event: AuditEvent, at: number): Promise<void> {
  await new AuditLog(store).append(event, at);
}
