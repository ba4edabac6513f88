import assert from 'node:assert/strict';
import { renderTimeline } from '../../core/cli/render.js';
import type { StartResult } from '../../core/engine/port.js';
import { IdentifierStore } from '../../core/store/identifiers.js';
import { harness, type Harness } from '../support/runtime.js';
import { ScimServer, type ScimServerOptions } from '../support/scim-server.js';
import { ScimmyServer } from '../support/scimmy-server.js';

/** The demo tenant with a SCIM app at url; the IdP step is a person's task. */
const withScim = async (url: string): Promise<Harness> => await harness({ env: { SCIM_TOKEN: 'scim-token' }, tweak: (p) => (p.apps.scim = { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' }, queue: 'it-ops' }) });

async function offboard(h: Harness, email: string): Promise<string> {
  const [{ run }] = (await h.start('offboard', email, { app: 'scim' })) as [StartResult];
  await h.completeNext(run.id); // unassign in the IdP: a person
  return run.id;
}

const stepsOf = async (h: Harness, runId: string) => Object.fromEntries((await h.runtime.runs.timeline(runId)).steps.map((s) => [s.stepId, s]));
const summaryOf = async (h: Harness, runId: string) => (await h.runtime.runs.timeline(runId)).audit.at(-1)!.data.summary as string;

async function standIn(options: ScimServerOptions = {}): Promise<{ scim: ScimServer; url: string }> {
  const scim = new ScimServer(options);
  const url = await scim.listen();
  after(() => scim.close());
  return { scim, url };
}

describe('proof of removal over SCIM: no "already done" from a read that could have missed the account', function () {
  this.timeout(60_000);

  it('a real third-party SCIM server (scimmy) whose userName filter is case-sensitive: Carol.Case is found and deactivated, not "already done"', async () => {
    const server = new ScimmyServer();
    const carol = server.add('Carol.Case@Example.test');
    const url = await server.listen();
    after(() => server.close());
    const h = await withScim(url);
    const runId = await offboard(h, 'carol.case@example.test');
    const run = await h.run(runId);
    const steps = await stepsOf(h, runId);
    assert.equal(run.outcome, 'done', JSON.stringify(Object.values(steps).map((s) => [s.stepId, s.status, s.detail])));
    assert.equal(server.users.get(carol.id)!.active, false, 'the account is deactivated on the server');
    assert.ok(server.log.some((l) => /filter=userName/.test(l)), 'the filter was tried');
    assert.match(steps['scim-check']!.detail!, /found by reading the list/);
    assert.equal(steps['scim-deactivate-user']!.status, 'done');
    assert.match(steps['scim-verify']!.detail!, /^verified: .* is inactive \(verified by id\)$/);
    assert.match((await summaryOf(h, runId)), /is done by Patchbay \(4 steps; verified by id\)/);
    assert.ok(!(await h.runtime.engine.audit.list({ runId })).some((a) => a.type === 'run.account-already-gone'));
    const verified = (await h.runtime.engine.audit.list({ runId })).find((a) => a.type === 'step.done' && a.data.step === 'scim-verify')!;
    assert.deepEqual((({ method, finding }) => ({ method, finding }))(verified.data.proof as { method: string; finding: string }), { method: 'id', finding: 'inactive' });
  });

  it('the same with our stand-in: a case-sensitive filter never makes "already done"', async () => {
    const { scim, url } = await standIn({ quirks: { caseSensitiveFilter: true } });
    const carol = scim.add('Carol.Case@Example.test');
    const h = await withScim(url);
    const runId = await offboard(h, 'carol.case@example.test');
    assert.equal((await h.run(runId)).outcome, 'done');
    assert.equal(carol.active, false);
    const evidence = (await stepsOf(h, runId))['scim-verify']!.evidence.find((e) => e.proof)!;
    assert.deepEqual([evidence.proof!.method, evidence.proof!.finding], ['id', 'inactive']);
    assert.ok(scim.log.includes(`GET /Users/${carol.id}`), 'verified by GET /Users/{id}');
  });

  it('a renamed account is found by the id a reconciliation recorded, though its email changed', async () => {
    const { scim, url } = await standIn();
    const alice = scim.add('alice.martin@acme.com', true, { externalId: 'E-77' });
    const h = await withScim(url);
    // A reconciliation last month saw her account u-1 under her old email.
    await new IdentifierStore(h.runtime.store).see('acme', 'alice@acme.com', 'scim', { ids: [alice.id], emails: ['alice@acme.com'] }, 'reconciliation of scim', 0);
    const runId = await offboard(h, 'alice@acme.com');
    const steps = await stepsOf(h, runId);
    assert.equal((await h.run(runId)).outcome, 'done', JSON.stringify(Object.values(steps).map((s) => [s.stepId, s.status, s.detail])));
    assert.equal(alice.active, false);
    assert.match(steps['scim-check']!.detail!, /read by its id/);
    // The run keeps what it saw: the new email is now known too.
    const known = await new IdentifierStore(h.runtime.store).lookup('acme', 'alice@acme.com', 'scim');
    assert.deepEqual(known.emails.slice().sort(), ['alice.martin@acme.com', 'alice@acme.com']);
  });

  it('an account proven absent by a complete scan is "already done", and says so with the scan', async () => {
    const { scim, url } = await standIn({ maxResults: 2 });
    scim.seed(5);
    const h = await withScim(url);
    const runId = await offboard(h, 'gone@acme.com');
    assert.equal((await h.run(runId)).outcome, 'already-done');
    assert.match((await summaryOf(h, runId)), /^already done \(proven by a complete scan of 5 accounts at \d\d:\d\d \(tried userName gone@acme\.com\)\): gone@acme\.com had nothing left to offboard/);
    const gone = (await h.runtime.engine.audit.list({ runId })).find((a) => a.type === 'run.account-already-gone')!;
    const proof = gone.data.proof as Record<string, unknown>;
    assert.deepEqual([proof.method, proof.finding, proof.accountsScanned, proof.complete], ['scan', 'absent', 5, true]);
    assert.ok(typeof proof.at === 'number');
    const skipped = (await stepsOf(h, runId))['scim-deactivate-user']!;
    assert.equal(skipped.status, 'already-done');
    assert.equal(skipped.evidence[0]!.proof!.method, 'scan');
    const shown = renderTimeline((await h.runtime.runs.timeline(runId)), () => undefined).replace(/\s+/g, ' ');
    assert.match(shown, /proof: scan → absent, 5 accounts scanned \(complete list\), tried userName gone@acme\.com, at \d{4}-\d\d-\d\d \d\d:\d\d/);
  });

  it('when absence cannot be proven (the list cannot be read in full), the removal goes to a person with what was tried', async () => {
    const { scim, url } = await standIn({ maxResults: 2, quirks: { ignoreStartIndex: true, caseSensitiveFilter: true } });
    scim.seed(4);
    const dora = scim.add('Dora@Acme.com');
    const h = await withScim(url);
    const runId = await offboard(h, 'dora@acme.com');
    const run = await h.run(runId);
    assert.equal(run.status, 'waiting', 'not "already done": a person takes it');
    const steps = await stepsOf(h, runId);
    assert.equal(steps['scim-check']!.status, 'skipped');
    assert.match(steps['scim-check']!.detail!, /could not prove it gone/);
    const task = await h.runtime.tasks.get((await h.openTaskOf(runId))!);
    assert.equal(task.runbook, 'deactivate-account');
    const handed = task.content.handedOver!.map((x) => x.detail).join('\n');
    assert.match(handed, /could not prove absence: tried userName dora@acme\.com; scanned 2 accounts \(not a complete list\); stopped: the page at startIndex=3/);
    assert.equal(dora.active, true);
    // The person deactivates her; the verification over SCIM cannot prove it either, so a person verifies too.
    dora.active = false;
    await h.completeNext(runId);
    const confirm = await h.runtime.tasks.get((await h.openTaskOf(runId))!);
    assert.equal(confirm.runbook, 'confirm-account-status');
    assert.match(confirm.content.handedOver![0]!.detail, /could not prove absence/);
    await h.completeNext(runId);
    assert.equal((await h.run(runId)).outcome, 'done');
    assert.match((await summaryOf(h, runId)), /is done, partly by people in tasks \(4 steps; verified by a person\)/);
  });
});

describe('an account the check reads inactive', function () {
  this.timeout(30_000);

  it('is already done, and says it was read inactive (active "False" as Entra-fed servers send it)', async () => {
    const scim = new ScimServer({ quirks: { activeAs: (a) => (a ? 'True' : 'False') } });
    const url = await scim.listen();
    after(() => scim.close());
    scim.add('fay@acme.com', false);
    const h = await withScim(url);
    const runId = await offboard(h, 'fay@acme.com');
    assert.equal((await h.run(runId)).outcome, 'already-done');
    assert.match((await summaryOf(h, runId)), /^already done \(found inactive by a filter at \d\d:\d\d \(tried userName fay@acme\.com\)\): fay@acme\.com had nothing left/);
    assert.ok(!scim.log.some((l) => l.startsWith('PATCH') || l.startsWith('PUT')), 'no write');
  });
});
