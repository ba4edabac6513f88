import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import type { AuditReport } from '../reconcile/audit.js';
import type { StoredFinding } from '../reconcile/history.js';
import { type Expression, type SqlBool, sql } from 'kysely';
import type { Sql } from '../store/sql.js';
import type { RunsTable, TasksTable } from '../store/tables.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import type { Principal } from './access.js';
import type { TaskListEntry, TaskListRow } from '../channels/human/task-store.js';
import { taskViewSchema } from './list-schemas.js';

export { defaultPageSize, idParam, listQueries, maxPageSize, page, query, runSummarySchema, taskListSchema, taskViewSchema } from './list-schemas.js';


/** A page of ids in order and the cursor of the next page (null on the last page). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next: string | null;
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Reads an opaque cursor; a cursor the server did not make is refused, naming the query parameter. */
export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (check(value)) return value;
  } catch {
    // Falls through to the refusal below.
  }
  throw new InvalidInputError({ pointer: '/query/cursor' }, 'is not a cursor this server gave (take it from the previous page\'s next link)');
}

const isKey = (v: unknown): v is [number, string] => Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string';

/**
 * The queues whose tasks `who` may see: every queue (null) for an admin operator or a token with
 * `tasks:all-queues`, else the queues of the tenant that list the caller as a member.
 */
export function visibleQueues(who: Principal, profile: TenantProfile): readonly string[] | null {
  if (who.kind === 'operator' ? who.role === 'admin' : who.scopes?.includes('tasks:all-queues')) return null;
  const me = who.actor.toLowerCase();
  return (profile.queues ?? []).filter((q) => q.members.some((m) => m.toLowerCase() === me)).map((q) => q.id);
}

/**
 * Why `who` is refused the task list: it sees no queue's tasks (a token without `tasks:all-queues`, or
 * an operator who is not an admin, whose person is a member of no queue of the tenant) and no task
 * is assigned to it. One sentence naming the person and what an admin does about it (queue members
 * live in the tenant profile, `profileFile`, read when the server starts); undefined when it sees
 * some queue or some task of its own.
 */
export async function noQueueReason(db: Sql, who: Principal, profile: TenantProfile, profileFile: string): Promise<string | undefined> {
  const queues = visibleQueues(who, profile);
  if (queues === null || queues.length) return undefined;
  const assigned = await db.selectFrom('tasks').select('id').where(sql<string>`lower(assignee)`, '=', who.actor.toLowerCase()).limit(1).executeTakeFirst();
  if (assigned) return undefined;
  return noQueueSentence(who.actor, profile.tenant, profileFile, who.kind === 'token');
}

/**
 * The sentence of {@link noQueueReason}: `actor` is in no queue of `tenant`, and how an admin adds them
 * (`patchbay queue add`, which changes the tenant profile `profileFile`, then restart the server), or, for a token,
 * gives it the `tasks:all-queues` scope.
 */
export function noQueueSentence(actor: string, tenant: string, profileFile: string, token: boolean): string {
  const add = `an admin adds them with \`patchbay queue add <queue> ${actor} --profile ${path.basename(profileFile)}\` and restarts patchbay serve`;
  return token
    ? `operator ${actor} is in no queue of tenant ${tenant}, so no task is listed to this token; ${add}, or creates the token with the tasks:all-queues scope (patchbay token create --as ${actor} --scopes tasks:read,tasks:all-queues)`
    : `operator ${actor} is in no queue of tenant ${tenant}, so no task is shown here; ${add}`;
}

/** What a task list selects: who may see which tasks, in which status, from where (a cursor of the previous page). */
export interface TaskListArgs {
  readonly status: string;
  readonly queue?: string;
  readonly queues: readonly string[] | null;
  readonly actor: string;
  readonly mine?: { readonly queues: readonly string[] };
  readonly limit: number;
  readonly cursor?: string;
}

/** The columns of a task the list answers from as they are: the row without the batch and standing keys, the profile, or its stored JSON. */
const taskListColumns = ['id', 'title', 'tenant', 'app', 'app_name', 'runbook', 'queue', 'assignee', 'status', 'due_at', 'escalations', 'created_at', 'closed_at', 'closed_by'] as const satisfies readonly (keyof TaskListRow)[];

