import { inject, injectable } from '#inversify';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { NotFoundError, PatchbayError } from '../../errors.js';
import { EvidenceFiles } from '../evidence-files.js';
import { newId } from '../../engine/ids.js';
import { type RunRecord, StoreRunEngine } from '../../engine/port.js';
import type { Runbook } from '../../schema/types/runbook.js';
import type { TenantProfile } from '../../schema/types/tenant-profile.js';
import type { Evidence, HandOver } from '../executor.js';
import { type Selectable, sql } from 'kysely';
import { type Params, preparedQuery } from '../../store/prepared.js';
import type { Sql } from '../../store/sql.js';
import type { TasksTable } from '../../store/tables.js';

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

/**
 * A task as the task list answers it: the view, with the checklist ticks, the content and the evidence
 * as the JSON the store keeps them in (read as UTF-8 bytes by the list). Those columns are only ever written
 * by JSON.stringify of the view's values, so the list answers them as stored instead of parsing every task's
 * content per request.
 */
export type TaskListEntry<Stored = Buffer> = Omit<TaskView, 'stepsDone' | 'content' | 'evidence'> & {
  /** JSON (UTF-8 bytes as the list reads them): the ticked checklist steps (1-based). */
  readonly stepsDone: Stored;
  /** JSON: the TaskContent. */
  readonly content: Stored;
  /** JSON: the Evidence handed in. */
  readonly evidence: Stored;
};

/** A task's row as the list reads it: everything but the batch and standing keys and the kept profile, the stored JSON as its UTF-8 bytes. */
export type TaskListRow<Stored = Buffer> = Omit<TaskRow, 'batch_key' | 'open_key' | 'profile' | 'steps_done' | 'content' | 'evidence'> & { steps_done: Stored; content: Stored; evidence: Stored };

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

type TaskRow = Selectable<TasksTable>;

const hour = 3_600_000;

/** Opening a run's task, compiled once (core/store/prepared.ts): a start that reaches a person runs these. */
const openQueries = {
  openOfBatch: preparedQuery((db, p: Params<{ batchKey: string }>) => db.selectFrom('tasks').select('id').where('batch_key', '=', p('batchKey')).where('status', '=', sql.lit('open'))),
  ofBatch: preparedQuery((db, p: Params<{ batchKey: string }>) => db.selectFrom('tasks').select('id').where('batch_key', '=', p('batchKey'))),
  insertTask: preparedQuery(
    (db, p: Params<{ id: string; batch_key: string | null; tenant: string; app: string; app_name: string; runbook: string; title: string; queue: string; content: string; due_at: number; created_at: number }>) =>
      db.insertInto('tasks').values({
        id: p('id'), batch_key: p('batch_key'), tenant: p('tenant'), app: p('app'), app_name: p('app_name'), runbook: p('runbook'), title: p('title'), queue: p('queue'),
        status: sql.lit('open'), content: p('content'), due_at: p('due_at'), created_at: p('created_at'),
      }),
  ),
  /** Escalation's reads (escalationQueries). 'open' is a literal so that SQLite can use the partial index of open tasks' due times. */
  nextDue: preparedQuery((db, _: Params<{ now: number }>) => db.selectFrom('tasks').select((eb) => eb.fn.min('due_at').as('next')).where('status', '=', sql.lit('open'))),
  overdue: preparedQuery((db, p: Params<{ now: number }>) =>
    db.selectFrom('tasks').selectAll().where('status', '=', sql.lit('open')).where('due_at', '<', p('now')).orderBy('due_at').orderBy('id'),
  ),
  insertItem: preparedQuery((db, p: Params<{ task_id: string; run_id: string; step_id: string; email: string }>) =>
    db.insertInto('task_items').values({ task_id: p('task_id'), run_id: p('run_id'), step_id: p('step_id'), email: p('email'), status: sql.lit('open') }),
  ),
};

