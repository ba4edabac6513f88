import assert from 'node:assert/strict';
import { reconcile } from '../../core/reconcile/findings.js';
import { remediate, withoutIdpStep } from '../../core/reconcile/remediate.js';
import type { Plan, PlanStep } from '../../core/schema/types/plan.js';
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

  it("plans an orphan's offboarding without the IdP step, says why in the plan, and its first task is the app's, not the IdP's", async () => {
    const h = await harness();
    const idp = snapshot('idp', [{ email: 'bob@acme.com', active: true }]);
    const app = snapshot('app', [{ email: 'bob@acme.com', active: true }, { email: 'alice@acme.com', active: true }]);
    const result = await h.runtime.reconciliations.record('acme', reconcile(idp, app, { now }));
    const planned = h.services.planner.plan({ playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } }, h.profile, 'test');
    const idpStep = planned.steps.find((s) => s.role === 'idp')!;
    assert.ok(idpStep, 'the ordinary offboarding starts in the IdP');
    const [opened] = await remediate(h.runtime.runs, h.profile, result, idp, 'it.lead@acme.example');
    const run = await h.run(opened!.run);
    assert.deepEqual(run.plan.steps.map((s) => s.id), planned.steps.filter((s) => s.role !== 'idp').map((s) => s.id));
    const why = `Skipped “${idpStep.title}”: reconciliation ${result.id} read idp.csv and found no assignment for alice@acme.com (an orphaned account), so there is none to remove.`;
    assert.equal(run.plan.notes.at(-1), why);
    assert.deepEqual(opened!.skipped, [why]);
    const task = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.notEqual(task.runbook, 'unassign-app', 'no task asks to remove an assignment the IdP does not have');
    assert.ok(!(await h.runtime.runs.timeline(run.id)).steps.some((s) => s.plan.role === 'idp'));
    // An offboarding asked for by other means keeps its IdP step.
    const [{ run: plain }] = await h.start('offboard', 'bob@acme.com');
    assert.ok(plain.plan.steps.some((s) => s.role === 'idp'));
  });

  it('withoutIdpStep rewires what depended on the dropped step and leaves a plan with no IdP step as it was', () => {
    const step = (id: string, role: PlanStep['role'], dependsOn: string[]): PlanStep => ({ id, app: 'x', operation: 'op', title: `Step ${id}`, role, channels: [], chain: [], reason: '', watchOutFor: [], dependsOn });
    const plan: Plan = { playbook: 'offboard', app: 'x', tenant: 't', subject: { email: 'a@b.c' }, approval: false, notes: ['first note'], steps: [step('a', 'check', []), step('i', 'idp', ['a']), step('b', 'action', ['i'])] };
    const without = withoutIdpStep(plan, 'because');
    assert.deepEqual(without.steps.map((s) => [s.id, s.dependsOn]), [['a', []], ['b', ['a']]]);
    assert.deepEqual(without.notes, ['first note', 'Skipped “Step i”: because.']);
    assert.equal(plan.steps.length, 3, 'the plan given is not changed');
    const none = { ...plan, steps: plan.steps.filter((s) => s.role !== 'idp') };
    assert.equal(withoutIdpStep(none, 'because'), none);
  });
});
