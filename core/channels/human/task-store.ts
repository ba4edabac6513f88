import { inject, injectable } from 'inversify';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { NotFoundError, PatchbayError } from '../../errors.js';
import { EmbeddedRunEngine } from '../../engine/embedded-engine.js';
import { EvidenceFiles } from '../evidence-files.js';
import { newId } from '../../engine/ids.js';
import type { RunRecord } from '../../engine/port.js';
import type { Runbook } from '../../schema/types/runbook.js';
import type { TenantProfile } from '../../schema/types/tenant-profile.js';
import type { Evidence, HandOver } from '../executor.js';

/** A task action that is not allowed: completed twice, by someone outside the queue, without evidence. */
export class TaskRefusedError extends PatchbayError {
  readonly code = 'task-refused';
  override readonly exitCode = 2;
  constructor(readonly taskId: string, reason: string) {
    super(`task ${taskId}: ${reason}`);
  }
}

/** What a person sees: the runbook for this app and step, with the plan's reasons and watch-outs. */
export interface TaskContent {
  readonly runbook: Runbook;
  /** The app the run is about ({app} in titles). */
  readonly appName: string;
  /** Where the work is done: the app itself, or the identity provider for an assignment. */
  readonly system: string;
  readonly stepTitle: string;
  readonly condition?: string;
  readonly reason: string;
  readonly watchOutFor: readonly { readonly text: string; readonly blocking: boolean }[];
  /** Why a person has this: what the machine channels tried first (a blocker the console showed, a drifted page), with their screenshots. */
  readonly handedOver?: readonly HandOver[];
  /** Set on an approval task: who asked for the run, and for whom (neither can approve it). */
  readonly approval?: { readonly requestedBy: string | null; readonly onBehalfOf?: string | null };
}

export interface TaskItem {
  readonly runId: string;
  readonly stepId: string;
  readonly email: string;
  readonly status: 'open' | 'done' | 'already-done' | 'failed' | 'cancelled';
  readonly closedBy: string | null;
}

export interface TaskView {
  readonly id: string;
  readonly title: string;
  readonly tenant: string;
  readonly app: string;
  readonly runbook: string;
  readonly queue: string;
  readonly assignee: string | null;
  readonly status: 'open' | 'completed' | 'failed' | 'cancelled';
  readonly dueAt: number;
  readonly overdue: boolean;
  readonly escalations: number;
  readonly createdAt: number;
  readonly closedAt: number | null;
  readonly closedBy: string | null;
  readonly stepsDone: readonly number[];
  readonly content: TaskContent;
  readonly items: readonly TaskItem[];
  readonly evidence: readonly Evidence[];
}

/** What a person hands in: text, a file, or their word that it is done. */
export interface EvidenceInput {
  readonly text?: string;
  readonly file?: string;
}

export interface TaskSignal {
  readonly outcome: 'done' | 'already-done' | 'failed' | 'retry-robot';
  readonly by: string;
  readonly reason?: string;
  readonly evidence: readonly Evidence[];
}

type TaskRow = {
  id: string; batch_key: string | null; tenant: string; app: string; runbook: string; title: string; queue: string; assignee: string | null;
  status: TaskView['status']; content: string; steps_done: string; due_at: number; escalations: number; created_at: number;
  closed_at: number | null; closed_by: string | null; evidence: string;
};

const hour = 3_600_000;

/**
 * The human channel's inbox: tasks made from runbooks, with a checklist section per person when
 * the runbook allows batching. Completing, failing or reassigning checks who acts, and signals the
 * waiting runs in the same transaction.
 */
@injectable()
export class TaskStore {
  constructor(
    @inject(EmbeddedRunEngine) private readonly engine: EmbeddedRunEngine,
    @inject(EvidenceFiles) private readonly files: EvidenceFiles,
  ) {}

  /** Statements go through the engine's cache of prepared statements. */
  private get db() {
    return { prepare: (text: string) => this.engine.sql(text) };
  }

  private now(): number {
    return this.engine.clock.now();
  }