/**
 * The human channel's inbox: tasks made from runbooks, with a checklist section per person when
 * the runbook allows batching. Completing, failing or reassigning checks who acts, and signals the
 * waiting runs in the same transaction. On PostgreSQL several servers share it: a task is closed by
 * a conditional update, so two people completing it at once get one completion and one refusal.
 */
@injectable()
export class TaskStore {
  constructor(
    @inject(StoreRunEngine) private readonly engine: StoreRunEngine,
    @inject(EvidenceFiles) private readonly files: EvidenceFiles,
  ) {}

  private get db(): Sql {
    return this.engine.db;
  }

  private now(): number {
    return this.engine.clock.now();
  }

  private atomically<T>(fn: () => Promise<T>): Promise<T> {
    return this.engine.transaction(fn);
  }

  /** Opens the task for one run's step, or adds the person to the open task of the same batch. Call inside the run's transaction. */
  async openFor(args: { run: RunRecord; stepId: string; queue: string; content: TaskContent; batch: boolean }): Promise<{ taskId: string; joined: boolean }> {
    const { run, stepId, queue, content } = args;
    const now = this.now();
    const batchKey = args.batch && run.batchId ? `${run.batchId}|${stepId}|${content.runbook.id}|${queue}` : null;
    const store = this.engine.store;
    const open = batchKey ? await openQueries.openOfBatch.executeTakeFirst(store, { batchKey }) : undefined;
    let taskId = open?.id;
    if (!taskId) {
      taskId = newId('task', now);
      const taken = batchKey && (await openQueries.ofBatch.executeTakeFirst(store, { batchKey }));
      await openQueries.insertTask.run(store, {
        id: taskId, batch_key: taken ? null : batchKey, tenant: run.tenant, app: run.app, app_name: content.appName, runbook: content.runbook.id, title: content.runbook.title, queue,
        content: JSON.stringify(content), due_at: now + (content.runbook.slaHours ?? 24) * hour, created_at: now,
      });
      await this.engine.audit.append({ type: 'task.opened', actor: 'patchbay', runId: run.id, taskId, data: { runbook: content.runbook.id, queue, step: stepId } }, now);
    } else {
      await this.engine.audit.append({ type: 'task.joined', actor: 'patchbay', runId: run.id, taskId, data: { step: stepId, email: run.subject } }, now);
    }
    await openQueries.insertItem.run(store, { task_id: taskId, run_id: run.id, step_id: stepId, email: run.subject });
    return { taskId, joined: !!open };
  }

  /**
   * Opens a task that belongs to no run (a canary found a console drifted before any offboarding
   * needed it), or returns the open one with the same `key`: one task per key while it stays open.
   * The profile is kept with the task, so that its queue's members are checked as for a run's task.
   * Completing or failing it closes it (there is no run to signal).
   */
  async openStanding(args: { key: string; tenant: string; app: string; queue: string; content: TaskContent; profile: TenantProfile }): Promise<{ taskId: string; opened: boolean }> {
    return this.atomically(async () => {
      const open = await this.openStandingId(args.key);
      if (open) return { taskId: open, opened: false };
      const now = this.now();
      const taskId = newId('task', now);
      const { content } = args;
      await this.db
        .insertInto('tasks')
        .values({
          id: taskId, open_key: args.key, profile: JSON.stringify(args.profile), tenant: args.tenant, app: args.app, app_name: content.appName, runbook: content.runbook.id, title: content.runbook.title,
          queue: args.queue, status: 'open', content: JSON.stringify(content), due_at: now + (content.runbook.slaHours ?? 24) * hour, created_at: now,
        })
        .execute();
      await this.engine.audit.append({ type: 'task.opened', actor: 'patchbay', taskId, data: { runbook: content.runbook.id, queue: args.queue, key: args.key } }, now);
      return { taskId, opened: true };
    });
  }

  /** The open run-less task with this key (openStanding), if any. */
  async openStandingId(key: string): Promise<string | undefined> {
    return (await this.db.selectFrom('tasks').select('id').where('open_key', '=', key).where('status', '=', 'open').executeTakeFirst())?.id;
  }

