import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nock from 'nock';
import { declarativeApi } from '../../core/channels/api/declarative.js';
import { UpstreamError } from '../../core/http/errors.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { connectorsDir, packageRoot } from '../../core/paths.js';
import type { AppAccount, OperationResult } from '../../core/registry/connector-api.js';
import type { AppSettings } from '../../core/schema/types/tenant-profile.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { mockVendors } from '../support/vendor-mock.js';

/**
 * Four catalogue connectors (Brex, Zendesk, Slack, Zoom) run their declared operations against
 * their vendor played by nock with answers shaped after the vendor's documented examples
 * (test/fixtures/vendors/<app>/, values made up): the accounts each list maps, paging to the
 * end, waiting out a 429 for as long as Retry-After says, and the done / already-done / not-found
 * answers. The clock is a recording one, so a Retry-After of several seconds costs nothing.
 */
const loader = new FileManifestLoader(new AjvSchemaValidator());
const fixture = (app: string, file: string): unknown => {
  const text = readFileSync(path.join(packageRoot, 'test', 'fixtures', 'vendors', app, file), 'utf8');
  return file.endsWith('.json') ? JSON.parse(text) : text;
};

/** A clock that records each wait and moves time on without sleeping. */
function recordingClock() {
  let now = Date.parse('2026-11-30T09:00:00Z');
  const waits: number[] = [];
  return { waits, now: () => now, sleep: async (ms: number) => void (waits.push(ms), (now += ms)) };
}

function connector(id: string, env: Record<string, string>, settings: AppSettings) {
  const clock = recordingClock();
  const api = declarativeApi(loader.load(path.join(connectorsDir, id)), { clock, retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 20 } })!;
  const secrets = new EnvironmentSecretResolver(env);
  const call = (operation: string, email = ''): Promise<OperationResult> => api.operations[operation]!({ subject: { email }, settings, secrets, idempotencyKey: `vendor-example:${operation}:${email}` });
  return { api, clock, call };
}

const accountsOf = (result: OperationResult): Pick<AppAccount, 'id' | 'email' | 'active'>[] => {
  assert.equal(result.outcome, 'done', result.evidence);
  return (result.outcome === 'done' ? result.accounts ?? [] : []).map(({ id, email, active }) => ({ id, email, active }));
};
const complete = (result: OperationResult) => result.outcome === 'done' && (result.completeness?.complete ?? true);

