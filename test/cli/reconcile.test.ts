import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson, runCli, scratchDir } from '../support/fixtures.js';

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
    // Alice has no Okta assignment: her offboarding starts in the app, and says why.
    assert.deepEqual(json.remediation[0].skipped, [`Skipped “Remove the app assignment in Okta: Spendesk”: reconciliation ${json.id} read ${idp} and found no assignment for alice@acme.com (an orphaned account), so there is none to remove.`]);
    // Times in --json are ISO 8601 strings.
    assert.match(json.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(json.findings[0].firstSeenAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const status = runCli(['--data-dir', path.join(dir, 'data'), 'run', 'status', json.remediation[0].run]);
    assert.match(status.stdout, /About the plan:\n(?: {2}- .*\n)* {2}- Skipped “Remove the app assignment in Okta: Spendesk”: reconciliation \d+ read/);
    assert.doesNotMatch(status.stdout, /^\d\. .*Okta/m, 'no Okta step in the run');
    const second = runCli([...args, '--remediate']);
    assert.match(second.stdout, new RegExp(`offboarding ${json.remediation[0].run} for alice@acme\\.com is already open`));
  });

  it('refuses a command without exactly one app side, and a bad row, in one line each', () => {
    const dir = scratchDir();
    const bad = path.join(dir, 'bad.csv');
    writeFileSync(bad, 'email\nnot-an-email\n');
    const neither = runCli(['reconcile', '--app', 'spendesk', '--idp-from', bad]);
    assert.equal(neither.status, 2);
    assert.match(neither.stderr, /^patchbay: command line#\/from: give the app side with exactly one of --from <file> or --via api\|scim\|browser\|attestations\n$/);
    // A bad row is not fatal: it is left unmatched, and the read says it is incomplete.
    const badRow = runCli(['reconcile', '--app', 'spendesk', '--idp-from', bad, '--from', bad]);
    assert.equal(badRow.status, 1, 'a read that ended short is not a clean answer');
    assert.match(badRow.stdout, /^INCOMPLETE READ of spendesk/);
    assert.match(badRow.stdout, /^ {2}- app side \(\S*bad\.csv\): \S*bad\.csv line 2 \(row 2\): "not-an-email" is not an email address; the row is left unmatched$/m);
  });

  it('puts remediation behind the approval the profile asks for, ages findings across reconciliations, and writes the HTML report', () => {
    const dir = scratchDir();
    const data = path.join(dir, 'data');
    const profile = path.join(dir, 'tenant.json');
    const tenant = readJson(defaultProfileFile);
    delete tenant.$schema;
    tenant.policies = { ...tenant.policies, approvalRequired: ['offboard'], approvers: 'it-leads' };
    writeFileSync(profile, JSON.stringify(tenant));
    const idp = path.join(dir, 'okta.csv');
    const members = path.join(dir, 'members.csv');
    writeFileSync(idp, 'email,status\nbob@acme.com,ACTIVE\n');
    writeFileSync(members, 'email,status\nbob@acme.com,active\nalice@acme.com,active\n');
    const args = ['--data-dir', data, 'reconcile', '--profile', profile, '--app', 'spendesk', '--idp-from', idp, '--from', members];
    const first = runCli([...args, '--remediate', '--by', 'it.oncall@acme.example']);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /orphaned-account .*alice@acme\.com .* new /);
    assert.match(first.stdout, /^opened offboarding (run-\S+) for alice@acme\.com \(waiting: task:task-\S+\)$/m);
    const tasks = runCli(['--data-dir', data, 'tasks', '--json']);
    assert.equal(tasks.status, 0, tasks.stderr);
    const [approval] = JSON.parse(tasks.stdout);
    assert.equal(approval.runbook, 'approve-run');
    assert.equal(approval.queue, 'it-leads');
    assert.match(approval.content.runbook.steps[0].text, /reconciliation \d+: alice@acme\.com is active in spendesk but not assigned in the IdP/);

    const html = path.join(dir, 'report', 'audit.html');
    const second = runCli([...args, '--remediate', '--html', html, '--json']);
    assert.equal(second.status, 0, second.stderr);
    const json = JSON.parse(second.stdout);
    assert.equal(json.remediation[0].created, false, 'the run waiting for approval is not opened twice');
    assert.ok(json.findings[0].firstSeenAt < json.at, 'the finding is as old as the first reconciliation that showed it');
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<svg role="img" aria-label="Findings per app over time"/);
    assert.match(page, /<polyline [^>]*points="[\d., ]+"/);
    assert.match(page, /alice@acme\.com is active in spendesk but not assigned in the IdP/);
    assert.ok(!existsSync(`${html}.tmp`));

    const report = runCli(['--data-dir', data, 'report', '--profile', profile, '--json']);
    assert.equal(report.status, 0, report.stderr);
    const audit = JSON.parse(report.stdout);
    assert.deepEqual(audit.apps.map((a: { app: string; overdue: boolean; gap: boolean }) => [a.app, a.overdue, a.gap]), [
      ['spendesk', false, false],
      ['6sense', true, true],
      ['alkami', true, true],
      ['amazinghiring', true, true],
    ]);
    assert.equal(audit.history.length, 2);
    const text = runCli(['--data-dir', data, 'report', '--profile', profile]);
    assert.match(text.stdout, /Audit report for acme: 4 apps, 3 overdue, 2 reconciliations in the last year\./);
    assert.match(text.stdout, /- 6sense is a gap node: Patchbay cannot read its accounts here \(no listing operation\), so only an export by its admin audits it; it has never been audited; the policy asks every 90 days/);
  });

  it('reads the app side from attestations without calling every unattested assignment missing', () => {
    const dir = scratchDir();
    const idp = path.join(dir, 'okta.csv');
    writeFileSync(idp, 'email\nbob@acme.com\n');
    const result = runCli(['--data-dir', path.join(dir, 'data'), 'reconcile', '--app', 'spendesk', '--idp-from', idp, '--via', 'attestations']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /against 0 accounts \(attestations in 0 completed tasks\)/);
    assert.match(result.stdout, /Attestations show only the work done through Patchbay/);
    assert.match(result.stdout, /No findings/);
  });
});
