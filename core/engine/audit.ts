import { createHash } from 'node:crypto';
import type { Database } from '../store/database.js';

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

function hashOf(prev: string, seq: number, at: number, e: { type: string; actor: string; runId?: string | null; taskId?: string | null }, data: string): string {
  return createHash('sha256')
    .update(JSON.stringify([prev, seq, at, e.type, e.actor, e.runId ?? null, e.taskId ?? null, data]))
    .digest('hex');
}

/**
 * The append-only audit log. Each row carries the hash of the row before it, so that altering or
 * removing any row breaks the chain from there on; triggers refuse UPDATE and DELETE outright.
 */
export class AuditLog {
  private readonly last;
  private readonly insert;
  private readonly listeners: ((record: AuditRecord) => void)[] = [];

  constructor(private readonly db: Database) {
    this.last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare('INSERT INTO audit (seq, at, run_id, task_id, type, actor, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  }

  /** Appends inside the caller's transaction, if any. Secrets never belong in `data`. */
  append(event: AuditEvent, at: number): void {
    const previous = this.last.get() as { seq: number; hash: string } | undefined;
    const seq = (previous?.seq ?? 0) + 1;
    const prev = previous?.hash ?? genesis;
    const data = JSON.stringify(event.data ?? {});
    const hash = hashOf(prev, seq, at, event, data);
    this.insert.run(seq, at, event.runId ?? null, event.taskId ?? null, event.type, event.actor, data, prev, hash);
    for (const listener of this.listeners) listener({ ...event, data: event.data ?? {}, seq, at, hash });
  }

  /** Calls `listener` for every event appended, inside the same transaction (for the outbox of webhooks). */
  onAppend(listener: (record: AuditRecord) => void): void {
    this.listeners.push(listener);
  }

  /** Walks the whole chain; returns the first broken link, or undefined when every row holds. */
  verify(): { rows: number; broken?: AuditBreak } {
    let prev = genesis;
    let expectedSeq = 1;
    let rows = 0;
    const all = this.db.prepare('SELECT seq, at, run_id AS runId, task_id AS taskId, type, actor, data, prev_hash AS prevHash, hash FROM audit ORDER BY seq').iterate() as Iterable<{
      seq: number; at: number; runId: string | null; taskId: string | null; type: string; actor: string; data: string; prevHash: string; hash: string;
    }>;
    for (const row of all) {
      rows++;
      if (row.seq !== expectedSeq) return { rows, broken: { seq: expectedSeq, reason: `row ${expectedSeq} is missing (next row is ${row.seq})` } };
      if (row.prevHash !== prev) return { rows, broken: { seq: row.seq, reason: `row ${row.seq} does not follow row ${row.seq - 1} (previous hash differs)` } };
      if (hashOf(prev, row.seq, row.at, row, row.data) !== row.hash) return { rows, broken: { seq: row.seq, reason: `row ${row.seq} was altered (its content no longer matches its hash)` } };
      prev = row.hash;
      expectedSeq++;
    }
    const highest = (this.db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").get() as { seq: number } | undefined)?.seq ?? 0;
    if (highest >= expectedSeq) return { rows, broken: { seq: expectedSeq, reason: `rows ${expectedSeq} to ${highest} were removed from the end` } };
    return { rows };
  }

  list(filter: { runId?: string; taskId?: string } = {}): AuditRecord[] {
    const rows = this.db
      .prepare('SELECT seq, at, run_id AS runId, task_id AS taskId, type, actor, data, hash FROM audit WHERE (? IS NULL OR run_id = ?) AND (? IS NULL OR task_id = ?) ORDER BY seq')
      .all(filter.runId ?? null, filter.runId ?? null, filter.taskId ?? null, filter.taskId ?? null) as (Omit<AuditRecord, 'data'> & { data: string; runId: string | null; taskId: string | null })[];
    return rows.map((r) => ({ ...r, runId: r.runId ?? undefined, taskId: r.taskId ?? undefined, data: JSON.parse(r.data) as Record<string, unknown> }));
  }
}
