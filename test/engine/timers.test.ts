import assert from 'node:assert/strict';
import { TaskRefusedError } from '../../core/channels/human/task-store.js';
import type { StartResult } from '../../core/engine/port.js';
import { nextPassDelay } from '../../core/engine/next-pass.js';
import { harness } from '../support/runtime.js';
import { assertWalksIndex } from './query-plan.js';

describe('run timers and group commit in the engine', function () {
  this.timeout(60_000);

  it('finds due runs and the next wake time from the index of run timers, without a scan or a sort', async () => {
    const h = await harness();
    const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
    const waiting = await h.run(run.id);
    assert.equal(waiting.status, 'waiting');
    // The run waits for its task, which has no timer of its own (the task's due time escalates it): nothing to wake.
    assert.equal(waiting.wakeAt, null);
    assert.equal(await h.runtime.engine.nextWake(), null);
    const queries = h.runtime.engine.timerQueries(h.clock.now());
    for (const query of [queries.due.compile(), queries.next.compile()]) await assertWalksIndex(h.runtime.store, query, ['runs_timers']);
    // A run recorded without being driven is due now: the loop finds it first.
    await h.runtime.runs.start([{ source: 'test', request: { playbook: 'offboard', app: 'spendesk', subject: { email: 'bob@acme.com' } } }], h.profile, { drive: false });
    assert.equal(await h.runtime.engine.nextWake(), h.clock.now());
    const due = await queries.due.execute();
    assert.deepEqual(due.map((r) => r.subject), ['bob@acme.com']);
    await h.runtime.runs.settle();
    assert.equal(await h.runtime.engine.nextWake(), null, 'nothing due once the loop has driven it');
  });

  it("the loop's next pass is the earliest of a run's timer, an open task's due time and a notification's retry", async () => {
    const h = await harness();
    assert.equal(await h.runtime.runs.nextDueAt(), null, 'nothing waits: the loop sleeps its whole interval');
    await h.start('offboard', 'alice@acme.com');
    const [task] = await h.runtime.tasks.list();
    assert.ok(task && task.dueAt > h.clock.now());
    assert.equal(await h.runtime.runs.nextDueAt(), task.dueAt, 'the open task escalates at its due time');
    // A notification to retry before the task falls due comes first.
    const retryAt = task.dueAt - 60_000;
    await h.runtime.store.db.insertInto('outbox').values({ kind: 'webhook', payload: '{}', created_at: h.clock.now(), next_attempt_at: retryAt, delivered_at: null, last_error: null }).execute();
    assert.equal(await h.runtime.runs.nextDueAt(), retryAt);
    // A run recorded without being driven is due now: earliest of all.
    await h.runtime.runs.start([{ source: 'test', request: { playbook: 'offboard', app: 'spendesk', subject: { email: 'bob@acme.com' } } }], h.profile, { drive: false });
    assert.equal(await h.runtime.runs.nextDueAt(), h.clock.now());
    assert.equal(await h.runtime.runs.nextDueIn(), 0, 'measured on the runtime clock, not the wall clock');
  });

  it('a loop sleeps until the next due time, within its floor and its interval', () => {
    const limits = { minMs: 250, maxMs: 15_000 };
    assert.equal(nextPassDelay(null, limits), 15_000, 'nothing due: the whole interval');
    assert.equal(nextPassDelay(2_000, limits), 2_000, 'a timer in 2 s: 2 s, not 15');
    assert.equal(nextPassDelay(1_000_000, limits), 15_000, 'a due time far off: the interval, so work made due elsewhere is found');
    assert.equal(nextPassDelay(-100, limits), 250, 'due already (a run leased by another worker): the floor, no spin');
  });

  it('a start looks for an earlier run by its two unique keys, one step down each index, not by walking the open runs', async () => {
    const h = await harness();
    const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
    const openKey = `acme|offboard|spendesk|alice@acme.com`;
    const query = h.runtime.engine.earlierRunQuery('another key', openKey);
    assert.equal((await query.executeTakeFirst())?.id, run.id, 'the open run of the same person');
    // The idempotency key's unique index (SQLite names it itself) and the partial unique index of open runs' keys.
    await assertWalksIndex(h.runtime.store, query.compile(), ['sqlite_autoindex_runs_\\d+', 'runs_idempotency_key_key', 'runs_open_key']);
  });

  it('concurrent task completions without driving share commits; a second completion of the same task is refused alone', async () => {
    const h = await harness();
    const emails = Array.from({ length: 8 }, (_, i) => `person${i}@acme.com`);
    for (const email of emails) await h.start('offboard', email);
    const tasks = await h.runtime.tasks.list({ queue: 'it-ops' });
    assert.equal(tasks.length, 8, 'one task per person');
    const by = h.profile.profile.queues!.find((q) => q.id === 'it-ops')!.members[0]!;
    const complete = (id: string) => h.runtime.runs.completeTask(id, { by, evidence: [{ text: 'unassigned' }] }, { drive: false });
    const before = { ...h.runtime.runs.groupCommit.stats };
    const outcomes = await Promise.allSettled([...tasks.map((t) => complete(t.id)), complete(tasks[2]!.id)]);
    assert.deepEqual(outcomes.map((o) => o.status), [...Array(8).fill('fulfilled'), 'rejected']);
    const refused = (outcomes[8] as PromiseRejectedResult).reason;
    assert.ok(refused instanceof TaskRefusedError, String(refused));
    assert.match(refused.message, /already completed/);
    for (const task of tasks) assert.equal((await h.runtime.tasks.get(task.id)).status, 'completed');
    const groups = h.runtime.runs.groupCommit.stats.groups - before.groups;
    assert.equal(h.runtime.runs.groupCommit.stats.requests - before.requests, 9);
    assert.ok(groups <= 2, `9 completions at once share one or two commits (got ${groups})`);
    // Each run got its signal in its task's commit: the loop moves all of them on.
    await h.runtime.runs.settle();
    for (const task of tasks) {
      const runId = task.items[0]!.runId;
      assert.notEqual(await h.openTaskOf(runId), task.id, 'the run moved past the completed task');
    }
  });
});
