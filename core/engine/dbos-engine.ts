import { AsyncLocalStorage } from 'node:async_hooks';
import { DBOS, Error as DbosErrors } from '@dbos-inc/dbos-sdk';
import { sql } from 'kysely';
import { NotFoundError, PatchbayError } from '../errors.js';
import { type StoreDatabase, redactUrl } from '../store/sql.js';
import { type AuditEvent, AuditLog } from './audit.js';
import { type SerializedError, StepFailedError, serializeError as serialize, toRunRecord as toRecord } from './embedded-engine.js';
import { newId } from './ids.js';
import type {
  NewRun,
  RunContext,
  RunEngine,
  RunRecord,
  RunStatus,
  SignalResult,
  StartResult,
  StepOptions,
  Workflow,
  WorkflowResult,
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
   * one process; `globalConcurrency` across all).
   */
  readonly queues?: readonly { readonly name: string; readonly workerConcurrency?: number; readonly globalConcurrency?: number; readonly pollingIntervalMs?: number }[];
  /**
   * The queues this process dequeues from (default: every queue in `queues`, or every queue when
   * none is given). `[]` for a process that only starts runs, such as a server in front of workers.
   */
  readonly listen?: readonly string[];
  /** DBOS's own log level (default `warn`: DBOS logs every launch and recovery at `info`). */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** The message a signal sends: wrapped, because DBOS.recv answers null on a timeout and a payload may be null. */
