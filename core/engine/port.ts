import type { AuditEvent, AuditLog } from './audit.js';
import type { Clock } from './clock.js';
import type { Sql, StoreDatabase } from '../store/sql.js';
import type { RetryPolicy } from './retry.js';
import type { LifecycleRequest } from '../schema/types/lifecycle-request.js';
import type { Plan } from '../schema/types/plan.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';

/**
 * What workflow code may do. Everything a run does goes through it, so that the same playbook code
 * runs on the embedded SQLite journal and on a distributed durable engine (DBOS Transact, Temporal)
 * behind the same port. Every call is journaled: on replay after a crash it returns what it
 * returned the first time, and nothing is done twice inside the run.
 */
export interface RunContext {
  readonly runId: string;
  /** Runs `fn` once for this run and name; retried under `retry`; `external` steps are committed before they call out. */
  step<T>(name: string, fn: (attempt: number) => T | Promise<T>, options?: StepOptions): Promise<T>;
  /** Waits for the next signal of this name (a task completed, evidence arrived), or until the timeout. */
  waitForSignal<T = unknown>(name: string, timeoutMs?: number): Promise<SignalResult<T>>;
  /** A durable timer: a crash during the sleep does not restart it. */
  sleep(ms: number): Promise<void>;
  /** The time, journaled so that replay sees the same value. */
  now(): Promise<number>;
  /** Appends to the audit log once, however often the run is replayed. */
  audit(event: Omit<AuditEvent, 'runId'>): Promise<void>;
  /**
   * A place between steps where nothing is half done: an engine whose process is stopping
   * (SIGTERM) may hand the run to another process here, by throwing its Suspend, once this slice
   * has done new work. Engines without such a notion leave it out; workflow code calls it with `?.`.
   */
  handOverPoint?(): Promise<void>;
}

export interface StepOptions {
  readonly retry?: RetryPolicy;
  readonly external?: boolean;
}

export type SignalResult<T> = { readonly timedOut: false; readonly payload: T } | { readonly timedOut: true };

/** A run's life: running (has work to do now), waiting (for a signal or a timer), or finished. */
export type RunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export type RunOutcome = 'done' | 'already-done' | 'failed' | 'cancelled';

/** A lifecycle request ready to start: validated and planned. */
export interface NewRun {
  readonly idempotencyKey: string;
  readonly request: LifecycleRequest;
  readonly plan: Plan;
  readonly profile: TenantProfile;
  readonly batchId?: string;
}

export interface RunRecord {
  readonly id: string;
  readonly idempotencyKey: string;
  readonly batchId: string | null;
  readonly tenant: string;
  readonly playbook: string;
  readonly app: string;
  readonly subject: string;
  readonly request: LifecycleRequest;
  readonly plan: Plan;
  readonly profile: TenantProfile;
  readonly status: RunStatus;
  readonly outcome: RunOutcome | null;
  readonly waitingFor: string | null;
  readonly wakeAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly finishedAt: number | null;
}

export interface StartResult {
  readonly run: RunRecord;
  /** false when an existing run was returned (same idempotency key, or the same person's open run). */
  readonly created: boolean;
}

/** What the workflow returns when it ends. */
export interface WorkflowResult {
  readonly outcome: Exclude<RunOutcome, 'cancelled'>;
  readonly summary: string;
}

export type Workflow = (ctx: RunContext, run: RunRecord) => Promise<WorkflowResult>;

/**
 * The workflow-level port: the embedded SQLite journal (core/engine/embedded-engine.ts) and the
 * DBOS Transact engine on PostgreSQL implement it. Every call may touch a database shared by several
 * processes, so every call is asynchronous.
 */