/**
 * The query of one page of tasks by due time (keyset paging on due time and id), limited to `queues`
 * (null: all) or assigned to `actor`, and, for `mine`, to those assigned to `actor` or unassigned in the
 * actor's queues. Only the conditions given are written, so that each shape walks one of migration 12's
 * indexes in order (test/server/list-plans.test.ts reads the plans). Selects `columns` and one row more
 * than the page, to tell whether there is a next page.
 */
export function tasksPageQuery<C extends keyof TasksTable & string>(db: Sql, args: TaskListArgs, columns: readonly C[]) {
  const after = decodeCursor(args.cursor, isKey);
  return db
    .selectFrom('tasks')
    .select([...columns])
    .where((eb) => {
      const where: Expression<SqlBool>[] = [];
      if (args.status !== 'all') where.push(eb('status', '=', args.status as TasksTable['status']));
      if (args.queue) where.push(eb('queue', '=', args.queue));
      if (args.queues) where.push(eb.or([...(args.queues.length ? [eb('queue', 'in', [...args.queues])] : []), eb('assignee', '=', args.actor)]));
      if (args.mine) where.push(eb.or([eb('assignee', '=', args.actor), ...(args.mine.queues.length ? [eb.and([eb('assignee', 'is', null), eb('queue', 'in', [...args.mine.queues])])] : [])]));
      // A row value, so that the index walk starts at the cursor instead of skipping the pages before it.
      if (after) where.push(eb(eb.refTuple('due_at', 'id'), '>', eb.tuple(after[0], after[1])));
      return eb.and(where);
    })
    .orderBy('due_at')
    .orderBy('id')
    .limit(args.limit + 1);
}

/**
 * The task list's query (tasksPageQuery): the columns it answers, and the stored JSON columns as their UTF-8
 * bytes, so that they go into the response as kept, never decoded to a string and encoded again. The one
 * place the dialects differ here: SQLite casts the text to a BLOB (the same bytes); PostgreSQL converts it to
 * bytea (a plain cast would read backslashes as escapes).
 */
export function taskRowsQuery(db: Sql, dialect: 'sqlite' | 'postgres', args: TaskListArgs) {
  const bytes = (column: 'steps_done' | 'content' | 'evidence') =>
    dialect === 'sqlite' ? sql<Buffer>`CAST(${sql.ref(column)} AS BLOB)`.as(column) : sql<Buffer>`convert_to(${sql.ref(column)}, 'UTF8')`.as(column);
  return tasksPageQuery(db, args, taskListColumns).select([bytes('steps_done'), bytes('content'), bytes('evidence')]);
}

/** One page of tasks (taskRowsQuery) as the rows the list answers from, in one query, and the cursor of the next page. */
export async function pageOfTaskRows(db: Sql, dialect: 'sqlite' | 'postgres', args: TaskListArgs): Promise<Page<TaskListRow>> {
  return cut(await taskRowsQuery(db, dialect, args).execute(), args.limit, (r) => [r.due_at, r.id]);
}

/** One page of tasks (tasksPageQuery) as their ids, for the pages that render full task views. */
export async function pageOfTasks(db: Sql, args: TaskListArgs): Promise<Page<string>> {
  const page = cut(await tasksPageQuery(db, args, ['id', 'due_at'] as const).execute(), args.limit, (r) => [r.due_at, r.id]);
  return { items: page.items.map((r) => r.id), next: page.next };
}

/** The first `limit` rows of `limit + 1` read, and the cursor after the last of them when there were more. */
function cut<T>(rows: readonly T[], limit: number, key: (row: T) => [number, string]): Page<T> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, next: rows.length > limit && last ? encode(key(last)) : null };
}


/** The query of one page of runs, newest first (keyset paging on creation time and id), one row more than the page, in RunSummary's shape. */
export function runsPageQuery(db: Sql, args: { status?: string; limit: number; cursor?: string }) {
  const before = decodeCursor(args.cursor, isKey);
  return db
    .selectFrom('runs')
    .select(['id', 'playbook', 'app', 'subject', 'status', 'outcome', 'waiting_for as waitingFor', 'created_at as createdAt'])
    .where((eb) => {
      const where: Expression<SqlBool>[] = [];
      if (args.status) where.push(eb('status', '=', args.status as RunsTable['status']));
      if (before) where.push(eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(before[0], before[1])));
      return eb.and(where);
    })
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(args.limit + 1);
}

