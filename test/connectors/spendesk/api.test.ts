import assert from 'node:assert/strict';
import nock from 'nock';
import { RateLimitedError, UnauthorizedError, UpstreamError } from '../../../core/http/errors.js';
import type { OperationInput } from '../../../core/registry/connector-api.js';
import { EnvironmentSecretResolver } from '../../../core/tenant/secrets.js';
import { SpendeskMembersApi } from '../../../connectors/spendesk/api.js';
import { mockVendors } from '../../support/vendor-mock.js';

const base = 'https://public-api.spendesk.com/v1';
const clientId = 'client-123';
const clientSecret = 'very-secret-value';
const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`;
const secrets = new EnvironmentSecretResolver({ SPENDESK_ID: clientId, SPENDESK_SECRET: clientSecret });
const input = (email: string): OperationInput => ({
  subject: { email },
  settings: { secrets: { apiClientId: 'env:SPENDESK_ID', apiClientSecret: 'env:SPENDESK_SECRET' } },
  secrets,
  idempotencyKey: 'run-1:verify',
});
const members = [
  { id: 'u1', email: 'Alice@Acme.com', first_name: 'Alice', last_name: 'Martin', status: 'active' },
  { id: 'u2', email: 'bob@acme.com', first_name: 'Bob', status: 'archived' },
];
const tokenReply = (token: string, expiresIn = 3600) => ({ access_token: token, token_type: 'Bearer', expires_in: expiresIn });

describe('Spendesk members API (read-only)', () => {
  mockVendors();

  it('exchanges id:secret for a token with HTTP Basic, then finds the member by email, case-insensitively', async () => {
    const scope = nock(base)
      .post('/auth/token', 'grant_type=client_credentials')
      .matchHeader('authorization', basic)
      .reply(200, tokenReply('tok-1'))
      .get('/users')
      .matchHeader('authorization', 'Bearer tok-1')
      .reply(200, { data: members });
    const result = await new SpendeskMembersApi().getUser(input('alice@acme.com'));
    assert.equal(result.outcome, 'done');
    assert.deepEqual(result.outcome === 'done' && result.accounts, [{ id: 'u1', email: 'Alice@Acme.com', active: true, name: 'Alice Martin' }]);
    scope.done();
  });

  it('lists members with their completeness: a Link next page is followed, a member without an email makes the read incomplete', async () => {
    nock(base)
      .post('/auth/token').reply(200, tokenReply('tok'))
      .get('/users').reply(200, members, { link: `<${base}/users?page=2>; rel="next"` })
      .get('/users').query({ page: 2 }).reply(200, [{ id: 'u3', email: 'cara@acme.com' }, { id: 'u4', status: 'active' }]);
    const result = await new SpendeskMembersApi().listUsers(input('x@acme.com'));
    assert.equal(result.outcome, 'done');
    if (result.outcome !== 'done') return;
    assert.deepEqual(result.accounts!.map((a) => a.email), ['Alice@Acme.com', 'bob@acme.com', 'cara@acme.com']);
    assert.deepEqual(result.completeness, { complete: false, reasons: ['spendesk: 1 members have no email and cannot be matched'] });
    nock(base).post('/auth/token').reply(200, tokenReply('tok')).get('/users').reply(200, { data: members });
    const whole = await new SpendeskMembersApi().listUsers(input('x@acme.com'));
    assert.deepEqual(whole.outcome === 'done' && whole.completeness, { complete: true, reasons: [] });
  });

  it('says notFound for a person who is not a member, and reads archived members as inactive', async () => {
    nock(base).post('/auth/token').reply(200, tokenReply('tok')).get('/users').twice().reply(200, members);
    const api = new SpendeskMembersApi();
    assert.equal((await api.getUser(input('carol@acme.com'))).outcome, 'notFound');
    const bob = await api.getUser(input('bob@acme.com'));
    assert.equal(bob.outcome === 'done' && bob.accounts?.[0]?.active, false);
  });

  it('reuses the token until shortly before it expires, then exchanges again', async () => {
    let now = 1_000_000;
    const api = new SpendeskMembersApi({ clock: { now: () => now, sleep: async (ms) => void (now += ms) } });
    const scope = nock(base)
      .post('/auth/token').reply(200, tokenReply('first'))
      .get('/users').matchHeader('authorization', 'Bearer first').twice().reply(200, [])
      .post('/auth/token').reply(200, tokenReply('second'))
      .get('/users').matchHeader('authorization', 'Bearer second').reply(200, []);
    await api.listUsers(input('x@acme.com'));
    now += 3_000_000; // 50 min: still valid
    await api.listUsers(input('x@acme.com'));
    now += 550_000; // 59 min 10 s: inside the refresh margin
    await api.listUsers(input('x@acme.com'));
    scope.done();
  });

  it('refused credentials are an UnauthorizedError that never shows the secret', async () => {
    nock(base).post('/auth/token').reply(401, { error: 'invalid_client' });
    await assert.rejects(new SpendeskMembersApi().listUsers(input('x@acme.com')), (error: unknown) => {
      assert.ok(error instanceof UnauthorizedError);
      assert.equal(error.status, 401);
      assert.doesNotMatch(`${error.message} ${JSON.stringify(error)}`, new RegExp(`${clientSecret}|${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`));
      return true;
    });
  });

  it('after a 429 waits exactly until x-ratelimit-reset, then reads', async () => {
    let now = 1_000_000;
    const slept: number[] = [];
    const api = new SpendeskMembersApi({ clock: { now: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)) } });
    nock(base).post('/auth/token').reply(200, tokenReply('tok')).get('/users').reply(429, {}, { 'x-ratelimit-reset': '17' }).get('/users').reply(200, members);
    const result = await api.listUsers(input('x@acme.com'));
    assert.equal(result.outcome === 'done' && result.accounts?.length, 2);
    assert.deepEqual(slept, [17_000]);
  });

  it('a 429 on the last attempt is a RateLimitedError carrying the delay', async () => {
    nock(base).post('/auth/token').reply(200, tokenReply('tok')).get('/users').reply(429, {}, { 'x-ratelimit-reset': '17' });
    const api = new SpendeskMembersApi({ retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 } });
    await assert.rejects(api.listUsers(input('x@acme.com')), (error: unknown) => {
      assert.ok(error instanceof RateLimitedError);
      assert.equal(error.retryAfterMs, 17_000);
      return true;
    });
  });

  it('an answer without a member list is an UpstreamError, not an empty list', async () => {
    nock(base).post('/auth/token').reply(200, tokenReply('tok')).get('/users').reply(200, { message: 'maintenance' });
    await assert.rejects(new SpendeskMembersApi().listUsers(input('x@acme.com')), (error: unknown) => error instanceof UpstreamError && /no list of members/.test(error.message));
  });

  it('refuses a base URL that is not http(s), naming the setting', async () => {
    const bad = { ...input('x@acme.com'), settings: { ...input('x').settings, baseUrl: 'public-api.spendesk.com/v1' } };
    await assert.rejects(new SpendeskMembersApi().listUsers(bad), /spendesk: apps\.spendesk\.baseUrl: 'public-api\.spendesk\.com\/v1' is not an http\(s\) URL/);
  });

  it('a missing secret is named by its reference, not guessed', async () => {
    const api = new SpendeskMembersApi();
    const broken = { ...input('x@acme.com'), secrets: new EnvironmentSecretResolver({}) };
    await assert.rejects(api.listUsers(broken), /secret env:SPENDESK_ID: the environment variable is not set/);
  });

  it('follows the tenant base URL when the profile sets one', async () => {
    const scope = nock('https://public-api.demo.spendesk.com').post('/auth/token').reply(200, tokenReply('t')).get('/users').reply(200, []);
    await new SpendeskMembersApi().listUsers({ ...input('x@acme.com'), settings: { ...input('x').settings, baseUrl: 'https://public-api.demo.spendesk.com' } });
    scope.done();
  });
});
