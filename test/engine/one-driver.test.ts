import assert from 'node:assert/strict';
import type { NewRun, Workflow } from '../../core/engine/port.js';
import type { LifecycleRequest } from '../../core/schema/types/lifecycle-request.js';
import { harness } from '../support/runtime.js';

/** A planned run for the harness's tenant, ready for engine.start. */
function newRun(h: Awaited<ReturnType<typeof harness>>, email: string): NewRun {
  const request: LifecycleRequest = { playbook: 'offboard', app: 'spendesk', subject: { email } };
  return { idempotencyKey: `one-driver:${email}`, request, plan: h.services.planner.plan(request, h.profile, 'test'), profile: h.profile.profile };
}

/** A workflow with one slow external step that counts how often it really ran, per run. */
function countingWorkflow(h: Awaited<ReturnType<typeof harness>>, executions: Map<string, number>, during?: () => void): Workflow {
  return async (ctx) => {
    await ctx.step(
      'slow-call',
      async () => {
        executions.set(ctx.runId, (executions.get(ctx.runId) ?? 0) + 1);
        during?.();
        // Real time passes outside the transaction: another driver has every chance to step in.
        await new Promise((resolve) => setTimeout(resolve, 30));
        return 'called';
      },
      { external: true },
    );
    return { outcome: 'done', summary: `done by ${h.runtime.engine.owner}` };
  };
}

describe('one driver per run', () => {
  it('refuses a second claimer in the same process while the first holds the lease', async () => {
    const h = await harness();
    const engine = h.runtime.engine;
    const [{ run }] = await engine.start([newRun(h, 'alice@acme.com')], { drive: false });
    assert.equal(run.status, 'running');
    const first = engine.newHolder();
    const second = engine.newHolder();
    assert.notEqual(first, second);
    assert.match(first, new RegExp(`^${engine.owner.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/d\\d+$`));
    assert.equal(await engine.transaction(() => engine.claim(run.id, first, null)), true);
    assert.equal(await engine.transaction(() => engine.claim(run.id, second, null)), false, 'the second driver took a leased run');
    const row = (await h.runtime.store.db.selectFrom('runs').select('lease_owner').where('id', '=', run.id).executeTakeFirst())?.lease_owner;
    assert.equal(row, first);
  });

  it('starts a run without driving it when asked, unleased and due now, for the loop to drive', async () => {
    const h = await harness();
    const [{ run, created }] = await h.runtime.runs.start([{ source: 'test', request: { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } } }], h.profile, { drive: false });
    assert.equal(created, true);
    const row = (await h.runtime.store.db.selectFrom('runs').select(['status', 'lease_owner', 'wake_at']).where('id', '=', run.id).executeTakeFirstOrThrow());
    assert.deepEqual(row, { status: 'running', lease_owner: null, wake_at: h.clock.now() });
    assert.deepEqual(await h.runtime.tasks.itemsOfRun(run.id), [], 'nothing was executed');
    await h.runtime.runs.settle();
    assert.equal((await h.run(run.id)).status, 'waiting');
    assert.ok(await h.openTaskOf(run.id));
  });

  it('executes each run once when two drives of one engine run at the same time, even after the lease ran out', async () => {
    const h = await harness();
    const executions = new Map<string, number>();
    // The clock jumps past the lease inside the external step: an expired lease of a driver still at work in this process is not free.
    h.runtime.engine.use(countingWorkflow(h, executions, () => h.clock.advance(120_000)));
    const started = await h.runtime.engine.start(['a@acme.com', 'b@acme.com', 'c@acme.com'].map((e) => newRun(h, e)), { drive: false });
    const [one, two, three] = await Promise.all([h.runtime.engine.drive(), h.runtime.engine.drive(), h.runtime.runs.settle()]);
    assert.equal(one.slices + two.slices, 3);
    assert.equal(three, false, 'the third driver found nothing left to do');
    for (const { run } of started) {
      assert.equal(executions.get(run.id), 1, `run ${run.id} executed ${executions.get(run.id)} times`);
      assert.equal((await h.run(run.id)).status, 'completed');
    }
    assert.equal((await h.runtime.engine.audit.verify()).broken, undefined);
  });

  it('leaves a run leased by another engine of this process alone until its lease expires', async () => {
    const h = await harness();
    const other = await harness({ dataDir: h.dataDir, clock: h.clock });
    const executions = new Map<string, number>();
    h.runtime.engine.use(countingWorkflow(h, executions));
    other.runtime.engine.use(countingWorkflow(other, executions));
    const [{ run }] = await h.runtime.engine.start([newRun(h, 'alice@acme.com')], { drive: false });
    const holder = other.runtime.engine.newHolder();
    assert.equal(await other.runtime.engine.transaction(() => other.runtime.engine.claim(run.id, holder, null)), true);
    assert.deepEqual(await h.runtime.engine.drive(), { slices: 0 });
    assert.equal(executions.size, 0);
    h.clock.advance(61_000); // the default lease is 60 s: its holder stopped renewing it
    assert.deepEqual(await h.runtime.engine.drive(), { slices: 1 });
    assert.equal(executions.get(run.id), 1);
  });

  it('lets a CLI-style start drive its new runs inline and still returns the open run for a repeat', async () => {
    const h = await harness();
    const [first] = await h.start('offboard', 'alice@acme.com');
    assert.equal(first!.run.status, 'waiting');
    assert.equal((await h.run(first!.run.id)).waitingFor, `task:${await h.openTaskOf(first!.run.id)}`);
    const row = (await h.runtime.store.db.selectFrom('runs').select('lease_owner').where('id', '=', first!.run.id).executeTakeFirst())?.lease_owner;
    assert.equal(row, null, 'a parked run holds no lease');
    const [again] = await h.start('offboard', 'alice@acme.com');
    assert.deepEqual([again!.created, again!.run.id], [false, first!.run.id]);
  });
});
