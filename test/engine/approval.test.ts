import assert from 'node:assert/strict';
import { TaskRefusedError } from '../../core/channels/human/task-store.js';
import { renderTimeline } from '../../core/cli/render.js';
import { caughtAsync } from '../support/fixtures.js';
import { harness } from '../support/runtime.js';

const lead = 'it.lead@acme.example';
const second = 'deputy.lead@acme.example';

/** The demo tenant with offboardings behind an approval by the IT leads. */
const approving = async () =>
  await harness({
    tweak: (p) => {
      p.policies = { ...p.policies, approvalRequired: ['offboard'], approvers: 'it-leads' };
      p.queues!.find((q: { id: string }) => q.id === 'it-leads')!.members.push(second);
    },
  });

const startAs = (h: Awaited<ReturnType<typeof harness>>, by: string, email = 'alice@acme.com') =>
  h.runtime.runs.start([{ source: 'test', request: { playbook: 'offboard', app: 'spendesk', subject: { email }, reason: 'left on Friday' } }], h.profile, { requestedBy: by });

describe('approval before a run', () => {
  it('waits for an approver before any step, and goes on once another lead approves', async () => {
    const h = await approving();
    const [{ run }] = await startAs(h, lead);
    assert.equal(run.status, 'waiting');
    const taskId = (await h.openTaskOf(run.id))!;
    const task = await h.runtime.tasks.get(taskId);
    assert.equal(task.queue, 'it-leads');
    assert.equal(task.title, 'Approve the offboarding of alice@acme.com in Spendesk');
    assert.match(task.content.runbook.steps[0]!.text, /left on Friday/);
    assert.match(task.content.reason, /1\. Remove the app assignment in Okta: Spendesk \(human\); 2\. Check whether the account still exists in Spendesk \(browser\)/);
    // Nothing ran: every step of the plan is still pending.
    assert.ok((await h.runtime.runs.timeline(run.id)).steps.every((s) => s.status === 'pending'));

    const own = await caughtAsync(TaskRefusedError, () => h.runtime.tasks.complete(taskId, { by: lead, evidence: [{ text: 'I asked, I approve' }] }));
    assert.match(own.message, /it\.lead@acme\.example asked for this run and cannot approve it: another member of queue it-leads must/);
    assert.equal((await h.runtime.tasks.get(taskId)).status, 'open');

    await h.runtime.runs.completeTask(taskId, { by: second, evidence: [{ text: 'HR ticket 4411' }] });
    const next = (await h.openTaskOf(run.id))!;
    assert.notEqual(next, taskId);
    assert.equal((await h.runtime.tasks.get(next)).runbook, 'unassign-app');
    const audit = (await h.runtime.runs.timeline(run.id)).audit;
    const approved = audit.find((a) => a.type === 'run.approved')!;
    assert.equal(approved.actor, second);
    assert.deepEqual(approved.data.grounds, ['HR ticket 4411']);
    assert.ok(audit.findIndex((a) => a.type === 'run.approved') < audit.findIndex((a) => a.type === 'task.opened' && a.taskId === next));
  });

  it('ends the run without a change when the approver rejects it', async () => {
    const h = await approving();
    const [{ run }] = await startAs(h, lead);
    await h.runtime.runs.failTask((await h.openTaskOf(run.id))!, { by: second, reason: 'she moves to another team, not out' });
    const ended = await h.run(run.id);
    assert.equal(ended.status, 'failed');
    const timeline = await h.runtime.runs.timeline(run.id);
    assert.match(timeline.audit.at(-1)!.data.summary as string, /rejected by deputy\.lead@acme\.example in task .*: she moves to another team, not out; nothing was changed/);
    assert.ok(timeline.steps.every((s) => s.status === 'pending'), 'no step ran');
    assert.equal(timeline.tasks.length, 1);
    assert.ok(timeline.audit.some((a) => a.type === 'run.rejected' && a.actor === second));
    assert.match(renderTimeline(timeline, () => undefined), /^Approval: task task-\S+, rejected by deputy\.lead@acme\.example$/m);
  });

  it('does not ask when the policy does not name the playbook', async () => {
    const h = await approving();
    const [{ run }] = await h.runtime.runs.start([{ source: 'test', request: { playbook: 'onboard', app: 'spendesk', subject: { email: 'new@acme.com' } } }], h.profile, { requestedBy: lead });
    assert.notEqual((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'approve-run');
  });

  it('refuses a profile whose approvers queue does not exist', async () => {
    await assert.rejects(
      () => harness({ tweak: (p) => (p.policies = { approvalRequired: ['offboard'], approvers: 'nobody' }) }),
      /tenant\.json#\/policies\/approvers: unknown queue 'nobody' \(queues: it-ops, finance-admins, people-ops, it-leads\)/,
    );
  });
});
