import assert from 'node:assert/strict';
import { auditReport } from '../../core/reconcile/audit.js';
import type { Reconciliation } from '../../core/reconcile/findings.js';
import { reconcileReportBody } from '../../core/server/reconcile-page.js';
import { harness } from '../support/runtime.js';

const day = 86_400_000;
const now = Date.parse('2026-11-28T12:00:00Z');

const audited = (app: string, at: number, kind: 'file' | 'browser' | 'attestation', findings: number, name = `${app}-members.csv`): Reconciliation => ({
  app,
  at,
  idp: { kind: 'idp', name: 'Okta assignments', readAt: at },
  appSource: { kind, name, readAt: at },
  counts: { identities: 40, accounts: 40 + findings, matched: 40 },
  findings: Array.from({ length: findings }, (_, i) => ({ kind: 'orphaned-account' as const, app, person: `p${i}@acme.com`, detail: `p${i}@acme.com is active`, evidence: [], ageMs: 0, firstSeenAt: at })),
});

async function report(tweak: NonNullable<Parameters<typeof harness>[0]>['tweak'], fill: (record: (r: Reconciliation) => void) => void) {
  const h = await harness({ tweak });
  const recorded: Reconciliation[] = [];
  fill((r) => void recorded.push(r));
  for (const r of recorded) await h.runtime.reconciliations.record(h.profile.profile.tenant, r);
  const contexts = Object.keys(h.profile.profile.apps).map((id) => h.services.planner.context(id, h.profile));
  return await auditReport({ profile: h.profile.profile, contexts, history: h.runtime.reconciliations, now });
}

describe('audit report', () => {
  it('flags the gap node whose last audit is older than its policy, with its readers, last source and age', async () => {
    const r = await report(
      (p) => {
        p.apps.spendesk!.browserAutomation = 'forbidden';
        p.apps.alkami!.auditEveryDays = 365;
      },
      (record) => {
        record(audited('spendesk', now - 120 * day, 'file', 3));
        record(audited('spendesk', now - 10 * day, 'attestation', 1, 'attestations in 4 completed tasks'));
        record(audited('alkami', now - 200 * day, 'file', 0));
        record(audited('6sense', now - 30 * day, 'file', 2));
      },
    );
    const spendesk = r.apps.find((a) => a.app === 'spendesk')!;
    assert.equal(spendesk.gap, true);
    assert.deepEqual(spendesk.readers.map((x) => [x.channel, x.usable]), [['api', false], ['browser', false], ['human', true]]);
    assert.equal(spendesk.lastAudit!.at, now - 120 * day, 'attestations are not an audit');
    assert.equal(spendesk.latest!.appSource.kind, 'attestation');
    assert.deepEqual(r.apps.map((a) => [a.app, a.overdue]), [['spendesk', true], ['6sense', false], ['alkami', false], ['amazinghiring', true]]);
    // Both are gap nodes: the one never audited comes first.
    assert.deepEqual(r.overdue.map((f) => f.app), ['amazinghiring', 'spendesk']);
    const finding = r.overdue.find((f) => f.app === 'spendesk')!;
    assert.equal(finding.kind, 'audit-overdue');
    assert.match(finding.detail, /^Spendesk is a gap node: Patchbay cannot read its accounts here \(api: .*; browser: browser automation is not allowed by the tenant's policy \(apps\.spendesk\.browserAutomation: forbidden\)\), so only an export by its admin audits it; its last audit was 2026-07-31 \(120 days ago, from spendesk-members\.csv\); the policy asks every 90 days$/);
    assert.equal(finding.ageMs, 120 * day);
    assert.equal(finding.evidence[0]!.saw, '43 accounts, 3 findings');
    const never = r.overdue.find((f) => f.app === 'amazinghiring')!;
    assert.match(never.detail, /it has never been audited; the policy asks every 90 days$/);
    assert.equal(never.ageMs, Number.POSITIVE_INFINITY);
    assert.equal(JSON.parse(JSON.stringify(never)).ageMs, null);
  });

  it("lists gap nodes first among the overdue, and follows the tenant's interval", async () => {
    const r = await report(
      (p) => (p.policies = { ...p.policies, auditEveryDays: 150 }),
      (record) => {
        record(audited('spendesk', now - 160 * day, 'browser', 0, 'Spendesk console'));
        record(audited('alkami', now - 120 * day, 'file', 0));
      },
    );
    assert.equal(r.apps.find((a) => a.app === 'spendesk')!.gap, false, 'the console can be read');
    assert.deepEqual(r.overdue.map((f) => f.app), ['6sense', 'amazinghiring', 'spendesk']);
    assert.match(r.overdue.at(-1)!.detail, /^Spendesk can be read by browser \(patchbay reconcile --app spendesk --via browser\); its last audit was .* the policy asks every 150 days$/);
  });

  it('draws findings per app over time as SVG, with the figures in a table, everything escaped', async () => {
    const r = await report(undefined, async (record) => {
      record(audited('spendesk', now - 60 * day, 'file', 4));
      record(audited('spendesk', now - 30 * day, 'file', 2, '<script>alert(1)</script>.csv'));
      record(audited('spendesk', now - 1 * day, 'file', 0));
      record(audited('6sense', now - 20 * day, 'file', 1));
    });
    const html = reconcileReportBody(r);
    const lines = [...html.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1]!.split(' ').length);
    assert.deepEqual(lines, [3, 1], 'one line per app, a point per reconciliation');
    // The highest count sits at the top of the plot, zero on the axis.
    const ys = [...html.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.equal(Math.min(...ys), 12);
    assert.equal(Math.max(...ys), 224);
    assert.match(html, /<title>Spendesk 2026-\d\d-\d\d \d\d:\d\d: 2 findings \(&lt;script&gt;alert\(1\)&lt;\/script&gt;\.csv\)<\/title>/);
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /<td>Spendesk<\/td><td>&lt;script&gt;alert\(1\)&lt;\/script&gt;\.csv<\/td><td>42<\/td><td>2<\/td><td>2 orphaned-account<\/td>/);
    assert.match(html, /<h3>Spendesk<\/h3><p role="status">No findings at the last audit\.<\/p>/);
    assert.match(html, /6sense.*p0@acme\.com is active/s);
  });
});