  /** @throws NotFoundError */
  async get(taskId: string): Promise<TaskView> {
    const row = await this.db.selectFrom('tasks').selectAll().where('id', '=', taskId).executeTakeFirst();
    if (!row) throw new NotFoundError('task', taskId);
    return this.view(row);
  }

  /**
   * The tasks with these ids, in the order given (ids not found are left out), read in two queries
   * whatever their number: the rows, then all their items. For pages of a list (at most a few hundred ids).
   */
  async getMany(ids: readonly string[]): Promise<TaskView[]> {
    if (ids.length === 0) return [];
    const rows = new Map((await this.db.selectFrom('tasks').selectAll().where('id', 'in', ids).execute()).map((r) => [r.id, r]));
    const items = await this.itemsOf(ids);
    const views: TaskView[] = [];
    for (const id of ids) {
      const row = rows.get(id);
      if (row) views.push(await this.view(row, items.get(id) ?? []));
    }
    return views;
  }

  /**
   * The list's entries for rows read by the list (core/server/listing.ts), in their order, with all their
   * checklist sections read in one query: no content is parsed (the title's {app} is the row's app_name).
   */
  async listEntries(rows: readonly TaskListRow[]): Promise<TaskListEntry[]> {
    const items = await this.itemsOf(rows.map((r) => r.id));
    const now = this.now();
    return rows.map((row) => this.entryOf(row, items.get(row.id) ?? [], row.app_name, now));
  }

  /** A task's row as the list answers it: the stored JSON kept as text, the title rendered for its sections and `appName`. */
  private entryOf<Stored>(row: TaskListRow<Stored>, sections: TaskItem[], appName: string, now: number): TaskListEntry<Stored> {
    return {
      id: row.id,
      title: renderTitle({ title: row.title, items: sections, content: { appName } }),
      tenant: row.tenant,
      app: row.app,
      runbook: row.runbook,
      queue: row.queue,
      assignee: row.assignee,
      status: row.status,
      dueAt: row.due_at,
      overdue: row.status === 'open' && row.due_at < now,
      escalations: row.escalations,
      createdAt: row.created_at,
      closedAt: row.closed_at,
      closedBy: row.closed_by,
      stepsDone: row.steps_done,
      content: row.content,
      items: sections,
      evidence: row.evidence,
    };
  }

  /** The checklist sections of these tasks, by task id, each task's by email: one query for all. */
  private async itemsOf(ids: readonly string[]): Promise<Map<string, TaskItem[]>> {
    const items = new Map<string, TaskItem[]>();
    if (ids.length === 0) return items;
    const found = await this.db
      .selectFrom('task_items')
      .select(['task_id as taskId', 'run_id as runId', 'step_id as stepId', 'email', 'status', 'closed_by as closedBy'])
      .where('task_id', 'in', [...ids])
      .orderBy('task_id')
      .orderBy('email')
      .orderBy('run_id')
      .orderBy('step_id')
      .execute();
    for (const { taskId, ...item } of found) (items.get(taskId) ?? items.set(taskId, []).get(taskId)!).push(item);
    return items;
  }

  /**
   * The tasks these runs wait on (`waitingFor` "task:<id>") and the ones named in `more`, read at once
   * (getMany), as a synchronous lookup for renderers that name a run's task while they write a page or
   * a line. Unknown ids give undefined.
   */
  async lookup(runs: readonly { readonly waitingFor: string | null }[], more: readonly { readonly taskId: string }[] = []): Promise<(id: string) => TaskView | undefined> {
    const ids = [...runs.flatMap((r) => (r.waitingFor?.startsWith('task:') ? [r.waitingFor.slice(5)] : [])), ...more.map((m) => m.taskId)];
    const views = new Map((await this.getMany([...new Set(ids)])).map((t) => [t.id, t]));
    return (id) => views.get(id);
  }

