import assert from 'node:assert/strict';
import { type CompiledQuery, sql } from 'kysely';
import type { StoreDatabase } from '../../core/store/sql.js';

/**
 * The database's plan for a compiled query, one line per node: SQLite's EXPLAIN QUERY PLAN details, or
 * PostgreSQL's EXPLAIN with sequential scans and sorts priced out (on a small table its planner scans or
 * sorts whatever the indexes; pricing them out shows the plan of a large table: a sort still appears when no
 * index gives the order asked for).
 */
export async function planOf(store: StoreDatabase, query: CompiledQuery): Promise<string> {
  if (store.dialect === 'sqlite') {
    const rows = store.sqlite!.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as { detail: string }[];
    return rows.map((p) => p.detail).join('; ');
  }
  return store.transaction(async () => {
    for (const setting of ['enable_seqscan', 'enable_sort']) await sql`SELECT set_config(${setting}, 'off', true)`.execute(store.db);
    const literal = (v: unknown) => (typeof v === 'string' ? `'${v.replace(/'/g, "''")}'` : String(v));
    const text = query.sql.replace(/\$(\d+)/g, (_, n: string) => literal(query.parameters[Number(n) - 1]));
    const rows = (await sql.raw<{ 'QUERY PLAN': string }>(`EXPLAIN ${text}`).execute(store.db)).rows;
    return rows.map((r) => r['QUERY PLAN']).join('; ');
  });
}

/**
 * Fails unless the plan walks only indexes named in `indexes` (a search down each; several for a query whose
 * OR is answered by one index per branch): no scan of a table, no other index, no sort of its own.
 */
export async function assertWalksIndex(store: StoreDatabase, query: CompiledQuery, indexes: readonly string[]): Promise<void> {
  const plan = await planOf(store, query);
  const names = indexes.join('|');
  const used = store.dialect === 'sqlite'
    ? [...plan.matchAll(/SEARCH \w+ USING (?:COVERING )?INDEX (\w+)/g)].map((m) => m[1]!)
    : [...plan.matchAll(/Index (?:Only )?Scan using (\w+)|Bitmap Index Scan on (\w+)/g)].map((m) => (m[1] ?? m[2])!);
  assert.ok(used.length > 0 && used.every((name) => new RegExp(`^(${names})$`).test(name)), `walks ${used.join(', ') || 'no index'}, not only ${names}: ${plan}`);
  assert.doesNotMatch(plan, store.dialect === 'sqlite' ? /TEMP B-TREE|SCAN/ : /Sort|Seq Scan/, plan);
}
