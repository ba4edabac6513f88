import assert from 'node:assert/strict';
import { bridgeFailureRunbookId } from '../../core/bridge/failures.js';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';
import { ScimClient, newUser, patchbaySchema } from './client.js';

const memberFor = async (h: Awaited<ReturnType<typeof harness>>, taskId: string) => {
  const queue = (await h.runtime.tasks.get(taskId)).queue;
  return h.profile.profile.queues?.find((q) => q.id === queue)?.members[0] ?? 'someone';
};

/** Fails each task of a run (a person's failure may escalate to another queue) until the run has failed. */
async function failRun(h: Awaited<ReturnType<typeof harness>>, runId: string) {
  for (let i = 0; i < 5 && (await h.run(runId)).status !== 'failed'; i++) {
    const next = await h.openTaskOf(runId);
    if (!next) break;
    await h.runtime.tasks.fail(next, { by: await memberFor(h, next), reason: 'no seat left in the 6sense licence' });
    await h.runtime.runs.settle();
  }
  assert.equal((await h.run(runId)).status, 'failed');
}

/** The server on the demo tenant, a bridge token for 6sense (whose work is a person's task), and a run of the bridge failed by that person. */
async function failedOnboarding() {
  const h = await harness();
  const server = await serverFor(h);
  const scim = new ScimClient(server, '6sense', (await server.access.createBridgeToken('6sense')).token);
  const created = await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer'));
  const runId = created.body[patchbaySchema].runId as string;
  // Answered once recorded; the server drives the run to its task after the answer.
  await server.settled();
  await failRun(h, runId);
  return { h, server, scim, runId, userId: created.body.id as string };
}

const failureTasks = async (h: Awaited<ReturnType<typeof harness>>) => (await h.runtime.tasks.list({ status: 'all' })).filter((t) => t.runbook === bridgeFailureRunbookId);

describe('SCIM bridge: a failed run tells the operator that the IdP believes otherwise', function () {
  this.timeout(60_000);

  it('opens one task per failed run, in the app\'s queue, saying what the IdP shows, what failed and what to do', async () => {
    const { h, server, scim, runId, userId } = await failedOnboarding();
    // The IdP reads the truth too.
    assert.equal((await scim.get(`/Users/${userId}`)).body[patchbaySchema].provisioningState, 'failed');
    const opened = await server.bridge.failures.sweep();
    assert.equal(opened.length, 1);
    const task = await (await h.runtime.tasks.get(opened[0]!));
    assert.equal(task.status, 'open');
    assert.equal(task.app, '6sense');
    assert.equal(task.queue, h.profile.profile.apps['6sense']?.queue ?? h.profile.profile.queues?.[0]?.id);
    assert.deepEqual(task.items.map((i) => [i.runId, i.email]), [[runId, 'alice@acme.com']]);
    const text = task.content.runbook.steps.map((s) => `${s.text} ${s.detail ?? ''}`).join('\n');
    assert.match(text, /identity provider shows the person assigned to 6sense/);
    assert.match(text, new RegExp(`onboarding run ${runId} failed`));
    assert.match(text, /no seat left in the 6sense licence/);
    assert.match(text, /make the change in 6sense by hand, or revert it in the identity provider/);
    // Idempotent: a second sweep opens nothing.
    assert.deepEqual(await server.bridge.failures.sweep(), []);
    assert.equal((await failureTasks(h)).length, 1);
    // The operator closes it with what they did; the failed run stays failed.
    const by = await memberFor(h, task.id);
    await assert.rejects(async () => h.runtime.tasks.complete(task.id, { by, evidence: [] }), /evidence is required/);
    assert.equal((await h.runtime.tasks.complete(task.id, { by, evidence: [{ text: 'unassigned Alice in Okta' }] })).status, 'completed');
    assert.equal((await h.run(runId)).status, 'failed');
    assert.deepEqual(await server.bridge.failures.sweep(), []);
  });

  it('two sweeps at once (two catch-up loops) open one task for a failed run', async () => {
    const { h, server } = await failedOnboarding();
    const other = await serverFor(h);
    const [first, second] = await Promise.all([server.bridge.failures.sweep(), other.bridge.failures.sweep()]);
    assert.equal(first.length + second.length, 1, JSON.stringify({ first, second }));
    assert.equal((await failureTasks(h)).length, 1);
    assert.deepEqual(await h.runtime.store.db.selectFrom('scim_failure_tasks').select('task_id').execute(), [{ task_id: [...first, ...second][0] }]);
  });

  it('the server\'s catch-up loop opens it, and runs not started by the bridge get none', async () => {
    const { h, scim } = await failedOnboarding();
    // Another person's run, started from the command line's way in, failed the same way: not the bridge's.
    const [other] = await h.start('onboard', 'bob@acme.com', { app: '6sense' });
    await failRun(h, other!.run.id);
    // Any SCIM write asks the server to catch up; the sweep follows it.
    await scim.post('/Users', newUser('carol@acme.com', 'Carol', 'Cole'));
    for (let i = 0; i < 50 && (await failureTasks(h)).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const tasks = await failureTasks(h);
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0]!.items[0]!.email, 'alice@acme.com');
  });
});
