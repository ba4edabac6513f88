import assert from 'node:assert/strict';
import nock from 'nock';
import { OktaApi, type OktaUser } from '../../../connectors/okta/api.js';
import { ConnectorConfigError } from '../../../core/errors.js';
import { UnauthorizedError } from '../../../core/http/errors.js';
import type { OperationInput } from '../../../core/registry/connector-api.js';
import { EnvironmentSecretResolver } from '../../../core/tenant/secrets.js';
import { mockVendors } from '../../support/vendor-mock.js';

const org = 'https://acme.okta.com';
const token = '00abcSecretToken';
const appId = '0oa1spendesk';
const secrets = new EnvironmentSecretResolver({ OKTA_API_TOKEN: token });
const input = (email = 'alice@acme.com'): OperationInput => ({
  subject: { email },
  settings: { baseUrl: org, secrets: { token: 'env:OKTA_API_TOKEN' } },
  secrets,
  idempotencyKey: 'run-1:okta-unassign-app',
  target: { app: 'spendesk', settings: { idpAppId: appId } },
});
const user = (n: number, status = 'ACTIVE'): OktaUser => ({ id: `00u${n}`, status, profile: { login: `u${n}@acme.com`, email: `u${n}@acme.com`, firstName: `U${n}` } });
const fastClock = () => {
  let t = Date.UTC(2026, 10, 28, 12);
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
};

