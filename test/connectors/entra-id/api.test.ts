import assert from 'node:assert/strict';
import nock from 'nock';
import { EntraIdApi, tenantTokenUrl } from '../../../connectors/entra-id/api.js';
import { ConnectorConfigError } from '../../../core/errors.js';
import { UnauthorizedError } from '../../../core/http/errors.js';
import type { OperationInput } from '../../../core/registry/connector-api.js';
import { EnvironmentSecretResolver } from '../../../core/tenant/secrets.js';
import { mockVendors } from '../../support/vendor-mock.js';

const graph = 'https://graph.microsoft.com';
const login = 'https://login.microsoftonline.com';
const tenant = 'contoso.onmicrosoft.com';
const sp = '7f3a2c1e-1111-2222-3333-444455556666';
const secret = 'Q~client-secret-value';
const secrets = new EnvironmentSecretResolver({ AZURE_TENANT_ID: tenant, AZURE_CLIENT_ID: 'client-1', AZURE_CLIENT_SECRET: secret });
const input = (email = 'alice@contoso.com', idpAppId = sp): OperationInput => ({
  subject: { email },
  settings: { secrets: { tenantId: 'env:AZURE_TENANT_ID', clientId: 'env:AZURE_CLIENT_ID', clientSecret: 'env:AZURE_CLIENT_SECRET' } },
  secrets,
  idempotencyKey: 'run-1:entra-id-unassign-app',
  target: { app: 'spendesk', settings: { idpAppId } },
});
const user = (n: number, enabled = true) => ({ id: `u-${n}`, displayName: `User ${n}`, mail: `u${n}@contoso.com`, userPrincipalName: `u${n}@contoso.com`, accountEnabled: enabled });
const fastClock = () => {
  let t = Date.UTC(2026, 10, 30, 12);
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
};
/** The documented token exchange: form-encoded client credentials with the .default scope. */
const token = () =>
  nock(login)
    .post(`/${tenant}/oauth2/v2.0/token`, (body: Record<string, string>) => body.grant_type === 'client_credentials' && body.client_id === 'client-1' && body.client_secret === secret && body.scope === 'https://graph.microsoft.com/.default')
    .reply(200, { token_type: 'Bearer', expires_in: 3599, access_token: 'eyJ0eXAi.graph' });

