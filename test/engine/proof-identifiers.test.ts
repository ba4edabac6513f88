import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import { connectorModules } from '../../connectors/modules.js';
import type { StartResult } from '../../core/engine/port.js';
import { IdentifierStore } from '../../core/store/identifiers.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson, runCliAsync, scratchDir } from '../support/fixtures.js';
import { harness, storeFor } from '../support/runtime.js';
import { ScimServer } from '../support/scim-server.js';
import { mockVendors } from '../support/vendor-mock.js';

const spendeskApi = 'https://public-api.spendesk.com/v1';

describe('known identifiers: a renamed account is found by the id Patchbay recorded', function () {
  this.timeout(60_000);

  it('a reconciliation records each account id under its person; an offboarding after a rename finds the account by that id and deactivates it', async () => {
    const scim = new ScimServer();
    const url = await scim.listen();
    after(() => scim.close());
    const alice = scim.add('alice@acme.com');
    scim.add('bob@acme.com');
    const dir = scratchDir('patchbay-known-');
    const profile = readJson(defaultProfileFile);
    delete profile.$schema;
    profile.apps.scim = { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' }, queue: 'it-ops' };
    const profileFile = path.join(dir, 'tenant.json');
    writeFileSync(profileFile, JSON.stringify(profile));
    const idp = path.join(dir, 'idp.csv');
    writeFileSync(idp, 'email\nalice@acme.com\nbob@acme.com\n');
    const dataDir = path.join(dir, 'data');
    const cli = await runCliAsync([...(await storeFor(dataDir)).args, 'reconcile', '--app', 'scim', '--profile', profileFile, '--idp-from', idp, '--via', 'scim'], { SCIM_TOKEN: 'scim-token' });
    assert.equal(cli.status, 0, cli.stderr);

    // She married: the app renamed her account; the IdP still sends the old email.
    Object.assign(alice, { userName: 'alice.martin@acme.com', emails: [{ value: 'alice.martin@acme.com', primary: true }] });
    const h = await harness({ dataDir, env: { SCIM_TOKEN: 'scim-token' }, tweak: (p) => (p.apps.scim = profile.apps.scim) });
    const seen = await new IdentifierStore(h.runtime.store).list('acme', 'alice@acme.com', 'scim');
    assert.deepEqual(seen.map((s) => [s.kind, s.value]), [['email', 'alice@acme.com'], ['id', alice.id], ['userName', 'alice@acme.com']]);
    assert.match(seen[1]!.firstSeenIn, /^reconciliation of scim \(scim: SCIM Users at /);

    const [{ run }] = (await h.start('offboard', 'alice@acme.com', { app: 'scim' })) as [StartResult];
    await h.completeNext(run.id);
    const steps = Object.fromEntries((await h.runtime.runs.timeline(run.id)).steps.map((s) => [s.stepId, s]));
    assert.equal((await h.run(run.id)).outcome, 'done', JSON.stringify(Object.values(steps).map((s) => [s.stepId, s.status, s.detail])));
    assert.equal(alice.active, false);
    assert.match(steps['scim-check']!.detail!, /SCIM user u-1 \(alice\.martin@acme\.com\) is active: read by its id/);
    assert.ok(scim.log.includes(`GET /Users/${alice.id}`));
    // The run keeps what it saw: her new email is known from now on, where and when it was seen.
    const after_ = await new IdentifierStore(h.runtime.store).list('acme', 'alice@acme.com', 'scim');
    const renamed = after_.find((s) => s.value === 'alice.martin@acme.com' && s.kind === 'email')!;
    assert.match(renamed.firstSeenIn, new RegExp(`^run ${run.id} step scim-check$`));
  });

  describe('over an API whose lookup by email misses the renamed member', () => {
    mockVendors();

    it('the member id recorded at onboarding finds her; without it, nothing is concluded', async () => {
      const env = { SPENDESK_ID: 'id-1', SPENDESK_SECRET: 'secret-1' };
      const h = await harness({
        modules: connectorModules,
        env,
        tweak: (p) => {
          p.apps.spendesk!.features!['api-access'] = true;
          p.apps.spendesk!.secrets = { ...p.apps.spendesk!.secrets, apiClientId: 'env:SPENDESK_ID', apiClientSecret: 'env:SPENDESK_SECRET' };
        },
      });
      await new IdentifierStore(h.runtime.store).see('acme', 'alice@acme.com', 'spendesk', { ids: ['u7'], emails: ['alice@acme.com'] }, 'onboarding run run-0 step spendesk-verify', 0);
      nock(spendeskApi).post('/auth/token').reply(200, { access_token: 't', expires_in: 3600 });
      nock(spendeskApi).get('/users').reply(200, { data: [{ id: 'u2', email: 'bob@acme.com' }, { id: 'u7', email: 'alice.martin@acme.com', status: 'active' }] });
      const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      await h.completeNext(run.id);
      const check = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-check')!;
      assert.equal(check.status, 'done');
      assert.match(check.detail!, /member u7 \(alice\.martin@acme\.com\) found through the Spendesk API by its recorded id \(active\)/);
      assert.equal(check.evidence[0]!.proof!.method, 'id');
      assert.equal((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'transfer-ownership', 'the offboarding goes on: she is there');
      assert.ok(nock.isDone());
    });
  });
});
