import assert from 'node:assert/strict';
import { LeaverFeed } from '../../core/intake/leaver-feed.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { freshDatabase } from '../support/postgres.js';
import { scratchDir } from '../support/fixtures.js';

/** Two servers on one database: two connections (SQLite: two handles on one file; PostgreSQL: two pools). */
const dialects: { name: string; open: () => Promise<[StoreDatabase, StoreDatabase]> }[] = [
  {
    name: 'SQLite',
    open: async () => {
      const dataDir = scratchDir();
      return [await openStore({ dataDir }), await openStore({ dataDir })];
    },
  },
  {
    name: 'PostgreSQL',
    open: async () => {
      const url = await freshDatabase();
      return [await openStore({ url }, { migrations: 'apply' }), await openStore({ url }, { migrations: 'refuse' })];
    },
  },
];

/** The feed's cursor alone: reading the IdP and starting runs is test/intake/leaver-feed.test.ts's. */
const feedOn = (store: StoreDatabase) => new LeaverFeed(store, undefined as never, undefined as never, undefined as never, undefined as never, undefined as never);

for (const dialect of dialects) {
  describe(`the leaver feed's cursor on ${dialect.name}`, function () {
    this.timeout(60_000);
    let stores: StoreDatabase[] = [];
    afterEach(async () => {
      for (const store of stores) await store.close();
      stores = [];
    });

    it('starts unset, moves forward, and is per tenant and app', async () => {
      const [store] = (stores = await dialect.open());
      const feed = feedOn(store!);
      assert.equal(await feed.cursor('acme', 'spendesk'), undefined);
      assert.equal(await feed.advance('acme', 'spendesk', 1_000, 1_500), true);
      assert.equal(await feed.advance('acme', 'spendesk', 2_000, 2_500), true);
      assert.equal(await feed.advance('acme', 'spendesk', 1_200, 3_000), false, 'a late reader does not move it back');
      assert.equal(await feed.cursor('acme', 'spendesk'), 2_000);
      assert.equal(await feed.cursor('acme', 'okta'), undefined);
      assert.equal(await feed.cursor('globex', 'spendesk'), undefined);
      const [row] = await store!.db.selectFrom('feed_cursors').selectAll().where('tenant', '=', 'acme').execute();
      assert.deepEqual([Number(row!.since), Number(row!.read_at)], [2_000, 2_500], 'the refused move changed nothing, not even when it read');
    });

    it('two readers advancing one cursor at once: it never goes backwards and ends at the furthest', async () => {
      stores = await dialect.open();
      const [a, b] = stores.map(feedOn) as [LeaverFeed, LeaverFeed];
      // Each reader moves forward on its own; the second lags behind the first, as a reader that started earlier and finishes later.
      const steps = 200;
      const movesOf = (lag: number) => Array.from({ length: steps }, (_, i) => 10_000 + i * 10 - lag);
      const seen: number[] = [];
      let racing = true;
      const watcher = (async () => {
        while (racing) {
          const at = await a.cursor('acme', 'okta');
          if (at !== undefined) seen.push(at);
        }
      })();
      const run = async (feed: LeaverFeed, moves: number[]) => {
        let refused = 0;
        for (const since of moves) if (!(await feed.advance('acme', 'okta', since, since))) refused++;
        return refused;
      };
      const [refusedA, refusedB] = await Promise.all([run(a, movesOf(0)), run(b, movesOf(305))]);
      racing = false;
      await watcher;
      assert.equal(await a.cursor('acme', 'okta'), movesOf(0).at(-1));
      assert.equal(await b.cursor('acme', 'okta'), movesOf(0).at(-1));
      assert.ok(refusedA + refusedB > 0, 'some moves were behind the other reader and refused');
      assert.ok(seen.length > 0, 'the watcher saw the cursor while the readers raced');
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `the cursor went back from ${seen[i - 1]} to ${seen[i]}`);
    });
  });
}
