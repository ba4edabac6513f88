import assert from 'node:assert/strict';
import { ClientCredentials } from '../../core/http/auth.js';
import { HttpClient } from '../../core/http/client.js';
import { RateLimitedError, RateLimitWaitTooLongError, UnauthorizedError } from '../../core/http/errors.js';
import { linkHeaderPagination, paginate, parseLinks } from '../../core/http/pagination.js';
import { readRateLimit } from '../../core/http/rate-limit.js';
import { OktaApi } from '../../connectors/okta/api.js';
import { json, serve } from '../support/http-server.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';

/** A clock whose sleeps pass at once; the servers below read it too, so waits are exact and take no real time. */
function fakeClock(start = Date.UTC(2026, 10, 30, 9)) {
  let t = start;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept, set: (ms: number) => void (t = ms) };
}
const httpDate = (ms: number) => new Date(ms).toUTCString();
const secrets = new EnvironmentSecretResolver({ OKTA_API_TOKEN: 'okta-token' });

describe('vendor quirks: rate limits (cases 2 and 4, and their kind)', () => {
  it('case 2: an Okta 429 whose X-Rate-Limit-Reset is on a clock 120 s behind ours waits reset − Date (≈5 s), then reads', async () => {
    const clock = fakeClock();
    const serverNow = () => clock.now() - 120_000;
    const windowEnds = clock.now() + 5000;
    const server = await serve((req, res) => {
      if (clock.now() < windowEnds) {
        return void json(res, 429, { errorCode: 'E0000047' }, {
          date: httpDate(serverNow()),
          'x-rate-limit-limit': '100',
          'x-rate-limit-remaining': '0',
          'x-rate-limit-reset': String(Math.ceil((serverNow() + (windowEnds - clock.now())) / 1000)),
        });
      }
      json(res, 200, [{ id: '00u1', status: 'ACTIVE', credentials: { userName: 'ann.demo@example.test' } }], { date: httpDate(serverNow()) });
    });
    const okta = new OktaApi({ clock });
    const result = await okta.listAppUsers({ subject: { email: '' }, settings: { baseUrl: server.url, secrets: { token: 'env:OKTA_API_TOKEN' } }, secrets, idempotencyKey: 'k', target: { app: 'spendesk', settings: { idpAppId: '0oaAPP' } } });
    assert.equal(result.outcome, 'done');
    assert.deepEqual(result.outcome === 'done' && result.accounts?.map((a) => a.email), ['ann.demo@example.test']);
    assert.equal(server.requests.length, 2, 'one wait, not four quick retries');
    assert.equal(clock.slept.length, 1);
    assert.ok(clock.slept[0]! >= 5000 && clock.slept[0]! <= 6000, `waited ${clock.slept[0]} ms`);
  });

  it('case 2, the limiter: a 200 that spends the window (remaining 0) holds the next call until the reset on the server clock', async () => {
    const clock = fakeClock();
    const serverNow = () => clock.now() + 300_000; // this server runs 5 minutes ahead
    const server = await serve((_req, res) => void json(res, 200, {}, { date: httpDate(serverNow()), 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(Math.floor(serverNow() / 1000) + 10) }));
    const client = new HttpClient({ name: 'okta', baseUrl: server.url, clock });
    await client.request({ path: '/a' });
    await client.request({ path: '/b' });
    assert.equal(clock.slept.length, 1);
    assert.ok(clock.slept[0]! >= 9000 && clock.slept[0]! <= 11_000, `waited ${clock.slept[0]} ms, not the 5 minutes of skew`);
  });

  it('case 4: a 503 with Retry-After: 5 during maintenance waits 5 s, then succeeds (Microsoft Graph documents the same on 503)', async () => {
    const clock = fakeClock();
    const upAt = clock.now() + 5000;
    const server = await serve((_req, res) => void (clock.now() < upAt ? json(res, 503, { detail: 'maintenance' }, { 'retry-after': '5' }) : json(res, 200, { Resources: [] })));
    const client = new HttpClient({ name: 'scim', baseUrl: server.url, clock });
    const response = await client.request({ path: '/Users' });
    assert.equal(response.status, 200);
    assert.deepEqual(clock.slept, [5000]);
    assert.equal(server.requests.length, 2);
  });

  it('a 503 whose Retry-After is an HTTP date counts from the server Date, not from our clock', async () => {
    const clock = fakeClock();
    const serverNow = () => clock.now() - 3_600_000; // an hour behind
    let n = 0;
    const server = await serve((_req, res) => void (n++ === 0 ? json(res, 503, {}, { date: httpDate(serverNow()), 'retry-after': httpDate(serverNow() + 8000) }) : json(res, 200, {})));
    const client = new HttpClient({ name: 'graph', baseUrl: server.url, clock });
    await client.request({ path: '/v1.0/users' });
    assert.deepEqual(clock.slept, [8000]);
  });

  it("Microsoft Graph: a 429 with Retry-After in seconds is waited for exactly, and again if the server says so twice", async () => {
    const clock = fakeClock();
    let n = 0;
    const server = await serve((_req, res) => void (n++ < 2 ? json(res, 429, { error: { code: 'TooManyRequests' } }, { 'retry-after': String(n * 3) }) : json(res, 200, { value: [] })));
    const client = new HttpClient({ name: 'graph', baseUrl: server.url, clock });
    await client.request({ path: '/v1.0/users' });
    assert.deepEqual(clock.slept, [3000, 6000]);
    assert.equal(client.rateLimited, 2);
  });

  it("GitHub's secondary limits: a 403 with Retry-After, or with x-ratelimit-remaining 0, is a rate limit when the connector declares 403", async () => {
    const clock = fakeClock();
    let n = 0;
    const server = await serve((req, res) => {
      n++;
      if (req.url === '/retry-after' && n === 1) return void json(res, 403, { message: 'You have exceeded a secondary rate limit' }, { 'retry-after': '60' });
      if (req.url === '/reset' && n === 3) return void json(res, 403, { message: 'API rate limit exceeded' }, { date: httpDate(clock.now()), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(clock.now() / 1000) + 42) });
      if (req.url === '/forbidden') return void json(res, 403, { message: 'Resource not accessible by integration' });
      json(res, 200, {});
    });
    const client = new HttpClient({ name: 'github', baseUrl: server.url, clock, rateLimitStatuses: [403] });
    await client.request({ path: '/retry-after' });
    await client.request({ path: '/reset' });
    assert.deepEqual(clock.slept, [60_000, 42_000]);
    const before = server.requests.length;
    await assert.rejects(client.request({ path: '/forbidden' }), UnauthorizedError, 'a 403 that says nothing of a rate limit is a refusal');
    assert.equal(server.requests.length, before + 1, 'and is not retried');
    const undeclared = new HttpClient({ name: 'other', baseUrl: server.url, clock });
    n = 0;
    await assert.rejects(undeclared.request({ path: '/retry-after' }), UnauthorizedError, 'a vendor that does not declare 403 keeps 403 a refusal');
  });

  it('refuses to wait longer than maxRetryWaitMs, with a typed error naming both figures, after one request', async () => {
    const server = await serve((_req, res) => void json(res, 429, {}, { 'retry-after': '3600' }));
    const clock = fakeClock();
    const client = new HttpClient({ name: 'slack', baseUrl: server.url, clock, maxRetryWaitMs: 120_000 });
    await assert.rejects(client.request({ path: '/api/users.list' }), (e: unknown) => e instanceof RateLimitWaitTooLongError && e.retryAfterMs === 3_600_000 && /slack: GET \/api\/users\.list: HTTP 429 \(the server asks to wait 3600 s, longer than the 120 s this client waits \(maxRetryWaitMs\); not retried, try again later\)$/.test(e.message));
    assert.equal(server.requests.length, 1);
    assert.deepEqual(clock.slept, []);
  });

  it('Slack: a 429 with Retry-After on the last attempt ends in RateLimitedError that keeps the delay', async () => {
    const server = await serve((_req, res) => void json(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': '30' }));
    const client = new HttpClient({ name: 'slack', baseUrl: server.url, clock: fakeClock(), retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 } });
    await assert.rejects(client.request({ path: '/api/users.list' }), (e: unknown) => e instanceof RateLimitedError && e.retryAfterMs === 30_000);
    assert.equal(server.requests.length, 2);
  });
});

