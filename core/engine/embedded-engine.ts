import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { inject, injectable, optional } from '#inversify';
import os from 'node:os';
import { NotFoundError, PatchbayError } from '../errors.js';
import { type AuditEvent, AuditLog } from './audit.js';
import { Clock } from './clock.js';
import { Logger, silentLogger } from '../logging/logger.js';
import { type ExpressionBuilder, type Selectable, sql } from 'kysely';
import { type Params, preparedQuery } from '../store/prepared.js';
import { type Sql, StoreDatabase } from '../store/sql.js';
import type { RunsTable, Tables } from '../store/tables.js';
import { newId } from './ids.js';
import {
  type NewRun,
  type RunContext,
  type RunEngine,
  type RunRecord,
  type RunStatus,
  type SignalResult,
  type StartResult,
  type StepOptions,
  Suspend,
  ConnectorUnavailable,
  type Workflow,
  type WorkflowResult,
} from './port.js';
import { isRetryable, noRetry, retryDelayMs } from './retry.js';

/** A step that failed for good; replay throws the same error again, from the journal. */
export class StepFailedError extends PatchbayError {
  readonly code = 'step-failed';
  constructor(
    readonly step: string,
    readonly failure: SerializedError,
    options?: { cause?: unknown },
  ) {
    super(`step ${step} failed: ${failure.message}`, options);
  }
}

export interface SerializedError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  readonly status?: number;
}

export const EngineOptions = Symbol('EngineOptions');
export interface EmbeddedEngineOptions {
  /**
   * How long a driver owns a run it is executing before another process may take it over (ms,
   * default 15 000). A driver renews the leases it holds every third of this while it works, so
   * only a driver that stopped (crashed, hung, lost its store) loses its runs, and another machine
   * takes them over within this time (a dead process on the same machine is seen at once).
   */
  readonly leaseMs?: number;
  /** Runs started per transaction by start(). */
  readonly batchSize?: number;
  /** Timers up to this long are waited for in the process instead of parking the run. */
  readonly inlineWaitMaxMs?: number;
  /** Waits in the process; a manual clock in tests advances instead of sleeping. */
  readonly pause?: (ms: number) => Promise<void>;
}

type RunRow = Selectable<RunsTable>;

/** The Suspend of a run handed to another process at a graceful stop: it stays due now, unleased. */
class HandOver extends Suspend {
  constructor(at: number) {
    super('another process (handed over at a stop)', at);
  }
}

const openStatuses: RunStatus[] = ['running', 'waiting'];

/**
 * `status IN ('running', 'waiting')` with the statuses written as literals: a database uses the partial
 * indexes of open runs (runs_open_key) only when it can see that the query's condition implies the index's,
 * which it cannot for bound parameters (SQLite walked every open run by status instead, on every start).
 */
const openStatusIn = (eb: ExpressionBuilder<Tables, 'runs'>) => eb('status', 'in', openStatuses.map((s) => sql.lit(s)));

/**
 * The engine's fixed-shape queries, compiled once per dialect (core/store/prepared.ts): a run's start,
 * slice and journal run these on every call, and building and compiling them each time cost more CPU
 * than SQLite spent executing them. `limit 1` is written as a literal: SQLite plans `LIMIT ?` worse
 * (the OR of two indexes below took several times as long with a bound limit).
 */
