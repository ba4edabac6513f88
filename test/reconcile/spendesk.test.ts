import assert from 'node:assert/strict';
import nock from 'nock';
import { BrowserHost } from '../../core/channels/browser/browser-host.js';
import { reconcile } from '../../core/reconcile/findings.js';
import { readAppByBrowser, readIdpAssignments } from '../../core/reconcile/readers.js';
import { remediate } from '../../core/reconcile/remediate.js';
import { mockVendors } from '../support/vendor-mock.js';
import { consoleEnv, spendeskConsole } from '../support/spendesk-console.js';
import { harness } from '../support/runtime.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';

const okta = 'https://acme.okta.com';
const appUsers = (emails: string[]) => emails.map((email, i) => ({ id: `00u${i}`, status: 'ACTIVE', credentials: { userName: email } }));

describe('reconciling Spendesk against Okta', function () {
  this.timeout(120_000);
  mockVendors();

  it('finds the member Okta no longer assigns, offboards them with --remediate, and the next reconcile is clean', async () => {
    const sim = await spendeskConsole();
    const env = { ...consoleEnv, OKTA_API_TOKEN: 'okta-test-token' };
    const h = await harness({
      env,
      browser: { stepTimeoutMs: 2_000 },
      tweak: (p) => {
        p.idp = { connector: 'okta', baseUrl: okta, secrets: { token: 'env:OKTA_API_TOKEN' } };
        p.apps.spendesk!.consoleUrl = sim.url;
        p.apps.spendesk!.idpAppId = '0oaSPEND';
      },
    });
    const secrets = new EnvironmentSecretResolver(env);
    const host = new BrowserHost();
    after(() => host.close());
    const profile = h.profile.profile;
    // Alice was unassigned in Okta; her Spendesk account is still active.
    const assigned = ['bob@acme.com', 'olivia@acme.com', 'hugo@acme.com', 'chloe@acme.com'];
    nock(okta).get('/api/v1/apps/0oaSPEND/users').query(true).reply(200, appUsers(assigned));
    const idp = await readIdpAssignments(h.services.registry, profile, 'spendesk', secrets, Date.now());
    const first = await h.runtime.reconciliations.record('acme', reconcile(idp, await readAppByBrowser(host, h.services.registry, profile, 'spendesk', secrets, Date.now()), { now: Date.now() }));
    assert.deepEqual(first.findings.map((f) => [f.kind, f.person]), [['orphaned-account', 'alice@acme.com']]);
    assert.deepEqual(first.findings[0]!.evidence.map((e) => e.source.name), ['Spendesk console (export-members recipe)', 'Okta assignments of spendesk']);

    // --remediate: the offboarding, without the Okta step (the read shows no assignment to remove: no call to Okta at all); the console does the rest.
    const [opened] = await remediate(h.runtime.runs, h.profile, first, idp, 'it.lead@acme.example');
    assert.equal(opened!.created, true);
    const run = await h.run(opened!.run);
    assert.equal(run.playbook, 'offboard');
    assert.equal(run.request.reason, `reconciliation ${first.id}: alice@acme.com is active in spendesk but not assigned in the IdP (Okta assignments of spendesk)`);
    assert.deepEqual(run.plan.steps.filter((s) => s.role === 'idp'), [], 'no IdP step');
    assert.deepEqual(run.plan.steps[0]!.dependsOn, [], 'the first step depends on no dropped step');
    const why = `Skipped “Remove the app assignment in Okta: Spendesk”: reconciliation ${first.id} read Okta assignments of spendesk and found no assignment for alice@acme.com (an orphaned account), so there is none to remove.`;
    assert.ok(run.plan.notes.includes(why), JSON.stringify(run.plan.notes));
    assert.deepEqual(opened!.skipped, [why]);
    await h.runtime.runs.settle();
    assert.ok(!(await h.runtime.runs.timeline(run.id)).steps.some((s) => s.plan.app === 'okta'), 'no Okta step ran');
    assert.equal((await h.run(run.id)).outcome, 'done', JSON.stringify((await h.runtime.runs.timeline(run.id)).steps.map((s) => [s.stepId, s.status, s.detail])));
    assert.equal(sim.state.byEmail('alice@acme.com'), undefined, 'she is gone from the console');

    nock(okta).get('/api/v1/apps/0oaSPEND/users').query(true).reply(200, appUsers(assigned));
    const next = await h.runtime.reconciliations.record('acme', reconcile(
      await readIdpAssignments(h.services.registry, profile, 'spendesk', secrets, Date.now()),
      await readAppByBrowser(host, h.services.registry, profile, 'spendesk', secrets, Date.now()),
      { now: Date.now() },
    ));
    assert.deepEqual(next.findings, []);
    assert.deepEqual((await h.runtime.reconciliations.list('acme', { app: 'spendesk' })).map((r) => r.findings), [1, 0], 'the trend goes from one finding to none');
    assert.equal(next.counts.matched, 4);
  });
});