  /** Opens the task for one run's step, or adds the person to the open task of the same batch. Call inside the run's transaction. */
  openFor(args: { run: RunRecord; stepId: string; queue: string; content: TaskContent; batch: boolean }): { taskId: string; joined: boolean } {
    const { run, stepId, queue, content } = args;
    const now = this.now();
    const batchKey = args.batch && run.batchId ? `${run.batchId}|${stepId}|${content.runbook.id}|${queue}` : null;
    const open = batchKey ? (this.db.prepare("SELECT id FROM tasks WHERE batch_key = ? AND status = 'open'").get(batchKey) as { id: string } | undefined) : undefined;
    let taskId = open?.id;
    if (!taskId) {
      taskId = newId('task', now);
      const taken = batchKey && this.db.prepare('SELECT 1 FROM tasks WHERE batch_key = ?').get(batchKey);
      this.db
        .prepare('INSERT INTO tasks (id, batch_key, tenant, app, runbook, title, queue, status, content, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, \'open\', ?, ?, ?)')
        .run(taskId, taken ? null : batchKey, run.tenant, run.app, content.runbook.id, content.runbook.title, queue, JSON.stringify(content), now + (content.runbook.slaHours ?? 24) * hour, now);
      this.engine.audit.append({ type: 'task.opened', actor: 'patchbay', runId: run.id, taskId, data: { runbook: content.runbook.id, queue, step: stepId } }, now);
    } else {
      this.engine.audit.append({ type: 'task.joined', actor: 'patchbay', runId: run.id, taskId, data: { step: stepId, email: run.subject } }, now);
    }
    this.db.prepare("INSERT INTO task_items (task_id, run_id, step_id, email, status) VALUES (?, ?, ?, ?, 'open')").run(taskId, run.id, stepId, run.subject);
    return { taskId, joined: !!open };
  }

  /**
   * Opens a task that belongs to no run (a canary found a console drifted before any offboarding
   * needed it), or returns the open one with the same `key`: one task per key while it stays open.
   * The profile is kept with the task, so that its queue's members are checked as for a run's task.
   * Completing or failing it closes it (there is no run to signal).
   */
  openStanding(args: { key: string; tenant: string; app: string; queue: string; content: TaskContent; profile: TenantProfile }): { taskId: string; opened: boolean } {
    return this.engine.atomically(() => {
      const open = this.db.prepare("SELECT id FROM tasks WHERE open_key = ? AND status = 'open'").get(args.key) as { id: string } | undefined;
      if (open) return { taskId: open.id, opened: false };
      const now = this.now();
      const taskId = newId('task', now);
      const { content } = args;
      this.db
        .prepare("INSERT INTO tasks (id, open_key, profile, tenant, app, runbook, title, queue, status, content, due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?)")
        .run(taskId, args.key, JSON.stringify(args.profile), args.tenant, args.app, content.runbook.id, content.runbook.title, args.queue, JSON.stringify(content), now + (content.runbook.slaHours ?? 24) * hour, now);
      this.engine.audit.append({ type: 'task.opened', actor: 'patchbay', taskId, data: { runbook: content.runbook.id, queue: args.queue, key: args.key } }, now);
      return { taskId, opened: true };
    });
  }

  get(taskId: string): TaskView {
    const row = this.db.prepare('SELECT * FROM tasks WHERE id = ?').get(taskId) as TaskRow | undefined;
    if (!row) throw new NotFoundError('task', taskId);
    return this.view(row);
  }

  /**
   * The tasks with these ids, in the order given (ids not found are left out), read in two queries
   * whatever their number: the rows, then all their items. For pages of a list (at most a few hundred ids).
   */
  getMany(ids: readonly string[]): TaskView[] {
    if (ids.length === 0) return [];
    const marks = ids.map(() => '?').join(', ');
    const rows = new Map((this.db.prepare(`SELECT * FROM tasks WHERE id IN (${marks})`).all(...ids) as TaskRow[]).map((r) => [r.id, r]));
    const items = new Map<string, TaskItem[]>();
    const found = this.db
      .prepare(`SELECT task_id AS taskId, run_id AS runId, step_id AS stepId, email, status, closed_by AS closedBy FROM task_items WHERE task_id IN (${marks}) ORDER BY task_id, email`)
      .all(...ids) as (TaskItem & { taskId: string })[];
    for (const { taskId, ...item } of found) (items.get(taskId) ?? items.set(taskId, []).get(taskId)!).push(item);
    return ids.flatMap((id) => {
      const row = rows.get(id);
      return row ? [this.view(row, items.get(id) ?? [])] : [];
    });
  }

