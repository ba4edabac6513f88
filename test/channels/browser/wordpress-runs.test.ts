import assert from 'node:assert/strict';
import type { StartResult } from '../../../core/engine/port.js';
import { TaskRefusedError } from '../../../core/channels/human/task-store.js';
import { IdentifierStore } from '../../../core/store/identifiers.js';
import { type WordpressConsole, reseedWordpress, startWordpress, withMuPlugin, wordpressState } from '../../fixtures/wordpress/console.js';
import { type Harness, harness } from '../../support/runtime.js';

let wp: WordpressConsole;

/** The demo tenant with WordPress installed: the robot's sign-in from its environment, the content owner as a setting. */
async function wordpressHarness(): Promise<Harness> {
  return await harness({
    env: { WP_ROBOT_LOGIN: wp.robot.login, WP_ROBOT_PASSWORD: wp.robot.password },
    browser: { stepTimeoutMs: 8_000 },
    tweak: (p) => {
      p.apps.wordpress = {
        queue: 'it-ops',
        browserAutomation: 'allowed',
        consoleUrl: wp.url,
        secrets: { adminLogin: 'env:WP_ROBOT_LOGIN', adminPassword: 'env:WP_ROBOT_PASSWORD' },
        settings: { contentOwner: 'Content Keeper (ckeeper)' },
      };
    },
  });
}

async function offboard(h: Harness, email: string, firstName: string, lastName: string) {
  const [{ run }] = (await h.runtime.runs.start(
    [{ source: 'test', request: { playbook: 'offboard', app: 'wordpress', subject: { email, firstName, lastName } } }],
    h.profile,
  )) as [StartResult];
  await h.runtime.runs.settle();
  return run;
}

const runbooksOpened = async (h: Harness, runId: string) =>
  (await h.runtime.tasks.list({ status: 'all' }))
    .filter((t) => t.items.some((i) => i.runId === runId))
    .map((t) => t.runbook);

