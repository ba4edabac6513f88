import assert from 'node:assert/strict';
import { ContainerModule } from '#inversify';
import nock from 'nock';
import { connectorModules } from '../../connectors/modules.js';
import { spendeskModule } from '../../connectors/spendesk/index.js';
import { SpendeskMembersApi } from '../../connectors/spendesk/api.js';
import { ConnectorApi } from '../../core/registry/connector-api.js';
import type { StartResult } from '../../core/engine/port.js';
import { harness, type Harness } from '../support/runtime.js';
import { mockVendors } from '../support/vendor-mock.js';

const base = 'https://public-api.spendesk.com/v1';
const env = { SPENDESK_ID: 'id-1', SPENDESK_SECRET: 'secret-1' };
/** The Spendesk module without retries of its own, so that these tests see the engine's retries alone. */
const spendeskWithoutClientRetries = new ContainerModule(({ bind }) => {
  bind(ConnectorApi).toConstantValue(new SpendeskMembersApi({ retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 } }));
});
/** Every connector module, Spendesk's swapped for the one above. */
const modules = [...connectorModules.filter((m) => m !== spendeskModule), spendeskWithoutClientRetries];

const withApiAccess = async () =>
  await harness({
    modules,
    env,
    tweak: (p) => {
      p.apps.spendesk!.features!['api-access'] = true;
      p.apps.spendesk!.secrets = { ...p.apps.spendesk!.secrets, apiClientId: 'env:SPENDESK_ID', apiClientSecret: 'env:SPENDESK_SECRET' };
    },
  });
const token = () => nock(base).post('/auth/token').reply(200, { access_token: 't', expires_in: 3600 });

async function offboard(h: Harness, email: string): Promise<StartResult['run']> {
  const [{ run }] = (await h.start('offboard', email)) as [StartResult];
  return run;
}