const queries = {
  earlierRun: preparedQuery((db, p: Params<{ idempotencyKey: string; openKey: string }>) =>
    db
      .selectFrom('runs')
      .selectAll()
      .where((eb) => eb.or([eb('idempotency_key', '=', p('idempotencyKey')), eb.and([eb('open_key', '=', p('openKey')), openStatusIn(eb)])]))
      .limit(sql.lit(1)),
  ),
  insertRun: preparedQuery((db, p: Params<Omit<RunRow, 'outcome' | 'waiting_for' | 'finished_at'>>) =>
    db
      .insertInto('runs')
      .values({
        id: p('id'), idempotency_key: p('idempotency_key'), open_key: p('open_key'), batch_id: p('batch_id'), tenant: p('tenant'), playbook: p('playbook'),
        app: p('app'), subject: p('subject'), request: p('request'), plan: p('plan'), profile: p('profile'), status: p('status'), wake_at: p('wake_at'),
        lease_owner: p('lease_owner'), lease_until: p('lease_until'), created_at: p('created_at'), updated_at: p('updated_at'),
      })
      .onConflict((oc) => oc.doNothing()),
  ),
  runById: preparedQuery((db, p: Params<{ id: string }>) => db.selectFrom('runs').selectAll().where('id', '=', p('id'))),
  runStatus: preparedQuery((db, p: Params<{ id: string }>) => db.selectFrom('runs').select('status').where('id', '=', p('id'))),
  insertSignal: preparedQuery((db, p: Params<{ run_id: string; name: string; payload: string; dedupe_key: string; at: number }>) =>
    db
      .insertInto('signals')
      .values({ run_id: p('run_id'), name: p('name'), payload: p('payload'), dedupe_key: p('dedupe_key'), at: p('at') })
      .onConflict((oc) => oc.column('dedupe_key').doNothing()),
  ),
  wake: preparedQuery((db, p: Params<{ id: string; now: number }>) =>
    db.updateTable('runs').set({ status: 'running', wake_at: p('now'), updated_at: p('now') }).where('id', '=', p('id')),
  ),
  due: preparedQuery((db, p: Params<{ now: number }>) =>
    db.selectFrom('runs').selectAll().where('wake_at', 'is not', null).where('wake_at', '<=', p('now')).orderBy('wake_at').orderBy('id').limit(sql.lit(100)),
  ),
  nextWake: preparedQuery((db, _: Params<{ now?: number }>) => db.selectFrom('runs').select('wake_at').where('wake_at', 'is not', null).orderBy('wake_at').limit(sql.lit(1))),
  claim: preparedQuery((db, p: Params<{ id: string; holder: string; until: number; now: number; seen: string }>) =>
    db
      .updateTable('runs')
      .set({ lease_owner: p('holder'), lease_until: p('until') })
      .where('id', '=', p('id'))
      .where((eb) => openStatusIn(eb))
      .where('wake_at', 'is not', null)
      .where('wake_at', '<=', p('now'))
      .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_until', '<', p('now')), eb('lease_owner', '=', p('seen'))])),
  ),
  renewLease: preparedQuery((db, p: Params<{ id: string; holder: string; until: number }>) =>
    db.updateTable('runs').set({ lease_until: p('until') }).where('id', '=', p('id')).where('lease_owner', '=', p('holder')),
  ),
  journal: preparedQuery((db, p: Params<{ runId: string }>) => db.selectFrom('journal').select(['key', 'value']).where('run_id', '=', p('runId'))),
  journalWrite: preparedQuery((db, p: Params<{ run_id: string; key: string; value: string; at: number }>) =>
    db.insertInto('journal').values({ run_id: p('run_id'), key: p('key'), value: p('value'), at: p('at') }),
  ),
  handOver: preparedQuery((db, p: Params<{ id: string; now: number }>) =>
    db.updateTable('runs').set({ status: 'running', waiting_for: null, wake_at: p('now'), lease_owner: null, lease_until: null, updated_at: p('now') }).where('id', '=', p('id')),
  ),
  park: preparedQuery((db, p: Params<{ id: string; waitingFor: string; wakeAt: number | null; now: number }>) =>
    db
      .updateTable('runs')
      .set({ status: 'waiting', waiting_for: p('waitingFor'), wake_at: p('wakeAt'), lease_owner: null, lease_until: null, updated_at: p('now') })
      .where('id', '=', p('id')),
  ),
  finish: preparedQuery((db, p: Params<{ id: string; status: RunStatus; outcome: string; now: number }>) =>
    db
      .updateTable('runs')
      .set({ status: p('status'), outcome: p('outcome'), waiting_for: null, wake_at: null, lease_owner: null, lease_until: null, updated_at: p('now'), finished_at: p('now') })
      .where('id', '=', p('id')),
  ),
  nthSignal: preparedQuery((db, p: Params<{ runId: string; name: string; offset: number }>) =>
    db.selectFrom('signals').select('payload').where('run_id', '=', p('runId')).where('name', '=', p('name')).orderBy('id').limit(sql.lit(1)).offset(p('offset')),
  ),
};

/** The multi-row insert of a plan's steps, one prepared query per number of steps (plans have a handful of lengths). */
const insertSteps = new Map<number, ReturnType<typeof stepsInsert>>();
const stepsInsert = (count: number) =>
  preparedQuery((db, p: Params<{ runId: string; now: number } & Record<`step${number}`, string>>) =>
    db.insertInto('steps').values(Array.from({ length: count }, (_, position) => ({ run_id: p('runId'), step_id: p(`step${position}`), position: sql.lit(position), status: 'pending', updated_at: p('now') }))),
  );

/** Another process started and closed the same run between our look and our insert: asking again is safe. */
export class RunRaceError extends PatchbayError {
  readonly code = 'run-race';
  constructor(readonly subject: string) {
    super(`the run for ${subject} was started and closed by another process at the same moment; ask again`);
  }
}

