import assert from 'node:assert/strict';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { declarativeApi } from '../../../core/channels/api/declarative.js';
import { interpret } from '../../../core/channels/outcome.js';
import { runConformance } from '../../../core/conformance/kit.js';
import { DefaultConnectorRegistry } from '../../../core/registry/registry.js';
import { AccountIdentityError } from '../../../core/errors.js';
import { UnauthorizedError } from '../../../core/http/errors.js';
import { FileManifestLoader } from '../../../core/manifest/loader.js';
import { AjvSchemaValidator } from '../../../core/schema/validator.js';
import { writeTallyboard } from '../../connectors-as-data/tallyboard.js';
import { caughtAsync, editJson, scratchDir } from '../../support/fixtures.js';
import { type Recorded, json, serve } from '../../support/http-server.js';

const loader = new FileManifestLoader(new AjvSchemaValidator());
const key = 'key-s3cr3t-0001';
const secrets = { resolve: (ref: string) => (ref === 'env:TALLY_KEY' ? key : 'token-s3cr3t-0002') } as never;

/**
 * Tallyboard declared the way a Harvest user wrote it: getUser reads the whole user list (no email
 * filter on the vendor's side) with `items` and a next-link `page`, and deactivateUser binds the id
 * of the record getUser read. `auth` replaces the surface's auth methods.
 */
function harvestShaped(auth?: unknown) {
  const dir = writeTallyboard(scratchDir());
  editJson(path.join(dir, 'manifest.json'), (m) => {
    const get = m.operations.getUser.channels[0].call;
    delete get.query;
    delete get.params;
    get.items = '/data';
    get.page = { style: 'next-link', items: '/data', next: '/links/next' };
    if (auth) m.surfaces.rest.auth.value = [auth];
  });
  return declarativeApi(loader.load(dir))!;
}

type Person = { id: number; email: string; status: string };

/** A vendor on 127.0.0.1 whose user list comes in pages with an absolute next link; `check` may refuse a request. */
async function vendor(pages: Person[][], check: (req: Recorded, res: ServerResponse) => boolean = () => true, nextOrigin?: () => string) {
  const server = await serve((req, res) => {
    if (!check(req, res)) return;
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/api/v1/users') {
      const page = Number(url.searchParams.get('page') ?? 1);
      const next = page < pages.length ? `${nextOrigin?.() ?? server.url}/api/v1/users?page=${page + 1}` : null;
      return void json(res, 200, { data: pages[page - 1] ?? [], links: { next } });
    }
    if (req.method === 'POST' && /^\/api\/v1\/users\/\d+\/deactivate$/.test(url.pathname)) return void json(res, 200, {});
    json(res, 404, {});
  });
  return server;
}

const input = (baseUrl: string, email: string, more: Record<string, unknown> = {}) => ({
  subject: { email },
  settings: { baseUrl, secrets: { apiToken: 'env:TALLY_TOKEN', apiKey: 'env:TALLY_KEY' }, ...more },
  secrets,
  idempotencyKey: 'run-1:step-1',
});

