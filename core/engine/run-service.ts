import { inject, injectable } from '#inversify';
import { TaskStore, type TaskView } from '../channels/human/task-store.js';
import type { Evidence } from '../channels/executor.js';
import { NotFoundError } from '../errors.js';
import { LifecyclePlanner } from '../planning/service.js';
import type { Plan } from '../schema/types/plan.js';
import type { LoadedProfile } from '../tenant/profile.js';
import type { AuditRecord } from './audit.js';
import { Clock } from './clock.js';
import { newId } from './ids.js';
import { withRequester } from './requester.js';
import { Outbox } from './outbox.js';
import { type NewRun, type RunRecord, type StartResult, StoreRunEngine } from './port.js';
import { type StepRecord, StepLog } from './step-log.js';
import { GroupCommit } from '../store/group-commit.js';

/** A request as it arrived, with where it came from for error messages ("command line", "people.csv:3"). */
export interface IncomingRequest {
  readonly request: unknown;
  readonly source: string;
}

export interface Timeline {
  readonly run: RunRecord;
  readonly steps: readonly (StepRecord & { readonly plan: Plan['steps'][number] })[];
  readonly tasks: readonly { readonly taskId: string; readonly stepId: string; readonly status: string; readonly closedBy: string | null }[];
  readonly audit: readonly AuditRecord[];
}

/**
 * What operators and other systems ask of runs: start them (validated and planned first, all or
 * nothing), look at them, feed them evidence, cancel them. After each change it lets the engine
 * catch up: due runs advance, overdue tasks escalate, notifications go out.
 */
@injectable()
export class RunService {
  /**
   * Where single requests that only record (`drive: false`: the server's starts and task actions)
   * commit: concurrent ones share a transaction, each answered after its commit (core/store/group-commit.ts).
   * Replaceable, for a benchmark that compares with one commit per request.
   */
  groupCommit: GroupCommit;

  constructor(
    @inject(StoreRunEngine) readonly engine: StoreRunEngine,
    @inject(TaskStore) readonly tasks: TaskStore,
    @inject(StepLog) private readonly steps: StepLog,
    @inject(Outbox) private readonly outbox: Outbox,
    @inject(LifecyclePlanner) private readonly planner: LifecyclePlanner,
    @inject(Clock) private readonly clock: Clock,
  ) {
    this.groupCommit = new GroupCommit(engine.store);
  }

  /**
   * Validates and plans every request before starting any, so that one bad row starts nothing.
   * Several requests together form a batch: their batchable human work shares tasks.
   * `drive` (default true) executes the new runs until they first wait and lets the engine catch
   * up, as a CLI command that is its own loop does; `drive: false` only records them, due now, for
   * the process's single loop (the server's) to drive, and answers at once.
   * `adjust` changes each plan before its run is recorded, for a caller that knows more than the
   * request says (a reconciliation that read no IdP assignment drops the IdP step, with a note why).
   */
  async start(incoming: readonly IncomingRequest[], profile: LoadedProfile, options: { idempotencyKey?: string; requestedBy?: string; mayActOnBehalf?: boolean; drive?: boolean; adjust?: (plan: Plan) => Plan } = {}): Promise<StartResult[]> {
    const batchId = incoming.length > 1 ? newId('batch', this.clock.now()) : undefined;
    const runs: NewRun[] = incoming.map(({ request, source }) => {
      // Who asked comes from the caller's credential; the body cannot override it (see withRequester).
      const withActor = withRequester(request, options, source);
      const planned = this.planner.plan(withActor, profile, source);
      const plan = options.adjust ? options.adjust(planned) : planned;
      const valid = withActor as NewRun['request'];
      const key = valid.idempotencyKey ?? (options.idempotencyKey ? `${options.idempotencyKey}${incoming.length > 1 ? `:${valid.subject.email.toLowerCase()}` : ''}` : newId('request', this.clock.now()));
      return { idempotencyKey: key, request: valid, plan, profile: profile.profile, ...(batchId ? { batchId } : {}) };
    });
    if (options.drive === false) {
      // A single request shares a commit with those arriving with it; a batch commits in slices of its own.
      return runs.length === 1 ? this.groupCommit.run(() => this.engine.start(runs, { drive: false })) : this.engine.start(runs, { drive: false });
    }
    const results = await this.engine.start(runs);
    const moved = await this.settle();
    return moved ? Promise.all(results.map(async (r) => ({ ...r, run: await this.engine.get(r.run.id) }))) : results;
  }

