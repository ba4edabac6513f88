import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import { ScimClient } from '../../../core/channels/scim/client.js';
import { ScimError } from '../../../core/channels/scim/errors.js';
import { readScimList } from '../../../core/channels/scim/paging.js';
import { scimBoolean } from '../../../core/channels/scim/values.js';
import { reconcile } from '../../../core/reconcile/findings.js';
import { readAppByScim } from '../../../core/reconcile/readers.js';
import type { Snapshot } from '../../../core/reconcile/snapshot.js';
import { DefaultConnectorRegistry } from '../../../core/registry/registry.js';
import type { TenantProfile } from '../../../core/schema/types/tenant-profile.js';
import { EnvironmentSecretResolver } from '../../../core/tenant/secrets.js';
import { createServices } from '../../../core/container.js';
import { ScimServer, type ScimServerOptions } from '../../support/scim-server.js';

const secrets = new EnvironmentSecretResolver({ SCIM_TOKEN: 'scim-token' });
const enterprise = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const noWait = () => {
  let t = Date.UTC(2026, 10, 30, 10, 42);
  return { now: () => t, sleep: async (ms: number) => void (t += ms) };
};

async function stand(options: ScimServerOptions = {}): Promise<{ scim: ScimServer; client: ScimClient; url: string }> {
  const scim = new ScimServer(options);
  const url = await scim.listen();
  after(() => scim.close());
  return { scim, url, client: new ScimClient('scim', { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' } }, secrets, { clock: noWait() }) };
}

const services = createServices({ secrets });
const registry = services.registry as DefaultConnectorRegistry;
const profileFor = (url: string): TenantProfile => ({ tenant: 'acme', apps: { scim: { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' } } } }) as TenantProfile;
const idpOf = (...emails: string[]): Snapshot => ({ side: 'idp', app: 'scim', source: { kind: 'file', name: 'idp.csv', readAt: 0 }, accounts: emails.map((email) => ({ email, active: true })), completeness: { complete: true, reasons: [] } });
const names = (accounts: readonly { email?: string }[]) => accounts.map((a) => a.email).sort();

describe('SCIM client by kind: what real servers do', () => {
  describe('a server without /ServiceProviderConfig (case 7)', () => {
    it('works with safe defaults (no filter, no PATCH), said once in the discovery notes and in the read', async () => {
      const { scim, client, url } = await stand({ quirks: { noServiceProviderConfig: true, noDiscoveryEndpoints: true } });
      scim.add('ann.demo@example.test');
      const ben = scim.add('ben.demo@example.test');
      const config = await client.discover();
      assert.deepEqual([config.patch, config.filter, config.bulk, config.serviceProviderConfig], [false, false, false, false]);
      assert.match(config.notes[0]!, /^no \/ServiceProviderConfig \(HTTP 404\): assuming no filter, no PATCH and no bulk/);
      const found = await client.getUser('ben.demo@example.test');
      assert.equal(found.outcome, 'done');
      const snapshot = await readAppByScim(registry, profileFor(url), 'scim', secrets, 0);
      assert.deepEqual(names(snapshot.accounts), ['ann.demo@example.test', 'ben.demo@example.test']);
      assert.equal(snapshot.completeness.complete, true);
      assert.match(snapshot.source.name, /no \/ServiceProviderConfig \(HTTP 404\)/);
      assert.equal((await client.deactivateUser('ben.demo@example.test')).outcome, 'done');
      assert.equal(ben.active, false);
      assert.ok(!scim.log.some((l) => l.includes('filter=') || l.startsWith('PATCH')), `no filter and no PATCH: ${scim.log.join(', ')}`);
      assert.ok(scim.log.includes(`PUT /Users/${ben.id}`));
      assert.equal(scim.log.filter((l) => l === 'GET /ServiceProviderConfig').length, 2, 'asked once by each client: the channel\'s and the reader\'s');
    });
  });

  describe('booleans as IdPs and apps send them (case 8)', () => {
    it('reads active 0 and "False" as inactive: 0 findings; deactivating says already done without a write', async () => {
      const spelled = new Map<string, unknown>([['ann.demo@example.test', true], ['ben.demo@example.test', 0], ['cara.demo@example.test', 'False']]);
      const { scim, client, url } = await stand({ quirks: { activeAs: (a) => (a ? true : 'inactive') } });
      for (const [email, active] of spelled) scim.add(email, scimBoolean(active) ?? true);
      // The stand-in spells each user's `active` its own way.
      (scim as unknown as { wire: (u: { userName: string }) => Record<string, unknown> }).wire = (u) => ({ ...u, active: spelled.get(u.userName) });
      const app = await readAppByScim(registry, profileFor(url), 'scim', secrets, 0);
      assert.deepEqual(app.accounts.map((a) => [a.email, a.active]), [['ann.demo@example.test', true], ['ben.demo@example.test', false], ['cara.demo@example.test', false]]);
      assert.deepEqual(reconcile(idpOf('ann.demo@example.test'), app, { now: 0 }).findings, []);
      scim.log.length = 0;
      const cara = await client.deactivateUser('cara.demo@example.test');
      assert.equal(cara.outcome, 'alreadyDone');
      assert.match(cara.evidence, /already inactive \(active: "False"\)/);
      assert.ok(scim.log.every((l) => l.startsWith('GET')), `no write: ${scim.log.join(', ')}`);
    });

    it('coerces every spelling: "TRUE", "true", 1, "1" active; "false", "0", 0, false inactive; anything else is not taken for inactive', () => {
      for (const v of [true, 'True', 'TRUE', 'true', ' true ', 1, '1']) assert.equal(scimBoolean(v), true, JSON.stringify(v));
      for (const v of [false, 'False', 'FALSE', 'false', 0, '0']) assert.equal(scimBoolean(v), false, JSON.stringify(v));
      for (const v of ['maybe', 2, null, undefined, {}]) assert.equal(scimBoolean(v), undefined, JSON.stringify(v));
    });

    it('a user sent with active "TRUE" is active and gets deactivated', async () => {
      const { scim, client } = await stand({ quirks: { activeAs: (a) => (a ? 'TRUE' : 'FALSE') } });
      const dee = scim.add('dee@acme.com');
      const result = await client.deactivateUser('dee@acme.com');
      assert.equal(result.outcome, 'done');
      assert.equal(dee.active, false);
      assert.equal((await client.deactivateUser('dee@acme.com')).outcome, 'alreadyDone', 'read back as "FALSE": already done');
    });
  });

  describe('paging by kind', () => {
    it('detects a 0-based startIndex and reads all 3 of totalResults 3 (case 9)', async () => {
      const { scim, url } = await stand({ maxResults: 2, quirks: { zeroBasedStartIndex: true } });
      for (const n of ['ann', 'ben', 'cara']) scim.add(`${n}.demo@example.test`);
      const app = await readAppByScim(registry, profileFor(url), 'scim', secrets, 0);
      assert.deepEqual(names(app.accounts), ['ann.demo@example.test', 'ben.demo@example.test', 'cara.demo@example.test']);
      assert.deepEqual(app.completeness, { complete: true, reasons: [] });
      assert.match(app.source.name, /startIndex is 0-based/);
      assert.deepEqual(reconcile(idpOf('ann.demo@example.test', 'ben.demo@example.test', 'cara.demo@example.test'), app, { now: 0 }).findings, [], 'no false "assigned but missing"');
    });

    it('stops a server that ignores startIndex (count honoured) at the first page without progress, with a clear reason (case 11)', async () => {
      const { scim, url } = await stand({ maxResults: 2, quirks: { ignoreStartIndex: true } });
      for (const n of ['ann', 'ben', 'cara', 'dev', 'eli']) scim.add(`${n}.demo@example.test`);
      const started = Date.now();
      const app = await readAppByScim(registry, profileFor(url), 'scim', secrets, 0);
      assert.ok(Date.now() - started < 5_000);
      const lists = scim.log.filter((l) => l.startsWith('GET /Users?'));
      assert.deepEqual(lists, ['GET /Users?startIndex=1&count=2', 'GET /Users?startIndex=3&count=2'], 'two requests, not 29,863');
      assert.equal(app.completeness.complete, false);
      assert.equal(app.source.name, `SCIM Users at ${url}`, 'the page without progress is the fault, not repeats removed');
      assert.equal(app.completeness.reasons.length, 1);
      assert.match(app.completeness.reasons[0]!, /^stopped: the page at startIndex=3 \(count=2\) brought no resource not already read, so the server at http:\/\/127\.0\.0\.1:\d+\/scim\/v2\/Users ignores startIndex; read 2 of totalResults 5 in 2 requests$/);
    });

    it('removes users repeated across pages by id and is complete when every id of totalResults was read', async () => {
      const { scim, client } = await stand({ maxResults: 2, quirks: { repeatAcrossPages: true } });
      scim.seed(5);
      const listing = await client.readAll();
      assert.equal(listing.resources.length, 5);
      assert.equal(new Set(listing.resources.map((u) => u.id)).size, 5);
      assert.equal(listing.completeness.complete, true);
      assert.ok(listing.notes.some((n) => /resources repeated across pages were read once \(by id\)/.test(n)), listing.notes.join('; '));
    });

    it('reads a list again once when totalResults changed while it was read; complete when it held still the second time', async () => {
      const { scim, client } = await stand({ maxResults: 2, quirks: { onList: (s, n) => void (n === 2 && s.add('late@acme.com')) } });
      scim.seed(3);
      const listing = await client.readAll();
      assert.equal(listing.resources.length, 4);
      assert.equal(listing.completeness.complete, true);
      assert.ok(listing.notes.some((n) => /totalResults changed while the list was read \(3 → 4\): read it again, it held still at 4/.test(n)), listing.notes.join('; '));
    });

    it('reports a list that keeps changing as incomplete after one re-read', async () => {
      let k = 0;
      const { scim, client } = await stand({ maxResults: 2, quirks: { onList: (s) => void s.add(`new${++k}@acme.com`) } });
      scim.seed(3);
      const listing = await client.readAll();
      assert.equal(listing.completeness.complete, false);
      assert.match(listing.completeness.reasons[0]!, /totalResults changed while the list was read \(.+\), and again when it was read a second time \(.+\): the list is moving/);
    });

    it('reports a list that ends short of totalResults as incomplete, naming where', async () => {
      const listing = await readScimList<{ id: string }>(
        async (start) => ({ totalResults: 5, Resources: start === 1 ? [{ id: 'a' }, { id: 'b' }, { id: 'c' }] : [] }),
        { count: 3, where: 'https://scim.example/Users', keyOf: (u) => u.id },
      );
      assert.equal(listing.resources.length, 3);
      assert.deepEqual(listing.completeness, { complete: false, reasons: ['ended at 3 of totalResults 5 at https://scim.example/Users (an empty page at startIndex=4)'] });
    });

    it('is never sure of a list without totalResults', async () => {
      const listing = await readScimList<{ id: string }>(async (start) => ({ Resources: start === 1 ? [{ id: 'a' }] : [] }), { count: 1, where: 'x', keyOf: (u) => u.id });
      assert.equal(listing.completeness.complete, false);
      assert.match(listing.completeness.reasons[0]!, /gave no totalResults/);
    });
  });

  describe('PUT and errors (case 12)', () => {
    it('PUT keeps every schema URN and extension attribute of the user, on a server without PATCH that checks them', async () => {
      const { scim, client } = await stand({ patch: false, quirks: { checkExtensionSchemas: true } });
      const ann = scim.add('ann.demo@example.test', true, {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', enterprise],
        name: { givenName: 'Ann', familyName: 'Demo' },
        [enterprise]: { employeeNumber: 'E-0001', department: 'Finance', manager: { value: 'u9' } },
      });
      const result = await client.deactivateUser('ann.demo@example.test');
      assert.equal(result.outcome, 'done', result.evidence);
      assert.equal(ann.active, false);
      assert.deepEqual(ann.schemas, ['urn:ietf:params:scim:schemas:core:2.0:User', enterprise]);
      assert.deepEqual(ann[enterprise], { employeeNumber: 'E-0001', department: 'Finance', manager: { value: 'u9' } });
    });

    it('does not trust a PATCH claim it can check: a 501 to PATCH falls back to PUT', async () => {
      const { scim, client } = await stand({ patch: false, quirks: { claimsPatch: true } });
      const cy = scim.add('cy@acme.com');
      const result = await client.deactivateUser('cy@acme.com');
      assert.equal(result.outcome, 'done');
      assert.match(result.evidence, /by PUT \(its PATCH answered 501\)/);
      assert.equal(cy.active, false);
      assert.deepEqual(scim.log.filter((l) => !l.startsWith('GET')), [`PATCH /Users/${cy.id}`, `PUT /Users/${cy.id}`]);
    });

    it('adds to schemas an extension the server sent without listing it', async () => {
      const { scim, client } = await stand({ patch: false, quirks: { checkExtensionSchemas: true } });
      const bo = scim.add('bo@acme.com', true, { [enterprise]: { department: 'Ops' } });
      assert.equal((await client.deactivateUser('bo@acme.com')).outcome, 'done');
      assert.deepEqual(bo.schemas, ['urn:ietf:params:scim:schemas:core:2.0:User', enterprise]);
    });

    it("every SCIM error shows the server's status, scimType and detail", async () => {
      const server: Server = createServer((req, res) => {
        res.setHeader('content-type', 'application/scim+json');
        if (req.url === '/scim/v2/ServiceProviderConfig') return void res.end(JSON.stringify({ patch: { supported: true }, filter: { supported: true } }));
        if (req.url?.startsWith('/scim/v2/Users?')) return void res.end(JSON.stringify({ totalResults: 1, Resources: [{ id: 'u1', userName: 'ann@acme.com', active: true }] }));
        if (req.method === 'PATCH') {
          res.statusCode = 400;
          return void res.end(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'mutability', detail: 'active is read-only for users provisioned by the HR feed' }));
        }
        res.statusCode = 404;
        res.end(JSON.stringify({ status: '404', detail: 'Not found' }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      after(() => new Promise((resolve) => server.close(resolve)));
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/scim/v2`;
      const client = new ScimClient('scim', { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' } }, secrets, { clock: noWait() });
      const error = await client.deactivateUser('ann@acme.com').then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof ScimError, String(error));
      assert.equal(error.status, 400);
      assert.equal(error.scimType, 'mutability');
      assert.equal(error.message, 'scim: PATCH /scim/v2/Users/u1: HTTP 400 (scimType mutability: active is read-only for users provisioned by the HR feed)');
      assert.ok(!error.message.includes('scim-token'));
    });
  });
});
