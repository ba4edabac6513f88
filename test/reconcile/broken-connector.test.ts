import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCliAsync, scratchDir } from '../support/fixtures.js';
import { catalogueOf } from '../support/catalogue.js';
import { connectorsDir } from '../../core/paths.js';
import { harness, storeFor } from '../support/runtime.js';
import { FormClient, serverFor } from '../support/server.js';
import { ScimServer } from '../support/scim-server.js';
import { OktaDouble } from '../support/vendor-doubles.js';

describe('reconcile and report with a broken connector in the tenant', function () {
  this.timeout(120_000);

  let okta: OktaDouble;
  let scim: ScimServer;
  let scimUrl: string;
  before(async () => {
    okta = await new OktaDouble().listen();
    scim = new ScimServer();
    scimUrl = await scim.listen();
    okta.assign('0oaTALLY', ['ann@acme.com']);
    scim.add('ann@acme.com');
    scim.add('ben@acme.com');
  });
  after(async () => {
    okta.close();
    await scim.close();
  });

  // A SCIM app the machine can read, an app whose manifest breaks its schema, one routing to api with nothing behind it, and an IdP that does not load.
  const catalogue = catalogueOf({ tallyscim: { kind: 'scim' }, tallyboard: { broken: 'schema' }, unwired: { broken: 'unwired' }, badidp: { idp: true, broken: 'schema' } });
  const env = { PATCHBAY_CONNECTORS: catalogue, OKTA_API_TOKEN: 'okta-token', SCIM_TOKEN: 'scim-token' };
  const tenant = (idp: string) => {
    const file = path.join(scratchDir(), 'tenant.json');
    writeFileSync(
      file,
      JSON.stringify({
        tenant: 'acme',
        idp: idp === 'okta' ? { connector: 'okta', baseUrl: okta.url, secrets: { token: 'env:OKTA_API_TOKEN' } } : { connector: idp },
        apps: { tallyscim: { baseUrl: scimUrl, idpAppId: '0oaTALLY', secrets: { token: 'env:SCIM_TOKEN' } }, tallyboard: {}, unwired: {} },
        queues: [{ id: 'it-ops', members: ['it@acme.com'] }],
      }),
    );
    return file;
  };

  it('--all reconciles the other apps, says each broken one is not reconciled with its reason, remediates only what was read, and exits 1', async () => {
    const profile = tenant('okta');
    const store = (await storeFor(scratchDir())).args;
    const json = await runCliAsync([...store, 'reconcile', '--all', '--profile', profile, '--json', '--remediate', '--by', 'auditor@acme.com'], env);
    assert.equal(json.status, 1, json.stderr);
    const out = JSON.parse(json.stdout);
    assert.deepEqual(out.broken.map((b: { app: string }) => b.app), ['tallyboard', 'unwired']);
    assert.match(out.broken[0].reason, /tallyboard[/\\]manifest\.json#\/kind: must be one of "app", "idp"$/);
    assert.match(out.broken[1].reason, /^the manifest routes 'deactivateUser' to the api channel but neither a declared call nor an API module implements it/);
    assert.deepEqual(out.reconciliations.map((r: { app: string; findings: { kind: string; person: string }[] }) => [r.app, r.findings.map((f) => `${f.kind} ${f.person}`)]), [['tallyscim', ['orphaned-account ben@acme.com']]]);
    assert.deepEqual(out.failed, []);
    // Remediation acts on what was read, and on nothing of the broken apps.
    assert.deepEqual(out.remediation.map((r: { person: string; run: string }) => r.person), ['ben@acme.com']);

    const text = await runCliAsync([...store, 'reconcile', '--all', '--profile', profile], env);
    assert.equal(text.status, 1, text.stderr);
    assert.match(text.stdout, /^Reconciled tallyscim: /m);
    const said = text.stdout.split('\n').filter((l) => /^(tallyboard|unwired): /.test(l));
    assert.equal(said.length, 2, text.stdout);
    assert.match(said[0]!, /^tallyboard: not reconciled: its connector is broken: \S*tallyboard[/\\]manifest\.json#\/kind: must be one of/);
    assert.match(said[1]!, /^unwired: not reconciled: its connector is broken: the manifest routes 'deactivateUser' to the api channel/);

    // The audit report covers the rest and lists each broken app as broken, with no overdue finding for it.
    const report = await runCliAsync([...store, 'report', '--profile', profile, '--json'], env);
    assert.equal(report.status, 0, report.stderr);
    const r = JSON.parse(report.stdout);
    assert.deepEqual(r.apps.map((a: { app: string; broken?: string }) => [a.app, !!a.broken]), [['tallyboard', true], ['unwired', true], ['tallyscim', false]]);
    assert.ok(r.apps.find((a: { app: string }) => a.app === 'tallyscim').lastAudit, 'the app read is audited');
    assert.deepEqual(r.history.map((h: { app: string }) => h.app), ['tallyscim', 'tallyscim'], 'two reconciliations, of the app read only');
    assert.deepEqual(r.overdue.map((f: { app: string }) => f.app), []);
    const html = path.join(scratchDir(), 'report.html');
    const page = await runCliAsync([...store, 'report', '--profile', profile, '--html', html], env);
    assert.equal(page.status, 0, page.stderr);
    assert.match(readFileSync(html, 'utf8'), /<strong class="overdue">broken: the manifest routes &#39;deactivateUser&#39; to the api channel/);
    assert.match(page.stdout, /^Audit report for acme: 3 apps, 0 overdue, 2 broken, /m);
    assert.match(page.stdout, /^tallyboard: broken: \S*tallyboard[/\\]manifest\.json#\/kind: must be one of/m);
    assert.match(page.stdout, /^unwired: broken: the manifest routes 'deactivateUser'/m);
  });

  it("the server's reconciliation page lists a broken app as broken and shows the rest", async () => {
    const h = await harness({ connectorsDir: [connectorsDir, catalogue], tweak: (p) => void (p.apps.tallyboard = {}) });
    const server = await serverFor(h);
    await server.access.setOperator('it.lead@acme.example', 'a long demo password', 'admin');
    const client = new FormClient(server.url);
    await client.signIn('it.lead@acme.example', 'a long demo password');
    const page = await client.request('GET', '/reconcile');
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /<td>tallyboard<\/td><td><strong class="overdue">broken: \S*tallyboard[/\\]manifest\.json#\/kind: must be one of/);
    assert.match(page.body, /6sense <strong>\(gap node\)<\/strong>/);
  });

  it('--all with a broken identity provider connector reads nothing and says why in one line (exit 2)', async () => {
    const store = (await storeFor(scratchDir())).args;
    const result = await runCliAsync([...store, 'reconcile', '--all', '--profile', tenant('badidp')], env);
    assert.equal(result.status, 2, result.stdout);
    assert.match(result.stderr, /^patchbay: \S*tenant\.json#\/idp\/connector: --all reads the IdP's assignments through its API, and identity provider connector badidp is broken: \S*badidp[/\\]manifest\.json#\/kind: must be one of/);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.equal(result.stdout, '');
    // One app: planned and checked as usual, and the IdP side is refused with the same reason, pointing at an export instead.
    const one = await runCliAsync([...store, 'reconcile', '--app', 'tallyscim', '--via', 'scim', '--profile', tenant('badidp')], env);
    assert.equal(one.status, 2, one.stdout);
    assert.match(one.stderr, /^reading the IdP's assignments of tallyscim…\npatchbay: tenant profile#\/idp\/connector: identity provider connector badidp is broken: \S*badidp[/\\]manifest\.json#\/kind: .*; give --idp-from <file>\n$/);
  });
});
