import assert from 'node:assert/strict';
import nock from 'nock';
import { GoogleWorkspaceApi, samlAccess } from '../../../connectors/google-workspace/api.js';
import { ConnectorConfigError } from '../../../core/errors.js';
import { UnauthorizedError } from '../../../core/http/errors.js';
import type { OperationInput } from '../../../core/registry/connector-api.js';
import { EnvironmentSecretResolver } from '../../../core/tenant/secrets.js';
import { serviceAccountKey } from '../../support/idp-doubles.js';
import { mockVendors } from '../../support/vendor-mock.js';

const admin = 'https://admin.googleapis.com';
const key = serviceAccountKey('https://oauth2.googleapis.com/token');
const input = (email = 'alice@acme.com', keyJson = key.json): OperationInput => ({
  subject: { email },
  settings: { secrets: { serviceAccountKey: 'env:GOOGLE_KEY', adminEmail: 'env:GOOGLE_ADMIN' } },
  secrets: new EnvironmentSecretResolver({ GOOGLE_KEY: keyJson, GOOGLE_ADMIN: 'it.admin@acme.com' }),
  idempotencyKey: 'run-1:google-workspace-unassign-app',
  target: { app: 'spendesk', settings: { idpAppId: 'spendesk-users@acme.com' } },
});
const user = (n: number, suspended = false) => ({ kind: 'admin#directory#user', id: `10${n}`, primaryEmail: `u${n}@acme.com`, name: { fullName: `User ${n}` }, suspended });
const quota = (reason: string) => ({ error: { code: 403, message: 'Quota exceeded for quota metric.', errors: [{ message: 'Quota exceeded.', domain: 'usageLimits', reason }] } });
/** Google's token endpoint, which the library posts the JWT bearer assertion to. */
const token = () => nock('https://oauth2.googleapis.com').post('/token', (body: Record<string, string>) => body.grant_type === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && !!body.assertion).reply(200, { access_token: 'ya29.unit', expires_in: 3599, token_type: 'Bearer' });
const fastRetry = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 };

