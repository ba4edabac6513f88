import assert from 'node:assert/strict';
import { StillAssignedError } from '../../core/errors.js';
import { createServices } from '../../core/container.js';
import { UnauthorizedError } from '../../core/http/errors.js';
import type { OperationInput } from '../../core/registry/connector-api.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { conformance } from '../support/conformance.js';
import { EntraDouble } from '../support/idp-doubles.js';

const sp = 'a1b2c3d4-0000-0000-0000-00000000spend';
const env = (d: EntraDouble) => ({ ENTRA_TENANT_ID: d.tenant, ENTRA_CLIENT_ID: d.clientId, ENTRA_CLIENT_SECRET: d.clientSecret });
const settings = (d: EntraDouble) => ({ baseUrl: `${d.url}/v1.0`, secrets: { tenantId: 'env:ENTRA_TENANT_ID', clientId: 'env:ENTRA_CLIENT_ID', clientSecret: 'env:ENTRA_CLIENT_SECRET' } });
const probe = new EntraDouble();

conformance({
  connector: 'entra-id',
  double: () => new EntraDouble().app(sp, 'Spendesk').listen(),
  settings: (d) => settings(d as EntraDouble),
  env: env(probe),
  target: { app: 'spendesk', settings: { idpAppId: sp } },
});

/** Each identity-provider operation against the Graph stand-in: done, already done, not found. */
describe('conformance: entra-id operations, each done / already done / not found', () => {
  const api = createServices().registry.api('entra-id')!;
  let graph: EntraDouble;
  let input: (email: string) => OperationInput;
  beforeEach(async () => {
    graph = await new EntraDouble(2).app(sp, 'Spendesk').listen();
    graph.seed(['alice@acme.com', 'bob@acme.com', 'carol@acme.com']);
    const secrets = new EnvironmentSecretResolver(env(graph));
    input = (email) => ({ subject: { email }, settings: settings(graph), secrets, idempotencyKey: `conf:${email}`, target: { app: 'spendesk', settings: { idpAppId: sp } } });
  });
  afterEach(() => graph.close());

  it('assignApp: done, then already done; a person not in the directory is refused by name', async () => {
    assert.equal((await api.operations.assignApp!(input('alice@acme.com'))).outcome, 'done');
    assert.deepEqual(graph.assignments.map((a) => [a.resourceId, a.appRoleId]), [[sp, '00000000-0000-0000-0000-000000000000']], 'the default access role, as the app defines none');
    assert.equal((await api.operations.assignApp!(input('alice@acme.com'))).outcome, 'alreadyDone');
    await assert.rejects(api.operations.assignApp!(input('ghost@acme.com')), /entra-id: user: no Entra ID user ghost@acme\.com to assign/);
  });

  it('unassignApp: done, then already done; nobody there is already done too', async () => {
    graph.assign(sp, ['bob@acme.com']);
    assert.equal((await api.operations.unassignApp!(input('bob@acme.com'))).outcome, 'done');
    assert.equal(graph.assignments.length, 0);
    assert.equal((await api.operations.unassignApp!(input('bob@acme.com'))).outcome, 'alreadyDone');
    assert.equal((await api.operations.unassignApp!(input('ghost@acme.com'))).outcome, 'alreadyDone');
  });

  it("access through a group: assigning is already done; unassigning removes the person's own assignment, leaves the group's and hands over to a person", async () => {
    graph.assignGroup(sp, 'group-finance', ['carol@acme.com']);
    const assigned = await api.operations.assignApp!(input('carol@acme.com'));
    assert.equal(assigned.outcome, 'alreadyDone');
    assert.match(assigned.evidence, /through group group-finance/);
    graph.assign(sp, ['carol@acme.com']);
    await assert.rejects(api.operations.unassignApp!(input('carol@acme.com')), (e: unknown) => e instanceof StillAssignedError && /carol@acme\.com still has .* through group group-finance \(the direct assignment is removed\): remove them from the group/.test((e as Error).message));
    assert.deepEqual(graph.assignments.map((a) => a.principalType), ['Group'], "the group's assignment is not touched");
  });

  it('getUser and deactivateUser: not found for a stranger', async () => {
    assert.equal((await api.operations.getUser!(input('ghost@acme.com'))).outcome, 'notFound');
    assert.equal((await api.operations.deactivateUser!(input('ghost@acme.com'))).outcome, 'notFound');
  });

  it('listAppUsers: direct assignments and the members of assigned groups, across pages', async () => {
    graph.assign(sp, ['alice@acme.com']);
    graph.assignGroup(sp, 'group-finance', ['bob@acme.com', 'carol@acme.com']);
    const result = await api.operations.listAppUsers!(input(''));
    assert.equal(result.outcome, 'done');
    assert.deepEqual(result.outcome === 'done' && result.accounts!.map((a) => a.email).sort(), ['alice@acme.com', 'bob@acme.com', 'carol@acme.com']);
  });

  it('findSignIn: done for a successful sign-in to the app, not found for a failed one', async () => {
    graph.signIn('alice@acme.com', `app-${sp}`, new Date().toISOString(), 50126);
    assert.equal((await api.operations.findSignIn!({ ...input('alice@acme.com'), since: Date.now() - 60_000 })).outcome, 'notFound');
    graph.signIn('alice@acme.com', `app-${sp}`);
    assert.equal((await api.operations.findSignIn!({ ...input('alice@acme.com'), since: Date.now() - 60_000 })).outcome, 'done');
  });

  it('waits as long as a 503 says in Retry-After, then succeeds', async () => {
    graph.unavailableNext(1);
    const started = Date.now();
    assert.equal((await api.operations.getUser!(input('alice@acme.com'))).outcome, 'done');
    assert.ok(Date.now() - started >= 950, 'waited the second it was told');
  });

  it('a refused client secret is an UnauthorizedError that shows neither the secret nor the token', async () => {
    const wrong = { ...input('alice@acme.com'), secrets: new EnvironmentSecretResolver({ ...env(graph), ENTRA_CLIENT_SECRET: 'not-the-secret' }) };
    await assert.rejects(api.operations.getUser!({ ...wrong, settings: { ...wrong.settings, baseUrl: `${graph.url}/v1.0/` } }), (e: unknown) => e instanceof UnauthorizedError && !`${(e as Error).message}${(e as Error).stack}`.includes('not-the-secret'));
  });
});