  list(filter: { queue?: string; status?: TaskView['status'] | 'all'; operator?: string; limit?: number } = {}): TaskView[] {
    const status = filter.status ?? 'open';
    // Only the conditions given, so that SQLite walks the (status, queue, due_at) index instead of sorting every task.
    const where = [...(status === 'all' ? [] : ['status = ?']), ...(filter.queue ? ['queue = ?'] : [])];
    const rows = this.db
      .prepare(`SELECT * FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY due_at, id LIMIT ?`)
      .all(...(status === 'all' ? [] : [status]), ...(filter.queue ? [filter.queue] : []), filter.limit ?? 10_000) as TaskRow[];
    const views = rows.map((r) => this.view(r));
    if (!filter.operator) return views;
    // "Mine": assigned to the operator, or in a queue the operator belongs to and not assigned to someone else.
    return views.filter((t) => t.assignee === filter.operator || (!t.assignee && this.queueMembers(t).includes(filter.operator!)));
  }

  /** Ticks one checklist step (1-based); the task stays open. */
  tickStep(taskId: string, step: number, by: string): TaskView {
    return this.engine.atomically(() => {
      const task = this.requireOpen(taskId);
      this.requireMember(task, by);
      const steps = task.content.runbook.steps.length;
      if (!Number.isInteger(step) || step < 1 || step > steps) throw new TaskRefusedError(taskId, `there is no step ${step} (the checklist has ${steps})`);
      const done = [...new Set([...task.stepsDone, step])].sort((a, b) => a - b);
      this.db.prepare('UPDATE tasks SET steps_done = ? WHERE id = ?').run(JSON.stringify(done), taskId);
      this.engine.audit.append({ type: 'task.step-ticked', actor: by, taskId, data: { step } }, this.now());
      return this.get(taskId);
    });
  }

  /** Completes the task (or one person's section of it) with evidence; the waiting runs go on. */
  complete(taskId: string, args: { by: string; evidence: readonly EvidenceInput[]; alreadyDone?: boolean; person?: string }): TaskView {
    const evidence = args.evidence.map((e) => this.keepEvidence(taskId, e, args.by));
    return this.engine.atomically(() => {
      const task = this.requireOpen(taskId);
      this.requireMember(task, args.by);
      // Four eyes: neither the caller who asked for the run nor the person it was asked for approves it.
      const { requestedBy: asker, onBehalfOf } = task.content.approval ?? {};
      if (asker && asker.toLowerCase() === args.by.toLowerCase()) throw new TaskRefusedError(taskId, `${args.by} asked for this run and cannot approve it: another member of queue ${task.queue} must`);
      if (onBehalfOf && onBehalfOf.toLowerCase() === args.by.toLowerCase()) throw new TaskRefusedError(taskId, `this run was asked for on behalf of ${args.by}, who cannot approve it: another member of queue ${task.queue} must`);
      const required = task.content.runbook.evidence.filter((e) => e.required);
      if (evidence.length < required.length) {
        throw new TaskRefusedError(taskId, `evidence is required: ${required.map((e) => `"${e.label}" (${e.kind})`).join(', ')}; give each one`);
      }
      const items = this.openItems(task, args.person);
      const outcome = args.alreadyDone ? 'already-done' : 'done';
      this.closeItems(task, items, { outcome, by: args.by, evidence });
      return this.get(taskId);
    });
  }

  /** Fails the task: the waiting runs move the step to its next channel, or escalate. */
  fail(taskId: string, args: { by: string; reason: string; person?: string }): TaskView {
    return this.engine.atomically(() => {
      const task = this.requireOpen(taskId);
      this.requireMember(task, args.by);
      if (!args.reason.trim()) throw new TaskRefusedError(taskId, 'a reason is required to fail a task');
      this.closeItems(task, this.openItems(task, args.person), { outcome: 'failed', by: args.by, reason: args.reason, evidence: [] });
      return this.get(taskId);
    });
  }

