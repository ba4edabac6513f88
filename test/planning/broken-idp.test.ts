import assert from 'node:assert/strict';
import { createServices } from '../../core/container.js';
import type { Plan } from '../../core/schema/types/plan.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { catalogueOf } from '../support/catalogue.js';
import { harness } from '../support/runtime.js';

/** A tenant of the test's own connectors: `idp` as its identity provider, one manual app whose createUser tries JIT first. */
const tenant = (idp: string): TenantProfile => ({ tenant: 'acme', idp: { connector: idp }, apps: { tally: {} }, queues: [{ id: 'it-ops', members: ['it@acme.com'] }] });

describe('a broken identity provider connector', () => {
  // unwired: its manifest and runbooks load, its API routes are implemented by nothing; bad: its manifest fails its schema.
  const catalogue = catalogueOf({ tally: { jit: true }, unwired: { idp: true, broken: 'unwired' }, bad: { idp: true, broken: 'schema' }, fine: { idp: true } });
  const services = createServices({ connectorsDir: [catalogue] });
  const plan = (idp: string, playbook: 'onboard' | 'offboard'): Plan => {
    const profile = tenant(idp);
    return services.planner.plan({ playbook, app: 'tally', subject: { email: 'x@acme.com' } }, { profile: services.profiles.check(profile, 'tenant.json'), file: 'tenant.json' });
  };
  const because = (idp: string) => new RegExp(`^identity provider connector ${idp} is broken: \\S`);

  it('is refused alone in the catalogue', () => {
    assert.deepEqual(services.registry.list().map((c) => c.manifest.id).sort(), ['fine', 'tally']);
    assert.ok(services.registry.brokenReason('unwired'));
    assert.ok(services.registry.brokenReason('bad'));
  });

  it('whose runbooks loaded: the IdP step falls to its own console checklist, its API skipped with the reason', () => {
    const offboard = plan('unwired', 'offboard');
    const step = offboard.steps.find((s) => s.role === 'idp')!;
    assert.equal(step.id, 'unwired-unassign-app');
    assert.deepEqual(step.channels, ['human']);
    const api = step.chain.find((c) => c.channel === 'api')!;
    assert.equal(api.usable, false);
    assert.match(api.reason, because('unwired'));
    assert.match(api.reason, /routes 'assignApp', 'unassignApp' to the api channel/);
    assert.equal(step.chain.find((c) => c.channel === 'human')!.runbook, 'unassign-app');
    assert.match(step.reason, /api skipped: identity provider connector unwired is broken: /);
    assert.ok(offboard.notes.some((n) => /^The identity provider connector unwired is broken: .*; what would go through it is done by people instead\.$/.test(n)), offboard.notes.join('\n'));
    // The app's own steps are planned as with any IdP.
    assert.deepEqual(offboard.steps.filter((s) => s.app === 'tally').map((s) => s.operation), ['deactivateUser', 'getUser']);
  });

  it('whose manifest did not load: the IdP step is a person with the built-in checklist, and says why', () => {
    const offboard = plan('bad', 'offboard');
    const step = offboard.steps[0]!;
    assert.deepEqual([step.id, step.role, step.app, step.operation, step.channels], ['bad-unassign-app', 'idp', 'bad', 'unassignApp', ['human']]);
    assert.equal(step.chain[0]!.runbook, 'unassign-app-by-hand');
    assert.match(step.reason, /identity provider connector bad is broken: \S*bad[/\\]manifest\.json#\/kind: must be one of/);
    assert.equal(step.blocked, undefined);
  });

  it('a step that would go through the IdP (JIT) falls to the next channel, with the reason in its explanation', () => {
    for (const idp of ['unwired', 'bad']) {
      const create = plan(idp, 'onboard').steps.find((s) => s.operation === 'createUser')!;
      const jit = create.chain.find((c) => c.channel === 'idp')!;
      assert.equal(jit.usable, false);
      assert.match(jit.reason, because(idp));
      assert.deepEqual(create.channels, ['human']);
      assert.match(create.reason, new RegExp(`idp skipped: identity provider connector ${idp} is broken: .*human first: a person follows the checklist "add-user"`));
    }
    // The same app with a working IdP keeps the idp channel in its chain: the fallback is the broken connector's doing.
    const working = plan('fine', 'onboard').steps.find((s) => s.operation === 'createUser')!;
    assert.doesNotMatch(working.chain.find((c) => c.channel === 'idp')!.reason, /is broken/);
  });

  it('a run through the built-in checklist reaches done: the IdP task is a person\'s, then the app\'s', async () => {
    const h = await harness({ connectorsDir: [catalogue], profile: tenant('bad') });
    const [started] = await h.start('offboard', 'x@acme.com', { app: 'tally' });
    const first = await h.openTaskOf(started!.run.id);
    const task = await h.runtime.tasks.get(first!);
    assert.equal(task.runbook, 'unassign-app-by-hand');
    assert.equal(task.queue, 'it-ops');
    assert.match(task.title, /^Remove x@acme\.com's Tally assignment in the identity provider \(bad\)$/);
    for (let i = 0; i < 5 && (await h.run(started!.run.id)).status === 'waiting'; i++) await h.completeNext(started!.run.id);
    const run = await h.run(started!.run.id);
    assert.deepEqual([run.status, run.outcome], ['completed', 'done'], JSON.stringify(run));
  });
});
