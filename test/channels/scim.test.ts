import assert from 'node:assert/strict';
import { ScimClient } from '../../core/channels/scim/client.js';
import { ConnectorConfigError } from '../../core/errors.js';
import type { StartResult } from '../../core/engine/port.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { harness } from '../support/runtime.js';
import { ScimServer } from '../support/scim-server.js';

const secrets = new EnvironmentSecretResolver({ SCIM_TOKEN: 'scim-token' });
/** Waits pass at once: the clock jumps instead. */
const noWait = (() => {
  let t = 0;
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
})();

async function server(options: ConstructorParameters<typeof ScimServer>[0] = {}): Promise<{ scim: ScimServer; client: ScimClient; url: string }> {
  const scim = new ScimServer(options);
  const url = await scim.listen();
  after(() => scim.close());
  return { scim, url, client: new ScimClient('scim', { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' } }, secrets, { clock: noWait }) };
}

describe('SCIM channel', () => {
  it('reads what the server supports from /ServiceProviderConfig, and its Users from /ResourceTypes and /Schemas', async () => {
    const { client, scim } = await server({ patch: false, maxResults: 50 });
    assert.deepEqual(await client.discover(), {
      patch: false,
      filter: true,
      bulk: false,
      maxResults: 50,
      serviceProviderConfig: true,
      usersEndpoint: 'Users',
      userExtensions: [{ schema: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', required: false }],
      userName: { caseExact: false, uniqueness: 'server' },
      notes: [],
    });
    await client.discover();
    assert.deepEqual(scim.log, ['GET /ServiceProviderConfig', 'GET /ResourceTypes', 'GET /Schemas'], 'read once');
  });

  it('lists every user across pages with startIndex and count, no duplicates, no gaps', async () => {
    const { scim, client } = await server({ maxResults: 40 });
    scim.seed(250);
    const result = await client.listUsers();
    const names = result.outcome === 'done' ? result.accounts!.map((a) => a.email) : [];
    assert.equal(names.length, 250);
    assert.equal(new Set(names).size, 250);
    assert.ok(scim.log.filter((l) => l.startsWith('GET /Users?')).every((l) => /count=40/.test(l)), 'pages no larger than maxResults');
  });

  it('finds a user with filter userName eq, or by reading the list when the server cannot filter', async () => {
    for (const filter of [true, false]) {
      const { scim, client } = await server({ filter });
      scim.seed(3);
      scim.add('Alice@Acme.com');
      const found = await client.getUser('alice@acme.com');
      assert.equal(found.outcome, 'done', `filter ${filter}`);
      assert.equal(scim.log.some((l) => l.includes('filter=')), filter);
    }
  });

  it('deactivates with PATCH active=false, and a second time is already done', async () => {
    const { scim, client } = await server();
    const alice = scim.add('alice@acme.com');
    assert.equal((await client.deactivateUser('alice@acme.com')).outcome, 'done');
    assert.equal(alice.active, false);
    assert.ok(scim.log.includes(`PATCH /Users/${alice.id}`));
    assert.equal((await client.deactivateUser('alice@acme.com')).outcome, 'alreadyDone');
    assert.equal((await client.deactivateUser('nobody@acme.com')).outcome, 'notFound');
  });

  it('falls back to PUT when the server does not support PATCH', async () => {
    const { scim, client } = await server({ patch: false });
    const bob = scim.add('bob@acme.com');
    await client.deactivateUser('bob@acme.com');
    assert.equal(bob.active, false);
    assert.ok(scim.log.includes(`PUT /Users/${bob.id}`));
  });

  it('creates once, updates, deletes, and manages group membership idempotently', async () => {
    const { scim, client } = await server();
    assert.equal((await client.createUser({ email: 'cid@acme.com', firstName: 'Cid' })).outcome, 'done');
    assert.equal((await client.createUser({ email: 'cid@acme.com' })).outcome, 'alreadyDone');
    assert.equal((await client.updateUser({ email: 'cid@acme.com', lastName: 'Moreau' })).outcome, 'done');
    const cid = [...scim.users.values()].find((u) => u.userName === 'cid@acme.com')!;
    assert.equal(cid.name?.familyName, 'Moreau');
    scim.groups.set('g1', { id: 'g1', displayName: 'Sales', members: [] });
    assert.equal((await client.addToGroup('g1', 'cid@acme.com')).outcome, 'done');
    assert.equal((await client.addToGroup('g1', 'cid@acme.com')).outcome, 'alreadyDone');
    assert.equal((await client.removeFromGroup('g1', 'cid@acme.com')).outcome, 'done');
    assert.deepEqual(scim.groups.get('g1')!.members, []);
    assert.equal((await client.deleteUser('cid@acme.com')).outcome, 'done');
    assert.equal(scim.users.size, 0);
  });

  it('honours a 429 and goes on', async () => {
    const { scim, client } = await server({ rateLimitOn: [2] });
    scim.add('dee@acme.com');
    assert.equal((await client.getUser('dee@acme.com')).outcome, 'done');
    assert.equal(client.rateLimited, 1);
  });

  it('refuses bad configuration by name', () => {
    assert.throws(() => new ScimClient('scim', { secrets: { token: 'env:SCIM_TOKEN' } }, secrets), (e: unknown) => e instanceof ConnectorConfigError && /apps\.scim\.baseUrl: the SCIM base URL is not in the tenant profile/.test(e.message));
    assert.throws(() => new ScimClient('scim', { baseUrl: 'ftp://x' }, secrets), /apps\.scim\.baseUrl: 'ftp:\/\/x' is not an http\(s\) URL/);
    assert.throws(() => new ScimClient('scim', { baseUrl: 'https://x.example/scim' }, secrets), /apps\.scim\.secrets\.token: no reference to the SCIM bearer token/);
  });

  it('offboards a SCIM app end to end in a run: unassign in the IdP (a person), deactivate over SCIM, verify', async () => {
    const scim = new ScimServer();
    const url = await scim.listen();
    after(() => scim.close());
    const alice = scim.add('alice@acme.com');
    const h = await harness({ env: { SCIM_TOKEN: 'scim-token' }, tweak: (p) => (p.apps.scim = { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' }, queue: 'it-ops' }) });
    const [{ run }] = (await h.start('offboard', 'alice@acme.com', { app: 'scim' })) as [StartResult];
    await h.completeNext(run.id);
    const finished = await h.run(run.id);
    assert.equal(finished.outcome, 'done', JSON.stringify((await h.runtime.runs.timeline(run.id)).steps.map((s) => [s.stepId, s.status, s.detail])));
    assert.equal(alice.active, false);
    const steps = (await h.runtime.runs.timeline(run.id)).steps;
    assert.deepEqual(steps.map((s) => [s.stepId, s.channel, s.status]), [
      ['okta-unassign-app', 'human', 'done'],
      ['scim-check', 'scim', 'done'],
      ['scim-deactivate-user', 'scim', 'done'],
      ['scim-verify', 'scim', 'done'],
    ]);
  });
});
