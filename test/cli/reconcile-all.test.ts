import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCliAsync, scratchDir } from '../support/fixtures.js';
import { ScimServer } from '../support/scim-server.js';
import { consoleEnv, spendeskConsole } from '../support/spendesk-console.js';
import { OktaDouble } from '../support/vendor-doubles.js';

describe('patchbay reconcile --all', function () {
  this.timeout(120_000);

  it("reads every app a machine can read by its own reader against Okta's assignments, names the gap nodes, and keeps each reconciliation", async () => {
    const okta = await new OktaDouble().listen();
    after(() => okta.close());
    okta.assign('0oaSPEND', ['bob@acme.com', 'olivia@acme.com', 'hugo@acme.com', 'chloe@acme.com']);
    okta.assign('0oaSCIM', ['ann@acme.com']);
    const sim = await spendeskConsole();
    const scim = new ScimServer();
    const scimUrl = await scim.listen();
    after(() => scim.close());
    scim.add('ann@acme.com');
    scim.add('ben@acme.com');
    scim.add('old@acme.com', false);

    const dir = scratchDir();
    const profile = path.join(dir, 'tenant.json');
    writeFileSync(
      profile,
      JSON.stringify({
        tenant: 'acme',
        idp: { connector: 'okta', baseUrl: okta.url, secrets: { token: 'env:OKTA_API_TOKEN' } },
        apps: {
          spendesk: {
            plan: 'premium',
            features: { 'api-access': false, sso: true },
            consoleUrl: sim.url,
            idpAppId: '0oaSPEND',
            secrets: { adminEmail: 'env:SPENDESK_ADMIN_EMAIL', adminPassword: 'env:SPENDESK_ADMIN_PASSWORD' },
          },
          scim: { baseUrl: scimUrl, idpAppId: '0oaSCIM', secrets: { token: 'env:SCIM_TOKEN' } },
          '6sense': {},
        },
        queues: [{ id: 'it-ops', members: ['it.oncall@acme.example'] }],
        policies: { browserAutomation: 'allowed' },
      }),
    );
    const env = { ...consoleEnv, OKTA_API_TOKEN: 'okta-token', SCIM_TOKEN: 'scim-token' };
    const data = path.join(dir, 'data');
    const result = await runCliAsync(['--data-dir', data, 'reconcile', '--all', '--profile', profile, '--json'], env);
    assert.equal(result.status, 0, result.stderr);
    const json = JSON.parse(result.stdout);
    assert.deepEqual(
      json.reconciliations.map((r: { app: string; appSource: { kind: string }; findings: { kind: string; person: string }[] }) => [r.app, r.appSource.kind, r.findings.map((f) => `${f.kind} ${f.person}`)]),
      [
        ['spendesk', 'browser', ['orphaned-account alice@acme.com']],
        ['scim', 'scim', ['orphaned-account ben@acme.com']],
      ],
    );
    assert.deepEqual(json.skipped, [{ app: '6sense', why: "gap node: nothing here can read it; reconcile it from its admin's export with --app 6sense --from <file>" }]);

    const text = await runCliAsync(['--data-dir', data, 'reconcile', '--all', '--profile', profile], env);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /Reconciled spendesk: 4 IdP identities \(Okta assignments of spendesk\) against 5 accounts \(Spendesk console \(export-members recipe\)\); 4 matched\./);
    assert.match(text.stdout, /Reconciled scim: 1 IdP identities .* against 3 accounts \(SCIM Users at http:\/\/127\.0\.0\.1:\d+\/scim\/v2\); 1 matched\./);
    assert.match(text.stdout, /^6sense: not reconciled: gap node/m);
    assert.match(text.stderr, /reading scim over SCIM…/);
    const report = JSON.parse((await runCliAsync(['--data-dir', data, 'report', '--profile', profile, '--json'], env)).stdout);
    assert.deepEqual(report.apps.map((a: { app: string; overdue: boolean }) => [a.app, a.overdue]), [['spendesk', false], ['scim', false], ['6sense', true]]);
    assert.equal(report.history.length, 4);

    // One app that cannot be read does not stop the others; the command says which and exits 1.
    const partly = await runCliAsync(['--data-dir', data, 'reconcile', '--all', '--profile', profile], { ...env, SCIM_TOKEN: 'revoked' });
    assert.equal(partly.status, 1, partly.stderr);
    assert.match(partly.stdout, /Reconciled spendesk: /);
    assert.match(partly.stdout, /^scim: not reconciled: could not read it: .*401/m);
    assert.doesNotMatch(partly.stdout + partly.stderr, /revoked/, 'the token is not echoed');
  });

  it('refuses --all with a reader meant for one app, and neither --app nor --all', async () => {
    const both = await runCliAsync(['reconcile', '--all', '--via', 'browser']);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /^patchbay: command line#\/all: --all reads every app by its own reader and the IdP by its API: --from, --via and --idp-from are for one app\n$/);
    const noIdp = await runCliAsync(['reconcile', '--all']);
    assert.equal(noIdp.status, 2);
    assert.match(noIdp.stderr, /default-profile\.json#\/idp\/baseUrl: --all reads the IdP's assignments through its API, and the tenant profile gives no IdP address\n$/);
    const neither = await runCliAsync(['reconcile', '--via', 'browser']);
    assert.match(neither.stderr, /command line#\/app: give one app with --app <id>, or --all/);
  });
});