  /**
   * Hands the step back to the robot: the person fixed what made the browser recipe drift, and the
   * waiting runs run the step's automated channels again. Refused for a task no robot handed over.
   */
  handBack(taskId: string, args: { by: string; note?: string }): TaskView {
    return this.engine.atomically(() => {
      const task = this.requireOpen(taskId);
      this.requireMember(task, args.by);
      if (!task.content.handedOver?.some((h) => h.channel !== 'human')) throw new TaskRefusedError(taskId, 'no robot handed this step over: there is nothing to hand back');
      this.closeItems(task, this.openItems(task), { outcome: 'retry-robot', by: args.by, evidence: [], ...(args.note ? { reason: args.note } : {}) });
      return this.get(taskId);
    });
  }

  /** Moves the task to another queue and/or assigns it to one operator. */
  /**
   * Takes the task (assignee = the caller, a member of its queue), so that others in the queue see it
   * is being worked on; taking one already taken by someone else is refused (unclaim it first).
   * Throws TaskRefusedError (closed task, not a member, taken by someone else).
   */
  claim(taskId: string, by: string): TaskView {
    return this.engine.atomically(() => {
      const task = this.requireOpen(taskId);
      this.requireMember(task, by);
      if (task.assignee && task.assignee !== by) throw new TaskRefusedError(taskId, `already taken by ${task.assignee}; ask them, or unassign it first`);
      if (task.assignee === by) return task;
      this.db.prepare('UPDATE tasks SET assignee = ? WHERE id = ?').run(by, taskId);
      this.engine.audit.append({ type: 'task.claimed', actor: by, taskId, data: { assignee: by } }, this.now());
      return this.get(taskId);
    });
  }

  /** Gives the task back to its queue (no assignee); any member of the queue may. Throws TaskRefusedError as claim does. */
  unclaim(taskId: string, by: string): TaskView {
    return this.engine.atomically(() => {
      const task = this.requireOpen(taskId);
      this.requireMember(task, by);
      if (!task.assignee) return task;
      this.db.prepare('UPDATE tasks SET assignee = NULL WHERE id = ?').run(taskId);
      this.engine.audit.append({ type: 'task.unclaimed', actor: by, taskId, data: { was: task.assignee } }, this.now());
      return this.get(taskId);
    });
  }

  reassign(taskId: string, args: { by: string; queue?: string; assignee?: string }): TaskView {
    return this.engine.atomically(() => {
      const task = this.requireOpen(taskId);
      this.requireMember(task, args.by);
      const profile = this.profileOf(task);
      if (args.queue && profile.queues && !profile.queues.some((q) => q.id === args.queue)) {
        throw new TaskRefusedError(taskId, `unknown queue '${args.queue}' (queues: ${profile.queues.map((q) => q.id).join(', ')})`);
      }
      const queue = args.queue ?? task.queue;
      const assignee = args.assignee ?? null;
      if (assignee && profile.queues && !this.membersOf(profile, queue).includes(assignee)) {
        throw new TaskRefusedError(taskId, `${assignee} is not in queue ${queue}`);
      }
      this.db.prepare('UPDATE tasks SET queue = ?, assignee = ? WHERE id = ?').run(queue, assignee, taskId);
      this.engine.audit.append({ type: 'task.reassigned', actor: args.by, taskId, data: { from: task.queue, queue, assignee } }, this.now());
      return this.get(taskId);
    });
  }

  /**
   * The earliest due time of an open task (milliseconds since the epoch), or null: O(log n) in open tasks.
   * INDEXED BY because the (status, queue, due_at) index also matches `status = 'open'` and the planner, without
   * statistics, picks it and walks every open task.
   */
  static readonly nextDueSql = "SELECT min(due_at) FROM tasks INDEXED BY tasks_open_due WHERE status = 'open'";
  /** Open tasks past a due time (the parameter, ms), earliest first: a range of the same index, no sort. */
  static readonly overdueSql = "SELECT * FROM tasks INDEXED BY tasks_open_due WHERE status = 'open' AND due_at < ? ORDER BY due_at, id";