describe('Google Workspace connector (Admin SDK)', () => {
  mockVendors();

  it('lists users across pages by sending nextPageToken back as pageToken', async () => {
    token();
    const scope = nock(admin, { reqheaders: { authorization: 'Bearer ya29.unit' } })
      .get('/admin/directory/v1/users').query({ customer: 'my_customer', maxResults: 500 }).reply(200, { kind: 'admin#directory#users', users: [user(1), user(2)], nextPageToken: 'p2' })
      .get('/admin/directory/v1/users').query({ customer: 'my_customer', maxResults: 500, pageToken: 'p2' }).reply(200, { users: [user(3, true)] });
    const result = await new GoogleWorkspaceApi().listUsers(input());
    assert.deepEqual(result.outcome === 'done' && result.accounts!.map((a) => [a.email, a.active]), [['u1@acme.com', true], ['u2@acme.com', true], ['u3@acme.com', false]]);
    scope.done();
  });

  it('retries a 403 userRateLimitExceeded and a 429 as rate limits; a 403 that is not a quota is refused with its reason', async () => {
    token();
    nock(admin)
      .get('/admin/directory/v1/users/alice%40acme.com').reply(403, quota('userRateLimitExceeded'))
      .get('/admin/directory/v1/users/alice%40acme.com').reply(429, quota('rateLimitExceeded'))
      .get('/admin/directory/v1/users/alice%40acme.com').reply(200, { ...user(1), primaryEmail: 'alice@acme.com' })
      .get('/admin/directory/v1/users/bob%40acme.com').reply(403, { error: { code: 403, message: 'Not Authorized to access this resource/api', errors: [{ reason: 'forbidden' }] } });
    const api = new GoogleWorkspaceApi({ retry: fastRetry });
    assert.equal((await api.getUser(input())).outcome, 'done');
    await assert.rejects(api.getUser(input('bob@acme.com')), (e: unknown) => e instanceof UnauthorizedError && /HTTP 403 \(forbidden: Not Authorized to access this resource\/api\)/.test((e as Error).message));
  });

  it('suspends once; a suspended user is already done; a stranger is not found', async () => {
    token();
    nock(admin)
      .get('/admin/directory/v1/users/u1%40acme.com').reply(200, user(1))
      .put('/admin/directory/v1/users/101', { suspended: true }).reply(200, user(1, true))
      .get('/admin/directory/v1/users/u1%40acme.com').reply(200, user(1, true))
      .get('/admin/directory/v1/users/ghost%40acme.com').reply(404, { error: { code: 404, message: 'Resource Not Found: userKey', errors: [{ reason: 'notFound' }] } });
    const api = new GoogleWorkspaceApi();
    assert.equal((await api.deactivateUser(input('u1@acme.com'))).outcome, 'done');
    assert.equal((await api.deactivateUser(input('u1@acme.com'))).outcome, 'alreadyDone');
    assert.equal((await api.deactivateUser(input('ghost@acme.com'))).outcome, 'notFound');
  });

  it('reads suspensions and deletions (every app) and removals from the app\'s group (that app) from the Reports API', async () => {
    token();
    const activity = (name: string, time: string, q: string, params: Record<string, string>) => ({ kind: 'admin#reports#activity', id: { time, uniqueQualifier: q, applicationName: 'admin', customerId: 'C0' }, actor: { email: 'it.admin@acme.com' }, events: [{ type: 'USER_SETTINGS', name, parameters: Object.entries(params).map(([n, value]) => ({ name: n, value })) }] });
    const reports = '/admin/reports/v1/activity/users/all/applications/admin';
    nock(admin)
      .get(reports).query((q) => q.eventName === 'REMOVE_GROUP_MEMBER' && q.startTime === '2026-11-30T00:00:00.000Z')
      .reply(200, { items: [activity('REMOVE_GROUP_MEMBER', '2026-11-30T02:00:00.000Z', '-7', { GROUP_EMAIL: 'Spendesk-Users@acme.com', USER_EMAIL: 'ann@acme.com' }), activity('REMOVE_GROUP_MEMBER', '2026-11-30T03:00:00.000Z', '-8', { GROUP_EMAIL: 'other@acme.com', USER_EMAIL: 'ben@acme.com' })] })
      .get(reports).query((q) => q.eventName === 'SUSPEND_USER').reply(200, { items: [activity('SUSPEND_USER', '2026-11-30T05:00:00.000Z', '-1', { USER_EMAIL: 'cat@acme.com' })], nextPageToken: 'n2' })
      .get(reports).query((q) => q.eventName === 'SUSPEND_USER' && q.pageToken === 'n2').reply(200, { items: [activity('SUSPEND_USER', '2026-11-30T01:00:00.000Z', '-2', { USER_EMAIL: 'dan@acme.com' })] })
      .get(reports).query((q) => q.eventName === 'DELETE_USER').reply(200, {});
    const api = new GoogleWorkspaceApi();
    const since = Date.UTC(2026, 10, 30);
    assert.deepEqual((await api.leavers({ ...input(), since })).map((e) => [e.email, e.id, e.scope]), [['ann@acme.com', '2026-11-30T02:00:00.000Z/-7', 'app']]);
    const { target: _target, ...personWide } = input();
    assert.deepEqual((await api.leavers({ ...personWide, since })).map((e) => [e.email, e.type]), [['dan@acme.com', 'SUSPEND_USER'], ['cat@acme.com', 'SUSPEND_USER']], 'oldest first, across pages');
  });

  it('refuses a key that is not a service account key, without showing it; and reads where the app is turned on from idpAppId', async () => {
    await assert.rejects(new GoogleWorkspaceApi().getUser(input('alice@acme.com', 'not json at all: s3cr3t')), (e: unknown) => e instanceof ConnectorConfigError && !(e as Error).message.includes('s3cr3t') && /idp\.secrets\.serviceAccountKey: is not a JSON service account key/.test((e as Error).message));
    await assert.rejects(new GoogleWorkspaceApi().getUser(input('alice@acme.com', JSON.stringify({ client_email: 'x@y' }))), /the JSON key has no client_email or private_key/);
    assert.deepEqual(samlAccess('spendesk-users@acme.com'), { kind: 'group', group: 'spendesk-users@acme.com' });
    assert.deepEqual(samlAccess('/Finance'), { kind: 'orgUnit', path: '/Finance' });
  });
});
