import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { type Params, preparedQuery } from '../store/prepared.js';
import type { StoreDatabase } from '../store/sql.js';

/** One line of the audit log: who did what to which run or task, and when. */
export interface AuditEvent {
  readonly type: string;
  readonly actor: string;
  readonly runId?: string;
  readonly taskId?: string;
  readonly data?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEvent {
  readonly data: Record<string, unknown>;
  readonly seq: number;
  readonly at: number;
  readonly hash: string;
}

/** The first row whose chain does not hold, and why. */
export interface AuditBreak {
  readonly seq: number;
  readonly reason: string;
}

const genesis = '0'.repeat(64);

/** The append's two statements, compiled once (core/store/prepared.ts): every run start and task change appends. */
const lastRow = preparedQuery((db) => db.selectFrom('audit').select(['seq', 'hash']).orderBy('seq', 'desc').limit(sql.lit(1)));
const insertRow = preparedQuery(
  (db, p: Params<{ seq: number; at: number; run_id: string | null; task_id: string | null; type: string; actor: string; data: string; prev_hash: string; hash: string }>) =>
    db.insertInto('audit').values({ seq: p('seq'), at: p('at'), run_id: p('run_id'), task_id: p('task_id'), type: p('type'), actor: p('actor'), data: p('data'), prev_hash: p('prev_hash'), hash: p('hash') }),
);

function hashOf(prev: string, seq: number, at: number, e: { type: string; actor: string; runId?: string | null; taskId?: string | null }, data: string): string {
  return createHash('sha256')
    .update(JSON.stringify([prev, seq, at, e.type, e.actor, e.runId ?? null, e.taskId ?? null, data]))
    .digest('hex');
}

/**
 * The append-only audit log. Each row carries the hash of the row before it, so that altering or
 * removing any row breaks the chain from there on; triggers refuse UPDATE and DELETE outright.
 *
 * Order with concurrent writers: an append takes the chain's lock for the rest of its transaction
 * (SQLite: the write transaction itself; PostgreSQL: a transaction-scoped advisory lock), reads the
 * last row and writes `seq = last + 1` linked to its hash. Two writers therefore take turns, `seq` is
 * the primary key, and the chain cannot fork: it is a single line in `seq` order on both databases.
 */
export class AuditLog {
  private readonly listeners: ((record: AuditRecord) => void | Promise<void>)[] = [];

  constructor(private readonly store: StoreDatabase) {}

  /** Appends inside the caller's transaction (or one of its own). Secrets never belong in `data`. */
  async append(event: AuditEvent, at: number): Promise<void> {
    await this.store.transaction(async () => {
      // The head this transaction last wrote, when it has appended before (it holds the lock since): no read.
      const previous = (await this.store.lockAuditChain()) ?? (await lastRow.executeTakeFirst(this.store, {}));
      const seq = (previous?.seq ?? 0) + 1;
      const prev = previous?.hash ?? genesis;
      const data = JSON.stringify(event.data ?? {});
      const hash = hashOf(prev, seq, at, event, data);
      await insertRow.run(this.store, { seq, at, run_id: event.runId ?? null, task_id: event.taskId ?? null, type: event.type, actor: event.actor, data, prev_hash: prev, hash });
      this.store.noteAuditHead({ seq, hash });
      for (const listener of this.listeners) await listener({ ...event, data: event.data ?? {}, seq, at, hash });
    });
  }

  /** Calls `listener` for every event appended, inside the same transaction (for the outbox of webhooks). */
  onAppend(listener: (record: AuditRecord) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  /**
   * Walks the whole chain, 1,000 rows per read; returns the first broken link, or nothing when every
   * row holds. Rows removed from the end are found from the highest seq ever written, which the
   * database keeps beside the table (SQLite's sqlite_sequence, PostgreSQL's audit_high_water).
   */
  async verify(): Promise<{ rows: number; broken?: AuditBreak }> {
    // The highest seq ever written, read before the rows: appends commit in seq order (each holds the
    // chain's lock until its commit), so every row up to it is committed and read below, and a row
    // appended while this walks can only add to the end. SQLite's AUTOINCREMENT sequence, PostgreSQL's
    // audit_high_water (migrations 1 and 17); both move with the transaction that appends.
    const highest = Number(
      (this.store.dialect === 'sqlite'
        ? (await sql<{ seq: number }>`SELECT seq FROM sqlite_sequence WHERE name = 'audit'`.execute(this.store.db)).rows[0]?.seq
        : (await sql<{ seq: number }>`SELECT seq FROM audit_high_water`.execute(this.store.db)).rows[0]?.seq) ?? 0,
    );
    let prev = genesis;
    let expectedSeq = 1;
    let rows = 0;
    for (let after = 0; ; ) {
      const page = await this.store.db
        .selectFrom('audit')
        .select(['seq', 'at', 'run_id as runId', 'task_id as taskId', 'type', 'actor', 'data', 'prev_hash as prevHash', 'hash'])
        .where('seq', '>', after)
        .orderBy('seq')
        .limit(1000)
        .execute();
      if (page.length === 0) break;
      for (const row of page) {
        rows++;
        if (row.seq !== expectedSeq) return { rows, broken: { seq: expectedSeq, reason: `row ${expectedSeq} is missing (next row is ${row.seq})` } };
        if (row.prevHash !== prev) return { rows, broken: { seq: row.seq, reason: `row ${row.seq} does not follow row ${row.seq - 1} (previous hash differs)` } };
        if (hashOf(prev, row.seq, row.at, row, row.data) !== row.hash) return { rows, broken: { seq: row.seq, reason: `row ${row.seq} was altered (its content no longer matches its hash)` } };
        prev = row.hash;
        expectedSeq++;
      }
      after = page.at(-1)!.seq;
    }
    if (highest >= expectedSeq) return { rows, broken: { seq: expectedSeq, reason: `rows ${expectedSeq} to ${highest} were removed from the end` } };
    return { rows };
  }

  async list(filter: { runId?: string; taskId?: string } = {}): Promise<AuditRecord[]> {
    let query = this.store.db.selectFrom('audit').select(['seq', 'at', 'run_id as runId', 'task_id as taskId', 'type', 'actor', 'data', 'hash']).orderBy('seq');
    if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId);
    if (filter.taskId !== undefined) query = query.where('task_id', '=', filter.taskId);
    const rows = await query.execute();
    return rows.map((r) => ({ ...r, runId: r.runId ?? undefined, taskId: r.taskId ?? undefined, data: JSON.parse(r.data) as Record<string, unknown> }));
  }
}