describe('vendor quirks: rate-limit headers read tolerantly', () => {
  const now = Date.UTC(2026, 10, 30, 9);
  const headers = (pairs: [string, string][]) => {
    const h = new Headers();
    for (const [k, v] of pairs) h.append(k, v);
    return h;
  };

  it('a header sent twice counts its most cautious value', () => {
    const info = readRateLimit(headers([['X-Rate-Limit-Remaining', '10'], ['x-rate-limit-remaining', '0'], ['X-RATE-LIMIT-RESET', String(now / 1000 + 5)], ['x-rate-limit-reset', String(now / 1000 + 9)], ['x-rate-limit-limit', '600'], ['x-rate-limit-limit', '600']]), now);
    assert.deepEqual(info, { limit: 600, remaining: 0, resetAt: now + 9000 });
  });

  it('the IETF RateLimit and RateLimit-Policy structured fields, one policy or several', () => {
    assert.deepEqual(readRateLimit(headers([['RateLimit', '"default";r=0;t=5'], ['RateLimit-Policy', '"default";q=100;w=60']]), now), { limit: 100, remaining: 0, resetAt: now + 5000 });
    const two = readRateLimit(headers([['RateLimit', '"hour";r=50;t=3000, "burst";r=0;t=2'], ['RateLimit-Policy', '"hour";q=1000;w=3600, "burst";q=10;w=1']]), now);
    assert.deepEqual(two, { limit: 10, remaining: 0, resetAt: now + 2000 }, 'the spent policy decides the wait');
    assert.deepEqual(readRateLimit(headers([['RateLimit-Policy', '100;w=60']]), now), { limit: 100 }, 'the earlier draft names the quota as the item');
  });

  it('a reset written as a date (lemlist) and an ISO Retry-After (Zoom) are read', () => {
    assert.equal(readRateLimit(headers([['X-RateLimit-Reset', httpDate(now + 7000)]]), now).resetAt, now + 7000);
    assert.equal(readRateLimit(headers([['Retry-After', new Date(now + 4000).toISOString()]]), now).retryAfterMs, 4000);
  });

  it("a Date in step with our clock (to its whole second) keeps our milliseconds; a skewed one is believed", () => {
    const at = now + 700;
    assert.equal(readRateLimit(headers([['date', httpDate(now)], ['x-ratelimit-reset', String(now / 1000 + 1)]]), at).resetAt, now + 1000, 'wait 300 ms, not a whole second');
    assert.equal(readRateLimit(headers([['date', httpDate(now - 120_000)], ['x-rate-limit-reset', String((now - 120_000) / 1000 + 5)]]), at).resetAt, at + 5000);
  });

  it('nonsense is ignored, not read as zero', () => {
    assert.deepEqual(readRateLimit(headers([['x-ratelimit-remaining', 'lots'], ['retry-after', 'soon'], ['ratelimit', 'garbage;;;']]), now), {});
  });
});