describe('Okta connector', () => {
  mockVendors();

  it('lists users across pages by following the Link header, without duplicates or gaps', async () => {
    const scope = nock(org)
      .get('/api/v1/users').query({ limit: 200 }).matchHeader('authorization', `SSWS ${token}`)
      .reply(200, [user(1), user(2)], { link: `<${org}/api/v1/users?limit=200>; rel="self", <${org}/api/v1/users?after=00u2&limit=200>; rel="next"` })
      .get('/api/v1/users').query({ after: '00u2', limit: 200 })
      .reply(200, [user(3), user(4, 'DEPROVISIONED')], { link: `<${org}/api/v1/users?after=00u4&limit=200>; rel="next"` })
      .get('/api/v1/users').query({ after: '00u4', limit: 200 })
      .reply(200, [user(5)]);
    const result = await new OktaApi().listUsers(input());
    assert.equal(result.outcome, 'done');
    assert.deepEqual(result.outcome === 'done' && result.accounts!.map((a) => [a.id, a.active]), [['00u1', true], ['00u2', true], ['00u3', true], ['00u4', false], ['00u5', true]]);
    assert.deepEqual(result.outcome === 'done' && result.completeness, { complete: true, reasons: [] });
    scope.done();
  });

  it("reports an app's assignments as incomplete when a next link repeats, instead of looping or passing a short list as whole", async () => {
    const assignment = (n: number) => ({ id: `00u${n}`, status: 'ACTIVE', credentials: { userName: `u${n}@acme.com` } });
    const scope = nock(org)
      .get(`/api/v1/apps/${appId}/users`).query({ limit: 200 })
      .reply(200, [assignment(1), assignment(2)], { link: `<${org}/api/v1/apps/${appId}/users?after=00u2&limit=200>; rel="next"` })
      .get(`/api/v1/apps/${appId}/users`).query({ after: '00u2', limit: 200 })
      .reply(200, [assignment(3)], { link: `<${org}/api/v1/apps/${appId}/users?limit=200&after=00u2>; rel="next"` });
    const result = await new OktaApi().listAppUsers(input());
    scope.done();
    assert.equal(result.outcome, 'done');
    if (result.outcome !== 'done') return;
    assert.deepEqual(result.accounts!.map((a) => a.email), ['u1@acme.com', 'u2@acme.com', 'u3@acme.com']);
    assert.equal(result.completeness!.complete, false);
    assert.deepEqual(result.completeness!.reasons, [`okta: GET /api/v1/apps/${appId}/users: page 2 points to a page already read (its next link or cursor repeats); stopped after 3 items on 2 pages`]);
    assert.match(result.evidence, /\(incomplete\)$/);
  });

  it('reports users as incomplete when a page repeats users already read (the after cursor ignored)', async () => {
    nock(org)
      .get('/api/v1/users').query({ limit: 200 })
      .reply(200, [user(1), user(2)], { link: `<${org}/api/v1/users?after=00u2&limit=200>; rel="next"` })
      .get('/api/v1/users').query({ after: '00u2', limit: 200 })
      .reply(200, [user(1), user(2)], { link: `<${org}/api/v1/users?after=00u4&limit=200>; rel="next"` });
    const result = await new OktaApi().listUsers(input());
    assert.equal(result.outcome === 'done' && result.accounts!.length, 2);
    assert.match(result.outcome === 'done' ? result.completeness!.reasons[0]! : '', /page 2 repeats items already read/);
  });

  it('waits for X-Rate-Limit-Reset after a 429, then goes on', async () => {
    const clock = fastClock();
    const reset = Math.floor(clock.now() / 1000) + 42;
    nock(org)
      .get('/api/v1/users/alice%40acme.com').reply(429, { errorCode: 'E0000047' }, { 'x-rate-limit-limit': '600', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(reset) })
      .get('/api/v1/users/alice%40acme.com').reply(200, { ...user(9), profile: { login: 'alice@acme.com', email: 'alice@acme.com' } });
    const result = await new OktaApi({ clock }).getUser(input());
    assert.equal(result.outcome, 'done');
    assert.deepEqual(clock.slept, [42_000]);
  });

  it('unassigns the app, and says "already done" when the assignment is gone', async () => {
    nock(org)
      .get('/api/v1/users/alice%40acme.com').times(2).reply(200, { ...user(7), profile: { login: 'alice@acme.com', email: 'alice@acme.com' } })
      .delete(`/api/v1/apps/${appId}/users/00u7`).matchHeader('idempotency-key', 'run-1:okta-unassign-app').reply(204)
      .delete(`/api/v1/apps/${appId}/users/00u7`).reply(404, { errorCode: 'E0000007', errorSummary: 'Not found: Resource not found: 00u7 (AppUser)' });
    const api = new OktaApi();
    assert.equal((await api.unassignApp(input())).outcome, 'done');
    const again = await api.unassignApp(input());
    assert.equal(again.outcome, 'alreadyDone');
    assert.match(again.evidence, /was not assigned/);
  });

  it('assigns only when not assigned yet', async () => {
    nock(org)
      .get('/api/v1/users/bob%40acme.com').times(2).reply(200, { ...user(8), profile: { login: 'bob@acme.com', email: 'bob@acme.com' } })
      .get(`/api/v1/apps/${appId}/users/00u8`).reply(404, {})
      .post(`/api/v1/apps/${appId}/users`, { id: '00u8', scope: 'USER' }).reply(200, { id: '00u8', scope: 'USER' })
      .get(`/api/v1/apps/${appId}/users/00u8`).reply(200, { id: '00u8' });
    const api = new OktaApi();
    assert.equal((await api.assignApp(input('bob@acme.com'))).outcome, 'done');
    assert.equal((await api.assignApp(input('bob@acme.com'))).outcome, 'alreadyDone');
  });

  it('deactivates once; a deactivated user is already done; an unknown one is not found', async () => {
    nock(org)
      .get('/api/v1/users/alice%40acme.com').reply(200, { ...user(7), profile: { login: 'alice@acme.com', email: 'alice@acme.com' } })
      .post('/api/v1/users/00u7/lifecycle/deactivate').reply(200, {})
      .get('/api/v1/users/alice%40acme.com').reply(200, { ...user(7, 'DEPROVISIONED'), profile: { login: 'alice@acme.com', email: 'alice@acme.com' } })
      .get('/api/v1/users/ghost%40acme.com').reply(404, { errorCode: 'E0000007' });
    const api = new OktaApi();
    assert.equal((await api.deactivateUser(input())).outcome, 'done');
    assert.equal((await api.deactivateUser(input())).outcome, 'alreadyDone');
    assert.equal((await api.deactivateUser(input('ghost@acme.com'))).outcome, 'notFound');
  });

  it('finds the SSO sign-in to the app in the System Log (evidence of a JIT account)', async () => {
    nock(org)
      .get('/api/v1/users/bob%40acme.com').reply(200, { ...user(8), profile: { login: 'bob@acme.com', email: 'bob@acme.com' } })
      .get('/api/v1/logs')
      .query((q) => q.filter === `eventType eq "user.authentication.sso" and target.id eq "${appId}" and actor.id eq "00u8"` && typeof q.since === 'string')
      .reply(200, [{ uuid: 'ev-1', published: '2026-11-28T09:12:00.000Z', eventType: 'user.authentication.sso', outcome: { result: 'SUCCESS' } }], { link: `<${org}/api/v1/logs?after=ev-1>; rel="next"` })
      .get('/api/v1/logs').query({ after: 'ev-1' }).reply(200, []);
    const found = await new OktaApi().findSignIn({ ...input('bob@acme.com'), since: Date.UTC(2026, 10, 28) });
    assert.equal(found.outcome, 'done');
    assert.match(found.evidence, /System Log ev-1: bob@acme\.com signed in to app 0oa1spendesk at 2026-11-28T09:12:00\.000Z/);
  });

  it('reads unassignments from the System Log: the trigger for an offboarding', async () => {
    nock(org)
      .get('/api/v1/logs')
      .query((q) => q.filter === `eventType eq "application.user_membership.remove" and target.id eq "${appId}"`)
      .reply(200, [{ uuid: 'ev-9', published: '2026-11-28T10:00:00.000Z', eventType: 'application.user_membership.remove', target: [{ id: appId, type: 'AppInstance' }, { id: '00u7', type: 'User', alternateId: 'alice@acme.com' }] }]);
    const left = await new OktaApi().unassignmentsSince({ ...input(), since: Date.UTC(2026, 10, 27) });
    assert.deepEqual(left, [{ email: 'alice@acme.com', at: '2026-11-28T10:00:00.000Z', event: 'ev-9' }]);
  });

  it('refuses bad configuration by name: no address, a malformed one, no app id', async () => {
    const api = new OktaApi();
    await assert.rejects(api.getUser({ ...input(), settings: { secrets: { token: 'env:OKTA_API_TOKEN' } } }), (e: unknown) => e instanceof ConnectorConfigError && e.message === 'okta: idp.baseUrl: the Okta org address is not in the tenant profile');
    await assert.rejects(api.getUser({ ...input(), settings: { baseUrl: 'acme.okta.com', secrets: { token: 'env:OKTA_API_TOKEN' } } }), /okta: idp\.baseUrl: 'acme\.okta\.com' is not an http\(s\) URL/);
    await assert.rejects(api.unassignApp({ ...input(), target: { app: 'spendesk', settings: {} } }), /okta: apps\.spendesk\.idpAppId: the app's Okta id \(0oa…\) is not in the tenant profile/);
  });

  it('a refused token is an UnauthorizedError that does not show the token', async () => {
    nock(org).get('/api/v1/users/alice%40acme.com').reply(401, { errorCode: 'E0000011', errorSummary: 'Invalid token provided' });
    await assert.rejects(new OktaApi().getUser(input()), (e: unknown) => e instanceof UnauthorizedError && !`${(e as Error).message}${(e as Error).stack}`.includes(token));
  });
});
