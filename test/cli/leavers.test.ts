import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson, runCliAsync, scratchDir } from '../support/fixtures.js';
import { catalogueOf } from '../support/catalogue.js';
import { OktaDouble } from '../support/vendor-doubles.js';

/** The demo tenant with an Okta double as its IdP, changed by `change`, in a scratch folder: its profile file and the CLI's store arguments. */
async function oktaTenant(change: (tenant: Record<string, any>) => void): Promise<{ okta: OktaDouble; profile: string; base: string[] }> {
  const okta = await new OktaDouble().listen();
  after(() => okta.close());
  const dir = scratchDir();
  const profile = path.join(dir, 'tenant.json');
  const tenant = readJson(defaultProfileFile);
  delete tenant.$schema;
  tenant.idp = { connector: 'okta', baseUrl: okta.url, secrets: { token: 'env:OKTA_API_TOKEN' } };
  change(tenant);
  writeFileSync(profile, JSON.stringify(tenant));
  return { okta, profile, base: ['--data-dir', path.join(dir, 'data')] };
}

describe('patchbay leavers and worker --watch-idp', function () {
  this.timeout(60_000);

  it('open one offboarding per Okta unassignment, say so in a line each, and stay quiet the second time', async () => {
    const { okta, profile, base } = await oktaTenant((tenant) => (tenant.apps.spendesk.idpAppId = '0oaCLI'));
    const env = { OKTA_API_TOKEN: 'okta-token' };
    const event = okta.unassign('0oaCLI', 'alice@acme.com', new Date(Date.now() - 60 * 60_000).toISOString());

    const first = await runCliAsync([...base, 'leavers', '--profile', profile, '--since', new Date(Date.now() - 2 * 60 * 60_000).toISOString()], env);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^spendesk: 1 leaver event since \d{4}-\d\d-\d\d \d\d:\d\d UTC$/m);
    assert.match(first.stdout, new RegExp(`^  opened offboarding run-\\S+ for alice@acme\\.com \\(event ${event}\\)$`, 'm'));
    assert.match(first.stdout, /^6sense: not read: its id in Okta is not in the tenant profile \(apps\.6sense\.idpAppId\)$/m);

    // The worker reads the feed too; the same event starts nothing new, so it says nothing.
    const worker = await runCliAsync([...base, 'worker', '--once', '--watch-idp', '--profile', profile], env);
    assert.equal(worker.status, 0, worker.stderr);
    assert.doesNotMatch(worker.stderr, /opened offboarding/);
    const again = await runCliAsync([...base, 'leavers', '--profile', profile, '--json'], env);
    const spendesk = JSON.parse(again.stdout).find((r: { app: string }) => r.app === 'spendesk');
    assert.ok(spendesk.started.every((s: { created: boolean }) => !s.created));
    const runs = JSON.parse((await runCliAsync([...base, 'runs', '--json'], env)).stdout);
    assert.deepEqual(runs.map((r: { playbook: string; subject: string }) => [r.playbook, r.subject]), [['offboard', 'alice@acme.com']]);

    const bad = await runCliAsync([...base, 'leavers', '--since', 'last tuesday'], env);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^patchbay: command line#\/since: "last tuesday" is not a time \(ISO 8601, e\.g\. 2026-11-27T09:00Z\)\n$/);
  });

  it('with a broken connector in the profile: the other apps are offboarded, the broken one gets a task, and the worker keeps going', async () => {
    const { okta, profile, base } = await oktaTenant((tenant) => (tenant.apps.tallyboard = {}));
    const env = { OKTA_API_TOKEN: 'okta-token', PATCHBAY_CONNECTORS: catalogueOf({ tallyboard: { broken: 'schema' } }) };
    okta.seed(['dana@acme.com']);
    const event = okta.lifecycle('dana@acme.com', 'user.lifecycle.deactivate', new Date(Date.now() - 30 * 60_000).toISOString());

    const read = await runCliAsync([...base, 'leavers', '--profile', profile, '--since', new Date(Date.now() - 60 * 60_000).toISOString()], env);
    assert.equal(read.status, 1, read.stderr);
    assert.match(read.stdout, /^  opened offboarding run-\S+ for dana@acme\.com from spendesk /m);
    assert.match(read.stdout, new RegExp(`^  event ${event} \\(dana@acme\\.com, tallyboard\\): not offboarded by Patchbay: connector tallyboard is broken: \\S*manifest\\.json#/kind: .*; task \\S+ opened for a person$`, 'm'));
    // The worker reads the same event again (the feed's overlap): it says the task has it, and does not stop.
    const worker = await runCliAsync([...base, 'worker', '--once', '--watch-idp', '--profile', profile], env);
    assert.equal(worker.status, 0, worker.stderr);
    // The worker logs JSON lines (not a terminal): the feed's report is one message.
    const said = worker.stderr.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { msg: string }).msg).join('\n');
    assert.match(said, /\(dana@acme\.com, tallyboard\): not offboarded by Patchbay: .*; task \S+ has it$/m);
  });
});
