import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import type { Evidence } from '../../../core/channels/executor.js';
import type { StartResult } from '../../../core/engine/port.js';
import { type Harness, harness } from '../../support/runtime.js';
import { consoleAdmin, consoleEnv, consoleHarness, spendeskConsole } from '../../support/spendesk-console.js';

async function offboard(h: Harness, email: string) {
  const [{ run }] = (await h.start('offboard', email)) as [StartResult];
  return run;
}

const runbooksOpened = async (h: Harness, runId: string) =>
  (await h.runtime.tasks.list({ status: 'all' }))
    .filter((t) => t.items.some((i) => i.runId === runId))
    .map((t) => t.runbook);

/** Every file the run left behind: the store (with its WAL) and every evidence file, as bytes. */
function everythingStored(h: Harness): Buffer {
  const files = readdirSync(h.dataDir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.join(f.parentPath, f.name));
  return Buffer.concat(files.map((f) => readFileSync(f)));
}

function assertFileEvidence(evidence: readonly Evidence[], kind: Evidence['kind']): void {
  const files = evidence.filter((e) => e.kind === kind && e.file);
  assert.ok(files.length > 0, `some ${kind} evidence in ${JSON.stringify(evidence.map((e) => e.kind))}`);
  for (const e of files) {
    assert.ok(existsSync(e.file!.path), e.file!.path);
    assert.equal(createHash('sha256').update(readFileSync(e.file!.path)).digest('hex'), e.file!.sha256);
  }
}