export interface RunEngine {
  start(runs: readonly NewRun[]): Promise<StartResult[]>;
  /** Delivers a signal once per `dedupeKey`; false when the run is closed or the key was seen. @throws NotFoundError */
  signal(runId: string, name: string, payload: unknown, dedupeKey: string, actor: string): Promise<boolean>;
  /** @throws NotFoundError */
  get(runId: string): Promise<RunRecord>;
  list(filter?: { status?: RunStatus; batchId?: string; limit?: number }): Promise<RunRecord[]>;
  /** @throws NotFoundError */
  cancel(runId: string, reason: string, actor: string): Promise<RunRecord>;
  /**
   * Advances every run that has work due now; returns how many slices ran. `concurrency` (default 1):
   * how many runs one call may execute side by side (an engine that schedules runs itself may ignore it).
   */
  drive(options?: { maxSlices?: number; concurrency?: number }): Promise<{ slices: number }>;
}

/**
 * The engine as the rest of the runtime uses it (the task store, the run service, the channels):
 * the port, plus the store its runs, tasks and audit log live in. The embedded engine and the DBOS
 * engine both are one; the composition root binds the chosen one under this token.
 */
export const StoreRunEngine = Symbol('StoreRunEngine');
export interface StoreRunEngine extends RunEngine {
  readonly store: StoreDatabase;
  /** The query builder: the open transaction of the calling context, else the database. */
  readonly db: Sql;
  readonly clock: Clock;
  /** The audit log every part of the runtime appends to (one hash chain, one outbox listener). */
  readonly audit: AuditLog;
  /** `drive: false` records the runs only, for the process's loop (or the engine's own executors) to execute. */
  start(runs: readonly NewRun[], options?: { drive?: boolean }): Promise<StartResult[]>;
  /** Runs `fn` in a store transaction, or in the one already open; signals given inside it reach their runs after the commit. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Applies `change` in one commit and lets the runs it unblocks move on. */
  changeAndDrive<T>(change: () => T | Promise<T>): Promise<T>;
  /** The workflow every run executes; set once by the composition root. */
  use(workflow: Workflow): void;
  /**
   * True when the engine runs the periodic work (task escalation, the outbox) itself, once across
   * every process on the database, so that a process's catch-up loop must not (the DBOS engine).
   */
  readonly schedulesMaintenance?: boolean;
  /** When the next run is due (ms since the epoch), or null when no run waits for a time; absent when the engine keeps its own timers. */
  nextWake?(): Promise<number | null>;
  /**
   * A graceful stop (SIGTERM): no run is claimed any more, the step in flight finishes and its run is
   * released for another process at once. Resolves when this engine's drives have ended. The DBOS
   * engine has none: its shutdown in the runtime's close() lets DBOS recover the workflows elsewhere.
   */
  handOver?(): Promise<void>;
  /**
   * True once handOver() was called: an external step that has not begun (a browser job still waiting
   * for a free context behind the one in flight) hands its run over instead of starting.
   */
  readonly handingOver?: boolean;
}

/** Thrown by the context to park a run until a signal or a time; never seen by callers. */
export class Suspend {
  constructor(
    readonly waitingFor: string,
    readonly wakeAt: number | null,
  ) {}
}

/** How long a run whose connector is missing waits before it is tried again: five minutes. */
export const connectorRetryMs = 5 * 60_000;

/**
 * A run needs a connector this process's catalogue does not have (PATCHBAY_CONNECTORS unset in the
 * shell that drove it, a worker started without it). That is the environment's fault, not the
 * run's: the run parks, due again in `retryInMs`, with the reason as what it waits for.
 */
export class ConnectorUnavailable extends Suspend {
  constructor(
    readonly connector: string,
    readonly retryInMs: number = connectorRetryMs,
  ) {
    super(connectorWait(connector), null);
  }
}

/** The waiting reason of a run parked by ConnectorUnavailable. */
export function connectorWait(connector: string): string {
  return `connector '${connector}' is not in this process's catalogue (PATCHBAY_CONNECTORS?)`;
}

/** The connector a run waits for, when its waiting reason is ConnectorUnavailable's; else undefined. */
export function connectorWaitedFor(waitingFor: string | null | undefined): string | undefined {
  return /^connector '([^']+)' is not in this process's catalogue/.exec(waitingFor ?? '')?.[1];
}
