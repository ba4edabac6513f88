import assert from 'node:assert/strict';
import { renderReconciliation } from '../../core/cli/reconcile-command.js';
import { auditReport } from '../../core/reconcile/audit.js';
import { type Finding, type Reconciliation, reconcile } from '../../core/reconcile/findings.js';
import { findingsBatch } from '../../core/reconcile/history.js';
import { IncompleteReadError, remediate } from '../../core/reconcile/remediate.js';
import { type Completeness, completeRead, type Snapshot, type SnapshotSource } from '../../core/reconcile/snapshot.js';
import { reconcileReportBody } from '../../core/server/reconcile-page.js';
import { harness } from '../support/runtime.js';

const day = 86_400_000;
const t0 = Date.parse('2026-09-01T09:00:00Z');
const source = (kind: SnapshotSource['kind'], readAt: number): SnapshotSource => ({ kind, name: `${kind} read`, readAt });
const short: Completeness = { complete: false, reasons: ['okta: GET /api/v1/apps/0oaAPP/users: page 2 points to a page already read (its next link or cursor repeats); stopped after 200 items on 2 pages'] };
const snapshot = (side: 'idp' | 'app', kind: SnapshotSource['kind'], at: number, emails: string[], completeness: Completeness = completeRead): Snapshot => ({
  side,
  app: 'spendesk',
  source: source(kind, at),
  accounts: emails.map((email) => ({ email, active: true })),
  completeness,
});
const staff = ['a@acme.com', 'b@acme.com', 'c@acme.com', 'd@acme.com'];

