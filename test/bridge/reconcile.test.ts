import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bridgeFromReconciliation } from '../../core/bridge/reconcile.js';
import type { AccountRecord, Snapshot } from '../../core/reconcile/snapshot.js';
import { openStore } from '../../core/store/sql.js';
import { runCli, scratchDir } from '../support/fixtures.js';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';
import { ScimClient, newUser, patchbaySchema } from './client.js';

const read = (app: string, accounts: AccountRecord[], reasons: string[] = []): Snapshot => ({
  side: 'app',
  app,
  source: { kind: 'file', name: 'members.csv', readAt: 0 },
  accounts,
  completeness: { complete: reasons.length === 0, reasons },
});

/** Does every task of a run until it is no longer at work (once the server has driven the run it answered for). */
async function finish(h: Awaited<ReturnType<typeof harness>>, runId: string, server: Awaited<ReturnType<typeof serverFor>>) {
  await server.settled();
  for (let i = 0; i < 6 && ['running', 'waiting'].includes((await h.run(runId)).status); i++) await h.completeNext(runId);
  assert.equal((await h.run(runId)).status, 'completed', JSON.stringify((await h.run(runId)).waitingFor));
}

async function bridge(app = '6sense') {
  const h = await harness();
  const server = await serverFor(h);
  const { token } = (await server.access.createBridgeToken(app));
  return { h, server, scim: new ScimClient(server, app, token), tenant: h.profile.profile.tenant };
}

describe('SCIM bridge: resources seeded and corrected from reconciliation', function () {
  this.timeout(60_000);

  it('a complete read adds the accounts the bridge did not hold and makes a User whose account is gone inactive', async () => {
    const { h, server, scim, tenant } = await bridge();
    const gone = await scim.post('/Users', newUser('gone@acme.com', 'Gus', 'Gone'));
    // Its onboarding needs a person: done, so the run is no longer in flight.
    await finish(h, gone.body[patchbaySchema].runId, server);
    const kept = await scim.post('/Users', newUser('kept@acme.com', 'Kim', 'Kept'));
    await finish(h, kept.body[patchbaySchema].runId, server);
    const said: string[] = [];
    const result = await bridgeFromReconciliation(h.runtime.store, tenant, read('6sense', [
      { email: 'KEPT@acme.com', active: true },
      { email: 'found@acme.com', userName: 'found@acme.com', active: true },
      { email: 'left@acme.com', active: false },
      { userName: 'no-email', active: true },
    ]), h.clock.now(), (l) => said.push(l));
    assert.deepEqual(result, { applied: true, added: 2, deactivated: 1, corrected: 0, inFlight: 0, unusable: 1 });
    assert.match(said.join('\n'), /2 accounts added, 1 Users gone from the app made inactive/);

    const list = await scim.get('/Users');
    const byName = Object.fromEntries(list.body.Resources.map((u: any) => [u.userName, u]));
    assert.deepEqual(Object.keys(byName).sort(), ['found@acme.com', 'gone@acme.com', 'kept@acme.com', 'left@acme.com']);
    assert.equal(byName['found@acme.com'].active, true);
    assert.equal(byName['found@acme.com'].emails[0].value, 'found@acme.com');
    assert.equal(byName['found@acme.com'][patchbaySchema].provisioningState, 'done');
    assert.equal(byName['left@acme.com'].active, false);
    assert.equal(byName['gone@acme.com'].active, false);
    assert.equal(byName['gone@acme.com'].meta.version, 'W/"2"');
    assert.equal(byName['kept@acme.com'].active, true);
    assert.equal(byName['kept@acme.com'].meta.version, 'W/"1"', 'a User that agrees with the read is not rewritten');
    // The same read again changes nothing.
    assert.deepEqual(await bridgeFromReconciliation(h.runtime.store, tenant, read('6sense', [{ email: 'kept@acme.com', active: true }, { email: 'found@acme.com', active: true }, { email: 'left@acme.com', active: false }]), h.clock.now()), { applied: true, added: 0, deactivated: 0, corrected: 0, inFlight: 0, unusable: 0 });
  });

  it('corrects active from the read, but leaves a User whose run is still at work to that run', async () => {
    const { h, server, scim, tenant } = await bridge();
    const pending = await scim.post('/Users', newUser('pending@acme.com', 'Pat', 'Pending'));
    const done = await scim.post('/Users', newUser('done@acme.com', 'Dan', 'Done'));
    await finish(h, done.body[patchbaySchema].runId, server);
    const result = await bridgeFromReconciliation(h.runtime.store, tenant, read('6sense', [{ email: 'done@acme.com', active: false }]), h.clock.now());
    assert.deepEqual(result, { applied: true, added: 0, deactivated: 0, corrected: 1, inFlight: 1, unusable: 0 });
    assert.equal((await scim.get(`/Users/${done.body.id}`)).body.active, false);
    const still = await scim.get(`/Users/${pending.body.id}`);
    assert.equal(still.body.active, true);
    assert.equal(still.body[patchbaySchema].provisioningState, 'pending');
  });

  it('an incomplete read changes nothing and says why; an app without a bridge is left alone', async () => {
    const { h, server, scim, tenant } = await bridge();
    const created = await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer'));
    await finish(h, created.body[patchbaySchema].runId, server);
    const said: string[] = [];
    const result = await bridgeFromReconciliation(h.runtime.store, tenant, read('6sense', [{ email: 'new@acme.com', active: true }], ['ended at 1 of totalResults 3']), h.clock.now(), (l) => said.push(l));
    assert.equal(result.applied, false);
    assert.match(result.reason!, /incomplete \(ended at 1 of totalResults 3\)/);
    assert.match(said.join('\n'), /left as they were/);
    const list = await scim.get('/Users');
    assert.equal(list.body.totalResults, 1);
    assert.equal(list.body.Resources[0].active, true);
    const other = await bridgeFromReconciliation(h.runtime.store, tenant, read('spendesk', [{ email: 'x@acme.com', active: true }]), h.clock.now());
    assert.equal(other.applied, false);
    assert.deepEqual(await h.runtime.store.db.selectFrom('scim_resources').select('id').where('app', '=', 'spendesk').execute(), []);
  });

  it('patchbay reconcile feeds the bridge of the app it reads', async () => {
    const dir = scratchDir();
    const data = path.join(dir, 'data');
    const token = runCli(['--data-dir', data, 'bridge', 'token', 'create', '--app', 'spendesk']);
    assert.equal(token.status, 0, token.stderr);
    const idp = path.join(dir, 'okta.csv');
    const members = path.join(dir, 'members.csv');
    writeFileSync(idp, 'login,status\nbob@acme.com,ACTIVE\n');
    writeFileSync(members, 'Work email,Status\nbob@acme.com,Active\nalice@acme.com,Active\n');
    const report = runCli(['--data-dir', data, 'reconcile', '--app', 'spendesk', '--idp-from', idp, '--from', members, '--map', 'email=Work email']);
    assert.equal(report.status, 0, report.stderr);
    assert.match(report.stderr, /SCIM bridge of spendesk: 2 accounts added/);
    const store = await openStore({ dataDir: data });
    try {
      const rows = await store.db.selectFrom('scim_resources').select(['user_name', 'active']).where('app', '=', 'spendesk').orderBy('user_name').execute();
      assert.deepEqual(rows, [{ user_name: 'alice@acme.com', active: 1 }, { user_name: 'bob@acme.com', active: 1 }]);
    } finally {
      await store.close();
    }
  });
});