/** One run of the runs list (RunSummary). */
export type RunSummaryRow = Awaited<ReturnType<ReturnType<typeof runsPageQuery>['execute']>>[number];

/** Runs newest first, a page at a time, as RunSummary rows read in one query, and the cursor of the next page. */
export async function pageOfRunRows(db: Sql, args: { status?: string; limit: number; cursor?: string }): Promise<Page<RunSummaryRow>> {
  return cut(await runsPageQuery(db, args).execute(), args.limit, (r) => [r.createdAt, r.id]);
}

/** Runs newest first, a page at a time, as their ids. */
export async function pageOfRuns(db: Sql, args: { status?: string; limit: number; cursor?: string }): Promise<Page<string>> {
  const page = await pageOfRunRows(db, args);
  return { items: page.items.map((r) => r.id), next: page.next };
}

const canSee = (row: { queue: string; assignee: string | null }, queues: readonly string[] | null, actor: string) =>
  queues === null || queues.includes(row.queue) || row.assignee?.toLowerCase() === actor.toLowerCase();

/** Whether the task exists and `queues` (null: all) holds it, or it is assigned to the actor. */
export async function taskVisible(db: Sql, taskId: string, queues: readonly string[] | null, actor: string): Promise<boolean> {
  const row = await db.selectFrom('tasks').select(['queue', 'assignee']).where('id', '=', taskId).executeTakeFirst();
  return !!row && canSee(row, queues, actor);
}

/** The tasks of `taskIds` that {@link taskVisible} would show, in the order given (one query for all). */
export async function visibleTasks(db: Sql, taskIds: readonly string[], queues: readonly string[] | null, actor: string): Promise<string[]> {
  if (!taskIds.length) return [];
  const rows = await db.selectFrom('tasks').select(['id', 'queue', 'assignee']).where('id', 'in', [...taskIds]).execute();
  const seen = new Set(rows.filter((r) => canSee(r, queues, actor)).map((r) => r.id));
  return taskIds.filter((id) => seen.has(id));
}

/**
 * Whether an evidence file (by content hash) belongs to a task in `queues`, or to a step of a run
 * one of whose tasks is in `queues` (null: all, when some task or step refers to it). `sha` is 64
 * lowercase hex digits (the route checks it), so it holds no LIKE wildcard and compares the same
 * on both databases.
 */
export async function evidenceVisible(db: Sql, sha: string, queues: readonly string[] | null): Promise<boolean> {
  if (!/^[0-9a-f]{64}$/.test(sha)) return false;
  if (queues !== null && queues.length === 0) return false;
  const within = `%${sha}%`;
  const inTask = await db
    .selectFrom('tasks as t')
    .select('t.id')
    .where((eb) => eb.and([...(queues ? [eb('t.queue', 'in', [...queues])] : []), eb.or([eb('t.content', 'like', within), eb('t.evidence', 'like', within)])]))
    .limit(1)
    .executeTakeFirst();
  if (inTask) return true;
  const inStep = await db
    .selectFrom('steps as s')
    .innerJoin('task_items as i', 'i.run_id', 's.run_id')
    .innerJoin('tasks as t', 't.id', 'i.task_id')
    .select('s.run_id')
    .where((eb) => eb.and([...(queues ? [eb('t.queue', 'in', [...queues])] : []), eb('s.evidence', 'like', within)]))
    .limit(1)
    .executeTakeFirst();
  if (inStep) return true;
  // An admin may read a step's evidence of a run that never had a task.
  return queues === null && !!(await db.selectFrom('steps').select('run_id').where('evidence', 'like', within).limit(1).executeTakeFirst());
}

/** One finding of the newest reconciliation of an app, as the reconciliation API pages them. */
export interface FindingRow {
  readonly app: string;
  readonly kind: string;
  readonly person: string;
  readonly detail: string;
  readonly firstSeenAt: number;
}

/**
 * The current findings (each app's newest reconciliation) a page at a time, in app order then by
 * kind, person and detail, read from the store a page at a time: memory stays bounded by the page
 * whatever the count. The cursor is the app's place and the offset within its findings (a
 * reconciliation's findings are written once, so the offset stays valid).
 */