  async list(filter: { queue?: string; status?: TaskView['status'] | 'all'; operator?: string; limit?: number } = {}): Promise<TaskView[]> {
    const status = filter.status ?? 'open';
    // Only the conditions given, so that the database walks the (status, queue, due_at) index instead of sorting every task.
    let query = this.db.selectFrom('tasks').select('id').orderBy('due_at').orderBy('id').limit(filter.limit ?? 10_000);
    if (status !== 'all') query = query.where('status', '=', status);
    if (filter.queue) query = query.where('queue', '=', filter.queue);
    const views = await this.getMany((await query.execute()).map((r) => r.id));
    if (!filter.operator) return views;
    // "Mine": assigned to the operator, or in a queue the operator belongs to and not assigned to someone else.
    const mine: TaskView[] = [];
    for (const t of views) if (t.assignee === filter.operator || (!t.assignee && (await this.queueMembers(t)).includes(filter.operator))) mine.push(t);
    return mine;
  }

  /** Ticks one checklist step (1-based); the task stays open. */
  async tickStep(taskId: string, step: number, by: string): Promise<TaskView> {
    return this.atomically(async () => {
      const task = await this.requireOpen(taskId);
      await this.requireMember(task, by);
      const steps = task.content.runbook.steps.length;
      if (!Number.isInteger(step) || step < 1 || step > steps) throw new TaskRefusedError(taskId, `there is no step ${step} (the checklist has ${steps})`);
      const done = [...new Set([...task.stepsDone, step])].sort((a, b) => a - b);
      await this.db.updateTable('tasks').set({ steps_done: JSON.stringify(done) }).where('id', '=', taskId).execute();
      await this.engine.audit.append({ type: 'task.step-ticked', actor: by, taskId, data: { step } }, this.now());
      return this.get(taskId);
    });
  }

  /** Completes the task (or one person's section of it) with evidence; the waiting runs go on. */
  async complete(taskId: string, args: { by: string; evidence: readonly EvidenceInput[]; alreadyDone?: boolean; person?: string }): Promise<TaskView> {
    const evidence = args.evidence.map((e) => this.keepEvidence(taskId, e, args.by));
    return this.atomically(async () => {
      const task = await this.requireOpen(taskId);
      await this.requireMember(task, args.by);
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
      await this.closeItems(task, items, { outcome, by: args.by, evidence });
      return this.get(taskId);
    });
  }

  /** Fails the task: the waiting runs move the step to its next channel, or escalate. */
  async fail(taskId: string, args: { by: string; reason: string; person?: string }): Promise<TaskView> {
    return this.atomically(async () => {
      const task = await this.requireOpen(taskId);
      await this.requireMember(task, args.by);
      if (!args.reason.trim()) throw new TaskRefusedError(taskId, 'a reason is required to fail a task');
      await this.closeItems(task, this.openItems(task, args.person), { outcome: 'failed', by: args.by, reason: args.reason, evidence: [] });
      return this.get(taskId);
    });
  }

  /**
   * Hands the step back to the robot: the person fixed what made the browser recipe drift, and the
   * waiting runs run the step's automated channels again. Refused for a task no robot handed over.
   */
  async handBack(taskId: string, args: { by: string; note?: string }): Promise<TaskView> {
    return this.atomically(async () => {
      const task = await this.requireOpen(taskId);
      await this.requireMember(task, args.by);
      if (!task.content.handedOver?.some((h) => h.channel !== 'human')) throw new TaskRefusedError(taskId, 'no robot handed this step over: there is nothing to hand back');
      await this.closeItems(task, this.openItems(task), { outcome: 'retry-robot', by: args.by, evidence: [], ...(args.note ? { reason: args.note } : {}) });
      return this.get(taskId);
    });
  }

