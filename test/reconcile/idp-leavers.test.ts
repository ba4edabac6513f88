import assert from 'node:assert/strict';
import { BrowserHost } from '../../core/channels/browser/browser-host.js';
import { reconcile } from '../../core/reconcile/findings.js';
import { readAppByBrowser, readIdpAssignments } from '../../core/reconcile/readers.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { EntraDouble, GoogleDouble, serviceAccountKey } from '../support/idp-doubles.js';
import { harness } from '../support/runtime.js';
import { consoleEnv, spendeskConsole } from '../support/spendesk-console.js';

const members = ['alice@acme.com', 'bob@acme.com', 'olivia@acme.com', 'hugo@acme.com', 'chloe@acme.com'];

/**
 * The Okta story (test/reconcile/spendesk.test.ts) for the other identity providers: a person leaves
 * in the IdP, the leaver feed opens her Spendesk offboarding, the IdP step runs through the IdP's
 * API, the browser removes her in the console simulator and verifies it, and the next
 * reconciliation of the console against the IdP's assignments is clean. The IdP is a double over
 * real HTTP; the engine, the store and Chromium are real.
 */
describe('a leaver in Entra ID or Google Workspace, offboarded from Spendesk to the end', function () {
  this.timeout(120_000);
  const host = new BrowserHost();
  after(() => host.close());

  const endToEnd = async (idp: TenantProfile['idp'] & object, idpAppId: string, env: Record<string, string>, leave: () => void, stillAssigned: () => string[]) => {
    const sim = await spendeskConsole();
    const allEnv = { ...consoleEnv, ...env };
    const h = await harness({
      env: allEnv,
      browser: { stepTimeoutMs: 2_000 },
      tweak: (p) => {
        p.idp = idp;
        p.apps.spendesk!.consoleUrl = sim.url;
        p.apps.spendesk!.idpAppId = idpAppId;
      },
    });
    const secrets = new EnvironmentSecretResolver(allEnv);
    const profile = h.profile.profile;
    await h.runtime.leavers.read(h.profile); // the feed is switched on: from now on
    leave();
    h.clock.advance(5 * 60_000);
    const reads = await h.runtime.leavers.read(h.profile, { since: Date.now() - 60 * 60_000 });
    assert.deepEqual(reads.flatMap((r) => r.problems), []);
    const opened = reads.flatMap((r) => r.started.map((s) => ({ ...s, app: s.app ?? r.app }))).filter((s) => s.app === 'spendesk');
    assert.deepEqual(opened.map((s) => [s.email, s.created]), [['alice@acme.com', true]]);
    const run = opened[0]!.run;
    await h.runtime.runs.settle();
    const timeline = (await h.runtime.runs.timeline(run)).steps.map((s) => [s.stepId, s.status, s.detail]);
    assert.equal((await h.run(run)).outcome, 'done', JSON.stringify(timeline));
    assert.equal(sim.state.byEmail('alice@acme.com'), undefined, 'she is gone from the console');
    assert.deepEqual(stillAssigned().sort(), members.slice(1).sort(), 'the IdP step took the app away from her in the IdP');
    const idpStep = (await h.runtime.runs.timeline(run)).steps.find((s) => s.stepId.endsWith('unassign-app'));
    assert.ok(idpStep, JSON.stringify(timeline));

    const next = await h.runtime.reconciliations.record('acme', reconcile(
      await readIdpAssignments(h.services.registry, profile, 'spendesk', secrets, Date.now()),
      await readAppByBrowser(host, h.services.registry, profile, 'spendesk', secrets, Date.now()),
      { now: Date.now() },
    ));
    assert.deepEqual(next.findings, [], 'clean');
    assert.equal(next.counts.matched, 4);
    return { h, run, timeline };
  };

  it('Entra ID: an account disabled by an admin → offboarding from every app → Spendesk removed in the console → verified → clean reconcile', async () => {
    const graph = await new EntraDouble().app('sp-spendesk', 'Spendesk').listen();
    after(() => graph.close());
    graph.seed(members);
    graph.assign('sp-spendesk', members);
    const { h, run, timeline } = await endToEnd(
      { connector: 'entra-id', baseUrl: `${graph.url}/v1.0`, secrets: { tenantId: 'env:T', clientId: 'env:C', clientSecret: 'env:S' } },
      'sp-spendesk',
      { T: graph.tenant, C: graph.clientId, S: graph.clientSecret },
      () => graph.disableByAdmin('alice@acme.com'),
      () => graph.assignments.filter((a) => a.resourceId === 'sp-spendesk').map((a) => [...graph.users.values()].find((u) => u.id === a.principalId)!.mail),
    );
    assert.match(JSON.stringify(timeline), /removed 1 app role assignment of alice@acme\.com to Entra ID enterprise app sp-spendesk/);
    assert.match((await h.run(run)).request.reason!, /^left Microsoft Entra ID at .* \(Disable account, event Directory_1\): offboarded from every app$/);
  });

  it('Google Workspace: a user suspended by an admin → offboarding → removed from the app\'s group and from the console → verified → clean reconcile', async () => {
    const google = await new GoogleDouble().listen();
    after(() => google.close());
    const key = serviceAccountKey(`${google.url}/token`);
    google.trust(key.publicKey, 'it.admin@acme.com');
    google.seed(members);
    google.group('spendesk-users@acme.com', members);
    const { timeline } = await endToEnd(
      { connector: 'google-workspace', baseUrl: google.url, secrets: { serviceAccountKey: 'env:KEY', adminEmail: 'env:ADMIN' } },
      'spendesk-users@acme.com',
      { KEY: key.json, ADMIN: 'it.admin@acme.com' },
      () => google.suspendByAdmin('alice@acme.com'),
      () => [...google.groups.get('spendesk-users@acme.com')!],
    );
    assert.match(JSON.stringify(timeline), /removed alice@acme\.com from spendesk-users@acme\.com/);
  });
});