describe('vendor quirks: Link headers (case 5)', () => {
  it('case 5: a next link with commas in its query is followed whole: 3 items of 3', async () => {
    const server = await serve((req, res) => {
      const page = Number(new URL(req.url, 'http://x').searchParams.get('page') ?? 1);
      const items = page === 1 ? [{ id: 'a1', email: 'ann.demo@example.test' }, { id: 'a2', email: 'ben.demo@example.test' }] : [{ id: 'a3', email: 'cara.demo@example.test' }];
      const next = `${server.url}/members?page=2&fields=id,email,status`;
      json(res, 200, items, page === 1 ? { link: `<${next}>; rel="next", <${next}>; rel="last"` } : {});
    });
    const client = new HttpClient({ name: 'demo', baseUrl: server.url });
    const walk = paginate<{ email: string }>(client, { path: '/members', query: { fields: 'id,email,status' } }, linkHeaderPagination());
    const seen: string[] = [];
    for await (const item of walk) seen.push(item.email);
    assert.deepEqual(seen, ['ann.demo@example.test', 'ben.demo@example.test', 'cara.demo@example.test']);
    assert.equal(server.requests[1]!.url, '/members?page=2&fields=id,email,status');
    assert.deepEqual(walk.completeness, { complete: true, reasons: [] });
  });

  it('case 5: odd but valid spellings of rel, several rels, quoted commas', () => {
    const u = 'https://api.example.test/u?after=x';
    for (const h of [`<${u}>;rel=next`, `<${u}>; rel="next last"`, `<${u}>; rel = "next"`, `<${u}>; REL="NEXT"`, `<${u}>; title="a, b"; rel="next"`]) assert.equal(parseLinks(h)['next'], u, h);
    assert.equal(parseLinks(`<${u}>; rel="next last"`)['last'], u);
    assert.deepEqual(parseLinks(null), {});
    assert.deepEqual(parseLinks('not a link header'), {});
  });

  it("GitHub: a relative next link and 'first'/'prev' beside it", async () => {
    const server = await serve((req, res) => {
      const page = Number(new URL(req.url, 'http://x').searchParams.get('page') ?? 1);
      json(res, 200, [{ id: page }], page < 3 ? { link: `</orgs/acme/members?page=1>; rel="first", </orgs/acme/members?page=${page + 1}&per_page=1>; rel="next"` } : {});
    });
    const client = new HttpClient({ name: 'github', baseUrl: server.url });
    const ids: number[] = [];
    for await (const m of paginate<{ id: number }>(client, { path: '/orgs/acme/members', query: { per_page: 1 } }, linkHeaderPagination())) ids.push(m.id);
    assert.deepEqual(ids, [1, 2, 3]);
  });
});

