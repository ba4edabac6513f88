import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson, runCliAsync, scratchDir } from '../support/fixtures.js';
import { EntraDouble } from '../support/idp-doubles.js';

describe('patchbay reconcile --idp-from <idp>', function () {
  this.timeout(60_000);

  it("reads the tenant's IdP through its API when named (entra), and refuses an IdP the tenant does not have", async () => {
    const graph = await new EntraDouble().app('sp-spendesk', 'Spendesk').listen();
    after(() => graph.close());
    graph.seed(['bob@acme.com', 'chloe@acme.com']);
    graph.assign('sp-spendesk', ['bob@acme.com', 'chloe@acme.com']);
    const dir = scratchDir();
    const profile = path.join(dir, 'tenant.json');
    const tenant = readJson(defaultProfileFile);
    delete tenant.$schema;
    tenant.idp = { connector: 'entra-id', baseUrl: `${graph.url}/v1.0`, secrets: { tenantId: 'env:T', clientId: 'env:C', clientSecret: 'env:S' } };
    tenant.apps.spendesk.idpAppId = 'sp-spendesk';
    writeFileSync(profile, JSON.stringify(tenant));
    const members = path.join(dir, 'members.csv');
    writeFileSync(members, 'email,status\nbob@acme.com,active\nalice@acme.com,active\nchloe@acme.com,active\n');
    const env = { T: graph.tenant, C: graph.clientId, S: graph.clientSecret };
    const base = ['--data-dir', path.join(dir, 'data'), 'reconcile', '--app', 'spendesk', '--profile', profile, '--from', members];

    const read = await runCliAsync([...base, '--idp-from', 'entra', '--json'], env);
    assert.equal(read.status, 0, read.stderr);
    const json = JSON.parse(read.stdout);
    assert.equal(json.idp.name, 'Microsoft Entra ID assignments of spendesk');
    assert.deepEqual(json.findings.map((f: { kind: string; person: string }) => [f.kind, f.person]), [['orphaned-account', 'alice@acme.com']]);

    const wrong = await runCliAsync([...base, '--idp-from', 'google'], env);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /^patchbay: command line#\/idpFrom: --idp-from google: the tenant's identity provider is Microsoft Entra ID, not Google Workspace\n$/);
  });
});