  /**
   * Lets the engine catch up: runs with work due, overdue tasks, undelivered notifications. Returns
   * whether anything moved. `concurrency` (the worker's --concurrency, default 1) runs that many due
   * runs side by side, so that their browser jobs overlap. An engine that schedules the periodic work
   * itself (DBOS: once across every process) is only asked to drive.
   */
  async settle(options: { concurrency?: number } = {}): Promise<boolean> {
    if (this.engine.schedulesMaintenance) return (await this.engine.drive(options)).slices > 0;
    const first = await this.engine.drive(options);
    const escalated = await this.tasks.escalateOverdue();
    const second = await this.engine.drive(options);
    const sent = await this.outbox.deliver();
    return first.slices + second.slices + escalated.length + sent.delivered + sent.failed > 0;
  }

  /**
   * When the catch-up loop next has work (ms since the epoch): the earliest of a run's timer, an open task's
   * due time and a notification's next attempt; null when nothing waits for a time. Three index entries read.
   * An engine that schedules its own timers and periodic work (DBOS) answers null: its loop is not needed for them.
   */
  async nextDueAt(): Promise<number | null> {
    if (this.engine.schedulesMaintenance) return null;
    const times = [await this.engine.nextWake?.(), await this.tasks.nextEscalationAt(), await this.outbox.nextAttemptAt()];
    const known = times.filter((t): t is number => typeof t === 'number');
    return known.length ? Math.min(...known) : null;
  }

  /** `nextDueAt` as ms from now on this runtime's clock (≤ 0 when something is due already), or null. */
  async nextDueIn(): Promise<number | null> {
    const at = await this.nextDueAt();
    return at === null ? null : at - this.clock.now();
  }

  /** The run with its steps, its tasks' sections and its audit trail. @throws NotFoundError */
  async timeline(runId: string): Promise<Timeline> {
    const run = await this.engine.get(runId);
    const records = await this.steps.list(runId);
    const items = await this.tasks.itemsOfRun(runId);
    const audit = await this.engine.audit.list({ runId });
    // A task's own events (opened, escalated, completed) carry no run id: they belong to every run in it.
    for (const taskId of new Set(items.map((i) => i.taskId))) audit.push(...(await this.engine.audit.list({ taskId })).filter((a) => !a.runId));
    return {
      run,
      steps: records.map((record) => ({ ...record, plan: run.plan.steps.find((s) => s.id === record.stepId)! })),
      tasks: items.map((i) => ({ taskId: i.taskId, stepId: i.stepId, status: i.status, closedBy: i.closedBy })),
      audit: audit.sort((a, b) => a.seq - b.seq),
    };
  }

  /** Evidence that an account exists, for a step waiting on JIT; `file` is one already kept with the evidence files (EvidenceFiles.keep). */
  async giveEvidence(runId: string, stepId: string, by: string, text: string, file?: Evidence['file']): Promise<RunRecord> {
    const run = await this.engine.get(runId);
    if (!run.plan.steps.some((s) => s.id === stepId)) throw new NotFoundError(`step of run ${runId}`, stepId, run.plan.steps.map((s) => s.id));
    await this.engine.signal(runId, `evidence:${stepId}`, { by, text, ...(file ? { file } : {}) }, `evidence:${runId}:${stepId}:${this.clock.now()}`, by);
    await this.settle();
    return this.engine.get(runId);
  }

  /**
   * Completes a task; its runs move on in the same commit as the person's answer, up to their first
   * external step (which commits before it calls out). `drive: false` only records the answer and
   * signals the runs, for the process's loop to drive (the server).
   */
  completeTask(taskId: string, args: Parameters<TaskStore['complete']>[1], options: { drive?: boolean } = {}): Promise<TaskView> {
    return this.withRunsMovingOn(() => this.tasks.complete(taskId, args), options);
  }

  /** Fails a task; its runs move the step to its next channel, or escalate, in the same commit (see completeTask). */
  failTask(taskId: string, args: Parameters<TaskStore['fail']>[1], options: { drive?: boolean } = {}): Promise<TaskView> {
    return this.withRunsMovingOn(() => this.tasks.fail(taskId, args), options);
  }

  /** One commit for a change and the steps it unblocks, then the usual catching up; or only the change. */
  private async withRunsMovingOn<T>(change: () => Promise<T>, options: { drive?: boolean }): Promise<T> {
    if (options.drive === false) return this.groupCommit.run(change);
    const result = await this.engine.changeAndDrive(change);
    await this.settle();
    return result;
  }

  async cancel(runId: string, reason: string, by: string): Promise<RunRecord> {
    const run = await this.engine.cancel(runId, reason, by);
    await this.tasks.cancelItemsOf(runId, by);
    return run;
  }
}
