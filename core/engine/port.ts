import type { AuditEvent } from './audit.js';
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
  /** Advances every run that has work due now; returns how many slices ran. */
  drive(options?: { maxSlices?: number }): Promise<{ slices: number }>;
}

/** Thrown by the context to park a run until a signal or a time; never seen by callers. */
export class Suspend {
  constructor(
    readonly waitingFor: string,
    readonly wakeAt: number | null,
  ) {}
}
