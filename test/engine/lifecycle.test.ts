import assert from 'node:assert/strict';
import { TaskRefusedError } from '../../core/channels/human/task-store.js';
import type { StartResult } from '../../core/engine/port.js';
import { caughtAsync } from '../support/fixtures.js';
import { harness, hour } from '../support/runtime.js';
import { assertWalksIndex } from './query-plan.js';

describe('Spendesk runs on the embedded engine', () => {
  describe('offboarding', () => {
    it('runs from the IdP to verification, one task at a time, and completes as done', async () => {
      const h = await harness();
      const [{ run, created }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      assert.equal(created, true);
      assert.equal(run.status, 'waiting');
      const opened: string[] = [];
      while ((await h.run(run.id)).status === 'waiting') {
        const taskId = await h.completeNext(run.id);
        opened.push((await h.runtime.tasks.get(taskId)).runbook);
      }
      assert.deepEqual(opened, ['unassign-app', 'transfer-ownership', 'reassign-approvals', 'transfer-subscriptions', 'remove-member', 'confirm-member-status']);
      const done = await h.run(run.id);
      assert.equal(done.status, 'completed');
      assert.equal(done.outcome, 'done');
      const timeline = await h.runtime.runs.timeline(run.id);
      // The robot's console password is not set in this environment: the check cannot read, and says so.
      const check = timeline.steps.find((s) => s.stepId === 'spendesk-check')!;
      assert.equal(check.status, 'skipped');
      assert.match(check.detail!, /could not read, so every step goes on as if the account were there: secret env:SPENDESK_ADMIN_EMAIL: the environment variable is not set/);
      const others = timeline.steps.filter((s) => s !== check);
      assert.ok(others.every((s) => s.status === 'done'), JSON.stringify(timeline.steps.map((s) => s.status)));
      assert.ok(others.every((s) => s.evidence.length > 0), 'every step keeps its evidence');
      // The browser could not sign in, so the person who removed the member was told why they had the task.
      assert.ok(timeline.audit.some((a) => a.type === 'browser.blocked' && a.data.step === 'spendesk-deactivate-user'));
      const removal = (await h.runtime.tasks.list({ status: 'all' })).find((t) => t.runbook === 'remove-member')!;
      assert.match((await h.runtime.tasks.get(removal.id)).content.handedOver![0]!.detail, /SPENDESK_ADMIN_EMAIL/);
    });

    it('sends owner-role transfers to the finance queue and refuses an operator from another queue', async () => {
      const h = await harness();
      const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      await h.completeNext(run.id);
      const taskId = (await h.openTaskOf(run.id))!;
      assert.equal((await h.runtime.tasks.get(taskId)).queue, 'finance-admins');
      const error = await caughtAsync(TaskRefusedError, () => h.runtime.tasks.complete(taskId, { by: 'it.oncall@acme.example', evidence: [{ text: 'x' }] }));
      assert.match(error.message, /it\.oncall@acme\.example is not a member of queue finance-admins \(members: finance\.admin@acme\.example\)/);
      assert.equal((await h.runtime.tasks.get(taskId)).status, 'open');
    });

    it('refuses a task completed twice, and one completed without the evidence its runbook asks for', async () => {
      const h = await harness();
      const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      const taskId = (await h.openTaskOf(run.id))!;
      const noEvidence = await caughtAsync(TaskRefusedError, () => h.runtime.tasks.complete(taskId, { by: 'it.oncall@acme.example', evidence: [] }));
      assert.match(noEvidence.message, /evidence is required: "The person no longer appears under the app's assignments" \(attestation\)/);
      await h.completeNext(run.id);
      const twice = await caughtAsync(TaskRefusedError, () => h.runtime.tasks.complete(taskId, { by: 'it.oncall@acme.example', evidence: [{ text: 'again' }] }));
      assert.match(twice.message, /already completed by it\.oncall@acme\.example on .*; nothing was changed/);
      assert.equal((await h.runtime.tasks.itemsOfRun(run.id)).filter((i) => i.taskId === taskId).length, 1);
    });

    it('with HR sync on, hands the removal to the HR tool', async () => {
      const h = await harness({ tweak: (p) => (p.apps.spendesk!.features!['hr-sync'] = true) });
      const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      const runbooks: string[] = [];
      while ((await h.run(run.id)).status === 'waiting') runbooks.push((await h.runtime.tasks.get(await h.completeNext(run.id))).runbook);
      assert.ok(runbooks.includes('deactivate-in-hr-tool'));
      assert.ok(!runbooks.includes('remove-member'));
      assert.equal((await h.runtime.tasks.get((await h.runtime.tasks.list({ status: 'all' })).find((t) => t.runbook === 'deactivate-in-hr-tool')!.id)).queue, 'people-ops');
    });

    it('completes as "already done" when the person says the member was already gone', async () => {
      const h = await harness();
      const [{ run }] = (await h.start('offboard', 'gone@acme.com')) as [StartResult];
      await h.completeNext(run.id); // the IdP
      for (let i = 0; i < 4; i++) await h.completeNext(run.id, { alreadyDone: true });
      await h.completeNext(run.id); // verification
      const finished = await h.run(run.id);
      assert.equal(finished.outcome, 'already-done');
      assert.match((await h.runtime.runs.timeline(run.id)).audit.at(-1)!.data.summary as string, /already done \(verified by a person\): gone@acme\.com had nothing left to offboard in Spendesk/);
    });

    it('a failed task escalates up the queue chain, then fails the run', async () => {
      const h = await harness();
      const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      await h.completeNext(run.id);
      const first = (await h.openTaskOf(run.id))!;
      await h.runtime.tasks.fail(first, { by: 'finance.admin@acme.example', reason: 'Spendesk support must do this' });
      await h.runtime.runs.settle();
      const second = (await h.openTaskOf(run.id))!;
      assert.notEqual(second, first);
      assert.equal((await h.runtime.tasks.get(second)).queue, 'it-leads');
      await h.runtime.tasks.fail(second, { by: 'it.lead@acme.example', reason: 'still blocked' });
      await h.runtime.runs.settle();
      const failed = await h.run(run.id);
      assert.equal(failed.status, 'failed');
      assert.match((await h.runtime.runs.timeline(run.id)).audit.at(-1)!.data.summary as string, /Transfer owner roles: task .* failed by it\.lead@acme\.example: still blocked/);
      assert.ok((await h.runtime.runs.timeline(run.id)).audit.some((a) => a.type === 'step.escalated' && a.data.to === 'it-leads'));
    });
  });

  describe('onboarding', () => {
    it('takes evidence of a JIT account, then asks a person for role, teams and policy', async () => {
      const h = await harness();
      const [{ run }] = (await h.start('onboard', 'bob@acme.com')) as [StartResult];
      await h.completeNext(run.id); // assign in Okta
      assert.equal((await h.run(run.id)).waitingFor, 'evidence:spendesk-create-user');
      await h.runtime.runs.giveEvidence(run.id, 'spendesk-create-user', 'okta-log', 'user.authentication.sso to Spendesk at 09:12');
      const taskId = (await h.openTaskOf(run.id))!;
      assert.equal((await h.runtime.tasks.get(taskId)).runbook, 'set-access');
      const create = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-create-user')!;
      assert.equal(create.status, 'done');
      assert.equal(create.channel, 'idp');
      assert.match(create.evidence[0]!.summary, /user\.authentication\.sso/);
    });

    it('falls back to an invitation when no evidence comes within the JIT wait', async () => {
      const h = await harness();
      const [{ run }] = (await h.start('onboard', 'bob@acme.com')) as [StartResult];
      await h.completeNext(run.id);
      h.clock.advance(23 * hour);
      await h.runtime.runs.settle();
      assert.equal((await h.run(run.id)).waitingFor, 'evidence:spendesk-create-user');
      h.clock.advance(2 * hour);
      await h.runtime.runs.settle();
      const taskId = (await h.openTaskOf(run.id))!;
      assert.equal((await h.runtime.tasks.get(taskId)).runbook, 'invite-member');
      assert.ok((await h.runtime.runs.timeline(run.id)).audit.some((a) => a.type === 'channel.failed' && /no evidence of a JIT account within 24 h/.test(String(a.data.detail))));
      while ((await h.run(run.id)).status === 'waiting') await h.completeNext(run.id);
      assert.equal((await h.run(run.id)).outcome, 'done');
    });
  });

  describe('idempotency', () => {
    it('returns the open run for the same person instead of starting another', async () => {
      const h = await harness();
      const [first] = await h.start('offboard', 'alice@acme.com');
      const [second] = await h.start('offboard', 'ALICE@acme.com');
      assert.equal(second!.created, false);
      assert.equal(second!.run.id, first!.run.id);
      assert.equal((await h.runtime.tasks.list()).length, 1);
    });

    it('returns the run of the same idempotency key, even after it finished', async () => {
      const h = await harness();
      const [first] = await h.start('offboard', 'alice@acme.com', { idempotencyKey: 'ticket-42' });
      await h.runtime.runs.cancel(first!.run.id, 'test', 'it.oncall@acme.example');
      const [again] = await h.start('offboard', 'alice@acme.com', { idempotencyKey: 'ticket-42' });
      assert.equal(again!.run.id, first!.run.id);
      assert.equal(again!.created, false);
      const [fresh] = await h.start('offboard', 'alice@acme.com', { idempotencyKey: 'ticket-43' });
      assert.equal(fresh!.created, true);
    });

    it('starts nothing when one request of many is bad', async () => {
      const h = await harness();
      await assert.rejects(h.start('offboard', ['a@acme.com', 'not-an-email']), /test#\/subject\/email: must be a valid email/);
      assert.equal((await h.runtime.engine.list()).length, 0);
    });
  });

  describe('batches', () => {
    it('puts batchable human work for several people in one task with a section each', async () => {
      const h = await harness();
      const results = await h.start('offboard', ['a@acme.com', 'b@acme.com', 'c@acme.com']);
      const tasks = await h.runtime.tasks.list();
      assert.equal(tasks.length, 1);
      assert.equal(tasks[0]!.title, "Remove 3 people's Spendesk assignment in Okta");
      assert.deepEqual(tasks[0]!.items.map((i) => i.email), ['a@acme.com', 'b@acme.com', 'c@acme.com']);
      await h.runtime.tasks.complete(tasks[0]!.id, { by: 'it.oncall@acme.example', evidence: [{ text: 'b unassigned' }], person: 'b@acme.com' });
      await h.runtime.runs.settle();
      assert.equal((await h.runtime.tasks.get(tasks[0]!.id)).status, 'open');
      await h.runtime.tasks.complete(tasks[0]!.id, { by: 'it.oncall@acme.example', evidence: [{ text: 'a and c unassigned' }] });
      await h.runtime.runs.settle();
      assert.equal((await h.runtime.tasks.get(tasks[0]!.id)).status, 'completed');
      // Ownership transfer is not batchable: one task per person.
      const next = (await Promise.all(results.map((r) => h.openTaskOf(r.run.id)))) as string[];
      assert.equal(new Set(next).size, 3);
    });
  });

  describe('task views for a page', () => {
    it('reads many tasks in the order asked, each equal to its own read, and leaves out unknown ids', async () => {
      const h = await harness();
      const [{ run: a }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      const [{ run: b }] = (await h.start('offboard', 'bob@acme.com')) as [StartResult];
      const [{ run: c }] = (await h.start('offboard', 'carol@acme.com')) as [StartResult];
      const ids = (await Promise.all([c, a, b].map((r) => h.openTaskOf(r.id)))) as string[];
      const many = await h.runtime.tasks.getMany([ids[0]!, 'task_missing', ids[1]!, ids[2]!]);
      assert.deepEqual(many.map((t) => t.id), ids);
      assert.deepEqual(many, await Promise.all(ids.map((id) => h.runtime.tasks.get(id))));
      assert.deepEqual(many[0]!.items.map((i) => i.email), ['carol@acme.com']);
      assert.deepEqual(await h.runtime.tasks.getMany([]), []);
    });
  });

  describe('escalation of overdue tasks', () => {
    it('moves the task to the escalation queue, audits it and notifies the webhook', async () => {
      const { createServer } = await import('node:http');
      const received: any[] = [];
      const server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c)).on('end', () => {
          received.push(JSON.parse(body));
          res.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      after(() => server.close());
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks/patchbay`;
      const h = await harness({ tweak: (p) => (p.notifications = { webhook: { url } }) });
      const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      const taskId = (await h.openTaskOf(run.id))!;
      h.clock.advance(3 * hour);
      await h.runtime.runs.settle();
      assert.equal((await h.runtime.tasks.get(taskId)).queue, 'it-ops', 'not overdue yet');
      h.clock.advance(2 * hour);
      await h.runtime.runs.settle();
      const task = await h.runtime.tasks.get(taskId);
      assert.equal(task.queue, 'it-leads');
      assert.equal(task.escalations, 1);
      const escalations = () => received.filter((e) => e.type === 'dev.patchbay.task.escalated');
      assert.equal(escalations().length, 1, JSON.stringify(await h.runtime.store.db.selectFrom('outbox').selectAll().execute()));
      assert.equal(escalations()[0].data.task, taskId);
      assert.equal(escalations()[0].data.to, 'it-leads');
      assert.ok((await h.runtime.engine.audit.list({ taskId })).some((a) => a.type === 'task.escalated'));
      await h.runtime.runs.settle();
      assert.equal(escalations().length, 1, 'delivered once');
    });

    it('escalates only the tasks past due, read from the due-time index of open tasks without a scan or a sort', async () => {
      const h = await harness();
      const [{ run: early }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
      h.clock.advance(2 * hour);
      const [{ run: late }] = (await h.start('offboard', 'bob@acme.com')) as [StartResult];
      const earlyTask = (await h.openTaskOf(early.id))!;
      const lateTask = (await h.openTaskOf(late.id))!;
      assert.notEqual(earlyTask, lateTask, 'one task per person here');
      h.clock.advance(3 * hour);
      await h.runtime.runs.settle();
      assert.equal((await h.runtime.tasks.get(earlyTask)).escalations, 1, 'the task 5 h old is past due');
      assert.equal((await h.runtime.tasks.get(lateTask)).escalations, 0, 'the task 3 h old is not');
      assert.equal((await h.runtime.tasks.get(lateTask)).queue, 'it-ops');
      // Both reads walk an index on open tasks' due time: a search, never a scan or a temporary sort.
      const queries = h.runtime.tasks.escalationQueries(0);
      for (const query of [queries.nextDue.compile(), queries.overdue.compile()]) await assertWalksIndex(h.runtime.store, query, ['tasks_open_due', 'tasks_status_due']);
    });
  });
});
