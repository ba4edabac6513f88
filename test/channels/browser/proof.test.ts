import assert from 'node:assert/strict';
import type { StartResult } from '../../../core/engine/port.js';
import type { Harness } from '../../support/runtime.js';
import { consoleHarness, spendeskConsole } from '../../support/spendesk-console.js';

async function offboard(h: Harness, email: string): Promise<string> {
  const [{ run }] = (await h.start('offboard', email)) as [StartResult];
  await h.completeNext(run.id); // the Okta unassignment: a person
  return run.id;
}

const stepsOf = async (h: Harness, runId: string) => Object.fromEntries((await h.runtime.runs.timeline(runId)).steps.map((s) => [s.stepId, s]));

describe('proof of removal in a console whose search box matches display-name prefixes only', function () {
  this.timeout(180_000);

  it('the check confirms from the full members list that Alice is there; the removal, which reaches members through the search, goes to a person who is told what was tried; never "already done" while she is active', async () => {
    const sim = await spendeskConsole({ variant: { searchNamePrefixOnly: true } });
    const h = await consoleHarness(sim);
    const runId = await offboard(h, 'alice@acme.com');
    let steps = await stepsOf(h, runId);
    assert.equal(steps['spendesk-check']!.status, 'done');
    assert.match(steps['spendesk-check']!.detail!, /no member matches the email; the full members list \(export-members\) shows alice@acme\.com \(status: Active\)/);
    // The preconditions the listing cannot rule out go to people, as for any member the check found.
    while ((await h.runtime.tasks.get((await h.openTaskOf(runId))!)).runbook !== 'remove-member') await h.completeNext(runId);
    steps = await stepsOf(h, runId);
    assert.notEqual(steps['spendesk-deactivate-user']!.status, 'already-done');
    const task = await h.runtime.tasks.get((await h.openTaskOf(runId))!);
    const handed = task.content.handedOver!.map((x) => x.detail).join('\n');
    assert.match(handed, /remove-member found nobody \("already removed: no member matches the email"\), but the full members list \(export-members\) shows alice@acme\.com \(status: Active\): the recipe cannot reach the member, so a person removes them/);
    assert.ok(sim.state.byEmail('alice@acme.com'), 'the robot removed nobody');
    assert.ok(!(await h.runtime.engine.audit.list({ runId })).some((a) => a.type === 'run.account-already-gone' || a.type === 'step.already-done'));
    // The person removes her in the console and says so; the verification reads the full list, not the search.
    assert.deepEqual(sim.state.remove(sim.state.byEmail('alice@acme.com')!), { removed: true });
    await h.completeNext(runId);
    const run = await h.run(runId);
    assert.equal(run.outcome, 'done');
    const verify = (await stepsOf(h, runId))['spendesk-verify']!;
    assert.match(verify.detail!, /^verified: alice@acme\.com has no account \(proven by a complete scan of \d+ accounts at \d\d:\d\d/);
    assert.equal(verify.evidence.find((e) => e.proof)!.proof!.method, 'scan');
  });

  it('a member who really is gone is "already done", proven by the full members list, not by the search', async () => {
    const sim = await spendeskConsole({ variant: { searchNamePrefixOnly: true } });
    const h = await consoleHarness(sim);
    const runId = await offboard(h, 'nobody@acme.com');
    const run = await h.run(runId);
    assert.equal(run.outcome, 'already-done');
    const gone = (await h.runtime.engine.audit.list({ runId })).find((a) => a.type === 'run.account-already-gone')!;
    const proof = gone.data.proof as { method: string; complete: boolean; accountsScanned: number; identifiersTried: string[] };
    assert.equal(proof.method, 'scan');
    assert.equal(proof.complete, true);
    assert.equal(proof.accountsScanned, sim.state.members.size);
    assert.deepEqual(proof.identifiersTried, ['search nobody@acme.com (read-member)', 'email nobody@acme.com in the members list']);
    assert.match((await h.runtime.runs.timeline(runId)).audit.at(-1)!.data.summary as string, /^already done \(proven by a complete scan of \d+ accounts at /);
  });
});