describe('conformance: declared operations against vendor example answers', function () {
  this.timeout(20_000);
  // Registered before mockVendors() so it runs before its cleanAll: a test that passed used every
  // answer it set up, so no declared call was skipped.
  afterEach(function () {
    if (this.currentTest?.state === 'passed') assert.deepEqual(nock.pendingMocks(), []);
  });
  mockVendors();

  describe('brex (Team API)', () => {
    const brex = 'https://api.brex.com';
    const make = () => connector('brex', { BREX_TOKEN: 'brex-example-token' }, { secrets: { apiToken: 'env:BREX_TOKEN' } });

    it('lists users to the last page through next_cursor, mapping status to active', async () => {
      const { call } = make();
      nock(brex, { reqheaders: { authorization: 'Bearer brex-example-token' } })
        .get('/v2/users').query({ limit: '100' }).reply(200, fixture('brex', 'users-page-1.json') as object)
        .get('/v2/users').query({ limit: '100', cursor: 'Y3Vyc29yOnVzZXJzOjM=' }).reply(200, fixture('brex', 'users-page-2.json') as object);
      const result = await call('listUsers');
      assert.deepEqual(accountsOf(result), [
        { id: 'cuuser_0a1ada', email: 'ada@acme.example', active: true },
        { id: 'cuuser_0b2ben', email: 'ben@acme.example', active: false },
        { id: 'cuuser_0c3cy', email: 'cy@acme.example', active: true },
        { id: 'cuuser_0d4dee', email: 'dee@acme.example', active: true },
      ]);
      assert.ok(complete(result));
    });

    it('waits out a 429 for the seconds Retry-After gives, then disables the user with PUT status DISABLED', async () => {
      const { call, clock } = make();
      nock(brex)
        .get('/v2/users').query({ email: 'ada@acme.example' }).reply(429, fixture('brex', 'error-429.json') as object, { 'retry-after': '7' })
        .get('/v2/users').query({ email: 'ada@acme.example' }).reply(200, fixture('brex', 'user-ada.json') as object)
        .put('/v2/users/cuuser_0a1ada', { status: 'DISABLED' }).reply(200, fixture('brex', 'updated-ada.json') as object);
      const result = await call('deactivateUser', 'ada@acme.example');
      assert.equal(result.outcome, 'done', result.evidence);
      assert.ok(clock.waits.includes(7000), `waited ${clock.waits.join(', ')} ms, not the 7000 asked`);
    });

    it('is already done for a DISABLED user (no PUT), not found for nobody and for a user gone before the PUT', async () => {
      const { call } = make();
      nock(brex)
        .get('/v2/users').query({ email: 'ada@acme.example' }).reply(200, fixture('brex', 'user-ada-disabled.json') as object)
        .get('/v2/users').query({ email: 'ghost@acme.example' }).reply(200, fixture('brex', 'no-users.json') as object)
        .get('/v2/users').query({ email: 'ada@acme.example' }).reply(200, fixture('brex', 'user-ada.json') as object)
        .put('/v2/users/cuuser_0a1ada').reply(404, fixture('brex', 'error-404.json') as object);
      assert.equal((await call('deactivateUser', 'ada@acme.example')).outcome, 'alreadyDone');
      assert.equal((await call('deactivateUser', 'ghost@acme.example')).outcome, 'notFound');
      assert.equal((await call('deactivateUser', 'ada@acme.example')).outcome, 'notFound');
    });
  });

  describe('zendesk (Support API)', () => {
    const zendesk = 'https://acme.zendesk.com';
    const basic = `Basic ${Buffer.from('admin@acme.example/token:zd-example-token').toString('base64')}`;
    const make = () => connector('zendesk', { ZD_USER: 'admin@acme.example/token', ZD_TOKEN: 'zd-example-token' }, { baseUrl: zendesk, secrets: { apiUser: 'env:ZD_USER', apiToken: 'env:ZD_TOKEN' } });

    it('lists users by following links.next to the page whose next link is null', async () => {
      const { call } = make();
      nock(zendesk, { reqheaders: { authorization: basic } })
        .get('/api/v2/users').query({ 'page[size]': '100' }).reply(200, fixture('zendesk', 'users-page-1.json') as object)
        .get('/api/v2/users.json').query({ 'page[after]': 'xMaGFzX21vcmU', 'page[size]': '100' }).reply(200, fixture('zendesk', 'users-page-2.json') as object);
      const result = await call('listUsers');
      assert.deepEqual(accountsOf(result), [
        { id: '9001', email: 'ada@acme.example', active: true },
        { id: '9002', email: 'ben@acme.example', active: false },
        { id: '9003', email: 'cy@customer.example', active: true },
      ]);
      assert.ok(complete(result));
    });

    it('waits out a plain-text 429 with Retry-After, then suspends the user', async () => {
      const { call, clock } = make();
      nock(zendesk)
        .get('/api/v2/users/search').query({ query: 'ada@acme.example' }).reply(429, fixture('zendesk', 'error-429.txt') as string, { 'content-type': 'text/plain', 'retry-after': '3', 'x-rate-limit': '700', 'x-rate-limit-remaining': '0' })
        .get('/api/v2/users/search').query({ query: 'ada@acme.example' }).reply(200, fixture('zendesk', 'search-ada.json') as object)
        .put('/api/v2/users/9001', { user: { suspended: true } }).reply(200, fixture('zendesk', 'suspended-ada.json') as object);
      assert.equal((await call('deactivateUser', 'ada@acme.example')).outcome, 'done');
      assert.ok(clock.waits.includes(3000), `waited ${clock.waits.join(', ')} ms`);
    });

    it('is already done for a suspended user, not found when the search is empty or the user is gone before the delete', async () => {
      const { call } = make();
      nock(zendesk)
        .get('/api/v2/users/search').query({ query: 'ben@acme.example' }).reply(200, fixture('zendesk', 'search-ben.json') as object)
        .get('/api/v2/users/search').query({ query: 'ghost@acme.example' }).reply(200, fixture('zendesk', 'search-none.json') as object)
        .get('/api/v2/users/search').query({ query: 'ada@acme.example' }).reply(200, fixture('zendesk', 'search-ada.json') as object)
        .delete('/api/v2/users/9001').reply(404, fixture('zendesk', 'error-404.json') as object);
      assert.equal((await call('deactivateUser', 'ben@acme.example')).outcome, 'alreadyDone');
      assert.equal((await call('deactivateUser', 'ghost@acme.example')).outcome, 'notFound');
      assert.equal((await call('deleteUser', 'ada@acme.example')).outcome, 'notFound');
    });
  });

  describe('slack (Web API and SCIM)', () => {
    const web = 'https://slack.com';
    const scim = 'https://api.slack.com';
    const make = () => connector('slack', { SLACK_TOKEN: 'xoxb-example', SLACK_SCIM: 'xoxp-admin-example' }, { secrets: { token: 'env:SLACK_TOKEN', scimToken: 'env:SLACK_SCIM' } });

    it('lists members to the empty next_cursor; a member without an email (Slackbot) is left out', async () => {
      const { call } = make();
      nock(web, { reqheaders: { authorization: 'Bearer xoxb-example' } })
        .get('/api/users.list').query({ limit: '200' }).reply(200, fixture('slack', 'users-list-page-1.json') as object)
        .get('/api/users.list').query({ limit: '200', cursor: 'dXNlcjpVMDFDWTAwMDM=' }).reply(200, fixture('slack', 'users-list-page-2.json') as object);
      const result = await call('listUsers');
      assert.deepEqual(accountsOf(result), [
        { id: 'U01ADA0001', email: 'ada@acme.example', active: true },
        { id: 'U01BEN0002', email: 'ben@acme.example', active: false },
        { id: 'U01CY00003', email: 'cy@acme.example', active: true },
      ]);
      assert.ok(complete(result));
    });

    it('stops with an error, not an empty list, when users.list answers HTTP 200 with ok:false', async () => {
      const { call } = make();
      nock(web).get('/api/users.list').query(true).reply(200, fixture('slack', 'invalid-auth.json') as object);
      await assert.rejects(call('listUsers'), (e: unknown) => e instanceof UpstreamError && /\/ok is false, error "invalid_auth"/.test(e.message) && !/xoxb/.test(e.message));
    });

    it('waits out a 429 (Retry-After), then deactivates through SCIM with the admin token', async () => {
      const { call, clock } = make();
      nock(web, { reqheaders: { authorization: 'Bearer xoxb-example' } })
        .get('/api/users.lookupByEmail').query({ email: 'ada@acme.example' }).reply(429, fixture('slack', 'ratelimited.json') as object, { 'retry-after': '2' })
        .get('/api/users.lookupByEmail').query({ email: 'ada@acme.example' }).reply(200, fixture('slack', 'lookup-ada.json') as object);
      nock(scim, { reqheaders: { authorization: 'Bearer xoxp-admin-example' } }).delete('/scim/v2/Users/U01ADA0001').reply(204);
      assert.equal((await call('deactivateUser', 'ada@acme.example')).outcome, 'done');
      assert.ok(clock.waits.includes(2000), `waited ${clock.waits.join(', ')} ms`);
    });

    it('reads users_not_found in a 200 as not found, a deleted member as already done, and a SCIM 404 as not found', async () => {
      const { call } = make();
      nock(web)
        .get('/api/users.lookupByEmail').query({ email: 'ghost@acme.example' }).reply(200, fixture('slack', 'users-not-found.json') as object)
        .get('/api/users.lookupByEmail').query({ email: 'ben@acme.example' }).reply(200, fixture('slack', 'lookup-ben-deleted.json') as object)
        .get('/api/users.lookupByEmail').query({ email: 'ada@acme.example' }).reply(200, fixture('slack', 'lookup-ada.json') as object);
      nock(scim).delete('/scim/v2/Users/U01ADA0001').reply(404, fixture('slack', 'scim-404.json') as object);
      const ghost = await call('getUser', 'ghost@acme.example');
      assert.equal(ghost.outcome, 'notFound');
      assert.match(ghost.evidence, /\/error is "users_not_found"/);
      assert.equal((await call('deactivateUser', 'ben@acme.example')).outcome, 'alreadyDone');
      assert.equal((await call('deactivateUser', 'ada@acme.example')).outcome, 'notFound');
    });
  });

  describe('zoom (Server-to-Server OAuth, API v2)', () => {
    const zoom = 'https://api.zoom.us';
    const basic = `Basic ${Buffer.from('zoom-client:zoom-secret').toString('base64')}`;
    const make = () => connector('zoom', { ZOOM_ID: 'zoom-client', ZOOM_SECRET: 'zoom-secret' }, { settings: { accountId: 'acct-9XyZ' }, secrets: { clientId: 'env:ZOOM_ID', clientSecret: 'env:ZOOM_SECRET' } });
    const token = () =>
      nock('https://zoom.us', { reqheaders: { authorization: basic } })
        .post('/oauth/token', (body: string | Record<string, string>) => new URLSearchParams(body as Record<string, string>).get('grant_type') === 'account_credentials')
        .query({ account_id: 'acct-9XyZ' })
        .reply(200, fixture('zoom', 'token.json') as object);

    it('exchanges the account credentials once, then lists users to the empty next_page_token', async () => {
      const { call } = make();
      token();
      nock(zoom, { reqheaders: { authorization: 'Bearer zoom-example-access-token' } })
        .get('/v2/users').query({ page_size: '300' }).reply(200, fixture('zoom', 'users-page-1.json') as object)
        .get('/v2/users').query({ page_size: '300', next_page_token: 'Tva2CuIdTgsv8wAnhyAdU3m06Y2HuLQtlh3' }).reply(200, fixture('zoom', 'users-page-2.json') as object);
      const result = await call('listUsers');
      assert.deepEqual(accountsOf(result), [
        { id: 'KDcuGIm1QgePTO8WbOqwIQ', email: 'ada@acme.example', active: true },
        { id: 'z8yAAAAA8bbbQ', email: 'cy@acme.example', active: true },
        { id: '0ZnDEE0000dd', email: 'dee@acme.example', active: true },
      ]);
      assert.ok(complete(result));
    });

    it('waits out a 429, deactivates with PUT status (204); then an inactive user is already done and a 404 (code 1001) is not found', async () => {
      const { call, clock } = make();
      token();
      nock(zoom)
        .get('/v2/users/ada%40acme.example').reply(429, fixture('zoom', 'error-429.json') as object, { 'retry-after': '1' })
        .get('/v2/users/ada%40acme.example').reply(200, fixture('zoom', 'user-ada.json') as object)
        .put('/v2/users/KDcuGIm1QgePTO8WbOqwIQ/status', { action: 'deactivate' }).reply(204)
        .get('/v2/users/ada%40acme.example').reply(200, fixture('zoom', 'user-ada-inactive.json') as object)
        .get('/v2/users/ghost%40acme.example').reply(404, fixture('zoom', 'error-404.json') as object);
      assert.equal((await call('deactivateUser', 'ada@acme.example')).outcome, 'done');
      assert.ok(clock.waits.includes(1000), `waited ${clock.waits.join(', ')} ms`);
      assert.equal((await call('deactivateUser', 'ada@acme.example')).outcome, 'alreadyDone');
      assert.equal((await call('deactivateUser', 'ghost@acme.example')).outcome, 'notFound');
    });
  });
});

