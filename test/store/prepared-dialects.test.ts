import assert from 'node:assert/strict';
import { type Params, preparedQuery } from '../../core/store/prepared.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { freshDatabase } from '../support/postgres.js';
import { scratchDir } from '../support/fixtures.js';

const insert = preparedQuery((db, p: Params<{ kind: string; payload: string; at: number; next: number }>) =>
  db.insertInto('outbox').values({ kind: p('kind'), payload: p('payload'), created_at: p('at'), next_attempt_at: p('next') }),
);

// Two text and two number parameters whose order in the SQL differs from the order they are declared
// and given in: a position taken for another would select other rows.
const window = preparedQuery((db, p: Params<{ to: number; from: number; payload: string; kind: string; limit: number }>) =>
  db
    .selectFrom('outbox')
    .select(['kind', 'payload', 'created_at', 'next_attempt_at'])
    .where('kind', '=', p('kind'))
    .where('payload', '<>', p('payload'))
    .where('created_at', '>=', p('from'))
    .where('created_at', '<', p('to'))
    .orderBy('created_at')
    .limit(p('limit')),
);

/** Uses a name twice: both places get its value. */
const sameTime = preparedQuery((db, p: Params<{ at: number }>) =>
  db.selectFrom('outbox').select('payload').where('created_at', '=', p('at')).where('next_attempt_at', '=', p('at')),
);

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`a prepared query on ${dialect}`, function () {
    this.timeout(60_000);
    let store: StoreDatabase;

    beforeEach(async () => {
      store = dialect === 'sqlite' ? await openStore({ dataDir: scratchDir() }) : await openStore({ url: await freshDatabase() }, { migrations: 'apply' });
      // Rows 0..9: kind a for even, b for odd; created_at 1000 + i (a BIGINT column), next_attempt_at 2000 - i.
      for (let i = 0; i < 10; i++) assert.equal(await insert.run(store, { kind: i % 2 ? 'b' : 'a', payload: `p${i}`, at: 1000 + i, next: 2000 - i }), 1);
    });

    afterEach(() => store.close());

    it('binds each named parameter at its own position: the rows selected are exactly those the values name', async () => {
      const rows = await window.execute(store, { kind: 'a', payload: 'p4', from: 1002, to: 1009, limit: 10 });
      assert.deepEqual(rows.map((r) => r.payload), ['p2', 'p6', 'p8']);
      // The same query with other values: compiled once, bound anew.
      const odd = await window.execute(store, { kind: 'b', payload: 'p1', from: 1000, to: 1008, limit: 2 });
      assert.deepEqual(odd.map((r) => r.payload), ['p3', 'p5']);
      // BIGINT columns read back as numbers, on both.
      assert.deepEqual(rows[0], { kind: 'a', payload: 'p2', created_at: 1002, next_attempt_at: 1998 });
      assert.equal(await window.executeTakeFirst(store, { kind: 'a', payload: 'x', from: 1003, to: 1004, limit: 1 }), undefined);
    });

    it('gives a name used twice its value in both places', async () => {
      await insert.run(store, { kind: 'c', payload: 'same', at: 5000, next: 5000 });
      assert.deepEqual(await sameTime.execute(store, { at: 5000 }), [{ payload: 'same' }]);
      assert.deepEqual(await sameTime.execute(store, { at: 1001 }), [], 'created_at 1001 has next_attempt_at 1999');
    });

    it('compiles for the dialect: numbered parameters on PostgreSQL, question marks on SQLite', () => {
      const compiled = window.bind(store, { kind: 'a', payload: 'p', from: 1, to: 2, limit: 3 });
      if (dialect === 'postgres') assert.match(compiled.sql, /"kind" = \$1 .* limit \$5$/);
      else assert.match(compiled.sql, /"kind" = \? .* limit \?$/);
      assert.deepEqual(compiled.parameters, ['a', 'p', 1, 2, 3]);
    });

    it('runs in the ambient transaction: rolled back with it, committed with it', async () => {
      await assert.rejects(
        store.transaction(async () => {
          await insert.run(store, { kind: 'z', payload: 'gone', at: 1, next: 1 });
          assert.equal((await window.execute(store, { kind: 'z', payload: '', from: 0, to: 2, limit: 5 })).length, 1, 'seen inside the transaction');
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.deepEqual(await window.execute(store, { kind: 'z', payload: '', from: 0, to: 2, limit: 5 }), []);
      await store.transaction(() => insert.run(store, { kind: 'z', payload: 'kept', at: 1, next: 1 }));
      assert.deepEqual((await window.execute(store, { kind: 'z', payload: '', from: 0, to: 2, limit: 5 })).map((r) => r.payload), ['kept']);
    });

    it('refuses a parameter it cannot find in the compiled query, and one the query binds twice', async () => {
      const unused = preparedQuery((db, p: Params<{ kind: string; extra: string }>) => {
        p('extra');
        return db.selectFrom('outbox').select('payload').where('kind', '=', p('kind'));
      });
      await assert.rejects(unused.execute(store, { kind: 'a', extra: 'x' }), /parameter "extra" appears 0 times in the compiled parameters of `select "payload" from "outbox"/);
      const copied = preparedQuery((db, p: Params<{ kind: string }>) => {
        const kind = p('kind');
        return db.selectFrom('outbox').select('payload').where('kind', '=', kind).where('payload', '=', kind);
      });
      assert.throws(() => copied.bind(store, { kind: 'a' }), /parameter "kind" appears 2 times/);
    });
  });
}