describe('api channel: a declared read acts only on the person whose email it is', function () {
  this.timeout(30_000);
  const others = [{ id: 1, email: 'user1@acme.com', status: 'active' }, { id: 2, email: 'user2@acme.com', status: 'active' }];

  it('finds the person on page 2 of a list with other people first, and deactivates that id only', async () => {
    const server = await vendor([others, [{ id: 9, email: ' User9@ACME.com', status: 'active' }]]);
    const api = harvestShaped();
    const read = await api.operations.getUser!(input(server.url, 'user9@acme.com'));
    assert.equal(read.outcome, 'done');
    assert.deepEqual((read as { accounts?: { id: string }[] }).accounts?.map((a) => a.id), ['9']);
    const write = await api.operations.deactivateUser!(input(server.url, 'user9@acme.com'));
    assert.equal(write.outcome, 'done', write.evidence);
    const writes = server.requests.filter((r) => r.method === 'POST').map((r) => r.url);
    assert.deepEqual(writes, ['/api/v1/users/9/deactivate']);
  });

  it('says not found, with a proof of a complete scan, when no record in the whole list has the email', async () => {
    const server = await vendor([others, [{ id: 3, email: 'user3@acme.com', status: 'active' }]]);
    const result = await harvestShaped().operations.deactivateUser!(input(server.url, 'user9@acme.com'));
    assert.equal(result.outcome, 'notFound');
    assert.equal(result.proof?.method, 'scan');
    assert.equal(result.proof?.complete, true);
    assert.equal(result.proof?.accountsScanned, 3);
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('cannot prove absence when paging is cut (a next link that repeats a page): never a proven "not found"', async () => {
    const server = await serve((req, res) => void json(res, 200, { data: others, links: { next: `${server.url}/api/v1/users` } }));
    const result = await harvestShaped().operations.getUser!(input(server.url, 'user9@acme.com'));
    assert.equal(result.proof?.complete, false);
    assert.match(result.evidence, /could not prove absence of user9@acme\.com: the list was not read to its end/);
  });

  it('refuses, writing nothing, when two records carry the email', async () => {
    const server = await vendor([[...others, { id: 7, email: 'user9@acme.com', status: 'active' }], [{ id: 8, email: 'USER9@acme.com', status: 'active' }]]);
    const error = await caughtAsync(AccountIdentityError, () => harvestShaped().operations.deactivateUser!(input(server.url, 'user9@acme.com')));
    assert.equal(error.kind, 'ambiguous');
    assert.match(error.message, /getUser found 2 records with the email user9@acme\.com \(ids 7, 8\); a person must choose/);
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('refuses a single record read that is another person', async () => {
    const server = await serve((req, res) => void (req.method === 'GET' ? json(res, 200, { id: 1, email: 'user1@acme.com', status: 'active' }) : json(res, 200, {})));
    const dir = writeTallyboard(scratchDir());
    editJson(path.join(dir, 'manifest.json'), (m) => delete m.operations.getUser.channels[0].call.items);
    const api = declarativeApi(loader.load(dir))!;
    const error = await caughtAsync(AccountIdentityError, () => api.operations.deactivateUser!(input(server.url, 'user9@acme.com')));
    assert.match(error.message, /getUser returned a record of another person \(user1@acme\.com, id 1\) for user9@acme\.com/);
    assert.equal(server.requests.filter((r) => r.method === 'POST').length, 0);
  });
});

describe('verification reads the person it verifies', () => {
  it('fails the step when the record read carries another email, even one that shows the expected state', () => {
    const connector = loader.load(writeTallyboard(scratchDir()));
    const registry = new DefaultConnectorRegistry([connector], [], []);
    const run = { app: 'tallyboard', subject: 'user9@acme.com', plan: { playbook: 'offboard' } } as never;
    const step = { id: 'tallyboard-verify', app: 'tallyboard', operation: 'getUser', role: 'verify' } as never;
    const read = (email: string) => interpret(step, run, registry, { outcome: 'done', evidence: 'GET /users', accounts: [{ id: '1', email, active: false }] }, []);
    const wrong = read('user1@acme.com');
    assert.equal(wrong.status, 'failed');
    assert.match(wrong.detail, /^verification failed: the read returned user1@acme\.com \(id 1\), not user9@acme\.com: a record of another person$/);
    const right = read(' USER9@acme.com ');
    assert.equal(right.status, 'done');
    assert.match(right.detail, /^verified: .* is inactive/);
  });
});

describe('conformance: a read that answers with another person', function () {
  this.timeout(60_000);

  it('passes on the stand-in for a getUser that scans pages, including finding the person among others', async () => {
    const dir = writeTallyboard(scratchDir());
    editJson(path.join(dir, 'manifest.json'), (m) => {
      const get = m.operations.getUser.channels[0].call;
      delete get.query;
      delete get.params;
      get.page = { style: 'next-link', items: '/data', next: '/links/next' };
    });
    const checks = await runConformance(loader.load(dir));
    assert.deepEqual(checks.filter((c) => c.status === 'fail'), []);
    assert.ok(checks.some((c) => c.check === 'getUser: finds the person among others' && c.status === 'pass'));
  });

  it('names the cause against a tenant whose lookup ignores the email it is given', async () => {
    const server = await serve((req, res) => void json(res, 200, { id: 1, email: 'user1@acme.com', status: 'active' }));
    const dir = writeTallyboard(scratchDir());
    editJson(path.join(dir, 'manifest.json'), (m) => delete m.operations.getUser.channels[0].call.items);
    const checks = await runConformance(loader.load(dir), { kind: 'tenant', settings: { baseUrl: server.url, secrets: { apiToken: 'env:TALLY_TOKEN' } }, secrets, allowWrites: false });
    const check = checks.find((c) => c.check === 'getUser: not found')!;
    assert.equal(check.status, 'fail');
    assert.match(check.detail, /getUser returned a record of another person \(user1@acme\.com, id 1\)/);
  });
});

describe('api channel: credentials on every page of a paged read, and only to the base URL\'s origin', function () {
  this.timeout(30_000);
  const queryKey = { type: 'api-key', in: 'query', name: 'api_key', secret: 'apiKey' };
  const keyed = (req: Recorded, res: ServerResponse) => new URL(req.url, 'http://x').searchParams.get('api_key') === key || (json(res, 401, {}), false);

  it('sends an API key given in the query on the next link\'s page too', async () => {
    const server = await vendor([[{ id: 1, email: 'user1@acme.com', status: 'active' }], [{ id: 9, email: 'user9@acme.com', status: 'active' }]], keyed);
    const result = await harvestShaped(queryKey).operations.getUser!(input(server.url, 'user9@acme.com'));
    assert.equal(result.outcome, 'done', result.evidence);
    assert.equal(server.requests.length, 2);
  });

  it('sends nothing to a next link on another origin (neither query key nor header token)', async () => {
    const elsewhere = await serve((req, res) => void json(res, 200, { data: [], links: { next: null } }));
    for (const auth of [queryKey, { type: 'bearer', secret: 'apiToken' }]) {
      const server = await vendor([[{ id: 1, email: 'user1@acme.com', status: 'active' }], []], undefined, () => elsewhere.url);
      await assert.rejects(harvestShaped(auth).operations.getUser!(input(server.url, 'user9@acme.com')), /refusing to send credentials to http:\/\/127\.0\.0\.1:\d+/);
    }
    assert.equal(elsewhere.requests.length, 0);
  });

  it('names the method, path, page and the secret\'s source on a 401, never the key itself', async () => {
    let calls = 0;
    const server = await vendor([[{ id: 1, email: 'user1@acme.com', status: 'active' }], []], (req, res) => ++calls === 1 || (json(res, 401, {}), false));
    const error = await caughtAsync(UnauthorizedError, () => harvestShaped(queryKey).operations.getUser!(input(server.url, 'user9@acme.com')));
    assert.equal(error.message, 'tallyboard: GET /api/v1/users (page 2): HTTP 401 (the API key (query parameter api_key) in TALLY_KEY (secrets.apiKey) was refused)');
    assert.ok(!error.message.includes(key));
  });
});