/** A driver of this engine already holds the run: a second claimer in the same process is refused. */
export class RunLeasedError extends PatchbayError {
  readonly code = 'run-leased';
  constructor(readonly runId: string, readonly holder: string) {
    super(`run ${runId} is being driven by ${holder}; it is driven by one driver at a time`);
  }
}

/**
 * The embedded engine: runs are replayed from a journal in the store (SQLite by default,
 * PostgreSQL with --database). A slice of a run executes inside one transaction (so that a task and
 * the journal entry that created it commit together or not at all); a step marked external commits
 * first, calls out, and opens a new transaction for its result. Work is at least once inside an
 * external step, which is why every external call carries an idempotency key derived from (run, step).
 * Leases in the runs table let several processes drive runs on one database, each run by one at a time.
 */
@injectable()
export class EmbeddedRunEngine implements RunEngine {
  /**
   * This engine in this process ("host:pid:nonce"). A lease names its holder as `${owner}/d${n}`:
   * the engine and the one drive (or inline start) that claimed the run.
   */
  readonly owner = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  readonly audit: AuditLog;
  private drivers = 0;
  /** Runs held by a driver of this engine right now, and which driver: the in-process half of a lease. */
  private readonly held = new Map<string, string>();
  /** The drive in progress: drives of one engine take turns. */
  private driving: Promise<void> = Promise.resolve();
  /**
   * Runs driven side by side (drive's `concurrency`) take turns for everything they do inside a
   * transaction, as SQLite's one connection makes them do anyway: on PostgreSQL, two slices of one
   * process holding the audit chain's lock and a shared row each could otherwise wait on each other.
   * A slice gives up its turn for its external steps only (see `outside`). The lane's turn is here.
   */
  private readonly lanes = new AsyncLocalStorage<{ release: () => void }>();
  private turns: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  readonly inlineWaitMaxMs: number;
  readonly pause: (ms: number) => Promise<void>;

  private workflow: Workflow | undefined;
  /** Set by handOver(): no run is claimed any more, and the runs in progress are handed over at their next step. */
  private stopping = false;