  /**
   * Takes the task (assignee = the caller, a member of its queue), so that others in the queue see it
   * is being worked on; taking one already taken by someone else is refused (unclaim it first).
   * Throws TaskRefusedError (closed task, not a member, taken by someone else).
   */
  async claim(taskId: string, by: string): Promise<TaskView> {
    return this.atomically(async () => {
      const task = await this.requireOpen(taskId);
      await this.requireMember(task, by);
      if (task.assignee && task.assignee !== by) throw new TaskRefusedError(taskId, `already taken by ${task.assignee}; ask them, or unassign it first`);
      if (task.assignee === by) return task;
      const taken = await this.db.updateTable('tasks').set({ assignee: by }).where('id', '=', taskId).where('assignee', 'is', null).where('status', '=', 'open').executeTakeFirst();
      if (!Number(taken.numUpdatedRows)) return this.refuseChanged(taskId);
      await this.engine.audit.append({ type: 'task.claimed', actor: by, taskId, data: { assignee: by } }, this.now());
      return this.get(taskId);
    });
  }

  /** Gives the task back to its queue (no assignee); any member of the queue may. Throws TaskRefusedError as claim does. */
  async unclaim(taskId: string, by: string): Promise<TaskView> {
    return this.atomically(async () => {
      const task = await this.requireOpen(taskId);
      await this.requireMember(task, by);
      if (!task.assignee) return task;
      await this.db.updateTable('tasks').set({ assignee: null }).where('id', '=', taskId).execute();
      await this.engine.audit.append({ type: 'task.unclaimed', actor: by, taskId, data: { was: task.assignee } }, this.now());
      return this.get(taskId);
    });
  }

  /** Moves the task to another queue and/or assigns it to one operator. */
  async reassign(taskId: string, args: { by: string; queue?: string; assignee?: string }): Promise<TaskView> {
    return this.atomically(async () => {
      const task = await this.requireOpen(taskId);
      await this.requireMember(task, args.by);
      const profile = await this.profileOf(task);
      if (args.queue && profile.queues && !profile.queues.some((q) => q.id === args.queue)) {
        throw new TaskRefusedError(taskId, `unknown queue '${args.queue}' (queues: ${profile.queues.map((q) => q.id).join(', ')})`);
      }
      const queue = args.queue ?? task.queue;
      const assignee = args.assignee ?? null;
      if (assignee && profile.queues && !this.membersOf(profile, queue).includes(assignee)) {
        throw new TaskRefusedError(taskId, `${assignee} is not in queue ${queue}`);
      }
      await this.db.updateTable('tasks').set({ queue, assignee }).where('id', '=', taskId).execute();
      await this.engine.audit.append({ type: 'task.reassigned', actor: args.by, taskId, data: { from: task.queue, queue, assignee } }, this.now());
      return this.get(taskId);
    });
  }

  /**
   * The two reads of escalation, compiled for the store's dialect: the earliest due time of an open task,
   * and the open tasks due before `now` (ms) earliest first. Both are ranges of an index on open tasks'
   * due time (migration 12): O(log n) in open tasks, no sort (test/engine/lifecycle.test.ts checks the plan).
   */
  escalationQueries(now: number) {
    return { nextDue: openQueries.nextDue.with(this.engine.store, { now }), overdue: openQueries.overdue.with(this.engine.store, { now }) };
  }

  /** When the earliest open task falls due (ms since the epoch), or null when no task is open: one index entry. */
  async nextEscalationAt(): Promise<number | null> {
    const found = await this.escalationQueries(this.now()).nextDue.executeTakeFirst();
    return found?.next === null || found?.next === undefined ? null : Number(found.next);
  }