  /**
   * Escalates every open task past its due time: an audit event, the task moved to the queue's
   * escalation queue with a new due time, and a notification in the outbox. Returns the tasks escalated.
   */
  escalateOverdue(): TaskView[] {
    // The next due time, one step down the partial (due_at) index of open tasks (migration 12): when nothing is
    // overdue, which is nearly always, no transaction is opened and no task is read, whatever the backlog.
    const next = this.db.prepare(TaskStore.nextDueSql).pluck().get() as number | null;
    if (next === null || next >= this.now()) return [];
    return this.engine.atomically(() => {
      const now = this.now();
      const overdue = this.db.prepare(TaskStore.overdueSql).all(now) as TaskRow[];
      return overdue.map((row) => {
        const task = this.view(row);
        const profile = this.profileOf(task);
        const to = profile.queues?.find((q) => q.id === task.queue)?.escalateTo ?? task.queue;
        const due = now + (task.content.runbook.slaHours ?? 24) * hour;
        this.db.prepare('UPDATE tasks SET queue = ?, assignee = NULL, due_at = ?, escalations = escalations + 1 WHERE id = ?').run(to, due, task.id);
        const data = { from: task.queue, to, overdueSinceMs: now - task.dueAt, escalation: task.escalations + 1 };
        this.engine.audit.append({ type: 'task.escalated', actor: 'patchbay', taskId: task.id, data }, now);
        return this.get(task.id);
      });
    });
  }

  /** Cancels the open sections of a cancelled run. */
  cancelItemsOf(runId: string, by: string): void {
    this.engine.atomically(() => {
      const items = this.db.prepare("SELECT task_id AS taskId FROM task_items WHERE run_id = ? AND status = 'open'").all(runId) as { taskId: string }[];
      this.db.prepare("UPDATE task_items SET status = 'cancelled', closed_by = ? WHERE run_id = ? AND status = 'open'").run(by, runId);
      for (const { taskId } of items) this.closeIfFinished(taskId, by, 'cancelled');
    });
  }

  itemsOfRun(runId: string): (TaskItem & { taskId: string })[] {
    return this.db.prepare('SELECT i.task_id AS taskId, i.run_id AS runId, i.step_id AS stepId, i.email, i.status, i.closed_by AS closedBy FROM task_items i JOIN tasks t ON t.id = i.task_id WHERE i.run_id = ? ORDER BY t.created_at, t.id').all(runId) as (TaskItem & { taskId: string })[];
  }

  private closeItems(task: TaskView, items: readonly TaskItem[], signal: TaskSignal): void {
    const now = this.now();
    const update = this.db.prepare('UPDATE task_items SET status = ?, closed_by = ?, evidence = ? WHERE task_id = ? AND run_id = ? AND step_id = ?');
    for (const item of items) {
      // Handed back to the robot: the person's part is cancelled (the store's statuses have no other word for it).
      update.run(signal.outcome === 'retry-robot' ? 'cancelled' : signal.outcome, signal.by, JSON.stringify(signal.evidence), task.id, item.runId, item.stepId);
      this.engine.recordSignal(item.runId, `task:${task.id}`, signal, `task:${task.id}:${item.runId}:${item.stepId}`, signal.by);
    }
    const type = signal.outcome === 'failed' ? 'task.failed' : signal.outcome === 'retry-robot' ? 'task.handed-back' : 'task.completed';
    this.engine.audit.append(
      { type, actor: signal.by, taskId: task.id, data: { outcome: signal.outcome, people: items.map((i) => i.email), evidence: signal.evidence.map((e) => e.summary), ...(signal.reason ? { reason: signal.reason } : {}) } },
      now,
    );
    const evidence = [...task.evidence, ...signal.evidence];
    this.db.prepare('UPDATE tasks SET evidence = ? WHERE id = ?').run(JSON.stringify(evidence), task.id);
    this.closeIfFinished(task.id, signal.by, signal.outcome === 'failed' ? 'failed' : signal.outcome === 'retry-robot' ? 'cancelled' : 'completed');
  }

  private closeIfFinished(taskId: string, by: string, status: 'completed' | 'failed' | 'cancelled'): void {
    const open = this.db.prepare("SELECT count(*) AS n FROM task_items WHERE task_id = ? AND status = 'open'").get(taskId) as { n: number };
    if (open.n > 0) return;
    this.db.prepare("UPDATE tasks SET status = ?, closed_at = ?, closed_by = ? WHERE id = ? AND status = 'open'").run(status, this.now(), by, taskId);
  }

