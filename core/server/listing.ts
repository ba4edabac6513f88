import { InvalidInputError } from '../errors.js';
import type { AuditReport } from '../reconcile/audit.js';
import type { Database } from '../store/database.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import type { Principal } from './access.js';

/** The largest page any list answers, and the page when none is asked for. */
export const maxPageSize = 200;
export const defaultPageSize = 50;

/** Query strings: each list's parameters, their enumerations and bounds (400 naming the parameter otherwise). */
const runStatuses = ['running', 'waiting', 'completed', 'failed', 'cancelled'];
const taskStatuses = ['open', 'completed', 'failed', 'cancelled', 'all'];
export const page = { limit: { type: 'integer', minimum: 1, maximum: maxPageSize }, cursor: { type: 'string', minLength: 1, maxLength: 200 } };
export const query = (properties: Record<string, unknown>) => ({ type: 'object', properties, additionalProperties: false });
export const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 100 } }, required: ['id'] };
/** The query parameters of each list, shared with the OpenAPI document. */
export const listQueries = {
  runs: query({ status: { enum: runStatuses }, ...page }),
  tasks: query({ queue: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 100 }, status: { enum: taskStatuses }, mine: { enum: ['true', 'false'] }, ...page }),
  reconciliation: query({ ...page }),
} as const;

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
 * Tasks by due time, a page at a time (keyset paging on due time and id), limited to `queues`
 * (null: all) or assigned to `actor`, and, for `mine`, to those assigned to `actor` or unassigned
 * in the actor's queues.
 */
export function pageOfTasks(db: Database, args: { status: string; queue?: string; queues: readonly string[] | null; actor: string; mine?: { queues: readonly string[] }; limit: number; cursor?: string }): Page<string> {
  const after = decodeCursor(args.cursor, isKey);
  const where: string[] = [];
  const values: unknown[] = [];
  if (args.status !== 'all') where.push('status = ?'), values.push(args.status);
  if (args.queue) where.push('queue = ?'), values.push(args.queue);
  const inQueues = (qs: readonly string[]) => (qs.length ? `queue IN (${qs.map(() => '?').join(', ')})` : '0');
  if (args.queues) where.push(`(${inQueues(args.queues)} OR assignee = ?)`), values.push(...args.queues, args.actor);
  if (args.mine) where.push(`(assignee = ? OR (assignee IS NULL AND ${inQueues(args.mine.queues)}))`), values.push(args.actor, ...args.mine.queues);
  // A row value, so that SQLite starts the index walk at the cursor instead of skipping the pages before it.
  if (after) where.push('(due_at, id) > (?, ?)'), values.push(after[0], after[1]);
  const rows = db
    .prepare(`SELECT id, due_at AS dueAt FROM tasks${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY due_at, id LIMIT ?`)
    .all(...values, args.limit + 1) as { id: string; dueAt: number }[];
  const items = rows.slice(0, args.limit);
  const last = items.at(-1);
  return { items: items.map((r) => r.id), next: rows.length > args.limit && last ? encode([last.dueAt, last.id]) : null };
}

/** Runs newest first, a page at a time (keyset paging on creation time and id). */
export function pageOfRuns(db: Database, args: { status?: string; limit: number; cursor?: string }): Page<string> {
  const before = decodeCursor(args.cursor, isKey);
  const where: string[] = [];
  const values: unknown[] = [];
  if (args.status) where.push('status = ?'), values.push(args.status);
  if (before) where.push('(created_at, id) < (?, ?)'), values.push(before[0], before[1]);
  const rows = db
    .prepare(`SELECT id, created_at AS createdAt FROM runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`)
    .all(...values, args.limit + 1) as { id: string; createdAt: number }[];
  const items = rows.slice(0, args.limit);
  const last = items.at(-1);
  return { items: items.map((r) => r.id), next: rows.length > args.limit && last ? encode([last.createdAt, last.id]) : null };
}

/** Whether the task exists and `queues` (null: all) holds it, or it is assigned to the actor. */
export function taskVisible(db: Database, taskId: string, queues: readonly string[] | null, actor: string): boolean {
  const row = db.prepare('SELECT queue, assignee FROM tasks WHERE id = ?').get(taskId) as { queue: string; assignee: string | null } | undefined;
  return !!row && (queues === null || queues.includes(row.queue) || row.assignee?.toLowerCase() === actor.toLowerCase());
}

/**
 * Whether an evidence file (by content hash) belongs to a task in `queues`, or to a step of a run
 * one of whose tasks is in `queues` (null: all, when some task or step refers to it).
 */
export function evidenceVisible(db: Database, sha: string, queues: readonly string[] | null): boolean {
  const inQueues = queues === null ? '1' : queues.length ? `t.queue IN (${queues.map(() => '?').join(', ')})` : '0';
  const qs = queues ?? [];
  const inTask = db.prepare(`SELECT 1 FROM tasks t WHERE ${inQueues} AND (instr(t.content, ?) > 0 OR instr(t.evidence, ?) > 0) LIMIT 1`).get(...qs, sha, sha);
  if (inTask) return true;
  const inStep = db
    .prepare(`SELECT 1 FROM steps s JOIN task_items i ON i.run_id = s.run_id JOIN tasks t ON t.id = i.task_id WHERE ${inQueues} AND instr(s.evidence, ?) > 0 LIMIT 1`)
    .get(...qs, sha);
  if (inStep) return true;
  // An admin may read a step's evidence of a run that never had a task.
  return queues === null && !!db.prepare('SELECT 1 FROM steps WHERE instr(evidence, ?) > 0 LIMIT 1').get(sha);
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
 * The current findings (each app's newest reconciliation) a page at a time, in app order then as
 * stored, read by key from the store: memory stays bounded by the page whatever the count.
 */
export function pageOfFindings(db: Database, report: AuditReport, args: { limit: number; cursor?: string }): Page<FindingRow> & { total: number } {
  const latest = report.apps.filter((a) => a.latest).map((a) => ({ app: a.app, id: (a.latest as { id: number }).id, findings: a.latest!.findings }));
  const from = decodeCursor(args.cursor, isKey) ?? [0, '0'];
  const items: FindingRow[] = [];
  let next: string | null = null;
  const read = db.prepare('SELECT rowid AS at, kind, person, detail, first_seen_at AS firstSeenAt FROM reconcile_findings WHERE reconciliation_id = ? AND rowid > ? ORDER BY rowid LIMIT ?');
  for (let i = from[0]; i < latest.length && next === null; i++) {
    const after = i === from[0] ? Number(from[1]) : 0;
    const want = args.limit - items.length;
    const rows = read.all(latest[i]!.id, after, want + 1) as (Omit<FindingRow, 'app'> & { at: number })[];
    for (const r of rows.slice(0, want)) items.push({ app: latest[i]!.app, kind: r.kind, person: r.person, detail: r.detail, firstSeenAt: r.firstSeenAt });
    if (rows.length > want) next = encode([i, String(rows[want - 1]?.at ?? after)]);
    else if (items.length === args.limit && i + 1 < latest.length) next = encode([i + 1, '0']);
  }
  return { items, next, total: latest.reduce((n, l) => n + l.findings, 0) };
}