describe('completeness through reconciliation', () => {
  it('the identity graph keeps both sides: complete only when both are, each reason named by its side', () => {
    const whole = reconcile(snapshot('idp', 'idp', t0, []), snapshot('app', 'api', t0, staff), { now: t0 });
    assert.deepEqual(whole.completeness, { complete: true, reasons: [], idp: completeRead, app: completeRead });
    const part = reconcile(snapshot('idp', 'idp', t0, [], short), snapshot('app', 'api', t0, staff), { now: t0 });
    assert.equal(part.completeness!.complete, false);
    assert.deepEqual(part.completeness!.reasons, [`IdP side (idp read): ${short.reasons[0]}`]);
    assert.equal(part.completeness!.idp, short);
  });

  it('a reconciliation over a short read is stored incomplete, closes no finding, and is not the last audit', async () => {
    const { runtime } = await harness();
    const history = runtime.reconciliations;
    // The real audit: four orphaned accounts (nobody is assigned in the IdP).
    const audit = await history.record('acme', reconcile(snapshot('idp', 'idp', t0, []), snapshot('app', 'api', t0, staff), { now: t0 }));
    assert.equal(audit.findings.length, 4);
    // A day later the IdP read went short and the app read shows only two accounts: two findings "went away".
    const t1 = t0 + day;
    const partial = await history.record('acme', reconcile(snapshot('idp', 'idp', t1, [], short), snapshot('app', 'api', t1, staff.slice(0, 2)), { now: t1 }));
    const stored = (await history.latest('acme', 'spendesk'))!;
    assert.equal(stored.id, partial.id);
    assert.deepEqual(stored.completeness, { complete: false, reasons: [`IdP side (idp read): ${short.reasons[0]}`] });
    assert.equal((await history.lastAudit('acme', 'spendesk'))!.id, audit.id, 'the short read is not an audit');
    assert.deepEqual(
      (await history.openFindings('acme', 'spendesk')).map((f) => [f.person, f.firstSeenAt]),
      staff.map((p) => [p, t0]),
      'every finding of the audit stays open, first seen at the audit',
    );
    // The next complete read still carries the first sighting from the audit.
    const t2 = t0 + 2 * day;
    const next = await history.record('acme', reconcile(snapshot('idp', 'idp', t2, []), snapshot('app', 'api', t2, staff), { now: t2 }));
    assert.deepEqual(next.findings.map((f) => f.firstSeenAt), [t0, t0, t0, t0]);
    assert.equal((await history.lastAudit('acme', 'spendesk'))!.id, next.id);
  });

  it('--via attestations does not replace the last audit of the app itself, nor close its four findings', async () => {
    const { runtime } = await harness();
    const history = runtime.reconciliations;
    await history.record('acme', reconcile(snapshot('idp', 'idp', t0, []), snapshot('app', 'api', t0, staff), { now: t0 }));
    const attested = await history.record('acme', reconcile(snapshot('idp', 'idp', t0 + day, []), snapshot('app', 'attestation', t0 + day, []), { now: t0 + day }));
    assert.equal(attested.findings.length, 0);
    assert.equal((await history.lastAudit('acme', 'spendesk'))!.appSource.kind, 'api');
    assert.equal((await history.openFindings('acme', 'spendesk')).length, 4);
  });

  it('the audit report, its terminal and HTML forms, list the incomplete read first and keep the open findings of the audit', async () => {
    const h = await harness();
    const history = h.runtime.reconciliations;
    await history.record('acme', reconcile(snapshot('idp', 'idp', t0, []), snapshot('app', 'api', t0, staff), { now: t0 }));
    await history.record('acme', reconcile(snapshot('idp', 'idp', t0 + day, [], short), snapshot('app', 'api', t0 + day, []), { now: t0 + day }));
    const loaded = h.profile;
    const contexts = Object.keys(loaded.profile.apps).map((id) => h.services.planner.context(id, loaded));
    const report = await auditReport({ profile: loaded.profile, contexts, history, now: t0 + 2 * day });
    assert.deepEqual(report.incomplete.map((i) => [i.app, i.reasons.length]), [['spendesk', 1]]);
    assert.equal(report.current['spendesk']!.length, 4, 'the short read closed none');
    const html = reconcileReportBody(report);
    assert.ok(html.indexOf('Incomplete reads') > 0 && html.indexOf('Incomplete reads') < html.indexOf('<h2>Audits overdue</h2>'), 'first, before everything else');
    assert.match(html, /page 2 points to a page already read/);
    assert.match(html, /\(incomplete read\)/);
  });

  it('the terminal says INCOMPLETE before anything else, with each reason and what stays open', () => {
    const r = reconcile(snapshot('idp', 'idp', t0, [], short), snapshot('app', 'api', t0, ['x@acme.com']), { now: t0 });
    const text = renderReconciliation(r, { at: t0 - day, findings: 4 });
    const lines = text.split('\n');
    assert.match(lines[0]!, /^INCOMPLETE READ of spendesk: it closes no finding, is not an audit, and --remediate will not act on it\.$/);
    assert.match(lines[1]!, /^ {2}- IdP side \(idp read\): okta: GET/);
    assert.match(text, /The 4 findings of the last audit \(2026-08-31\) stay open\./);
    assert.match(text, /1 findings in what was read \(unconfirmed\): 1 orphaned-account\./);
  });

  it('remediate refuses an incomplete reconciliation before opening anything, in one line', async () => {
    const h = await harness();
    const r = { ...reconcile(snapshot('idp', 'idp', t0, [], short), snapshot('app', 'api', t0, ['x@acme.com']), { now: t0 }), id: 7 };
    await assert.rejects(remediate(h.runtime.runs, h.profile, r, snapshot('idp', 'idp', t0, []), 'tester'), (e: unknown) => {
      assert.ok(e instanceof IncompleteReadError);
      assert.equal(e.exitCode, 1);
      assert.doesNotMatch(e.message, /\n/);
      assert.match(e.message, /^not remediating spendesk: reconciliation 7 rests on an incomplete read \(IdP side .*\); nothing was opened$/);
      return true;
    });
    assert.equal((await h.runtime.store.db.selectFrom('runs').select('id').execute()).length, 0);
  });
});

describe('findings written in bounded batches', () => {
  it(`stores ${3 * findingsBatch * 100 + 7} findings in one transaction, and the terminal lists the first ones without a huge call`, async () => {
    const { runtime } = await harness();
    const n = 3 * findingsBatch * 100 + 7;
    const findings: Finding[] = [];
    for (let i = 0; i < n; i++) findings.push({ kind: 'orphaned-account', app: 'spendesk', person: `p${i}@acme.com`, detail: 'active in spendesk but not assigned', evidence: [], ageMs: 0, firstSeenAt: t0 });
    const big: Reconciliation = { app: 'spendesk', at: t0, idp: source('idp', t0), appSource: source('file', t0), counts: { identities: 0, accounts: n, matched: 0 }, findings };
    const stored = await runtime.reconciliations.record('acme', big);
    assert.equal(Number((await runtime.store.db.selectFrom('reconcile_findings').select((eb) => eb.fn.countAll<number>().as('n')).where('reconciliation_id', '=', stored.id).executeTakeFirstOrThrow()).n), n);
    assert.equal((await runtime.reconciliations.latest('acme', 'spendesk'))!.findings, n);
    const text = renderReconciliation(stored);
    assert.match(text, new RegExp(`… and ${n - 200} more findings \\(--json or --html lists every one\\)\\.$`));
  });
});