  constructor(
    @inject(StoreDatabase) readonly store: StoreDatabase,
    @inject(Clock) readonly clock: Clock,
    @inject(EngineOptions) options: EmbeddedEngineOptions = {},
    @inject(Logger) @optional() private readonly log: Logger = silentLogger,
  ) {
    this.audit = new AuditLog(store);
    this.leaseMs = options.leaseMs ?? 15_000;
    this.batchSize = options.batchSize ?? 500;
    this.inlineWaitMaxMs = options.inlineWaitMaxMs ?? 30_000;
    this.pause = options.pause ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The query builder: the open transaction of the calling context, else the database. */
  get db(): Sql {
    return this.store.db;
  }

  /** The workflow every run executes; set once by the composition root (it depends on the engine's own tasks). */
  use(workflow: Workflow): void {
    this.workflow = workflow;
  }

  /**
   * Records the runs (or returns the open run for the same key or person). With `drive` (the
   * default, for a CLI command that is its own loop) each new run is also executed until it first
   * waits, under a lease of this call's own driver. With `drive: false` (the server, whose single
   * loop drives) nothing is executed: the runs are due now, unleased, and this returns at once.
   */
  async start(runs: readonly NewRun[], options: { drive?: boolean } = {}): Promise<StartResult[]> {
    const results: StartResult[] = [];
    if (options.drive === false) {
      for (let i = 0; i < runs.length; i += this.batchSize) {
        await this.transaction(async () => {
          for (const run of runs.slice(i, i + this.batchSize)) results.push((await this.record(run, null)).result);
        });
      }
      return results;
    }
    return this.asDriver(async (holder) => {
      for (let i = 0; i < runs.length; i += this.batchSize) {
        await this.transaction(async () => {
          for (const run of runs.slice(i, i + this.batchSize)) {
            const { result } = await this.record(run, holder);
            if (!result.created) {
              results.push(result);
              continue;
            }
            results.push({ run: { ...result.run, ...(await this.holding(result.run.id, holder, () => this.slice(result.run))) }, created: true });
          }
        });
      }
      return results;
    });
  }

  /**
   * The run a start returns instead of a new one: the run with the same idempotency key, or the open run
   * of the same tenant, playbook, app and person (`openKey`). Two unique indexes, one step down each
   * (test/engine/timers.test.ts checks the plan): a start costs the same whatever the number of open runs.
   */
  earlierRunQuery(idempotencyKey: string, openKey: string) {
    return queries.earlierRun.with(this.store, { idempotencyKey, openKey });
  }

  /**
   * Inserts a run (leased to `holder`, or unleased) unless one is open for the same key or person.
   * The insert is the check: it does nothing on either unique key (the idempotency key, the open run
   * of a person), and only then is the earlier run read, so a new run costs no read first. Two
   * processes starting the same run at once (two servers on PostgreSQL): the second insert waits for
   * the other's commit, does nothing, and the run the other committed is returned.
   */
  private async record(run: NewRun, holder: string | null): Promise<{ result: StartResult }> {
    const openKey = `${run.profile.tenant}|${run.request.playbook}|${run.request.app}|${run.request.subject.email.toLowerCase()}`;
    const existing = () => this.earlierRunQuery(run.idempotencyKey, openKey).executeTakeFirst();
    const now = this.clock.now();
    const id = newId('run', now);
    const inserted = await queries.insertRun.run(this.store, {
      id, idempotency_key: run.idempotencyKey, open_key: openKey, batch_id: run.batchId ?? null, tenant: run.profile.tenant, playbook: run.request.playbook,
      app: run.request.app, subject: run.request.subject.email, request: JSON.stringify(run.request), plan: JSON.stringify(run.plan), profile: JSON.stringify(run.profile),
      status: 'running', wake_at: now, lease_owner: holder, lease_until: holder ? now + this.leaseMs : null, created_at: now, updated_at: now,
    });
    if (!inserted) {
      const theirs = await existing();
      if (theirs) return { result: { run: toRunRecord(theirs), created: false } };
      throw new RunRaceError(run.request.subject.email);
    }
    if (run.plan.steps.length) {
      const count = run.plan.steps.length;
      let insert = insertSteps.get(count);
      if (!insert) insertSteps.set(count, (insert = stepsInsert(count)));
      await insert.run(this.store, Object.assign({ runId: id, now }, ...run.plan.steps.map((step, position) => ({ [`step${position}`]: step.id }))));
    }
    await this.audit.append({ type: 'run.started', actor: run.request.requestedBy ?? 'patchbay', runId: id, data: { playbook: run.request.playbook, app: run.request.app, subject: run.request.subject.email, steps: run.plan.steps.length, ...(run.request.onBehalfOf ? { onBehalfOf: run.request.onBehalfOf } : {}) } }, now);
    const record: RunRecord = {
      id, idempotencyKey: run.idempotencyKey, batchId: run.batchId ?? null, tenant: run.profile.tenant, playbook: run.request.playbook, app: run.request.app,
      subject: run.request.subject.email, request: run.request, plan: run.plan, profile: run.profile, status: 'running', outcome: null, waitingFor: null,
      wakeAt: now, createdAt: now, updatedAt: now, finishedAt: null,
    };
    return { result: { run: record, created: true } };
  }

  /**
   * Records a signal for the run (once per `dedupeKey`) and makes the run due now. Inside the
   * caller's transaction when there is one (the task store signals a task's runs in the commit that closes it).
   * @throws NotFoundError when there is no such run.
   */
  async signal(runId: string, name: string, payload: unknown, dedupeKey: string, actor: string): Promise<boolean> {
    return this.transaction(async () => {
      const row = await queries.runStatus.executeTakeFirst(this.store, { id: runId });
      if (!row) throw new NotFoundError('run', runId);
      if (row.status !== 'running' && row.status !== 'waiting') return false;
      const now = this.clock.now();
      const inserted = await queries.insertSignal.run(this.store, { run_id: runId, name, payload: JSON.stringify(payload ?? null), dedupe_key: dedupeKey, at: now });
      if (!inserted) return false;
      await queries.wake.run(this.store, { id: runId, now });
      await this.audit.append({ type: 'run.signalled', actor, runId, data: { signal: name } }, now);
      return true;
    });
  }

  async get(runId: string): Promise<RunRecord> {
    const row = await queries.runById.executeTakeFirst(this.store, { id: runId });
    if (!row) throw new NotFoundError('run', runId);
    return toRunRecord(row);
  }

  async list(filter: { status?: RunStatus; batchId?: string; limit?: number } = {}): Promise<RunRecord[]> {
    let query = this.db.selectFrom('runs').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit ?? 1000);
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.batchId) query = query.where('batch_id', '=', filter.batchId);
    return (await query.execute()).map(toRunRecord);
  }

  async cancel(runId: string, reason: string, actor: string): Promise<RunRecord> {
    return this.transaction(async () => {
      const run = await this.get(runId);
      if (run.status !== 'running' && run.status !== 'waiting') return run;
      const now = this.clock.now();
      await this.db
        .updateTable('runs')
        .set({ status: 'cancelled', outcome: 'cancelled', waiting_for: null, wake_at: null, lease_owner: null, lease_until: null, updated_at: now, finished_at: now })
        .where('id', '=', runId)
        .execute();
      await this.audit.append({ type: 'run.cancelled', actor, runId, data: { reason } }, now);
      return this.get(runId);
    });
  }

  /**
   * Advances every run with work due now, as one driver: drives of this engine take turns, each
   * claims a run only when no other holder has it, and a run held by another driver of this process
   * is never claimed, even when its lease has run out.
   */
  async drive(options: { maxSlices?: number; concurrency?: number } = {}): Promise<{ slices: number }> {
    return this.asDriver((holder) => this.driveAs(holder, options.maxSlices ?? Number.POSITIVE_INFINITY, options.concurrency ?? 1));
  }

  /**
   * Executes the due runs `concurrency` at a time (the worker's lanes; 1 everywhere else). Each run's
   * slice is its own transaction as always; the transactions take turns on the store, so what runs side
   * by side is what a slice does outside any (its external steps: a browser job, a call). A lane that
   * has no run left looks for due runs again at once rather than waiting for the other lanes: a run a
   * person just signalled is taken while another lane is still inside a long browser job. The drive
   * ends when a look finds nothing this driver may claim.
   */
  private async driveAs(holder: string, max: number, concurrency = 1): Promise<{ slices: number }> {
    let slices = 0;
    /** Runs another process held (or was claiming) when seen: not looked at again in this drive. */
    const skipped = new Set<string>();
    let queue: RunRow[] = [];
    let looking: Promise<void> | undefined;
    let exhausted = false;
    const lanes = Math.max(1, concurrency);
    const look = async () => {
      const now = this.clock.now();
      const due = (await queries.due.execute(this.store, { now })).filter((row) => !skipped.has(row.id) && openStatuses.includes(row.status) && !this.held.has(row.id));
      queue = due.filter((row) => this.leaseIsFree(row, now));
      due.filter((row) => !queue.includes(row)).forEach((row) => skipped.add(row.id));
      if (queue.length === 0) exhausted = true;
    };
    const sliceOf = (row: RunRow) =>
      this.transaction(async () => {
        // Another lane of this driver took the run since it was seen (it holds the turn until its run is held).
        if (this.held.has(row.id)) return;
        if (!(await this.claim(row.id, holder, row.lease_owner))) {
          skipped.add(row.id);
          return;
        }
        if (row.lease_owner && !row.lease_owner.startsWith(`${this.owner}/`)) this.log.info({ runId: row.id, from: row.lease_owner }, 'run taken over: the process that held it stopped or its lease ran out');
        slices++;
        await this.holding(row.id, holder, async () => this.slice(await this.get(row.id)));
      });
    const lane = async () => {
      // A worker told to stop claims no more runs (handOver); the slices in flight finish.
      while (slices < max && !this.stopping && !exhausted) {
        const turn = lanes === 1 ? undefined : { release: await this.turn() };
        try {
          if (queue.length === 0) await (looking ??= look().finally(() => (looking = undefined)));
          const row = queue.shift();
          if (!row || slices >= max || this.stopping) continue;
          if (turn) await this.lanes.run(turn, () => sliceOf(row));
          else await sliceOf(row);
        } finally {
          turn?.release();
        }
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    return { slices };
  }

  /**
   * The engine's timer reads, compiled for the store's dialect: the runs due at `now` (ms), earliest first,
   * 100 at a time, and the next wake time of any run. Only open runs have a wake time, so both are ranges
   * of the partial index of run timers (migration 15): O(log n) in waiting runs, no sort
   * (test/engine/timers.test.ts checks the plan on both databases).
   */
  timerQueries(now: number) {
    return { due: queries.due.with(this.store, { now }), next: queries.nextWake.with(this.store, { now }) };
  }

  /** When the next run is due (ms), or null when no run waits for a time: one index entry read. */
  async nextWake(): Promise<number | null> {
    return (await queries.nextWake.executeTakeFirst(this.store, {}))?.wake_at ?? null;
  }

  /**
   * Takes the lease of a due run for `holder` if it is still as it was seen (`seen`: the holder
   * that was judged gone, or null). Returns false when someone else took it first.
   * @throws RunLeasedError when another driver of this process holds the run.
   */
  async claim(runId: string, holder: string, seen: string | null): Promise<boolean> {
    const other = this.held.get(runId);
    if (other && other !== holder) throw new RunLeasedError(runId, other);
    const now = this.clock.now();
    // PostgreSQL: a run whose row another process's transaction holds (it is claiming or driving it) is
    // passed over at once instead of waited for. Waiting held the claimer's turn, and so every lane of its
    // process, for as long as the other slice lasted (chaos test: claims waiting 10-25 s on a tuple lock).
    // SQLite has one writer at a time: nothing to skip.
    const free = this.store.dialect === 'postgres' ? (await sql<{ id: string }>`SELECT id FROM runs WHERE id = ${runId} FOR UPDATE SKIP LOCKED`.execute(this.db)).rows.length > 0 : true;
    if (!free) return false;
    return (await queries.claim.run(this.store, { id: runId, holder, until: now + this.leaseMs, now, seen: seen ?? '' })) > 0;
  }

  /**
   * Applies `change` and drives the runs it unblocks in the same commit (up to their first external
   * step), as one driver taking its turn. Returns what `change` returned.
   */
  async changeAndDrive<T>(change: () => T | Promise<T>): Promise<T> {
    return this.asDriver((holder) =>
      this.transaction(async () => {
        const changed = await change();
        await this.driveAs(holder, Number.POSITIVE_INFINITY);
        return changed;
      }),
    );
  }

  /** A new driver's name, for tests and tools that claim runs themselves. */
  newHolder(): string {
    return `${this.owner}/d${++this.drivers}`;
  }

  /** Runs `fn` as a new driver, after the drive in progress (if any) has finished. */
  private async asDriver<T>(fn: (holder: string) => Promise<T>): Promise<T> {
    const previous = this.driving;
    let done!: () => void;
    this.driving = new Promise<void>((resolve) => (done = resolve));
    await previous;
    try {
      return await fn(this.newHolder());
    } finally {
      done();
    }
  }

  /** Marks the run as held by `holder` in this process while `fn` executes it; renews its lease meanwhile. */
  private async holding<T>(runId: string, holder: string, fn: () => Promise<T>): Promise<T> {
    const other = this.held.get(runId);
    if (other && other !== holder) throw new RunLeasedError(runId, other);
    this.held.set(runId, holder);
    // The heartbeat belongs to no transaction: it renews leases in commits of its own.
    this.heartbeat ??= this.store.detached(() => setInterval(() => void this.renewLeases(), Math.max(10, Math.floor(this.leaseMs / 3))).unref());
    try {
      return await fn();
    } finally {
      this.held.delete(runId);
      if (this.held.size === 0 && this.heartbeat) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
      }
    }
  }

  private renewing = false;

  /** Pushes back the expiry of every lease this process holds, in a commit of its own (waiting for the one in progress). */
  private async renewLeases(): Promise<void> {
    if (this.renewing || this.held.size === 0) return;
    this.renewing = true;
    try {
      const until = this.clock.now() + this.leaseMs;
      await this.store.transaction(async () => {
        for (const [runId, holder] of this.held) {
          const renewed = await queries.renewLease.run(this.store, { id: runId, holder, until });
          // Our lease ran out and another process took the run (this one stalled: a long pause, a store that did not answer).
          // A run whose slice ended meanwhile released its lease itself, and is no longer held.
          if (renewed === 0 && this.held.get(runId) === holder) this.store.afterCommit(() => this.log.warn({ runId, holder }, 'lease lost: another process holds the run now'));
        }
      });
    } catch {
      // Busy or closing: the lease still has two thirds of its time; the next beat tries again.
    } finally {
      this.renewing = false;
    }
  }

  /**
   * A lease is free when nobody holds it, it expired (and no driver of this process is on the run),
   * its holder was a driver of this engine that has finished, or its holder's process on this
   * machine is gone.
   */
  private leaseIsFree(row: { id: string; lease_owner: string | null; lease_until: number | null }, now: number): boolean {
    if (this.held.has(row.id)) return false;
    if (!row.lease_owner || (row.lease_until ?? 0) < now) return true;
    if (row.lease_owner.startsWith(`${this.owner}/`)) return true;
    const [host, pid] = row.lease_owner.split(':');
    if (host !== os.hostname()) return false;
    if (Number(pid) === process.pid) return false;
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  /** Replays the run from its journal and executes it until it waits or ends; returns where it stands. */
  private async slice(run: RunRecord): Promise<Partial<RunRecord>> {
    const journal = new Map<string, unknown>();
    for (const row of await queries.journal.execute(this.store, { runId: run.id })) {
      journal.set(row.key, JSON.parse(row.value));
    }
    const context = new JournalContext(this, run, journal);
    try {
      if (!this.workflow) throw new Error('no workflow registered with the engine');
      const result = await this.workflow(context, run);
      return await this.finish(run.id, result);
    } catch (error) {
      if (error instanceof Suspend) return this.park(run.id, error);
      return this.finish(run.id, { outcome: 'failed', summary: (error as Error)?.message ?? String(error) });
    }
  }

  private async park(runId: string, suspend: Suspend): Promise<Partial<RunRecord>> {
    const now = this.clock.now();
    if (suspend instanceof HandOver) {
      await queries.handOver.run(this.store, { id: runId, now });
      await this.audit.append({ type: 'run.handed-over', actor: 'patchbay', runId, data: { by: this.owner, reason: 'the process is stopping' } }, now);
      return { status: 'running', waitingFor: null, wakeAt: now, updatedAt: now };
    }
    // A missing connector is the process's problem: the run is tried again later, by whoever has it.
    const wakeAt = suspend instanceof ConnectorUnavailable ? now + suspend.retryInMs : suspend.wakeAt;
    await queries.park.run(this.store, { id: runId, waitingFor: suspend.waitingFor, wakeAt, now });
    if (suspend instanceof ConnectorUnavailable) await this.audit.append({ type: 'run.connector-unavailable', actor: 'patchbay', runId, data: { connector: suspend.connector, retryAt: wakeAt } }, now);
    return { status: 'waiting', waitingFor: suspend.waitingFor, wakeAt, updatedAt: now };
  }

  private async finish(runId: string, result: WorkflowResult): Promise<Partial<RunRecord>> {
    const now = this.clock.now();
    const status: RunStatus = result.outcome === 'failed' ? 'failed' : 'completed';
    await queries.finish.run(this.store, { id: runId, status, outcome: result.outcome, now });
    await this.audit.append({ type: status === 'failed' ? 'run.failed' : 'run.completed', actor: 'patchbay', runId, data: { outcome: result.outcome, summary: result.summary } }, now);
    return { status, outcome: result.outcome, waitingFor: null, wakeAt: null, updatedAt: now, finishedAt: now };
  }

  /**
   * A graceful stop (SIGTERM): from now on this engine claims no run, and each run it is driving
   * finishes the step in flight, then is handed over at the workflow's next hand-over point: its
   * lease released and the run due now, so another process takes it at once instead of after the
   * lease runs out. Resolves when the drives of this engine have ended. There is no way back: the
   * engine of a stopping process drives nothing more.
   */
  async handOver(): Promise<void> {
    this.stopping = true;
    await this.driving;
  }

  /** Whether handOver() was called. */
  get handingOver(): boolean {
    return this.stopping;
  }

  /** Runs `fn` in a write transaction, or in the one already open (core/store/sql.ts). */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.store.transaction(fn);
  }

  /**
   * Commits what is done so far, runs `fn` outside any transaction, then opens a new one. A run
   * driven side by side with others gives up its turn while `fn` runs (their browser jobs overlap).
   */
  outside<T>(fn: () => Promise<T>): Promise<T> {
    return this.store.outside(async () => {
      const turn = this.lanes.getStore();
      if (!turn) return fn();
      turn.release();
      try {
        return await fn();
      } finally {
        turn.release = await this.turn();
      }
    });
  }

  /** Waits for the turn of the runs driven side by side; returns its release. */
  private async turn(): Promise<() => void> {
    const previous = this.turns;
    let release!: () => void;
    this.turns = new Promise<void>((resolve) => (release = resolve));
    await previous;
    return release;
  }

  async journalWrite(runId: string, key: string, value: unknown): Promise<void> {
    await queries.journalWrite.run(this.store, { run_id: runId, key, value: JSON.stringify(value ?? null), at: this.clock.now() });
  }

  async nthSignal(runId: string, name: string, n: number): Promise<{ payload: unknown } | undefined> {
    const row = await queries.nthSignal.executeTakeFirst(this.store, { runId, name, offset: n - 1 });
    return row && { payload: JSON.parse(row.payload) };
  }
}

