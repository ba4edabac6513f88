import assert from 'node:assert/strict';
import { ScimRefusal } from '../../core/bridge/errors.js';
import { parseFilter } from '../../core/bridge/filter.js';
import { bridgeFromReconciliation } from '../../core/bridge/reconcile.js';
import { type BridgeResource, BridgeStore } from '../../core/bridge/store.js';
import { AccessStore } from '../../core/server/access.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';

/** Two connections to one new database of each dialect: two servers sharing the store. */
async function twoServers(dialect: 'sqlite' | 'postgres'): Promise<[StoreDatabase, StoreDatabase]> {
  const target = dialect === 'sqlite' ? { dataDir: scratchDir('patchbay-bridge-') } : { url: await freshDatabase() };
  // Both SQLite connections live in this one process: a short busy timeout lets the dialect's
  // asynchronous retries do the waiting, instead of a busy wait that blocks the holder too.
  const busy = process.env.PATCHBAY_BUSY_TIMEOUT_MS;
  process.env.PATCHBAY_BUSY_TIMEOUT_MS = '20';
  let first: StoreDatabase, second: StoreDatabase;
  try {
    first = await openStore(target, { migrations: 'apply' });
    second = await openStore(target, { migrations: 'apply' });
  } finally {
    if (busy === undefined) delete process.env.PATCHBAY_BUSY_TIMEOUT_MS;
    else process.env.PATCHBAY_BUSY_TIMEOUT_MS = busy;
  }
  after(async () => {
    await first.close();
    await second.close();
  });
  return [first, second];
}

const tenant = 'acme';
let clock = Date.UTC(2026, 10, 30, 9, 0, 0);

/** A User as the bridge keeps it. */
function user(app: string, id: string, userName: string, more: Partial<BridgeResource> = {}): BridgeResource {
  const at = (clock += 1000);
  return {
    tenant, app, id, userName, externalId: null, email: userName, attributes: { userName, emails: [{ value: userName, type: 'work' }], active: true },
    active: true, version: 1, createdAt: at, lastModified: at, runId: null, runOperation: null, failure: null, ...more,
  };
}