describe('vendor quirks: OAuth token responses (case 6)', () => {
  for (const expiresIn of ['120', 120] as const) {
    it(`case 6: expires_in ${JSON.stringify(expiresIn)} is 120 s, and the token is renewed before it expires`, async () => {
      const clock = fakeClock();
      const issued = new Map<string, number>();
      let n = 0;
      const server = await serve((req, res) => {
        if (req.url === '/oauth/token') {
          const token = `tok-${++n}`;
          issued.set(token, clock.now());
          return void json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: expiresIn });
        }
        const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
        if (!issued.has(token) || clock.now() - issued.get(token)! >= 120_000) return void json(res, 401, { error: 'invalid_token' });
        json(res, 200, { data: [] });
      });
      const auth = new ClientCredentials({ tokenUrl: `${server.url}/oauth/token`, clientId: () => 'demo-client', clientSecret: () => 'demo-secret', clock });
      const client = new HttpClient({ name: 'demo', baseUrl: server.url, auth, clock });
      const start = clock.now();
      const statuses: number[] = [];
      for (const at of [0, 30, 90, 150, 300]) {
        clock.set(start + at * 1000);
        statuses.push((await client.request({ path: '/users' })).status);
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
      assert.equal(server.requests.filter((r) => r.url === '/users' && r.headers.authorization).length, 5, 'no call was refused and retried');
      assert.equal(auth.exchanges, 4, 'renewed at 90 s, 150 s and 300 s: past half the lifetime, never after expiry');
    });
  }

  it('a token the server stops taking early is dropped on 401: the call fails as refused, the next one exchanges afresh', async () => {
    let n = 0;
    const server = await serve((req, res) => {
      if (req.url === '/oauth/token') return void json(res, 200, { access_token: `tok-${++n}`, expires_in: '3600' });
      if (req.headers.authorization === 'Bearer tok-1') return void json(res, 401, { error: 'invalid_token' });
      json(res, 200, {});
    });
    const auth = new ClientCredentials({ tokenUrl: `${server.url}/oauth/token`, clientId: () => 'c', clientSecret: () => 's' });
    const client = new HttpClient({ name: 'demo', baseUrl: server.url, auth });
    await assert.rejects(client.request({ path: '/users' }), UnauthorizedError);
    assert.equal((await client.request({ path: '/users' })).status, 200);
    assert.equal(auth.exchanges, 2);
  });

  it('an expires_in that is not a number keeps the token an hour, renewed a minute before', async () => {
    const clock = fakeClock();
    const server = await serve((req, res) => void (req.url === '/oauth/token' ? json(res, 200, { access_token: 'tok', expires_in: 'soon' }) : json(res, 200, {})));
    const auth = new ClientCredentials({ tokenUrl: `${server.url}/oauth/token`, clientId: () => 'c', clientSecret: () => 's', clock });
    const client = new HttpClient({ name: 'demo', baseUrl: server.url, auth, clock });
    const start = clock.now();
    await client.request({ path: '/users' });
    clock.set(start + 58 * 60_000);
    await client.request({ path: '/users' });
    assert.equal(auth.exchanges, 1);
    clock.set(start + 59 * 60_000 + 1);
    await client.request({ path: '/users' });
    assert.equal(auth.exchanges, 2);
  });
});