  private openItems(task: TaskView, person?: string): TaskItem[] {
    const open = task.items.filter((i) => i.status === 'open');
    if (!person) return open;
    const item = open.find((i) => i.email.toLowerCase() === person.toLowerCase());
    if (!item) {
      const known = task.items.map((i) => `${i.email} (${i.status})`).join(', ');
      throw new TaskRefusedError(task.id, `${person} has no open section in this task (sections: ${known})`);
    }
    return [item];
  }

  private requireOpen(taskId: string): TaskView {
    const task = this.get(taskId);
    if (task.status !== 'open') {
      const when = task.closedAt ? ` on ${new Date(task.closedAt).toISOString()}` : '';
      throw new TaskRefusedError(taskId, `already ${task.status}${task.closedBy ? ` by ${task.closedBy}` : ''}${when}; nothing was changed`);
    }
    return task;
  }

  private requireMember(task: TaskView, operator: string): void {
    if (!operator?.trim()) throw new TaskRefusedError(task.id, 'say who you are with --by (or PATCHBAY_OPERATOR)');
    const profile = this.profileOf(task);
    if (!profile.queues?.length) return;
    const members = this.membersOf(profile, task.queue);
    if (!members.includes(operator)) {
      throw new TaskRefusedError(task.id, `${operator} is not a member of queue ${task.queue} (members: ${members.join(', ') || 'none'})`);
    }
  }

  private queueMembers(task: TaskView): string[] {
    return this.membersOf(this.profileOf(task), task.queue);
  }

  private membersOf(profile: TenantProfile, queue: string): string[] {
    return profile.queues?.find((q) => q.id === queue)?.members ?? [];
  }

  private profileOf(task: TaskView): TenantProfile {
    const runId = task.items[0]?.runId;
    const row = runId
      ? (this.db.prepare('SELECT profile FROM runs WHERE id = ?').get(runId) as { profile: string } | undefined)
      : (this.db.prepare('SELECT profile FROM tasks WHERE id = ? AND profile IS NOT NULL').get(task.id) as { profile: string } | undefined);
    return row ? (JSON.parse(row.profile) as TenantProfile) : { tenant: task.tenant, apps: {} };
  }

  /** Files are copied under the data folder by content hash; text is kept as given. */
  private keepEvidence(taskId: string, input: EvidenceInput, by: string): Evidence {
    const at = this.now();
    if (input.file) {
      if (!existsSync(input.file) || !statSync(input.file).isFile()) throw new TaskRefusedError(taskId, `evidence file ${input.file} does not exist`);
      const bytes = readFileSync(input.file);
      const name = path.basename(input.file);
      const kept = this.files.keep(bytes, { name, kind: 'file', summary: '', by, at });
      return { ...kept, summary: `file ${name} (${bytes.length} bytes, sha256 ${kept.file!.sha256.slice(0, 12)}…)` };
    }
    const text = input.text?.trim();
    if (!text) throw new TaskRefusedError(taskId, 'evidence must not be empty');
    return { kind: 'text', summary: text, by, at };
  }

  private view(row: TaskRow, known?: TaskItem[]): TaskView {
    const items = known ?? (this.db
      .prepare('SELECT run_id AS runId, step_id AS stepId, email, status, closed_by AS closedBy FROM task_items WHERE task_id = ? ORDER BY email')
      .all(row.id) as TaskItem[]);
    const task = {
      id: row.id,
      title: row.title,
      tenant: row.tenant,
      app: row.app,
      runbook: row.runbook,
      queue: row.queue,
      assignee: row.assignee,
      status: row.status,
      dueAt: row.due_at,
      overdue: row.status === 'open' && row.due_at < this.now(),
      escalations: row.escalations,
      createdAt: row.created_at,
      closedAt: row.closed_at,
      closedBy: row.closed_by,
      stepsDone: JSON.parse(row.steps_done) as number[],
      content: JSON.parse(row.content) as TaskContent,
      items,
      evidence: JSON.parse(row.evidence) as Evidence[],
    };
    return { ...task, title: renderTitle(task) };
  }
}

/** The runbook's title for the people in the task: {email} becomes the address, or "3 people". */
export function renderTitle(task: { title: string; items: readonly { email: string }[]; content: TaskContent }): string {
  const who = task.items.length === 1 ? task.items[0]!.email : `${task.items.length} people`;
  return task.title.replaceAll('{email}', who).replaceAll('{app}', task.content.appName);
}