const isUniqueness = (error: unknown) => error instanceof ScimRefusal && error.status === 409 && error.scimType === 'uniqueness';

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`SCIM bridge store on ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: resources, filters, runs, uniqueness`, function () {
    this.timeout(60_000);

    it('finds Users by each filter the IdPs send: userName and email case-insensitively, id and externalId exactly', async () => {
      const [store] = await twoServers(dialect);
      const bridge = new BridgeStore(store);
      const alice = user('6sense', 'u-1', 'Alice@Acme.com', { externalId: 'OKTA-00a1', email: 'alice.archer@acme.com' });
      const bob = user('6sense', 'u-2', 'bob@acme.com');
      await bridge.put(alice);
      await bridge.put(bob);
      await bridge.put(user('spendesk', 'u-3', 'alice@acme.com'));
      const ids = async (filter: string, app = '6sense') => (await bridge.find(tenant, app, parseFilter(filter))).map((r) => r.id);
      assert.deepEqual(await ids('userName eq "ALICE@acme.COM"'), ['u-1']);
      assert.deepEqual(await ids('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice@acme.com"'), ['u-1']);
      assert.deepEqual(await ids('emails[type eq "work"].value eq "Alice.Archer@ACME.com"'), ['u-1']);
      assert.deepEqual(await ids('externalId eq "OKTA-00a1"'), ['u-1']);
      assert.deepEqual(await ids('externalId eq "okta-00a1"'), [], 'externalId is case-exact');
      assert.deepEqual(await ids('id eq "u-2"'), ['u-2']);
      assert.deepEqual(await ids('id eq "U-2"'), [], 'id is case-exact');
      assert.deepEqual(await ids('userName eq "x\' OR 1=1 --"'), [], 'the value is a parameter, never SQL');
      assert.deepEqual(await ids('userName eq "alice@acme.com"', 'spendesk'), ['u-3'], 'each app holds its own Users');
      const got = await bridge.get(tenant, '6sense', 'u-1');
      assert.deepEqual(got, alice, 'a User reads back as written');
    });

    it('pages live Users oldest first with a total, keeps a deleted one as a tombstone and numbers its re-creation, records each run once', async () => {
      const [store] = await twoServers(dialect);
      const bridge = new BridgeStore(store);
      for (let i = 1; i <= 5; i++) await bridge.put(user('6sense', `u-${i}`, `user${i}@acme.com`));
      const page = await bridge.page(tenant, '6sense', 2, 2);
      assert.equal(page.total, 5);
      assert.deepEqual(page.items.map((r) => r.id), ['u-2', 'u-3']);
      await bridge.markDeleted(tenant, '6sense', 'u-3', clock);
      assert.equal(await bridge.get(tenant, '6sense', 'u-3'), undefined);
      assert.equal((await bridge.page(tenant, '6sense', 1, 10)).total, 4);
      assert.deepEqual((await bridge.all(tenant, '6sense')).map((r) => r.id), ['u-1', 'u-2', 'u-4', 'u-5']);
      assert.equal(await bridge.deletedWithUserName(tenant, '6sense', 'USER3@acme.com'), 1);
      // The userName is free again once its holder is deleted.
      await bridge.put(user('6sense', 'u-6', 'user3@acme.com', { runId: 'run-a', runOperation: 'onboard' }));
      const changed = { ...(await bridge.get(tenant, '6sense', 'u-6'))!, version: 2, active: false, runId: 'run-b', runOperation: 'offboard' as const, lastModified: clock + 5000 };
      await bridge.put(changed);
      await bridge.put(changed);
      assert.deepEqual(await bridge.runsOf(tenant, '6sense', 'u-6'), [{ runId: 'run-a', operation: 'onboard' }, { runId: 'run-b', operation: 'offboard' }]);
      assert.deepEqual(await bridge.get(tenant, '6sense', 'u-6'), changed, 'a whole replacement');
      await assert.rejects(bridge.put({ ...changed, userName: 'USER1@acme.com', email: 'user1@acme.com' }), isUniqueness);
      assert.equal((await bridge.get(tenant, '6sense', 'u-6'))!.userName, 'user3@acme.com', 'nothing half-written');
    });

    it('two creations of one userName at two servers at once: one stored, the other 409 uniqueness', async () => {
      const [a, b] = await twoServers(dialect);
      const first = new BridgeStore(a);
      const second = new BridgeStore(b);
      for (let round = 0; round < 5; round++) {
        const name = `dana${round}@acme.com`;
        const outcomes = await Promise.allSettled([first.put(user('6sense', `a-${round}`, name, { runId: `run-a-${round}`, runOperation: 'onboard' })), second.put(user('6sense', `b-${round}`, name.toUpperCase(), { runId: `run-b-${round}`, runOperation: 'onboard' }))]);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, `round ${round}: ${outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'stored')).join('; ')}`);
        assert.ok(isUniqueness((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason));
        const held = await first.find(tenant, '6sense', parseFilter(`userName eq "${name}"`));
        assert.equal(held.length, 1);
        assert.deepEqual((await first.runsOf(tenant, '6sense', held[0]!.id)).length, 1, "the loser's run record was rolled back with it");
      }
    });

    it('a complete reconciliation adds, deactivates and corrects Users in one transaction, leaving one whose run is at work', async () => {
      const [store] = await twoServers(dialect);
      const bridge = new BridgeStore(store);
      const app = '6sense';
      const none = await bridgeFromReconciliation(store, tenant, { side: 'app', app, source: { kind: 'file', name: 'members.csv', readAt: 0 }, accounts: [{ email: 'x@acme.com', active: true }], completeness: { complete: true, reasons: [] } }, clock);
      assert.deepEqual([none.applied, none.reason], [false, `${app} has no SCIM bridge`]);
      await new AccessStore(store).createBridgeToken(app);
      await bridge.put(user(app, 'u-gone', 'gone@acme.com'));
      await bridge.put(user(app, 'u-kept', 'kept@acme.com'));
      await bridge.put(user(app, 'u-busy', 'busy@acme.com', { runId: 'run-busy', runOperation: 'onboard' }));
      await store.db
        .insertInto('runs')
        .values({ id: 'run-busy', idempotency_key: 'scim:6sense:user:busy@acme.com:onboard:1', open_key: 'acme|onboard|6sense|busy@acme.com', batch_id: null, tenant, playbook: 'onboard', app, subject: '{}', request: '{}', plan: '{}', profile: '{}', status: 'waiting', outcome: null, waiting_for: 'task', wake_at: null, lease_owner: null, lease_until: null, created_at: clock, updated_at: clock, finished_at: null })
        .execute();
      const said: string[] = [];
      const result = await bridgeFromReconciliation(
        store,
        tenant,
        { side: 'app', app, source: { kind: 'file', name: 'members.csv', readAt: 0 }, accounts: [{ email: 'KEPT@acme.com', active: true }, { email: 'new@acme.com', active: false }, { userName: 'no-email', active: true }], completeness: { complete: true, reasons: [] } },
        clock,
        (line) => said.push(line),
      );
      assert.deepEqual(result, { applied: true, added: 1, deactivated: 1, corrected: 0, inFlight: 1, unusable: 1 });
      assert.match(said.join('\n'), /1 accounts added, 1 Users gone from the app made inactive, 0 corrected, 1 left to their runs/);
      const byName = Object.fromEntries((await bridge.all(tenant, app)).map((r) => [r.userName, r]));
      assert.deepEqual(Object.keys(byName).sort(), ['busy@acme.com', 'gone@acme.com', 'kept@acme.com', 'new@acme.com']);
      assert.deepEqual([byName['gone@acme.com']!.active, byName['gone@acme.com']!.version], [false, 2]);
      assert.deepEqual([byName['kept@acme.com']!.active, byName['kept@acme.com']!.version], [true, 1]);
      assert.deepEqual([byName['busy@acme.com']!.active, byName['busy@acme.com']!.runId], [true, 'run-busy']);
      assert.equal(byName['new@acme.com']!.active, false);
    });
  });
}
