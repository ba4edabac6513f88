import assert from 'node:assert/strict';
import type { Snapshot } from '../../core/reconcile/snapshot.js';
import { completeRead } from '../../core/reconcile/snapshot.js';
import { IdentifierStore, identifierBatch } from '../../core/store/identifiers.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { freshDatabase } from '../support/postgres.js';
import { scratchDir } from '../support/fixtures.js';

const snapshot = (side: 'idp' | 'app', accounts: Snapshot['accounts']): Snapshot => ({
  side,
  app: 'scim',
  source: { kind: side === 'idp' ? 'idp' : 'scim', name: `${side} read`, readAt: 0 },
  accounts,
  completeness: completeRead,
});

const dialects: { name: string; open: () => Promise<StoreDatabase> }[] = [
  { name: 'SQLite', open: () => openStore({ dataDir: scratchDir() }) },
  { name: 'PostgreSQL', open: async () => openStore({ url: await freshDatabase() }, { migrations: 'apply' }) },
];

for (const dialect of dialects) {
  describe(`known identifiers on ${dialect.name}`, function () {
    this.timeout(60_000);
    let store: StoreDatabase;
    let identifiers: IdentifierStore;
    beforeEach(async () => {
      store = await dialect.open();
      identifiers = new IdentifierStore(store);
    });
    afterEach(async () => {
      await store.close();
    });

    it('finds a renamed account by the id seen before, under the old email or under anyone who had it', async () => {
      await identifiers.see('acme', 'Alice@acme.com', 'scim', { ids: ['u-1'], emails: ['alice@acme.com'], userNames: [' alice '] }, 'reconciliation of scim', 100);
      await identifiers.see('acme', 'alice.martin@acme.com', 'scim', { ids: ['u-1'], emails: ['alice.martin@acme.com'], externalIds: ['E-77'] }, 'run run-1 step scim-check', 200);
      // Another tenant and another app are their own.
      await identifiers.see('globex', 'alice@acme.com', 'scim', { ids: ['g-9'] }, 'elsewhere', 300);
      await identifiers.see('acme', 'alice@acme.com', 'spendesk', { ids: ['s-3'] }, 'elsewhere', 300);

      const known = await identifiers.lookup('acme', 'ALICE@acme.com', 'scim');
      assert.deepEqual(known.ids, ['u-1']);
      assert.deepEqual([...known.emails].sort(), ['alice@acme.com']);
      assert.deepEqual(known.userNames, ['alice']);
      // Through the userName recorded under her, the other person's row is hers too.
      const byUserName = await identifiers.lookup('acme', 'alice', 'scim');
      assert.deepEqual(byUserName.ids, ['u-1']);
      const renamed = await identifiers.lookup('acme', 'alice.martin@acme.com', 'scim');
      assert.deepEqual(renamed.externalIds, ['E-77']);

      const listed = await identifiers.list('acme', 'alice@acme.com', 'scim');
      assert.deepEqual(listed.map((s) => [s.kind, s.value, s.firstSeenAt, s.firstSeenIn]), [
        ['email', 'alice@acme.com', 100, 'reconciliation of scim'],
        ['id', 'u-1', 100, 'reconciliation of scim'],
        ['userName', 'alice', 100, 'reconciliation of scim'],
      ]);
    });

    it('moves a last sighting forward, never back, also when two writers see one identifier at once', async () => {
      await identifiers.see('acme', 'bob@acme.com', 'scim', { ids: ['u-2'] }, 'first', 1_000);
      await identifiers.see('acme', 'bob@acme.com', 'scim', { ids: ['u-2'] }, 'an older read, recorded late', 500);
      let [row] = await identifiers.list('acme', 'bob@acme.com', 'scim');
      assert.deepEqual([row!.firstSeenAt, row!.firstSeenIn, row!.lastSeenAt, row!.lastSeenIn], [1_000, 'first', 1_000, 'first']);

      const times = Array.from({ length: 40 }, (_, i) => 2_000 + ((i * 17) % 40));
      await Promise.all(times.map((at) => identifiers.see('acme', 'bob@acme.com', 'scim', { ids: ['u-2'] }, `sighting at ${at}`, at)));
      [row] = await identifiers.list('acme', 'bob@acme.com', 'scim');
      const newest = Math.max(...times);
      assert.deepEqual([row!.firstSeenAt, row!.lastSeenAt, row!.lastSeenIn], [1_000, newest, `sighting at ${newest}`]);
    });

    it(`keeps what a reconciliation of ${3 * identifierBatch} accounts read, in batches, one row per identifier even when the read repeats an account`, async () => {
      const n = 3 * identifierBatch;
      const idp = snapshot('idp', Array.from({ length: n }, (_, i) => ({ email: `p${i}@acme.com`, userName: `p${i}`, active: true })));
      const accounts = Array.from({ length: n }, (_, i) => ({ id: `u-${i}`, email: `P${i}@acme.com`, userName: `p${i}`, externalId: `E-${i}`, active: true }));
      // A listing that shows one account twice (a page repeated): PostgreSQL refuses one row twice in one upsert.
      const app = snapshot('app', [...accounts.slice(0, 8), accounts[7]!, ...accounts.slice(8), { email: 'nobody-knows@acme.com', active: true }, { active: true }]);
      const recorded = await identifiers.fromReconciliation('acme', idp, app, 5_000);
      assert.equal(recorded, n + 2, 'every account with an email or userName; the one with neither is skipped');
      const count = await store.db.selectFrom('known_identifiers').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 4 * n + 1);
      const seven = await identifiers.lookup('acme', 'p7@acme.com', 'scim');
      assert.deepEqual([seven.ids, seven.externalIds], [['u-7'], ['E-7']]);
      assert.deepEqual((await identifiers.list('acme', 'nobody-knows@acme.com', 'scim')).map((s) => s.kind), ['email']);
      assert.match((await identifiers.list('acme', 'p1@acme.com', 'scim'))[0]!.firstSeenIn, /^reconciliation of scim \(scim: app read\)$/);
    });

    it("joins the caller's transaction: what a reconciliation read is undone with the rest when the caller fails", async () => {
      const accounts = Array.from({ length: identifierBatch + 5 }, (_, i) => ({ id: `u-${i}`, email: `q${i}@acme.com`, active: true }));
      await assert.rejects(
        store.transaction(async () => {
          assert.equal(await identifiers.fromReconciliation('acme', snapshot('idp', []), snapshot('app', accounts), 1), identifierBatch + 5);
          throw new Error('the reconciliation could not be stored');
        }),
        /could not be stored/,
      );
      assert.equal((await store.db.selectFrom('known_identifiers').select('value').execute()).length, 0);
      assert.equal(await identifiers.fromReconciliation('acme', snapshot('idp', []), snapshot('app', accounts), 1), identifierBatch + 5);
      assert.equal((await store.db.selectFrom('known_identifiers').select('value').execute()).length, 2 * (identifierBatch + 5));
    });
  });
}