export async function pageOfFindings(db: Sql, report: AuditReport, args: { limit: number; cursor?: string }): Promise<Page<FindingRow> & { total: number }> {
  const latest = report.apps.filter((a) => a.latest).map((a) => ({ app: a.app, id: (a.latest as { id: number }).id, findings: a.latest!.findings }));
  const from = decodeCursor(args.cursor, isPlace) ?? [0, '0'];
  const items: FindingRow[] = [];
  let next: string | null = null;
  for (let i = from[0]; i < latest.length && next === null; i++) {
    const skip = i === from[0] ? Number(from[1]) : 0;
    const want = args.limit - items.length;
    const rows = await findingsOf(db, latest[i]!.id).limit(want + 1).offset(skip).execute();
    for (const r of rows.slice(0, want)) items.push({ app: latest[i]!.app, kind: r.kind, person: r.person, detail: r.detail, firstSeenAt: r.first_seen_at });
    if (rows.length > want) next = encode([i, String(skip + want)]);
    else if (items.length === args.limit && i + 1 < latest.length) next = encode([i + 1, '0']);
  }
  return { items, next, total: latest.reduce((n, l) => n + l.findings, 0) };
}

const isPlace = (v: unknown): v is [number, string] => isKey(v) && v[0] >= 0 && /^\d{1,9}$/.test(v[1]);

/** The first `limit` findings of one reconciliation, by kind, person and detail (what the reconciliation page shows). */
export async function firstFindings(db: Sql, reconciliationId: number, limit: number): Promise<StoredFinding[]> {
  const rows = await findingsOf(db, reconciliationId).limit(limit).execute();
  return rows.map((r) => ({ kind: r.kind as StoredFinding['kind'], person: r.person, detail: r.detail, firstSeenAt: r.first_seen_at }));
}

/** The query of one reconciliation's findings in the order they are paged (migration 16's index walks it). */
export const findingsOf = (db: Sql, reconciliationId: number) =>
  db
    .selectFrom('reconcile_findings')
    .select(['kind', 'person', 'detail', 'first_seen_at'])
    .where('reconciliation_id', '=', reconciliationId)
    .orderBy('kind')
    .orderBy('person')
    .orderBy('detail')
    .orderBy('first_seen_at');


/** The properties of a TaskListEntry answered as the store keeps them (JSON text), in the view's order with items between. */
const stored = ['stepsDone', 'content', 'evidence'] as const;
/** The entry's other properties, serialised by fastify from taskViewSchema (the same declaration, so they cannot drift). */
const headSchema = {
  type: 'object',
  properties: Object.fromEntries(Object.entries(taskViewSchema.properties).filter(([k]) => !(stored as readonly string[]).includes(k) && k !== 'items')),
  required: taskViewSchema.required.filter((k) => !(stored as readonly string[]).includes(k) && k !== 'items'),
};
const sectionsSchema = taskViewSchema.properties.items;

const bytesOf = (text: string) => Buffer.from(text, 'utf8');
const [stepsDoneKey, contentKey, evidenceKey] = [',"stepsDone":', ',"content":', ',"evidence":'].map(bytesOf) as [Buffer, Buffer, Buffer];

/**
 * The task list's JSON body, as bytes: each entry's fields serialised by `compile` (fastify's serializer
 * compiler, fast-json-stringify, from taskViewSchema) with its stored JSON columns written in as the bytes
 * kept, so that no task's content is decoded, parsed or stringified. The bytes are those of JSON.stringify
 * of each task's view (test/server/task-list.test.ts compares them).
 */
export function taskListBody(compile: (schema: object) => (value: unknown) => string, tasks: readonly TaskListEntry[]): Buffer {
  const head = compile(headSchema);
  const sections = compile(sectionsSchema);
  const parts: Buffer[] = [];
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    parts.push(bytesOf(`${i ? ',' : '['}${head(t).slice(0, -1)}`), stepsDoneKey, t.stepsDone, contentKey, t.content, bytesOf(`,"items":${sections(t.items)}`), evidenceKey, t.evidence, closeBrace);
  }
  parts.push(tasks.length ? closeBracket : emptyList);
  return Buffer.concat(parts);
}
const [closeBrace, closeBracket, emptyList] = ['}', ']', '[]'].map(bytesOf) as [Buffer, Buffer, Buffer];