/** The RunContext of one slice: every answer comes from the journal when it is there. */
class JournalContext implements RunContext {
  private readonly occurrences = new Map<string, number>();
  /** Whether this slice has journaled anything new (it is past the replay, doing work). */
  private advanced = false;

  constructor(
    private readonly engine: EmbeddedRunEngine,
    private readonly run: RunRecord,
    private readonly journal: Map<string, unknown>,
  ) {}

  get runId(): string {
    return this.run.id;
  }

  private key(name: string): string {
    const n = (this.occurrences.get(name) ?? 0) + 1;
    this.occurrences.set(name, n);
    return n === 1 ? name : `${name}#${n}`;
  }

  private async write(key: string, value: unknown): Promise<void> {
    await this.engine.journalWrite(this.run.id, key, value);
    this.journal.set(key, value);
    this.advanced = true;
  }

  /** Hands the run over when the engine is stopping and this slice has done new work (so never while only replaying). */
  async handOverPoint(): Promise<void> {
    if (this.advanced && this.engine.handingOver) throw new HandOver(this.engine.clock.now());
  }

  async step<T>(name: string, fn: (attempt: number) => T | Promise<T>, options: StepOptions = {}): Promise<T> {
    const key = this.key(`step:${name}`);
    if (this.journal.has(key)) return unwrap<T>(name, this.journal.get(key) as Journaled<T>);
    const policy = options.retry ?? noRetry;
    let attempt = 1;
    while (this.journal.has(`${key}@${attempt}`)) attempt++;
    if (attempt > 1) await this.timer(`${key}@${attempt - 1}:wait`, (this.journal.get(`${key}@${attempt - 1}`) as { delayMs: number }).delayMs, `retry of ${name}`);
    for (;; attempt++) {
      try {
        const value = options.external ? await this.engine.outside(async () => fn(attempt)) : await fn(attempt);
        await this.write(key, { value });
        return value;
      } catch (error) {
        if (error instanceof Suspend) throw error;
        const failure = serializeError(error);
        if (!isRetryable(error) || attempt >= policy.maxAttempts) {
          await this.write(key, { error: failure });
          throw new StepFailedError(name, failure, { cause: error });
        }
        const delayMs = retryDelayMs(error, attempt, policy);
        await this.write(`${key}@${attempt}`, { error: failure, delayMs });
        await this.engine.audit.append({ type: 'step.retry', actor: 'patchbay', runId: this.run.id, data: { step: name, attempt, delayMs, error: failure.message } }, this.engine.clock.now());
        await this.timer(`${key}@${attempt}:wait`, delayMs, `retry of ${name}`);
      }
    }
  }