describe('WordPress offboardings through the engine and the browser channel', function () {
  this.timeout(180_000);

  before(() => {
    wp = startWordpress();
  });
  beforeEach(() => reseedWordpress());

  it('deletes the leaver in the console, attributes her posts to the content owner, and verifies it', async () => {
    const h = await wordpressHarness();
    const run = await offboard(h, 'lena.leaver@acme.test', 'Lena', 'Leaver');
    while ((await h.run(run.id)).status === 'waiting' && (await h.openTaskOf(run.id))) await h.completeNext(run.id); // the IdP unassignment: a person
    const done = await h.run(run.id);
    assert.equal(done.status, 'completed', JSON.stringify(done.waitingFor));
    assert.equal(done.outcome, 'done');
    const steps = Object.fromEntries((await h.runtime.runs.timeline(run.id)).steps.map((s) => [s.stepId, s]));
    assert.equal(steps['wordpress-deactivate-user']!.channel, 'browser');
    assert.equal(steps['wordpress-deactivate-user']!.status, 'done');
    assert.ok(!(await runbooksOpened(h, run.id)).includes('remove-user'), 'no person was asked to delete her');
    const state = wordpressState();
    assert.ok(!state.users.some((u) => u.login === 'lleaver'));
    assert.ok(state.posts.filter((p) => p.title.startsWith("Lena's")).every((p) => p.author === 'ckeeper'));
  });

  it('the email alias (IdP kim.nguyen@, console knguyen@) ends with a person\'s task, never "already done"', async () => {
    const h = await wordpressHarness();
    const run = await offboard(h, 'kim.nguyen@acme.test', 'Kim', 'Nguyen');
    const steps = (await h.runtime.runs.timeline(run.id)).steps;
    assert.ok(!steps.some((s) => s.status === 'already-done'), JSON.stringify(steps.map((s) => [s.stepId, s.status, s.detail])));
    // Past the IdP task, the removal stops at the absence the last-name search contradicts, and goes to a person.
    for (let i = 0; i < 3 && !(await runbooksOpened(h, run.id)).includes('remove-user'); i++) await h.completeNext(run.id);
    assert.ok((await runbooksOpened(h, run.id)).includes('remove-user'), JSON.stringify((await runbooksOpened(h, run.id))));
    const removal = await (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'wordpress-deactivate-user')!;
    assert.notEqual(removal.status, 'already-done');
    assert.ok(wordpressState().users.some((u) => u.login === 'knguyen'));
  });

  it('the email alias with the WordPress user id recorded earlier: the user is found by id and deleted, never "already done"', async () => {
    const h = await wordpressHarness();
    const kim = wordpressState().users.find((u) => u.login === 'knguyen')!;
    // What a reconciliation matched and kept: kim.nguyen@ (IdP) is WordPress user <id>.
    await new IdentifierStore(h.runtime.store).see(h.profile.profile.tenant, 'kim.nguyen@acme.test', 'wordpress', { ids: [String(kim.id)] }, 'reconciliation of wordpress', Date.now() - 60_000);
    const run = await offboard(h, 'kim.nguyen@acme.test', 'Kim', 'Nguyen');
    for (let i = 0; i < 3 && (await h.run(run.id)).status === 'waiting' && (await h.openTaskOf(run.id)) && !(await runbooksOpened(h, run.id)).includes('remove-user'); i++) await h.completeNext(run.id);
    const steps = (await h.runtime.runs.timeline(run.id)).steps;
    const removal = await steps.find((s) => s.stepId === 'wordpress-deactivate-user')!;
    assert.equal(removal.status, 'done', JSON.stringify(steps.map((s) => [s.stepId, s.status, s.detail])));
    assert.equal(removal.channel, 'browser');
    assert.ok(!steps.some((s) => s.status === 'already-done'));
    assert.ok(!(await runbooksOpened(h, run.id)).includes('remove-user'), 'no person was asked to delete her');
    const state = wordpressState();
    assert.ok(!state.users.some((u) => u.login === 'knguyen'), 'deleted in WordPress');
    assert.ok(state.users.some((u) => u.login === 'ckeeper') && state.users.length > 30, 'nobody else was deleted');
  });

  it('a user id recorded earlier that WordPress no longer has proves the absence by id: "already done" for an account that is gone', async () => {
    const h = await wordpressHarness();
    const gone = Math.max(...wordpressState().users.map((u) => u.id)) + 1000;
    await new IdentifierStore(h.runtime.store).see(h.profile.profile.tenant, 'pat.gone@acme.test', 'wordpress', { ids: [String(gone)] }, 'reconciliation of wordpress', Date.now() - 60_000);
    const before = wordpressState().users.length;
    const run = await offboard(h, 'pat.gone@acme.test', 'Pat', 'Nguyen');
    for (let i = 0; i < 3 && (await h.run(run.id)).status === 'waiting' && (await h.openTaskOf(run.id)) && !(await runbooksOpened(h, run.id)).includes('remove-user'); i++) await h.completeNext(run.id);
    const removal = await (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'wordpress-deactivate-user')!;
    // The last name matches knguyen, but the id decides: the search on the last name is not needed.
    assert.equal(removal.status, 'already-done', removal.detail ?? '');
    assert.match(removal.detail ?? '', /the user id recorded earlier/);
    assert.ok(!(await runbooksOpened(h, run.id)).includes('remove-user'));
    assert.equal(wordpressState().users.length, before, 'nothing deleted');
  });

  it('a person who fixed the drift hands the step back to the robot, which then deletes the user', async () => {
    const h = await wordpressHarness();
    const plugin = withMuPlugin('patchbay-relabel', `<?php add_filter('gettext', fn ($t, $text) => $text === 'Confirm Deletion' ? 'Yes, delete for good' : $t, 10, 2);`);
    let removed = false;
    try {
      const run = await offboard(h, 'lena.leaver@acme.test', 'Lena', 'Leaver');
      const idpTask = (await h.openTaskOf(run.id))!;
      // The IdP step was never the robot's: nothing to hand back.
      await assert.rejects(async () => h.runtime.tasks.handBack(idpTask, { by: 'it.oncall@acme.example' }), TaskRefusedError);
      for (let i = 0; i < 3 && !(await runbooksOpened(h, run.id)).includes('remove-user'); i++) await h.completeNext(run.id);
      const removal = (await h.openTaskOf(run.id))!;
      assert.equal((await h.runtime.tasks.get(removal)).runbook, 'remove-user');
      assert.ok((await h.runtime.tasks.get(removal)).content.handedOver?.some((o) => o.channel === 'browser'));
      assert.ok(wordpressState().users.some((u) => u.login === 'lleaver'), 'the drift stopped before deleting');
      plugin.remove();
      removed = true;
      const queue = (await h.runtime.tasks.get(removal)).queue;
      const by = h.profile.profile.queues!.find((q) => q.id === queue)!.members[0]!;
      await h.runtime.tasks.handBack(removal, { by, note: 'the relabelling plugin is gone' });
      await h.runtime.runs.settle();
      const done = await h.run(run.id);
      assert.equal(done.status, 'completed', JSON.stringify(done.waitingFor));
      assert.equal(done.outcome, 'done');
      const step = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'wordpress-deactivate-user')!;
      assert.equal(step.channel, 'browser');
      assert.equal((await h.runtime.tasks.get(removal)).status, 'cancelled');
      assert.ok(!wordpressState().users.some((u) => u.login === 'lleaver'));
      assert.ok((await h.runtime.engine.audit.list({ taskId: removal })).some((e) => e.type === 'task.handed-back'));
    } finally {
      if (!removed) plugin.remove();
    }
  });
});
