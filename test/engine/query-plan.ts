import assert from 'node:assert/strict';
import { type CompiledQuery, sql } from 'kysely';
import type { StoreDatabase } from '../../core/store/sql.js';

/**
 * The database's plan for a compiled query, one line per node: SQLite's EXPLAIN QUERY PLAN details, or
 * PostgreSQL's EXPLAIN with sequential scans, bitmap scans and sorts priced out (on a small table its planner
 * scans or sorts whatever the indexes; pricing them out shows the plan of a large table: a sort still appears
 * when no index gives the order asked for).
 */
export async function planOf(store: StoreDatabase, query: CompiledQuery): Promise<string> {
  if (store.dialect === 'sqlite') {
    const rows = store.sqlite!.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as { detail: string }[];
    return rows.map((p) => p.detail).join('; ');
  }
  return store.transaction(async () => {
    for (const setting of ['enable_seqscan', 'enable_bitmapscan', 'enable_sort']) await sql`SELECT set_config(${setting}, 'off', true)`.execute(store.db);
    const literal = (v: unknown) => (typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v));
    const text = query.sql.replace(/\$(\d+)/g, (_, n: string) => literal(query.parameters[Number(n) - 1]));
    const rows = (await sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`).execute(store.db)).rows;
    return rows.map((r) => r['QUERY PLAN']).join('; ');
  });
}

/** Fails unless the plan walks one of `indexes` (a search down it) without a scan of a table or a sort of its own. */
export async function assertWalksIndex(store: StoreDatabase, query: CompiledQuery, indexes: readonly string[]): Promise<void> {
  const plan = await planOf(store, query);
  const names = indexes.join('|');
  if (store.dialect === 'sqlite') {
    assert.match(plan, new RegExp(`^SEARCH \\w+ USING (COVERING )?INDEX (${names})\\b`), plan);
    assert.doesNotMatch(plan, /TEMP B-TREE|SCAN/, plan);
  } else {
    assert.match(plan, new RegExp(`Index (Only )?Scan using (${names})\\b`), plan);
    assert.doesNotMatch(plan, /Sort|Seq Scan/, plan);
  }
}
