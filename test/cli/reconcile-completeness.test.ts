import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openStore } from '../../core/store/sql.js';
import { runCliAsync, scratchDir } from '../support/fixtures.js';
import { json, serve } from '../support/http-server.js';

/**
 * An Okta org on 127.0.0.1 whose app-assignment list pages by Link header. `fault` makes page 2's
 * next link point at page 2 again (a cursor that repeats), so the read cannot end with certainty.
 */
async function okta(assigned: string[]) {
  const state = { fault: false };
  const server = await serve((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname !== '/api/v1/apps/0oaSPEND/users') return void json(res, 404, { errorCode: 'E0000007' });
    const page = url.searchParams.get('after') ? 2 : 1;
    const users = (page === 1 ? assigned.slice(0, 1) : assigned.slice(1)).map((email, i) => ({ id: `00u${page}${i}`, status: 'ACTIVE', credentials: { userName: email } }));
    const next: Record<string, string> = page === 1 || state.fault ? { link: `<${server.url}/api/v1/apps/0oaSPEND/users?after=00u10&limit=200>; rel="next"` } : {};
    json(res, 200, users, next);
  });
  return { server, state };
}

describe('patchbay reconcile over an incomplete read', function () {
  this.timeout(60_000);

  it('stores it incomplete, says so first, keeps the earlier findings open and the last audit, and --remediate exits 1 with one line', async () => {
    const { server, state } = await okta(['ann@acme.com', 'ben@acme.com']);
    const dir = scratchDir();
    const data = path.join(dir, 'data');
    const profile = path.join(dir, 'tenant.json');
    writeFileSync(
      profile,
      JSON.stringify({
        tenant: 'acme',
        idp: { connector: 'okta', baseUrl: server.url, secrets: { token: 'env:OKTA_API_TOKEN' } },
        apps: { spendesk: { plan: 'premium', features: { 'api-access': false, sso: true }, idpAppId: '0oaSPEND' } },
        queues: [{ id: 'it-ops', members: ['it.oncall@acme.example'] }],
      }),
    );
    const members = path.join(dir, 'members.csv');
    writeFileSync(members, 'email,status\nann@acme.com,active\nben@acme.com,active\nold1@acme.com,active\nold2@acme.com,active\n');
    const env = { OKTA_API_TOKEN: 'okta-token' };
    const args = ['--data-dir', data, 'reconcile', '--app', 'spendesk', '--profile', profile, '--from', members];

    // A complete read: two orphaned accounts, the app's last audit.
    const audit = await runCliAsync([...args, '--json'], env);
    assert.equal(audit.status, 0, audit.stderr);
    const first = JSON.parse(audit.stdout);
    assert.equal(first.completeness.complete, true);
    assert.deepEqual(first.findings.map((f: { person: string }) => f.person).sort(), ['old1@acme.com', 'old2@acme.com']);

    // The IdP's paging goes wrong: page 2 points to itself. Ben is read once, the walk stops, the read is incomplete.
    state.fault = true;
    const before = server.requests.length;
    const short = await runCliAsync([...args, '--remediate'], env);
    assert.equal(short.status, 1, short.stderr);
    assert.ok(server.requests.length - before <= 3, `the walk stopped: ${server.requests.length - before} requests`);
    assert.match(short.stdout, /^INCOMPLETE READ of spendesk: it closes no finding, is not an audit, and --remediate will not act on it\.\n {2}- IdP side \(Okta assignments of spendesk\): okta: GET \/api\/v1\/apps\/0oaSPEND\/users: page 2 points to a page already read/);
    assert.match(short.stdout, /The 2 findings of the last audit \(\d{4}-\d\d-\d\d\) stay open\./);
    const refusal = short.stderr.split('\n').filter((l) => l.startsWith('patchbay:'));
    assert.equal(refusal.length, 1, short.stderr);
    assert.match(refusal[0]!, /^patchbay: not remediating spendesk: reconciliation \d+ rests on an incomplete read \(IdP side \(Okta assignments of spendesk\): okta: GET .*\); nothing was opened$/);

    // JSON puts the completeness first.
    const asJson = await runCliAsync([...args, '--json'], env);
    assert.equal(asJson.status, 1, 'an incomplete read exits 1, in --json too');
    assert.equal(Object.keys(JSON.parse(asJson.stdout))[0], 'completeness');
    assert.equal(JSON.parse(asJson.stdout).completeness.complete, false);

    // The store: three reconciliations, the last two incomplete; no run was opened; the last audit is the first.
    const store = await openStore({ dataDir: data });
    after(() => store.close());
    assert.deepEqual((await store.db.selectFrom('reconciliations').select('complete').orderBy('id').execute()).map((r) => r.complete), [1, 0, 0]);
    assert.equal((await store.db.selectFrom('runs').select('id').execute()).length, 0);
    const report = await runCliAsync(['--data-dir', data, 'report', '--profile', profile, '--json'], env);
    assert.equal(report.status, 0, report.stderr);
    const r = JSON.parse(report.stdout);
    assert.deepEqual(r.incomplete.map((i: { app: string }) => i.app), ['spendesk']);
    assert.equal(r.apps.find((a: { app: string }) => a.app === 'spendesk').lastAudit.id, first.id);
    assert.deepEqual(r.current.spendesk.map((f: { person: string }) => f.person).sort(), ['old1@acme.com', 'old2@acme.com']);
    const text = await runCliAsync(['--data-dir', data, 'report', '--profile', profile], env);
    assert.match(text.stdout, /^INCOMPLETE: the newest reconciliation of Spendesk/);
  });

  it('an Excel export with a bad email on file line 6: exit 1 with and without --remediate, the line named, no run opened', async () => {
    const dir = scratchDir();
    const data = path.join(dir, 'data');
    const idp = path.join(dir, 'idp.csv');
    writeFileSync(idp, 'email\r\nann.demo@example.test\r\nben.demo@example.test\r\nold.demo@example.test\r\n');
    // BOM, CRLF, a quoted field with a comma and one with three lines, a blank line, then the bad row on file line 6.
    const members = path.join(dir, 'members.csv');
    writeFileSync(members, '\ufeffEmail,Name,Status,Notes\r\nann.demo@example.test,"Demo, Ann",Active,"line one\r\nline two\r\nline three"\r\n\r\nben.demo(at)example.test,"Demo, Ben",Active,\r\norphan.demo@example.test,"Demo, Orphan",Active,\r\n');
    const args = ['--data-dir', data, 'reconcile', '--app', 'spendesk', '--idp-from', idp, '--from', members];
    const plain = await runCliAsync(args);
    assert.equal(plain.status, 1, plain.stderr);
    assert.match(plain.stdout, /^INCOMPLETE READ of spendesk/);
    assert.match(plain.stdout, /members\.csv line 6 \(row 4\): "ben\.demo\(at\)example\.test" is not an email address/);
    const remediate = await runCliAsync([...args, '--remediate']);
    assert.equal(remediate.status, 1, remediate.stderr);
    assert.deepEqual(remediate.stderr.split('\n').filter((l) => l.startsWith('patchbay:')).length, 1);
    assert.doesNotMatch(remediate.stdout, /opened offboarding/);
    const store = await openStore({ dataDir: data });
    after(() => store.close());
    assert.equal((await store.db.selectFrom('runs').select('id').execute()).length, 0, 'the orphan of a short read is not offboarded');
  });
});
