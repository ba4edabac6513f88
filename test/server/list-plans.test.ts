import assert from 'node:assert/strict';
import { CompiledQuery, sql } from 'kysely';
import { findingsOf, runsPageQuery, taskRowsQuery, type TaskListArgs } from '../../core/server/listing.js';
import type { StoreDatabase } from '../../core/store/sql.js';
import { harness } from '../support/runtime.js';

const cursor = (key: [number, string]) => Buffer.from(JSON.stringify(key)).toString('base64url');

/**
 * The plan of a compiled query on the harness's store, as one line: SQLite's EXPLAIN QUERY PLAN details, or
 * PostgreSQL's EXPLAIN with sequential scans and sorts priced out (so that on a near-empty table the planner
 * still shows whether an index can give the order: a sort it cannot avoid stays in the plan).
 */
async function planOf(store: StoreDatabase, query: CompiledQuery): Promise<string> {
  if (store.dialect === 'sqlite') {
    const rows = await store.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${query.sql}`, [...query.parameters]));
    return rows.rows.map((r) => r.detail).join('; ');
  }
  return store.transaction(async () => {
    await sql`SET LOCAL enable_seqscan = off`.execute(store.db);
    await sql`SET LOCAL enable_sort = off`.execute(store.db);
    const rows = await store.db.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`EXPLAIN ${query.sql}`, [...query.parameters]));
    return rows.rows.map((r) => r['QUERY PLAN'].trim()).join('; ');
  });
}

/** Whether a plan reads the rows in order from an index: no full-table scan sorted into a temporary B-tree, no Sort node. */
function assertIndexOrdered(store: StoreDatabase, plan: string, what: string): void {
  if (store.dialect === 'sqlite') {
    assert.doesNotMatch(plan, /TEMP B-TREE/, `${what}: ${plan}`);
    assert.match(plan, /USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/, `${what}: ${plan}`);
  } else {
    assert.doesNotMatch(plan, /\bSort\b|Seq Scan/, `${what}: ${plan}`);
    assert.match(plan, /Index (Only )?Scan/, `${what}: ${plan}`);
  }
}

describe('every sort an API list offers walks an index (issue 17)', function () {
  this.timeout(60_000);

  it('tasks by due time for each filter, runs newest first with and without a status, findings by kind and person: first pages and later ones', async () => {
    const h = await harness();
    const store = h.runtime.store;
    const base: TaskListArgs = { status: 'open', queues: null, actor: 'it.oncall@acme.example', limit: 50 };
    const tasks: [string, TaskListArgs][] = [
      ['open tasks of one queue', { ...base, queue: 'it-ops' }],
      ['open tasks, every queue', base],
      ['every task', { ...base, status: 'all' }],
      ['completed tasks', { ...base, status: 'completed' }],
      ["a token's queues and what is assigned to it", { ...base, queues: ['it-ops', 'finance-admins'] }],
      ['only what is assigned', { ...base, queues: [] }],
      ['mine', { ...base, queues: ['it-ops'], mine: { queues: ['it-ops'] } }],
      ['every task of one queue', { ...base, status: 'all', queue: 'it-ops' }],
    ];
    let checked = 0;
    for (const [what, args] of tasks) {
      for (const later of [false, true]) {
        const query = taskRowsQuery(store.db, store.dialect, { ...args, ...(later ? { cursor: cursor([1_700_000_000_000, 'task_x']) } : {}) }).compile();
        assertIndexOrdered(store, await planOf(store, query), `${what}${later ? ', a later page' : ''}`);
        checked++;
      }
    }
    for (const status of [undefined, 'waiting', 'completed']) {
      for (const later of [false, true]) {
        const query = runsPageQuery(store.db, { ...(status ? { status } : {}), limit: 50, ...(later ? { cursor: cursor([1_700_000_000_000, 'run_x']) } : {}) }).compile();
        assertIndexOrdered(store, await planOf(store, query), `runs ${status ?? 'all'}${later ? ', a later page' : ''}`);
        checked++;
      }
    }
    for (const offset of [0, 400]) {
      assertIndexOrdered(store, await planOf(store, findingsOf(store.db, 1).limit(51).offset(offset).compile()), `findings at ${offset}`);
      checked++;
    }
    assert.equal(checked, 24);
  });

  it('the check sees a sort: ordering tasks by title has no index, and its plan says so', async () => {
    const h = await harness();
    const store = h.runtime.store;
    const plan = await planOf(store, store.db.selectFrom('tasks').select('id').where('status', '=', 'open').orderBy('title').limit(50).compile());
    assert.throws(() => assertIndexOrdered(store, plan, 'by title'), /TEMP B-TREE|Sort|Seq Scan/);
  });
});