  /**
   * Escalates every open task past its due time: an audit event, the task moved to the queue's
   * escalation queue with a new due time, and a notification in the outbox. Returns the tasks escalated.
   */
  async escalateOverdue(): Promise<TaskView[]> {
    // The next due time (migration 12's partial index): when nothing is overdue, which is nearly always, no
    // transaction is opened and no task is read, whatever the backlog.
    const next = await this.nextEscalationAt();
    if (next === null || next >= this.now()) return [];
    return this.atomically(async () => {
      const now = this.now();
      const overdue = await this.escalationQueries(now).overdue.execute();
      const escalated: TaskView[] = [];
      for (const row of overdue) {
        const task = await this.view(row);
        const profile = await this.profileOf(task);
        const to = profile.queues?.find((q) => q.id === task.queue)?.escalateTo ?? task.queue;
        const due = now + (task.content.runbook.slaHours ?? 24) * hour;
        // Conditional: another server escalating at the same moment moves it once.
        const moved = await this.db
          .updateTable('tasks')
          .set((eb) => ({ queue: to, assignee: null, due_at: due, escalations: eb('escalations', '+', 1) }))
          .where('id', '=', task.id)
          .where('status', '=', 'open')
          .where('due_at', '=', row.due_at)
          .executeTakeFirst();
        if (!Number(moved.numUpdatedRows)) continue;
        const data = { from: task.queue, to, overdueSinceMs: now - task.dueAt, escalation: task.escalations + 1 };
        await this.engine.audit.append({ type: 'task.escalated', actor: 'patchbay', taskId: task.id, data }, now);
        escalated.push(await this.get(task.id));
      }
      return escalated;
    });
  }

  /** Cancels the open sections of a cancelled run. */
  async cancelItemsOf(runId: string, by: string): Promise<void> {
    await this.atomically(async () => {
      const items = await this.db.selectFrom('task_items').select('task_id as taskId').where('run_id', '=', runId).where('status', '=', 'open').execute();
      await this.db.updateTable('task_items').set({ status: 'cancelled', closed_by: by }).where('run_id', '=', runId).where('status', '=', 'open').execute();
      for (const { taskId } of items) await this.closeIfFinished(taskId, by, 'cancelled');
    });
  }

  async itemsOfRun(runId: string): Promise<(TaskItem & { taskId: string })[]> {
    return this.db
      .selectFrom('task_items as i')
      .innerJoin('tasks as t', 't.id', 'i.task_id')
      .select(['i.task_id as taskId', 'i.run_id as runId', 'i.step_id as stepId', 'i.email', 'i.status', 'i.closed_by as closedBy'])
      .where('i.run_id', '=', runId)
      .orderBy('t.created_at')
      .orderBy('t.id')
      .execute();
  }

  private async closeItems(task: TaskView, items: readonly TaskItem[], signal: TaskSignal): Promise<void> {
    const now = this.now();
    for (const item of items) {
      // Handed back to the robot: the person's part is cancelled (the store's statuses have no other word for it).
      // Conditional on the section still being open: of two people closing it at once on two servers, one wins.
      const closed = await this.db
        .updateTable('task_items')
        .set({ status: signal.outcome === 'retry-robot' ? 'cancelled' : signal.outcome, closed_by: signal.by, evidence: JSON.stringify(signal.evidence) })
        .where('task_id', '=', task.id)
        .where('run_id', '=', item.runId)
        .where('step_id', '=', item.stepId)
        .where('status', '=', 'open')
        .executeTakeFirst();
      if (!Number(closed.numUpdatedRows)) return this.refuseChanged(task.id);
      await this.engine.signal(item.runId, `task:${task.id}`, signal, `task:${task.id}:${item.runId}:${item.stepId}`, signal.by);
    }
    const type = signal.outcome === 'failed' ? 'task.failed' : signal.outcome === 'retry-robot' ? 'task.handed-back' : 'task.completed';
    await this.engine.audit.append(
      { type, actor: signal.by, taskId: task.id, data: { outcome: signal.outcome, people: items.map((i) => i.email), evidence: signal.evidence.map((e) => e.summary), ...(signal.reason ? { reason: signal.reason } : {}) } },
      now,
    );
    const evidence = [...task.evidence, ...signal.evidence];
    await this.db.updateTable('tasks').set({ evidence: JSON.stringify(evidence) }).where('id', '=', task.id).execute();
    await this.closeIfFinished(task.id, signal.by, signal.outcome === 'failed' ? 'failed' : signal.outcome === 'retry-robot' ? 'cancelled' : 'completed');
  }

