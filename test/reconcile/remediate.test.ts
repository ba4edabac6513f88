import assert from 'node:assert/strict';
import { reconcile } from '../../core/reconcile/findings.js';
import { remediate } from '../../core/reconcile/remediate.js';
import { type AccountRecord, completeRead, type Snapshot } from '../../core/reconcile/snapshot.js';
import { harness } from '../support/runtime.js';

const now = Date.parse('2026-11-28T10:00:00Z');
const snapshot = (side: Snapshot['side'], accounts: AccountRecord[]): Snapshot => ({ side, app: 'spendesk', source: { kind: side === 'idp' ? 'idp' : 'file', name: `${side}.csv`, readAt: now }, accounts, completeness: completeRead });

describe('remediation', () => {
  it('opens an offboarding for an orphan and a change to the wanted access for a drift, and leaves the rest to people', async () => {
    const h = await harness();
    const idp = snapshot('idp', [
      { email: 'bob@acme.com', active: true, roles: ['Controller'], teams: ['Finance'] },
      { email: 'new@acme.com', active: true },
    ]);
    const app = snapshot('app', [
      { email: 'bob@acme.com', active: true, roles: ['Requester'], teams: ['Finance'] },
      { email: 'alice@acme.com', active: true },
    ]);
    const result = await h.runtime.reconciliations.record('acme', reconcile(idp, app, { now }));
    assert.deepEqual(result.findings.map((f) => f.kind).sort(), ['access-drift', 'assigned-but-missing', 'orphaned-account']);
    const opened = await remediate(h.runtime.runs, h.profile, result, idp, 'it.lead@acme.example');
    assert.deepEqual(opened.map((o) => [o.kind, o.person, o.created]).sort(), [
      ['access-drift', 'bob@acme.com', true],
      ['orphaned-account', 'alice@acme.com', true],
    ]);
    const change = await h.run(opened.find((o) => o.kind === 'access-drift')!.run);
    assert.equal(change.playbook, 'change');
    assert.deepEqual(change.request.access, { roles: ['Controller'], groups: ['Finance'] });
    assert.equal(change.request.requestedBy, 'it.lead@acme.example');
    assert.match(change.request.reason!, new RegExp(`^reconciliation ${result.id}: bob@acme\\.com has roles \\["Requester"\\], wanted \\["Controller"\\]$`));
    // Again: the same people's runs are open, so nothing new is opened.
    const again = await remediate(h.runtime.runs, h.profile, result, idp, 'it.lead@acme.example');
    assert.deepEqual(again.map((o) => o.created), [false, false]);
    assert.deepEqual(again.map((o) => o.run).sort(), opened.map((o) => o.run).sort());
  });
});