describe('Entra ID connector (Microsoft Graph v1.0)', () => {
  mockVendors();

  it('gets a token from the tenant, then lists users across pages by following @odata.nextLink', async () => {
    token();
    const scope = nock(graph, { reqheaders: { authorization: 'Bearer eyJ0eXAi.graph' } })
      .get('/v1.0/users').query({ $select: 'id,displayName,mail,userPrincipalName,accountEnabled', $top: 999 })
      .reply(200, { value: [user(1), user(2)], '@odata.nextLink': `${graph}/v1.0/users?$select=id&$top=999&$skiptoken=X1` })
      .get('/v1.0/users').query({ $select: 'id', $top: 999, $skiptoken: 'X1' })
      .reply(200, { value: [user(3, false)], '@odata.nextLink': `${graph}/v1.0/users?$skiptoken=X2` })
      .get('/v1.0/users').query({ $skiptoken: 'X2' })
      .reply(200, { value: [{ ...user(4), mail: null }] });
    const result = await new EntraIdApi().listUsers(input());
    assert.deepEqual(result.outcome === 'done' && result.accounts!.map((a) => [a.email, a.active]), [['u1@contoso.com', true], ['u2@contoso.com', true], ['u3@contoso.com', false], ['u4@contoso.com', true]]);
    scope.done();
  });

  it('waits as long as Retry-After says after a 429, and finds a person by mail or userPrincipalName (quotes doubled)', async () => {
    token();
    const clock = fastClock();
    nock(graph)
      .get('/v1.0/users').query(true).reply(429, { error: { code: 'TooManyRequests', message: 'Too many requests' } }, { 'retry-after': '7' })
      .get('/v1.0/users').query((q) => q.$filter === "mail eq 'o''brien@contoso.com' or userPrincipalName eq 'o''brien@contoso.com'")
      .reply(200, { value: [{ ...user(9), mail: "o'brien@contoso.com" }] });
    const result = await new EntraIdApi({ clock }).getUser(input("o'brien@contoso.com"));
    assert.equal(result.outcome, 'done');
    assert.deepEqual(clock.slept, [7_000]);
  });

  it("shows Graph's error code and message in the typed error", async () => {
    token();
    nock(graph).get('/v1.0/users').query(true).reply(403, { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.', innerError: { 'request-id': 'r1' } } });
    await assert.rejects(new EntraIdApi().getUser(input()), (e: unknown) => e instanceof UnauthorizedError && e.message === 'entra-id: GET /v1.0/users: HTTP 403 (Authorization_RequestDenied: Insufficient privileges to complete the operation.)');
  });

  it('disables once; a disabled user is already done', async () => {
    token();
    nock(graph)
      .get('/v1.0/users').query(true).reply(200, { value: [user(1)] })
      .patch('/v1.0/users/u-1', { accountEnabled: false }).reply(204)
      .get('/v1.0/users').query(true).reply(200, { value: [user(1, false)] });
    const api = new EntraIdApi();
    assert.equal((await api.deactivateUser(input('u1@contoso.com'))).outcome, 'done');
    assert.equal((await api.deactivateUser(input('u1@contoso.com'))).outcome, 'alreadyDone');
  });

  it('assigns the one user role the app defines; several roles without a choice are refused, naming them', async () => {
    token();
    nock(graph)
      .get(`/v1.0/servicePrincipals/${sp}`).query(true).reply(200, { id: sp, appId: 'app-1', displayName: 'Spendesk', appRoles: [{ id: 'role-user', value: 'User', isEnabled: true, allowedMemberTypes: ['User'] }, { id: 'role-app', value: 'Sync', isEnabled: true, allowedMemberTypes: ['Application'] }] })
      .get('/v1.0/users').query(true).reply(200, { value: [user(1)] })
      .get('/v1.0/users/u-1/appRoleAssignments').query({ $filter: `resourceId eq ${sp}` }).reply(200, { value: [] })
      .post(`/v1.0/servicePrincipals/${sp}/appRoleAssignedTo`, { principalId: 'u-1', resourceId: sp, appRoleId: 'role-user' }).reply(201, { id: 'asg-1' })
      .get(`/v1.0/servicePrincipals/${sp}`).query(true).reply(200, { id: sp, appId: 'app-1', appRoles: [{ id: 'r1', value: 'Admin', allowedMemberTypes: ['User'] }, { id: 'r2', value: 'Viewer', allowedMemberTypes: ['User'] }] })
      .get('/v1.0/users').query(true).reply(200, { value: [user(2)] })
      .get('/v1.0/users/u-2/appRoleAssignments').query(true).reply(200, { value: [] });
    const api = new EntraIdApi();
    assert.equal((await api.assignApp(input('u1@contoso.com'))).outcome, 'done');
    await assert.rejects(api.assignApp(input('u2@contoso.com')), (e: unknown) => e instanceof ConnectorConfigError && /2 app roles \(Admin, Viewer\): name one as <servicePrincipalId>\/<appRoleId>/.test((e as Error).message));
  });

  it('reads leavers from the directory audit log: removals from this app; disabled, deleted (the id prefix dropped) and accountEnabled-false users; not failures or other changes', async () => {
    token();
    const audit = (id: string, activity: string, targets: object[], result = 'success') => ({ id, activityDateTime: `2026-11-30T0${id.slice(-1)}:00:00Z`, activityDisplayName: activity, result, targetResources: targets });
    const u = (upn: string, modifiedProperties: object[] = []) => ({ id: 'x', type: 'User', userPrincipalName: upn, modifiedProperties });
    nock(graph)
      .get('/v1.0/auditLogs/directoryAudits').query((q) => q.$filter === "activityDisplayName eq 'Remove app role assignment from user' and activityDateTime ge 2026-11-30T00:00:00.000Z")
      .reply(200, { value: [audit('a1', 'Remove app role assignment from user', [{ id: sp, type: 'ServicePrincipal' }, u('ann@contoso.com')]), audit('a2', 'Remove app role assignment from user', [{ id: 'other-sp', type: 'ServicePrincipal' }, u('ben@contoso.com')])] })
      .get('/v1.0/auditLogs/directoryAudits').query((q) => String(q.$filter).startsWith("activityDisplayName eq 'Disable account'"))
      .reply(200, { value: [audit('d3', 'Disable account', [u('cat@contoso.com')]), audit('d4', 'Disable account', [u('dan@contoso.com')], 'failure')] })
      .get('/v1.0/auditLogs/directoryAudits').query((q) => String(q.$filter).startsWith("activityDisplayName eq 'Delete user'"))
      .reply(200, { value: [audit('x5', 'Delete user', [u('0a1b2c3d4e5f60718293a4b5c6d7e8f9eve@contoso.com')])] })
      .get('/v1.0/auditLogs/directoryAudits').query((q) => String(q.$filter).startsWith("activityDisplayName eq 'Update user'"))
      .reply(200, { value: [audit('u6', 'Update user', [u('fay@contoso.com', [{ displayName: 'AccountEnabled', oldValue: '[true]', newValue: '[false]' }])]), audit('u7', 'Update user', [u('gus@contoso.com', [{ displayName: 'DisplayName', newValue: '["Gus"]' }])])] });
    const api = new EntraIdApi();
    const since = Date.UTC(2026, 10, 30);
    assert.deepEqual((await api.leavers({ ...input(), since })).map((e) => [e.email, e.id, e.scope]), [['ann@contoso.com', 'a1', 'app']]);
    const { target: _target, ...personWide } = input();
    assert.deepEqual((await api.leavers({ ...personWide, since })).map((e) => [e.email, e.type, e.scope]), [
      ['cat@contoso.com', 'Disable account', 'person'],
      ['eve@contoso.com', 'Delete user', 'person'],
      ['fay@contoso.com', 'Update user', 'person'],
    ]);
  });

  it('gets tokens from the login host of the Graph cloud it talks to, or from a stand-in\'s own origin', () => {
    assert.equal(tenantTokenUrl('https://graph.microsoft.com/v1.0')(tenant), `${login}/${tenant}/oauth2/v2.0/token`);
    assert.equal(tenantTokenUrl('https://graph.microsoft.us/v1.0')('t'), 'https://login.microsoftonline.us/t/oauth2/v2.0/token');
    assert.equal(tenantTokenUrl('http://127.0.0.1:9/v1.0')('t'), 'http://127.0.0.1:9/t/oauth2/v2.0/token');
  });

  it('refuses bad configuration by name: no enterprise app id, a missing secret reference, a refused secret not shown', async () => {
    const api = new EntraIdApi();
    await assert.rejects(api.unassignApp({ ...input(), target: { app: 'spendesk', settings: {} } }), /entra-id: apps\.spendesk\.idpAppId: the object id of the app's enterprise app \(service principal\) in Entra ID is not in the tenant profile/);
    await assert.rejects(api.getUser({ ...input(), settings: { secrets: { tenantId: 'env:AZURE_TENANT_ID' } } }), /entra-id: idp\.secrets\.clientId: no secret reference/);
    nock(login).post(`/${tenant}/oauth2/v2.0/token`).reply(401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
    await assert.rejects(api.getUser(input()), (e: unknown) => e instanceof UnauthorizedError && !`${(e as Error).message}${(e as Error).stack}`.includes(secret));
  });
});