describe('API steps in runs', () => {
  mockVendors();

  it('an offboarding whose API read does not find the member does not conclude "already done": one unpaged list is no proof', async () => {
    const h = await withApiAccess();
    token();
    nock(base).get('/users').reply(200, { data: [{ id: 'u2', email: 'bob@acme.com' }] });
    const run = await offboard(h, 'gone@acme.com');
    await h.completeNext(run.id); // unassign in Okta (a person: no Okta API yet)
    assert.equal((await h.run(run.id)).status, 'waiting');
    const check = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-check')!;
    assert.equal(check.status, 'skipped');
    assert.match(check.detail!, /found no account but could not prove it gone, so every step goes on as if the account were there/);
    assert.match(check.detail!, /paging is not documented/);
    const unproven = (await h.runtime.engine.audit.list({ runId: run.id })).find((a) => a.type === 'run.absence-unproven')!;
    assert.deepEqual((({ method, finding, accountsScanned, complete }) => ({ method, finding, accountsScanned, complete }))(unproven.data.proof as Record<string, unknown>), { method: 'scan', finding: 'unproven', accountsScanned: 1, complete: false });
    // The work goes on to people, as if the member were there.
    assert.equal((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'transfer-ownership');
    assert.ok(nock.isDone());
  });

  it('waits exactly as long as the rate-limit answer says, then goes on', async () => {
    const h = await withApiAccess();
    token();
    nock(base).get('/users').reply(429, {}, { 'x-ratelimit-reset': '7' }).get('/users').reply(200, [{ id: 'u1', email: 'alice@acme.com' }]);
    const before = h.clock.now();
    const run = await offboard(h, 'alice@acme.com');
    await h.completeNext(run.id);
    const retry = (await h.runtime.engine.audit.list({ runId: run.id })).find((a) => a.type === 'step.retry')!;
    assert.equal(retry.data.delayMs, 7000);
    assert.ok(h.clock.now() - before >= 7000);
    const check = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-check')!;
    assert.equal(check.status, 'done');
    // Found: the offboarding goes on to the owner-role transfer.
    assert.equal((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'transfer-ownership');
  });

  it('a rate-limit wait longer than the engine waits in the process parks the run until then: the step is retried, not failed', async () => {
    // The HTTP client's own limiter would wait out the two minutes in real time: here it does not wait, so the engine's timer is what is seen.
    let clientTime = Date.now();
    const noClientWaits = new ContainerModule(({ bind }) => {
      bind(ConnectorApi).toConstantValue(new SpendeskMembersApi({ retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 }, clock: { now: () => clientTime, sleep: async (ms) => void (clientTime += ms) } }));
    });
    const h = await harness({
      modules: [...connectorModules.filter((m) => m !== spendeskModule), noClientWaits],
      env,
      tweak: (p) => {
        p.apps.spendesk!.features!['api-access'] = true;
        p.apps.spendesk!.secrets = { ...p.apps.spendesk!.secrets, apiClientId: 'env:SPENDESK_ID', apiClientSecret: 'env:SPENDESK_SECRET' };
      },
    });
    token();
    nock(base).get('/users').reply(429, {}, { 'x-ratelimit-reset': '120' }).get('/users').reply(200, [{ id: 'u1', email: 'alice@acme.com' }]);
    const run = await offboard(h, 'alice@acme.com');
    await h.completeNext(run.id);
    const parked = await h.run(run.id);
    assert.equal(parked.status, 'waiting');
    assert.match(parked.waitingFor ?? '', /^retry of spendesk-check\/api$/);
    assert.equal((await h.runtime.tasks.list()).length, 0, 'no person is asked to do what the API will do in two minutes');
    h.clock.advance(120_000);
    await h.runtime.runs.settle();
    const check = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-check')!;
    assert.equal(check.status, 'done');
    assert.equal((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'transfer-ownership');
    assert.ok(nock.isDone());
  });

  it('after the last retry of a failing API, moves the verification to the next channel', async () => {
    const h = await withApiAccess();
    token();
    // The check reads the member; the verification then meets three 503s in a row.
    nock(base).get('/users').reply(200, [{ id: 'u1', email: 'alice@acme.com', status: 'active' }]).get('/users').times(3).reply(503);
    const run = await offboard(h, 'alice@acme.com');
    for (let i = 0; i < 5; i++) await h.completeNext(run.id);
    const verify = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-verify')!;
    assert.equal(verify.status, 'running');
    const failures = (await h.runtime.engine.audit.list({ runId: run.id })).filter((a) => a.type === 'channel.failed' && a.data.step === 'spendesk-verify');
    assert.match(String(failures[0]!.data.detail), /step spendesk-verify\/api failed: spendesk: GET \/v1\/users: HTTP 503/);
    // The console is next in the chain; without the robot's password it cannot sign in either.
    assert.equal(failures[1]!.data.channel, 'browser');
    assert.match(verify.detail!, /browser failed: secret env:SPENDESK_ADMIN_EMAIL/);
    assert.equal((await h.runtime.engine.audit.list({ runId: run.id })).filter((a) => a.type === 'step.retry').length, 2);
    assert.equal((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'confirm-member-status');
  });

  it('a verification that reads the member still there reopens the removal with the finding, and fails the run after two reopenings', async () => {
    const h = await withApiAccess();
    token();
    nock(base).get('/users').times(4).reply(200, [{ id: 'u1', email: 'alice@acme.com', status: 'active' }]);
    const run = await offboard(h, 'alice@acme.com');
    for (let i = 0; i < 5; i++) await h.completeNext(run.id);
    // The person said the removal was done; the API still lists her: the removal comes back, with why.
    const reopened = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.equal(reopened.runbook, 'remove-member');
    assert.match(reopened.content.handedOver![0]!.detail, /verification failed: expected absent, but alice@acme\.com is active/);
    await h.completeNext(run.id);
    await h.completeNext(run.id);
    const finished = await h.run(run.id);
    assert.equal(finished.status, 'failed');
    assert.match((await h.runtime.engine.audit.list({ runId: run.id })).at(-1)!.data.summary as string, /verification failed: expected absent, but alice@acme\.com is active/);
    assert.equal(await h.openTaskOf(run.id), undefined, 'after two reopenings the finding stands: no more tasks');
    assert.equal((await h.runtime.engine.audit.list({ runId: run.id })).filter((a) => a.type === 'step.reopened').length, 2);
  });

  it('never writes a secret into the audit log or the journal', async () => {
    const h = await withApiAccess();
    token();
    nock(base).get('/users').reply(401, { error: 'bad token secret-1' });
    const run = await offboard(h, 'alice@acme.com');
    await h.completeNext(run.id);
    const db = h.runtime.store.db;
    const everything = JSON.stringify([await db.selectFrom('audit').selectAll().execute(), await db.selectFrom('journal').selectAll().execute(), await db.selectFrom('steps').selectAll().execute()]);
    assert.doesNotMatch(everything, /secret-1|aWQtMTpzZWNyZXQtMQ/);
    assert.match(everything, /HTTP 401/);
  });

  describe('with Okta reachable', () => {
    const org = 'https://acme.okta.com';
    const withOkta = async () =>
      await harness({
        modules,
        env: { OKTA_API_TOKEN: 'okta-secret' },
        tweak: (p) => {
          p.idp = { connector: 'okta', baseUrl: org, secrets: { token: 'env:OKTA_API_TOKEN' } };
          p.apps.spendesk!.idpAppId = '0oa1spendesk';
        },
      });
    const alice = { id: '00u7', status: 'ACTIVE', profile: { login: 'alice@acme.com', email: 'alice@acme.com' } };

    it('removes the Okta assignment through the API, with the run-and-step idempotency key', async () => {
      const h = await withOkta();
      nock(org)
        .get('/api/v1/users/alice%40acme.com').reply(200, alice)
        .delete('/api/v1/apps/0oa1spendesk/users/00u7')
        .matchHeader('idempotency-key', (key) => /^run-\w+:okta-unassign-app$/.test(key))
        .matchHeader('authorization', 'SSWS okta-secret')
        .reply(204);
      const run = await offboard(h, 'alice@acme.com');
      const unassign = (await h.runtime.runs.timeline(run.id)).steps[0]!;
      assert.deepEqual([unassign.stepId, unassign.status, unassign.channel], ['okta-unassign-app', 'done', 'api']);
      assert.match(unassign.detail!, /removed alice@acme\.com's assignment to Okta app 0oa1spendesk/);
      assert.equal((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'transfer-ownership', 'no person was asked to do the Okta part');
      assert.ok(nock.isDone());
    });

    it('finds the JIT account in the System Log on a later poll and goes on to role, teams and policy', async () => {
      const h = await withOkta();
      const bob = { id: '00u8', status: 'ACTIVE', profile: { login: 'bob@acme.com', email: 'bob@acme.com' } };
      nock(org)
        .get('/api/v1/users/bob%40acme.com').times(4).reply(200, bob)
        .get('/api/v1/apps/0oa1spendesk/users/00u8').reply(404, {})
        .post('/api/v1/apps/0oa1spendesk/users').reply(200, { id: '00u8' })
        .get('/api/v1/logs').query(true).reply(200, [])
        .get('/api/v1/logs').query(true).reply(200, [{ uuid: 'ev-2', published: '2026-11-28T09:20:00.000Z', eventType: 'user.authentication.sso', outcome: { result: 'SUCCESS' } }], {});
      const [{ run }] = (await h.start('onboard', 'bob@acme.com')) as [StartResult];
      assert.equal((await h.run(run.id)).waitingFor, 'evidence:spendesk-create-user');
      h.clock.advance(15 * 60_000);
      await h.runtime.runs.settle();
      const create = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-create-user')!;
      assert.equal(create.status, 'done');
      assert.match(create.detail!, /System Log ev-2: bob@acme\.com signed in/);
      assert.equal((await h.runtime.tasks.get((await h.openTaskOf(run.id))!)).runbook, 'set-access');
    });
  });
});
