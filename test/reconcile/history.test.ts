import assert from 'node:assert/strict';
import { type Finding, type Reconciliation } from '../../core/reconcile/findings.js';
import type { SnapshotSource } from '../../core/reconcile/snapshot.js';
import { harness } from '../support/runtime.js';

const day = 86_400_000;
const t0 = Date.parse('2026-09-01T09:00:00Z');
const source = (kind: SnapshotSource['kind'], readAt: number): SnapshotSource => ({ kind, name: `${kind} read`, readAt });
const finding = (kind: Finding['kind'], person: string, at: number): Finding => ({ kind, app: 'spendesk', person, detail: `${person}: ${kind}`, evidence: [], ageMs: 0, firstSeenAt: at });
const reconciliation = (at: number, findings: Finding[], kind: SnapshotSource['kind'] = 'file'): Reconciliation => ({
  app: 'spendesk',
  at,
  idp: source('idp', at),
  appSource: source(kind, at),
  counts: { identities: 10, accounts: 10, matched: 9 },
  findings,
});

describe('reconciliation history', () => {
  it("carries a finding's first sighting while each reconciliation still shows it, and starts again after one that does not", async () => {
    const { runtime } = await harness();
    const history = runtime.reconciliations;
    const first = await history.record('acme', reconciliation(t0, [finding('orphaned-account', 'alice@acme.com', t0), finding('assigned-but-missing', 'new@acme.com', t0)]));
    assert.deepEqual(first.findings.map((f) => f.firstSeenAt), [t0, t0]);
    const t1 = t0 + 5 * day;
    const second = await history.record('acme', reconciliation(t1, [finding('orphaned-account', 'Alice@acme.com', t1), finding('access-drift', 'bob@acme.com', t1)]));
    assert.deepEqual(second.findings.map((f) => [f.person, f.firstSeenAt]), [['Alice@acme.com', t0], ['bob@acme.com', t1]]);
    const t2 = t0 + 6 * day;
    await history.record('acme', reconciliation(t2, []));
    const t3 = t0 + 7 * day;
    const fourth = await history.record('acme', reconciliation(t3, [finding('orphaned-account', 'alice@acme.com', t3)]));
    assert.equal(fourth.findings[0]!.firstSeenAt, t3, 'a finding that went away and came back is new');
    // Another tenant's reconciliations are its own.
    assert.equal((await history.record('globex', reconciliation(t3, [finding('orphaned-account', 'alice@acme.com', t3)]))).findings[0]!.firstSeenAt, t3);

    const listed = await history.list('acme');
    assert.deepEqual(listed.map((r) => [r.at, r.findings, r.byKind]), [
      [t0, 2, { 'orphaned-account': 1, 'assigned-but-missing': 1 }],
      [t1, 2, { 'orphaned-account': 1, 'access-drift': 1 }],
      [t2, 0, {}],
      [t3, 1, { 'orphaned-account': 1 }],
    ]);
    assert.deepEqual((await history.list('acme', { since: t2 })).map((r) => r.at), [t2, t3]);
    assert.deepEqual((await history.findingsOf(listed[1]!.id)).map((f) => [f.kind, f.firstSeenAt]), [['access-drift', t1], ['orphaned-account', t0]]);
  });

  it('counts a reconciliation against attestations alone as no audit', async () => {
    const { runtime } = await harness();
    const history = runtime.reconciliations;
    await history.record('acme', reconciliation(t0, [], 'browser'));
    await history.record('acme', reconciliation(t0 + day, [], 'attestation'));
    assert.equal((await history.lastAudit('acme', 'spendesk'))!.at, t0);
    assert.equal((await history.list('acme', { app: 'spendesk' })).at(-1)!.appSource.kind, 'attestation');
    assert.equal(await history.lastAudit('acme', 'okta'), undefined);
  });
});