  /** Someone else changed the task between our read and our write (another server): refused, and the transaction rolls back. */
  private async refuseChanged(taskId: string): Promise<never> {
    const task = await this.get(taskId);
    throw new TaskRefusedError(taskId, `changed by someone else at the same moment (now ${task.status}${task.closedBy ? ` by ${task.closedBy}` : ''}${task.assignee ? `, taken by ${task.assignee}` : ''}); nothing was changed`);
  }

  private async closeIfFinished(taskId: string, by: string, status: 'completed' | 'failed' | 'cancelled'): Promise<void> {
    const open = await this.db.selectFrom('task_items').select('task_id').where('task_id', '=', taskId).where('status', '=', 'open').limit(1).executeTakeFirst();
    if (open) return;
    await this.db.updateTable('tasks').set({ status, closed_at: this.now(), closed_by: by }).where('id', '=', taskId).where('status', '=', 'open').execute();
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

  private async requireOpen(taskId: string): Promise<TaskView> {
    const task = await this.get(taskId);
    if (task.status !== 'open') {
      const when = task.closedAt ? ` on ${new Date(task.closedAt).toISOString()}` : '';
      throw new TaskRefusedError(taskId, `already ${task.status}${task.closedBy ? ` by ${task.closedBy}` : ''}${when}; nothing was changed`);
    }
    return task;
  }

  private async requireMember(task: TaskView, operator: string): Promise<void> {
    if (!operator?.trim()) throw new TaskRefusedError(task.id, 'say who you are with --by (or PATCHBAY_OPERATOR)');
    const profile = await this.profileOf(task);
    if (!profile.queues?.length) return;
    const members = this.membersOf(profile, task.queue);
    if (!members.includes(operator)) {
      throw new TaskRefusedError(task.id, `${operator} is not a member of queue ${task.queue} (members: ${members.join(', ') || 'none'})`);
    }
  }

  private async queueMembers(task: TaskView): Promise<string[]> {
    return this.membersOf(await this.profileOf(task), task.queue);
  }

  private membersOf(profile: TenantProfile, queue: string): string[] {
    return profile.queues?.find((q) => q.id === queue)?.members ?? [];
  }

  private async profileOf(task: TaskView): Promise<TenantProfile> {
    const runId = task.items[0]?.runId;
    const row = runId
      ? await this.db.selectFrom('runs').select('profile').where('id', '=', runId).executeTakeFirst()
      : await this.db.selectFrom('tasks').select('profile').where('id', '=', task.id).where('profile', 'is not', null).executeTakeFirst();
    return row?.profile ? (JSON.parse(row.profile) as TenantProfile) : { tenant: task.tenant, apps: {} };
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

  private async view(row: TaskRow, known?: TaskItem[]): Promise<TaskView> {
    const items = known ?? (await this.db
      .selectFrom('task_items')
      .select(['run_id as runId', 'step_id as stepId', 'email', 'status', 'closed_by as closedBy'])
      .where('task_id', '=', row.id)
      .orderBy('email')
      .orderBy('run_id')
      .orderBy('step_id')
      .execute());
    // The single view parses what the list answers as stored (the same properties, in the same order).
    const content = JSON.parse(row.content) as TaskContent;
    const entry = this.entryOf<string>(row, items, content.appName, this.now());
    return { ...entry, stepsDone: JSON.parse(entry.stepsDone) as number[], content, evidence: JSON.parse(entry.evidence) as Evidence[] };
  }
}

/**
 * The runbook's title for the people in the task: {email} becomes the address, or "3 people"; {app} the
 * app's name. Replaced literally: a `$&` or `$'` in a name is text, not a replacement pattern.
 */
export function renderTitle(task: { title: string; items: readonly { email: string }[]; content: Pick<TaskContent, 'appName'> }): string {
  const who = task.items.length === 1 ? task.items[0]!.email : `${task.items.length} people`;
  return task.title.replaceAll('{email}', () => who).replaceAll('{app}', () => task.content.appName);
}