  async waitForSignal<T>(name: string, timeoutMs?: number): Promise<SignalResult<T>> {
    const key = this.key(`signal:${name}`);
    if (this.journal.has(key)) return this.journal.get(key) as SignalResult<T>;
    const n = Number(key.split('#')[1] ?? 1);
    const signal = await this.engine.nthSignal(this.run.id, name, n);
    if (signal) {
      const result: SignalResult<T> = { timedOut: false, payload: signal.payload as T };
      await this.write(key, result);
      return result;
    }
    let deadline: number | null = null;
    if (timeoutMs !== undefined) {
      const deadlineKey = `${key}:deadline`;
      if (!this.journal.has(deadlineKey)) await this.write(deadlineKey, this.engine.clock.now() + timeoutMs);
      deadline = this.journal.get(deadlineKey) as number;
      if (this.engine.clock.now() >= deadline) {
        const result: SignalResult<T> = { timedOut: true };
        await this.write(key, result);
        return result;
      }
    }
    throw new Suspend(name, deadline);
  }

  async sleep(ms: number): Promise<void> {
    await this.timer(this.key('sleep'), ms, 'a timer');
  }

  private async timer(key: string, ms: number, what: string): Promise<void> {
    if (!this.journal.has(key)) await this.write(key, this.engine.clock.now() + ms);
    const wakeAt = this.journal.get(key) as number;
    const left = wakeAt - this.engine.clock.now();
    if (left <= 0) return;
    // A stopping process does not wait in the process: the run parks until the time, for whoever is left.
    if (left <= this.engine.inlineWaitMaxMs && !this.engine.handingOver) {
      await this.engine.outside(() => this.engine.pause(left));
      return;
    }
    throw new Suspend(what, wakeAt);
  }

