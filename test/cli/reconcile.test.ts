import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli, scratchDir } from '../support/fixtures.js';

describe('patchbay reconcile', function () {
  this.timeout(30_000);

  it('reads both sides from files, reports the orphan, opens its offboarding once, and says so the second time', () => {
    const dir = scratchDir();
    const idp = path.join(dir, 'okta-assignments.csv');
    const members = path.join(dir, 'spendesk-members.csv');
    writeFileSync(idp, 'login,status\nbob@acme.com,ACTIVE\nchloe@acme.com,ACTIVE\nnew@acme.com,ACTIVE\n');
    writeFileSync(members, 'Work email,Status\nBob@acme.com,Active\nalice@acme.com,Active\nchloe@acme.com,Active\n');
    const args = ['--data-dir', path.join(dir, 'data'), 'reconcile', '--app', 'spendesk', '--idp-from', idp, '--from', members, '--map', 'email=Work email'];
    const report = runCli(args);
    assert.equal(report.status, 0, report.stderr);
    assert.match(report.stdout, /Reconciled spendesk: 3 IdP identities .* against 3 accounts .*; 2 matched\./);
    assert.match(report.stdout, /2 findings: 1 orphaned-account, 1 assigned-but-missing\./);
    assert.match(report.stderr, /reading .*okta-assignments\.csv…/);
    const first = runCli([...args, '--remediate', '--json']);
    assert.equal(first.status, 0, first.stderr);
    const json = JSON.parse(first.stdout);
    assert.deepEqual(json.findings.map((f: { kind: string; person: string }) => [f.kind, f.person]), [['orphaned-account', 'alice@acme.com'], ['assigned-but-missing', 'new@acme.com']]);
    assert.equal(json.remediation.length, 1);
    assert.equal(json.remediation[0].created, true);
    const second = runCli([...args, '--remediate']);
    assert.match(second.stdout, new RegExp(`offboarding ${json.remediation[0].run} for alice@acme\\.com is already open`));
  });

  it('refuses a command without exactly one app side, and a bad row, in one line each', () => {
    const dir = scratchDir();
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'email\nnot-an-email\n');
    const neither = runCli(['reconcile', '--app', 'spendesk', '--idp-from', bad]);
    assert.equal(neither.status, 2);
    assert.match(neither.stderr, /^patchbay: command line#\/from: give the app side with exactly one of --from <file> or --via browser\|api\n$/);
    const badRow = runCli(['reconcile', '--app', 'spendesk', '--idp-from', bad, '--from', bad]);
    assert.equal(badRow.status, 2);
    assert.match(badRow.stderr, /bad\.csv:2: "not-an-email" is not an email address\n$/);
  });
});
