import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { serverFor } from '../support/server.js';
import { consoleHarness, spendeskConsole } from '../support/spendesk-console.js';

const firstBatch = 8;
const secondBatch = 16;
const people = Array.from({ length: firstBatch + secondBatch }, (_, i) => `member${String(i).padStart(2, '0')}@acme.com`);

async function api(url: string, token: string, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<{ status: number; body: any; ms: number }> {
  const began = performance.now();
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const parsed = await response.json();
  return { status: response.status, body: parsed, ms: performance.now() - began };
}

describe('one server, one driver per run', function () {
  this.timeout(600_000);

  it('answers POST /runs at once while its loop drives the browser, and drives every run exactly once', async () => {
    // The console with plain members (one card, no role to hand over) to remove, one per run.
    const sim = await spendeskConsole({
      change: (seed) => {
        const alice = seed.members.find((m: { email: string }) => m.email === 'alice@acme.com');
        (seed.members as unknown[]).push(...people.map((email, i) => ({ ...structuredClone(alice), email, firstName: 'Member', lastName: String(i) })));
      },
    });
    const h = await consoleHarness(sim);
    const server = await serverFor(h);
    const hr = (await server.access.createToken({ name: 'hr-tool', actor: 'people@acme.example', role: 'operator' })).token;
    const oncall = (await server.access.createToken({ name: 'ticketing', actor: 'it.oncall@acme.example', role: 'operator' })).token;
    const postLatencies: number[] = [];
    const actionLatencies: number[] = [];
    const runIds = new Map<string, string>();

    const startRun = async (email: string) => {
      const answer = await api(`${server.url}/api/v1/runs`, hr, 'POST', { playbook: 'offboard', app: 'spendesk', subject: { email } });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      postLatencies.push(answer.ms);
      runIds.set(email, answer.body.id);
    };
    /** Completes every open Okta task through the API, as the on-call operator would. */
    const completeOpenTasks = async () => {
      const open = await api(`${server.url}/api/v1/tasks?queue=it-ops`, oncall);
      for (const task of open.body as { id: string; content: { runbook: { evidence: { label: string; required: boolean }[] } } }[]) {
        const evidence = task.content.runbook.evidence.filter((e) => e.required).map((e) => ({ text: `seen: ${e.label}` }));
        const done = await api(`${server.url}/api/v1/tasks/${task.id}/actions`, oncall, 'POST', { action: 'complete', evidence });
        assert.equal(done.status, 200, JSON.stringify(done.body));
        actionLatencies.push(done.ms);
      }
      return (open.body as unknown[]).length;
    };

    // First batch: each run waits on a person for the Okta unassignment.
    for (const email of people.slice(0, firstBatch)) await startRun(email);
    await server.settled();
    assert.equal(await completeOpenTasks(), firstBatch);
    // The loop now removes the first batch by browser; once it has removed one, start the second batch meanwhile.
    for (let waited = 0; sim.state.removed.length === 0 && waited < 120_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    const firstIds = people.slice(0, firstBatch).map((p) => runIds.get(p)!);
    const journalOfFirst = async () => Number((await h.runtime.store.db.selectFrom('journal').select((eb) => eb.fn.countAll<number>().as('n')).where('run_id', 'in', firstIds).executeTakeFirstOrThrow()).n);
    const journalBefore = await journalOfFirst();
    const removedBefore = sim.state.removed.length;
    for (const email of people.slice(firstBatch)) {
      await startRun(email);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // The loop went on with the first batch's browser steps while the POSTs were answered.
    const journaledWhilePosting = (await journalOfFirst()) - journalBefore;
    assert.ok(journaledWhilePosting > 0 && removedBefore < firstBatch, `the browser was at work while the second batch was posted (${removedBefore} removed before; ${journaledWhilePosting} journal entries written meanwhile)`);

    // Drive everything to the end: the loop drives, the test only answers the people's tasks.
    for (let round = 0; round < 60; round++) {
      await server.settled();
      const open = await completeOpenTasks();
      const finished = (await Promise.all([...runIds.values()].map((id) => h.run(id)))).every((r) => !['running', 'waiting'].includes(r.status));
      if (finished && open === 0) break;
    }
    await server.settled();

    for (const [email, id] of runIds) {
      const run = await h.run(id);
      assert.deepEqual([email, run.status, run.outcome], [email, 'completed', 'done'], JSON.stringify(run.waitingFor));
    }
    const removals = new Map<string, number>();
    for (const event of sim.state.events.filter((e) => e.type === 'removed')) removals.set(event.email!, (removals.get(event.email!) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(removals), Object.fromEntries(people.map((p) => [p, 1])));
    const failed = (await h.runtime.engine.audit.list({})).filter((a) => a.type === 'run.failed' || /UNIQUE constraint/i.test(JSON.stringify(a.data)));
    assert.deepEqual(failed, []);
    assert.equal((await h.runtime.engine.audit.verify()).broken, undefined);
    const max = Math.max(...postLatencies);
    const sorted = [...postLatencies].sort((a, b) => a - b);
    process.stderr.write(`      POST /api/v1/runs: ${postLatencies.length} requests, median ${sorted[sorted.length >> 1]!.toFixed(1)} ms, max ${max.toFixed(1)} ms; task actions max ${Math.max(...actionLatencies).toFixed(1)} ms\n`);
    assert.ok(max < 1000, `a POST took ${max.toFixed(0)} ms`);
    // A task action also only records and signals; it gets more slack as the first one wakes the browser up on a loaded machine.
    assert.ok(Math.max(...actionLatencies) < 3000);
  });
});