  async now(): Promise<number> {
    const key = this.key('now');
    if (!this.journal.has(key)) await this.write(key, this.engine.clock.now());
    return this.journal.get(key) as number;
  }

  async audit(event: Omit<AuditEvent, 'runId'>): Promise<void> {
    const key = this.key('audit');
    if (this.journal.has(key)) return;
    await this.engine.audit.append({ ...event, runId: this.run.id }, this.engine.clock.now());
    await this.write(key, event.type);
  }
}

type Journaled<T> = { value: T } | { error: SerializedError };

function unwrap<T>(name: string, entry: Journaled<T>): T {
  if ('error' in entry) throw new StepFailedError(name, entry.error);
  return entry.value;
}

/** An error as the journal keeps it: its name, message, code and HTTP status, never its stack or cause. */
export function serializeError(error: unknown): SerializedError {
  const e = error as Partial<PatchbayError> & { status?: number; name?: string; message?: string };
  return {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.status === 'number' ? { status: e.status } : {}),
  };
}

/** A row of the runs table as the port's RunRecord (its JSON columns parsed). */
export function toRunRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    batchId: row.batch_id,
    tenant: row.tenant,
    playbook: row.playbook,
    app: row.app,
    subject: row.subject,
    request: JSON.parse(row.request),
    plan: JSON.parse(row.plan),
    profile: JSON.parse(row.profile),
    status: row.status,
    outcome: row.outcome as RunRecord['outcome'],
    waitingFor: row.waiting_for,
    wakeAt: row.wake_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}