describe('Spendesk runs through the browser channel', function () {
  this.timeout(90_000);

  it('offboards a plain member by browser: the check rules out the preconditions, the console removes, the console verifies', async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim);
    const run = await offboard(h, 'alice@acme.com');
    await h.completeNext(run.id); // the Okta unassignment (no Okta API in the demo tenant): a person
    const done = await h.run(run.id);
    assert.equal(done.status, 'completed', JSON.stringify(done.waitingFor));
    assert.equal(done.outcome, 'done');
    assert.deepEqual((await runbooksOpened(h, run.id)), ['unassign-app']);
    assert.deepEqual(
      sim.state.removed.map((m) => m.email),
      ['alice@acme.com'],
    );
    assert.deepEqual(
      sim.state.removed[0]!.cards.map((c) => c.status),
      ['deactivated'],
    );
    const steps = Object.fromEntries((await h.runtime.runs.timeline(run.id)).steps.map((s) => [s.stepId, s]));
    assert.match(steps['spendesk-check']!.detail!, /Read one member's page: alice@acme\.com is listed \(status: Active\)/);
    assert.match(steps['spendesk-transfer-ownership']!.detail!, /not needed: the check read roles: Requester/);
    assert.match(steps['spendesk-reassign-approvals']!.detail!, /not needed: the check read pendingApprovals: 0, teamsManaged: 0/);
    assert.match(steps['spendesk-transfer-subscriptions']!.detail!, /not needed: the check read subscriptions: 0, subscriptionCards: 0/);
    assert.equal(steps['spendesk-deactivate-user']!.status, 'done');
    assert.equal(steps['spendesk-deactivate-user']!.channel, 'browser');
    assertFileEvidence(steps['spendesk-deactivate-user']!.evidence, 'screenshot');
    assert.match(steps['spendesk-verify']!.detail!, /verified: alice@acme\.com has no account/);
    // The robot's credentials are in no row, no journal entry, no audit event and no evidence file.
    const stored = everythingStored(h);
    for (const secret of [consoleAdmin.password, consoleAdmin.email]) assert.equal(stored.indexOf(secret), -1, 'a secret was stored');
    assert.equal((await h.runtime.engine.audit.verify()).broken, undefined);
  });

  it('opens only the preconditions the member page shows: approvals and subscriptions for Bob, not the owner transfer', async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim);
    const run = await offboard(h, 'bob@acme.com');
    await h.completeNext(run.id);
    await h.completeNext(run.id);
    await h.completeNext(run.id);
    assert.equal((await h.run(run.id)).status, 'completed');
    assert.deepEqual((await runbooksOpened(h, run.id)), ['unassign-app', 'reassign-approvals', 'transfer-subscriptions']);
  });

  it("a removal refused for the owner role after the transfer task was completed reopens the transfer in finance's queue with its history, then removes her", async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim);
    const run = await offboard(h, 'olivia@acme.com');
    await h.completeNext(run.id); // the Okta unassignment
    const firstId = (await h.openTaskOf(run.id))!;
    const first = await h.runtime.tasks.get(firstId);
    assert.equal(first.runbook, 'transfer-ownership');
    assert.equal(first.queue, 'finance-admins');
    // Finance says it is done, but nobody transferred anything: the console still refuses the removal.
    await h.completeNext(run.id);
    const againId = (await h.openTaskOf(run.id))!;
    assert.notEqual(againId, firstId);
    const again = await h.runtime.tasks.get(againId);
    assert.equal(again.runbook, 'transfer-ownership', 'the owner transfer is reopened, not the removal');
    assert.equal(again.queue, 'finance-admins', 'in the queue the plan gave the transfer, not it-ops');
    assert.equal(again.items[0]!.stepId, 'spendesk-transfer-ownership~2');
    const [earlier, refusal, read] = again.content.handedOver!;
    assert.equal(earlier!.channel, 'human');
    assert.match(earlier!.detail, new RegExp(`^done by finance\\.admin@acme\\.example in task ${firstId}, but it was not effective: the console still refuses “[^”]+”: .*Account Owner`));
    assert.ok(earlier!.evidence.some((e) => e.by === 'finance.admin@acme.example'), 'what finance said is carried');
    assert.equal(refusal!.channel, 'browser');
    assert.match(refusal!.detail, /blocked in remove-member at "blockers\?": the console refuses the removal: .*Olivia Owner is the Account Owner\. Transfer the Account Owner role before removing them\./);
    assertFileEvidence(refusal!.evidence, 'screenshot');
    assert.equal(read!.channel, 'browser');
    assert.match(read!.detail, /^read again after the refusal: Read one member's page: olivia@acme\.com is listed/);
    assertFileEvidence(read!.evidence, 'screenshot');
    assert.match(read!.evidence.find((e) => e.kind === 'read')!.read!.roles!, /Account Owner/);
    // The earlier completion is marked not effective, in the audit log and on the step.
    const timeline = await h.runtime.runs.timeline(run.id);
    const marked = timeline.audit.find((a) => a.type === 'step.completion-not-effective')!;
    assert.equal(marked.data.step, 'spendesk-transfer-ownership');
    assert.match(String(marked.data.earlier), new RegExp(firstId));
    const transfer = timeline.steps.find((s) => s.stepId === 'spendesk-transfer-ownership')!;
    assert.equal(transfer.status, 'running');
    assert.ok(transfer.evidence.some((e) => /^not effective: done by finance\.admin@acme\.example in task/.test(e.summary)));
    assert.ok(sim.state.byEmail('olivia@acme.com'), 'nothing was removed');
    // Now the ownership really moves, finance completes the reopened task, and the removal runs again.
    const events = sim.state.events.length;
    sim.state.transferOwnership(sim.state.byEmail('olivia@acme.com')!, sim.state.byEmail('bob@acme.com')!);
    assert.ok(sim.state.events.length > events);
    await h.completeNext(run.id);
    const done = await h.run(run.id);
    assert.deepEqual([done.status, done.outcome], ['completed', 'done'], JSON.stringify(done));
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['olivia@acme.com']);
    assert.deepEqual((await runbooksOpened(h, run.id)).sort(), ['transfer-ownership', 'transfer-ownership', 'unassign-app'], 'no removal task for it-ops');
    const steps = (await h.runtime.runs.timeline(run.id)).steps;
    assert.equal(steps.find((s) => s.stepId === 'spendesk-transfer-ownership')!.status, 'done');
    assert.equal(steps.find((s) => s.stepId === 'spendesk-deactivate-user')!.channel, 'browser');
  });

  it('a removal the console still refuses after the reopened owner transfer was completed twice goes to a person with the blocker', async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim);
    const run = await offboard(h, 'olivia@acme.com');
    while ((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook !== 'remove-member') await h.completeNext(run.id);
    assert.deepEqual((await runbooksOpened(h, run.id)).sort(), ['remove-member', 'transfer-ownership', 'transfer-ownership', 'transfer-ownership', 'unassign-app'], 'reopened twice at most');
    const task = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.match(task.content.handedOver![0]!.detail, /Transfer the Account Owner role before removing them/);
    assert.equal((await h.runtime.runs.timeline(run.id)).audit.filter((a) => a.type === 'step.completion-not-effective').length, 2);
  });

  for (const { who, country, blocker } of [
    {
      who: 'bob@acme.com',
      country: 'GB',
      blocker: /UK companies cannot remove a member with active subscription cards: cancel •••• 7710 first/,
    },
  ]) {
    it(`a removal the console refuses (${country === 'GB' ? 'UK subscription card' : 'owner role'}) becomes a person's task with the blocker and the screenshot`, async () => {
      const sim = await spendeskConsole({
        change: (s) => ((s as Record<string, any>).company.country = country),
      });
      const h = await consoleHarness(sim, (p) => (p.apps.spendesk!.features!['uk-entity'] = country === 'GB'));
      const run = await offboard(h, who);
      // The preconditions are marked done by people who did not really clear them: the console still refuses.
      while ((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook !== 'remove-member') await h.completeNext(run.id);
      const task = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
      assert.equal(task.queue, 'it-ops');
      const handedOver = task.content.handedOver!;
      assert.equal(handedOver[0]!.channel, 'browser');
      assert.match(handedOver[0]!.detail, /blocked in remove-member at "blockers\?": the console refuses the removal: .*/);
      assert.match(handedOver[0]!.detail, blocker);
      assertFileEvidence(handedOver[0]!.evidence, 'screenshot');
      assert.ok((await h.runtime.runs.timeline(run.id)).audit.some((a) => a.type === 'browser.blocked' && a.data.at === 'blockers?'));
      assert.ok(sim.state.byEmail(who), 'nothing was removed');
    });
  }

  it('when the console drifts, hands the removal to a person with the drift and its screenshot; the run completes when they do it', async () => {
    const sim = await spendeskConsole({
      variant: { removeButtonLabel: 'Delete this member' },
    });
    const h = await consoleHarness(sim);
    const run = await offboard(h, 'alice@acme.com');
    await h.completeNext(run.id);
    const taskId = (await h.openTaskOf(run.id))!;
    const task = await h.runtime.tasks.get(taskId);
    assert.equal(task.runbook, 'remove-member');
    const drift = task.content.handedOver![0]!;
    assert.match(
      drift.detail,
      /^recipe drift in remove-member at step 11 "start removal": role=button\[name="Remove the member from your company"\] was not there/,
    );
    assertFileEvidence(drift.evidence, 'screenshot');
    const html = drift.evidence.find((e) => e.file?.name.endsWith('.html'))!;
    assert.match(readFileSync(html.file!.path, 'utf8'), /Delete this member/);
    const audit = (await h.runtime.runs.timeline(run.id)).audit.find((a) => a.type === 'browser.drift')!;
    assert.deepEqual([audit.data.recipe, audit.data.at], ['remove-member', 'start removal']);
    // The person removes the member in the console, and says so; the browser verifies it.
    sim.state.remove(sim.state.byEmail('alice@acme.com')!);
    await h.completeNext(run.id);
    assert.equal((await h.run(run.id)).outcome, 'done');
    assert.equal((await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-verify')!.channel, 'browser');
    const stored = everythingStored(h);
    assert.equal(stored.indexOf(consoleAdmin.password), -1);
  });

  it('a person says "done" but the console still lists the member: the removal reopens with the finding, and verifies once really done', async () => {
    const sim = await spendeskConsole({ variant: { removeButtonLabel: 'Delete this member' } });
    const h = await consoleHarness(sim);
    const run = await offboard(h, 'alice@acme.com');
    await h.completeNext(run.id); // Okta
    const first = await h.completeNext(run.id); // "done", says the person, but alice is still a member
    const reopened = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.notEqual(reopened.id, first);
    assert.equal(reopened.runbook, 'remove-member');
    assert.match(reopened.content.handedOver![0]!.detail, /^reopened because the verification found it not done: verification failed: expected absent, but alice@acme\.com is active/);
    assertFileEvidence(reopened.content.handedOver![0]!.evidence, 'screenshot');
    assert.ok((await h.runtime.runs.timeline(run.id)).audit.some((a) => a.type === 'step.reopened' && a.data.round === 2));
    // This time the person really removes her.
    sim.state.remove(sim.state.byEmail('alice@acme.com')!);
    await h.completeNext(run.id);
    assert.equal((await h.run(run.id)).outcome, 'done');
  });

  it('after two reopenings still not done, the run fails with the finding', async () => {
    const sim = await spendeskConsole({ variant: { removeButtonLabel: 'Delete this member' } });
    const h = await consoleHarness(sim);
    const run = await offboard(h, 'alice@acme.com');
    for (let i = 0; i < 4; i++) await h.completeNext(run.id); // Okta, then "done" three times without doing it
    assert.equal((await h.run(run.id)).status, 'failed');
    const audit = JSON.stringify((await h.runtime.runs.timeline(run.id)).audit.filter((a) => a.type.startsWith('run.')));
    assert.match(audit, /verification failed: expected absent, but alice@acme\.com is active/);
  });

  it('onboards a batch of joiners with one xlsx import, attached as evidence, and verifies each in the console', async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim, (p) => (p.apps.spendesk!.features!.sso = false));
    const joiners = ['ines@acme.com', 'jules@acme.com', 'alice@acme.com'];
    const runs = (await h.start('onboard', joiners)).map((r) => r.run);
    const current = () => Promise.all(runs.map((r) => h.run(r.id)));
    for (let guard = 0; guard < 20 && (await current()).some((r) => r.status === 'waiting'); guard++) {
      const waiting = (await current()).find((r) => r.status === 'waiting')!;
      await h.completeNext(waiting.id); // the Okta assignment, batched for the three
    }
    assert.deepEqual(
      (await current()).map((r) => [r.status, r.outcome]),
      runs.map(() => ['completed', 'done']),
    );
    assert.deepEqual(
      sim.state.events.filter((e) => e.type === 'imported').map((e) => e.detail),
      ['2 of 3'],
    );
    assert.equal(sim.state.byEmail('ines@acme.com')!.status, 'invited');
    const create = async (email: string) => (await h.runtime.runs.timeline(runs[joiners.indexOf(email)]!.id)).steps.find((s) => s.stepId === 'spendesk-create-user')!;
    assert.match((await create('ines@acme.com')).detail!, /imported with the batch's template: ines@acme\.com → Invited/);
    assert.match((await create('alice@acme.com')).detail!, /the console says: User exists/);
    assert.equal((await create('alice@acme.com')).status, 'already-done');
    const xlsx = (await create('jules@acme.com')).evidence.find((e) => e.file?.name.endsWith('.xlsx'))!;
    const book = new ExcelJS.Workbook();
    await book.xlsx.readFile(xlsx.file!.path);
    assert.deepEqual(book.getWorksheet('Members')!.getColumn(3).values.slice(2), [...joiners].sort());
  });

  it("a worker drives offboardings side by side (--concurrency 3): their browser jobs overlap, never more than 3 at once, the contexts reuse the robot's session, each member is removed once", async function () {
    const extra = ['leaver0@acme.com', 'leaver1@acme.com', 'leaver2@acme.com'];
    const sim = await spendeskConsole({
      change: (seed) => {
        for (const email of extra) (seed as Record<string, any>).members.push({ firstName: 'Leaver', lastName: email, email, roles: ['Requester'], teams: ['Sales'], approvalPolicy: 'Default', cards: [], subscriptions: [], pendingApprovals: 0 });
      },
    });
    // Steps may wait 10 s (not the usual 2 s): side by side on a loaded machine each job gets a share of the cores.
    const h = await harness({ env: consoleEnv, browser: { stepTimeoutMs: 10_000 }, tweak: (p) => void (p.apps.spendesk!.consoleUrl = sim.url) });
    const concurrency = 3;
    this.timeout(300_000); // four runs, a dozen browser jobs: minutes on a loaded machine
    h.runtime.browser.contexts = concurrency;
    const leavers = ['alice@acme.com', ...extra];
    const runs = [];
    // Recorded only, as the server does: the worker's passes drive them.
    for (const email of leavers) runs.push((await h.runtime.runs.start([{ source: 'test', request: { playbook: 'offboard', app: 'spendesk', subject: { email } } }], h.profile, { drive: false }))[0]!.run);
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, h.runtime.browser.busy)), 5);
    try {
      await h.runtime.runs.settle({ concurrency });
      // What people do (the Okta unassignment, a member's own precondition), then the worker's next pass.
      for (let round = 0; round < 4; round++) {
        for (const run of runs) {
          const taskId = await h.openTaskOf(run.id);
          if (!taskId) continue;
          const task = await h.runtime.tasks.get(taskId);
          const by = h.profile.profile.queues?.find((q) => q.id === task.queue)?.members[0] ?? 'someone';
          await h.runtime.tasks.complete(taskId, { by, evidence: task.content.runbook.evidence.filter((e) => e.required).map((e) => ({ text: `seen: ${e.label}` })) });
        }
        await h.runtime.runs.settle({ concurrency });
      }
    } finally {
      clearInterval(sample);
    }
    for (const run of runs) {
      const done = await h.run(run.id);
      const said = (await h.runtime.runs.timeline(run.id)).steps.filter((st) => st.status !== 'done' && st.status !== 'skipped').map((st) => `${st.stepId}: ${st.status} ${st.detail}`);
      assert.equal(done.status, 'completed', `${run.subject}: ${JSON.stringify(done.waitingFor)}; ${said.join('; ')}`);
      assert.equal(done.outcome, 'done');
    }
    assert.ok(most >= 2, `browser jobs overlapped (at most ${most} at once)`);
    assert.ok(most <= concurrency, `never more than ${concurrency} at once (${most})`);
    for (const email of leavers) assert.equal(sim.state.events.filter((e) => e.type === 'removed' && e.email === email).length, 1, email);
    const signIns = sim.state.events.filter((e) => e.type === 'signed-in').length;
    assert.ok(signIns <= concurrency, `at most one sign-in per context at the start, then the session is carried (${signIns} sign-ins)`);
    assert.equal((await h.runtime.engine.audit.verify()).broken, undefined);
  });
});