interface SignalEnvelope {
  readonly payload: unknown;
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

/**
 * Launches DBOS Transact in this process (once per process: DBOS is a process-wide singleton).
 * Registers Patchbay's run workflow first, so that DBOS can recover runs that were executing here
 * when the process stopped; they resume as soon as their engine is attached.
 * @throws DbosEngineError when DBOS cannot reach or migrate its system database (the DBOS error is the cause).
 */
export async function launchDbos(options: DbosLaunchOptions): Promise<void> {
  if (DBOS.isInitialized()) return;
  registerRunWorkflow();
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
    await DBOS.launch();
    for (const queue of options.queues ?? []) {
      await DBOS.registerQueue(queue.name, {
        ...(queue.workerConcurrency ? { workerConcurrency: queue.workerConcurrency } : {}),
        ...(queue.globalConcurrency ? { globalConcurrency: queue.globalConcurrency } : {}),
        ...(queue.pollingIntervalMs ? { minPollingIntervalMs: queue.pollingIntervalMs } : {}),
        onConflict: 'always_update',
      });
    }
  } catch (cause) {
    await DBOS.shutdown().catch(() => {});
    throw new DbosEngineError(`cannot launch DBOS on ${redactUrl(options.systemDatabaseUrl)}: ${(cause as Error).message}`, { cause });
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
  if (options.deregister) runWorkflow = undefined;
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
  /** The time in epoch ms (default Date.now). */
  readonly now?: () => number;
}

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
export class DbosRunEngine implements RunEngine {
  readonly name: string;
  private workflow: Workflow | undefined;
  private readonly queue: string | undefined;
  private readonly appendAudit: (store: StoreDatabase, event: AuditEvent, at: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    readonly store: StoreDatabase,
    options: DbosEngineOptions = {},
  ) {
    if (store.dialect !== 'postgres') throw new DbosEngineError(`the DBOS engine runs on PostgreSQL; ${store.location} is the embedded SQLite store`);
    this.name = options.name ?? 'patchbay';
    this.workflow = options.workflow;
    this.queue = options.queue;
    this.appendAudit = options.appendAudit ?? appendAuditEvent;
    this.now = options.now ?? Date.now;
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

  /** Forgets this engine in the process (its runs wait, durably, for an engine of the same name). */
  detach(): void {
    if (engines.get(this.name) === this) engines.delete(this.name);
  }

  /**
   * Records each run (or finds the open one for the same key or person), then starts the DBOS
   * workflow of each new one. Resolves once every new run is durably recorded and its workflow
   * durably started; the workflows execute in the background (or on the queue's workers). Called
   * inside a store transaction, it records the runs in it and commits it before starting the
   * workflows, because a workflow must find its run. A process that stops in between leaves runs
   * without a workflow: drive() (or the first signal to such a run) starts them.
   * @throws DbosEngineError when DBOS is not launched in this process.
   */
  async start(runs: readonly NewRun[]): Promise<StartResult[]> {
    const results: StartResult[] = [];
    for (const run of runs) results.push(await this.record(run));
    const created = results.filter((r) => r.created).map((r) => r.run.id);
    if (created.length) {
      await this.store.outside(async () => {
        for (const runId of created) await this.startWorkflow(runId);
      });
    }
    return results;
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
   * Delivers a signal to an open run: a DBOS message on topic `name` (idempotency key `dedupeKey`,
   * so it is delivered once however often it is sent), recorded in `signals` and audited. Returns
   * false when the run is finished or the dedupe key was seen before.
   * @throws NotFoundError when there is no such run.
   */
  async signal(runId: string, name: string, payload: unknown, dedupeKey: string, actor: string): Promise<boolean> {
    const row = await this.store.db.selectFrom('runs').select('status').where('id', '=', runId).executeTakeFirst();
    if (!row) throw new NotFoundError('run', runId);
    if (row.status !== 'running' && row.status !== 'waiting') return false;
    // The message first: if this process stops before recording it, the caller's retry sends it
    // again (a no-op for DBOS) and records it then. Recording first would lose the message.
    const send = () => DBOS.send<SignalEnvelope>(runId, { payload: payload ?? null }, name, dedupeKey);
    try {
      try {
        await send();
      } catch (error) {
        // A run recorded by a process that stopped before starting its workflow: start it now, then deliver.
        if (!(error instanceof DbosErrors.DBOSNonExistentWorkflowError)) throw error;
        await this.startWorkflow(runId);
        await send();
      }
    } catch (cause) {
      throw new DbosEngineError(`cannot send signal ${name} to run ${runId}: ${(cause as Error).message}`, { cause });
    }
    return this.store.transaction(async () => {
      const now = this.now();
      const inserted = await this.store.db
        .insertInto('signals')
        .values({ run_id: runId, name, payload: JSON.stringify(payload ?? null), dedupe_key: dedupeKey, at: now })
        .onConflict((oc) => oc.column('dedupe_key').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) return false;
      await this.appendAudit(this.store, { type: 'run.signalled', actor, runId, data: { signal: name } }, now);
      return true;
    });
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
   * DBOS executes runs by itself; drive() only repairs: it starts the DBOS workflow of every open
   * run that has none (a process stopped between recording a run and starting its workflow).
   * Starting is idempotent on the workflow ID, so two drivers at once start each run once.
   * Returns how many workflows it started.
   */
  async drive(options: { maxSlices?: number } = {}): Promise<{ slices: number }> {
    const rows = await this.store.db.selectFrom('runs').select('id').where('status', 'in', open).orderBy('created_at').limit(options.maxSlices ?? 10_000).execute();
    let slices = 0;
    for (const { id } of rows) {
      if (await DBOS.getWorkflowStatus(id)) continue;
      await this.startWorkflow(id);
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
    const context = new DbosContext(this, run);
    let result: WorkflowResult;
    try {
      result = await this.workflow!(context, run);
    } catch (error) {
      // Cancelled, or DBOS itself failed (its database, a conflict with another executor): not the run's outcome.
      if (error instanceof DbosErrors.DBOSError) throw error;
      result = { outcome: 'failed', summary: (error as Error)?.message ?? String(error) };
    }
    // Not a DBOS step: finish() changes only an open run, so a replay after a crash between it and
    // DBOS recording the workflow's end changes nothing and audits nothing (and saves a checkpoint).
    await this.finish(runId, result);
    return result;
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

  /** The engine's time in epoch ms (its `now` option). */
  clock(): number {
    return this.now();
  }
}

/** How long one DBOS.recv waits when the workflow waits without a timeout (DBOS's own default is 60 s). */
const foreverChunkSeconds = 24 * 3600;

/**
 * The RunContext of a run on DBOS: every call is a DBOS operation checkpointed in the run's
 * workflow, so a recovered run replays the answers recorded the first time. Calls are told apart
 * by their order in the workflow (DBOS's function IDs), which is why workflow code must call them
 * in the same order on every execution (as on the embedded engine).
 */
class DbosContext implements RunContext {
  private readonly occurrences = new Map<string, number>();

  constructor(
    private readonly engine: DbosRunEngine,
    private readonly run: RunRecord,
  ) {}

  get runId(): string {
    return this.run.id;
  }

  private key(name: string): string {
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
    const policy = options.retry ?? noRetry;
    for (let attempt = 1; ; attempt++) {
      let thrown: unknown;
      const outcome = await DBOS.runStep<Attempt<T>>(async () => {
        try {
          return { kind: 'value', value: await fn(attempt) };
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

  async waitForSignal<T>(name: string, timeoutMs?: number): Promise<SignalResult<T>> {
    await this.engine.mark(this.run.id, name, timeoutMs === undefined ? null : this.engine.clock() + timeoutMs);
    let message: SignalEnvelope | null;
    if (timeoutMs !== undefined) {
      message = await DBOS.recv<SignalEnvelope>(name, { timeoutSeconds: Math.max(timeoutMs, 1) / 1000 });
    } else {
      do message = await DBOS.recv<SignalEnvelope>(name, { timeoutSeconds: foreverChunkSeconds });
      while (message === null);
    }
    await this.engine.mark(this.run.id, null, null);
    return message === null ? { timedOut: true } : { timedOut: false, payload: message.payload as T };
  }

  async sleep(ms: number): Promise<void> {
    await this.pause('a timer', ms);
  }

  private async pause(what: string, ms: number): Promise<void> {
    await this.engine.mark(this.run.id, what, this.engine.clock() + ms);
    await DBOS.sleep(ms);
    await this.engine.mark(this.run.id, null, null);
  }

  async now(): Promise<number> {
    return DBOS.runStep(async () => this.engine.clock(), { name: 'patchbay.now' });
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
