import assert from 'node:assert/strict';
import { ClientCredentials, bearerToken, httpBasic, sswsToken } from '../../core/http/auth.js';
import { HttpClient, type HttpEvent } from '../../core/http/client.js';
import { InvalidRequestError, NetworkError, RateLimitedError, ResourceNotFoundError, UnauthorizedError, UpstreamError } from '../../core/http/errors.js';
import { cursorPagination, linkHeaderPagination, offsetPagination, paginate, parseLinks, scimPagination } from '../../core/http/pagination.js';
import { ConnectorConfigError } from '../../core/errors.js';
import { json, serve } from '../support/http-server.js';

/** A clock whose sleeps pass at once, so that retries and waits take no real time. */
function fakeClock() {
  let t = Date.UTC(2026, 10, 28, 12);
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
}
const fastRetry = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('HTTP client', () => {
  it('retries 502, 503 and 504 with backoff, then returns the answer', async () => {
    let n = 0;
    const server = await serve((_req, res) => void json(res, [502, 503, 504, 200][n++]!, { ok: true }));
    const clock = fakeClock();
    const client = new HttpClient({ name: 'test', baseUrl: server.url, clock, retry: fastRetry });
    const response = await client.request<{ ok: boolean }>({ path: '/thing' });
    assert.equal(response.body.ok, true);
    assert.equal(server.requests.length, 4);
    assert.equal(clock.slept.length, 3);
    clock.slept.forEach((ms, i) => assert.ok(ms <= 100 * 2 ** i, `backoff ${i} is ${ms}`));
  });

  it('waits exactly as long as a 429 says (Retry-After as an HTTP date)', async () => {
    const clock = fakeClock();
    let n = 0;
    const server = await serve((_req, res) => void (n++ === 0 ? json(res, 429, {}, { date: new Date(clock.now()).toUTCString(), 'retry-after': new Date(clock.now() + 7000).toUTCString() }) : json(res, 200, [])));
    const client = new HttpClient({ name: 'test', baseUrl: server.url, clock, retry: fastRetry });
    await client.request({ path: '/x' });
    assert.deepEqual(clock.slept, [7000]);
    assert.equal(client.rateLimited, 1);
  });

  it('gives up after the last attempt with a typed error that keeps the delay', async () => {
    const server = await serve((_req, res) => void json(res, 429, {}, { date: new Date(Date.UTC(2026, 10, 28, 12)).toUTCString(), 'x-rate-limit-reset': String(Math.floor(Date.UTC(2026, 10, 28, 12) / 1000) + 30) }));
    const client = new HttpClient({ name: 'okta', baseUrl: server.url, clock: fakeClock(), retry: { ...fastRetry, maxAttempts: 1 } });
    await assert.rejects(client.request({ path: '/api/v1/users' }), (e: unknown) => e instanceof RateLimitedError && e.retryAfterMs === 30_000 && /okta: GET \/api\/v1\/users: HTTP 429 \(retry in 30 s\)/.test(e.message));
  });

  it('says what kind of failure it was: not found, unauthorized, invalid request, upstream', async () => {
    const server = await serve((req, res) => void json(res, Number(req.url!.slice(1)), { error: 'x' }));
    const client = new HttpClient({ name: 'test', baseUrl: server.url, clock: fakeClock(), retry: fastRetry });
    await assert.rejects(client.request({ path: '/404' }), ResourceNotFoundError);
    await assert.rejects(client.request({ path: '/401' }), UnauthorizedError);
    await assert.rejects(client.request({ path: '/403' }), UnauthorizedError);
    await assert.rejects(client.request({ path: '/422' }), InvalidRequestError);
    await assert.rejects(client.request({ path: '/500' }), (e: unknown) => e instanceof UpstreamError && e.status === 500 && !(e instanceof InvalidRequestError));
    assert.equal(server.requests.length, 5, 'none of these is retried');
  });

  it('retries a network failure, then reports it as one', async () => {
    const server = await serve(() => undefined);
    await server.close();
    const client = new HttpClient({ name: 'test', baseUrl: server.url, clock: fakeClock(), retry: { ...fastRetry, maxAttempts: 2 } });
    await assert.rejects(client.request({ path: '/x' }), NetworkError);
  });

  it('refuses a malformed base URL at construction, naming the setting', () => {
    assert.throws(() => new HttpClient({ name: 'okta', baseUrl: 'acme.okta.com' }), (e: unknown) => e instanceof ConnectorConfigError && e.message === "okta: baseUrl: 'acme.okta.com' is not an http(s) URL");
  });

  it('never sends credentials to another origin, even when a next link points there', async () => {
    const client = new HttpClient({ name: 'test', baseUrl: 'http://127.0.0.1:1', auth: bearerToken(() => 'tok') });
    await assert.rejects(client.request({ path: 'https://evil.example/steal' }), /refusing to send credentials to https:\/\/evil\.example/);
  });

  it('puts secrets in the Authorization header only: never in errors or events', async () => {
    const server = await serve((_req, res) => void json(res, 401, { error: 'bad token' }));
    const events: HttpEvent[] = [];
    for (const auth of [bearerToken(() => 'sekrit-1'), sswsToken(() => 'sekrit-1'), httpBasic(() => 'user', () => 'sekrit-1')]) {
      const client = new HttpClient({ name: 'test', baseUrl: server.url, auth, onEvent: (e) => events.push(e) });
      const error = await client.request({ path: '/x', query: { q: 'a' } }).catch((e: unknown) => e as Error);
      assert.ok(error instanceof UnauthorizedError);
      assert.doesNotMatch(`${error.message} ${JSON.stringify(error)} ${String(error.stack)}`, /sekrit|c2Vrcml0|dXNlcjpzZWtyaXQtMQ/);
    }
    assert.doesNotMatch(JSON.stringify(events), /sekrit|authorization|q=a/i);
    assert.deepEqual(server.requests.map((r) => r.headers.authorization), ['Bearer sekrit-1', 'SSWS sekrit-1', `Basic ${Buffer.from('user:sekrit-1').toString('base64')}`]);
  });

  it('sends the idempotency key it is given', async () => {
    const server = await serve((_req, res) => void json(res, 200, {}));
    await new HttpClient({ name: 'test', baseUrl: server.url }).request({ method: 'POST', path: '/ops', body: { a: 1 }, idempotencyKey: 'run-1:step-2' });
    assert.equal(server.requests[0]!.headers['idempotency-key'], 'run-1:step-2');
    assert.equal(server.requests[0]!.body, '{"a":1}');
  });
});

describe('OAuth2 client credentials', () => {
  it('caches the token, shares one exchange between concurrent calls, and renews before expiry', async () => {
    let issued = 0;
    const server = await serve((req, res) => {
      if (req.url === '/oauth/token') return void json(res, 200, { access_token: `t${++issued}`, expires_in: 3600 });
      json(res, 200, { auth: req.headers.authorization });
    });
    const clock = fakeClock();
    const auth = new ClientCredentials({ tokenUrl: `${server.url}/oauth/token`, clientId: () => 'id', clientSecret: () => 'secret', clock });
    const client = new HttpClient({ name: 'test', baseUrl: server.url, auth, clock });
    const answers = await Promise.all([1, 2, 3].map(() => client.request<{ auth: string }>({ path: '/a' })));
    assert.deepEqual(answers.map((a) => a.body.auth), ['Bearer t1', 'Bearer t1', 'Bearer t1']);
    assert.equal(auth.exchanges, 1);
    clock.sleep(3600_000 - 59_000);
    assert.equal((await client.request<{ auth: string }>({ path: '/a' })).body.auth, 'Bearer t2', 'renewed inside the last minute');
    const tokenRequest = server.requests.find((r) => r.url === '/oauth/token')!;
    assert.match(tokenRequest.body, /grant_type=client_credentials&client_id=id&client_secret=secret/);
  });

  it('a refused exchange is an UnauthorizedError', async () => {
    const server = await serve((_req, res) => void json(res, 401, { error: 'invalid_client' }));
    const auth = new ClientCredentials({ tokenUrl: `${server.url}/t`, clientId: () => 'id', clientSecret: () => 'no', basic: true });
    await assert.rejects(new HttpClient({ name: 'test', baseUrl: server.url, auth }).request({ path: '/a' }), UnauthorizedError);
    assert.equal(server.requests[0]!.headers.authorization, `Basic ${Buffer.from('id:no').toString('base64')}`);
  });
});

describe('pagination', () => {
  const people = Array.from({ length: 23 }, (_, i) => ({ id: i + 1 }));

  it('follows a cursor in the body', async () => {
    const server = await serve((req, res) => {
      const after = Number(new URL(req.url, 'http://x').searchParams.get('after') ?? 0);
      const page = people.slice(after, after + 10);
      json(res, 200, { data: page, meta: { next: after + 10 < people.length ? after + 10 : null } });
    });
    const client = new HttpClient({ name: 't', baseUrl: server.url });
    const ids: number[] = [];
    for await (const p of paginate<{ id: number }>(client, { path: '/people' }, cursorPagination({ itemsPath: 'data', cursorPath: 'meta.next', cursorParam: 'after' }))) ids.push(p.id);
    assert.deepEqual(ids, people.map((p) => p.id));
  });

  it('follows Link rel="next" and reads lazily, one page at a time', async () => {
    const server = await serve((req, res) => {
      const after = Number(new URL(req.url, 'http://x').searchParams.get('after') ?? 0);
      const next: Record<string, string> = after + 10 < people.length ? { link: `<${server.url}/users?after=${after + 10}&limit=10>; rel="next", <${server.url}/users>; rel="self"` } : {};
      json(res, 200, people.slice(after, after + 10), next);
    });
    const client = new HttpClient({ name: 't', baseUrl: server.url });
    const iterator = paginate<{ id: number }>(client, { path: '/users', query: { limit: 10 } }, linkHeaderPagination());
    await iterator.next();
    assert.equal(server.requests.length, 1, 'the second page is not fetched before it is needed');
    const rest: number[] = [];
    for await (const p of iterator) rest.push(p.id);
    assert.equal(rest.length, 22);
    assert.equal(server.requests.length, 3);
  });

  it('walks offset and page numbers until a short page', async () => {
    const server = await serve((req, res) => {
      const q = new URL(req.url, 'http://x').searchParams;
      const size = Number(q.get('size') ?? 10);
      const start = q.has('page') ? (Number(q.get('page')) - 1) * size : Number(q.get('offset') ?? 0);
      json(res, 200, people.slice(start, start + size));
    });
    const client = new HttpClient({ name: 't', baseUrl: server.url });
    for (const style of ['offset', 'page'] as const) {
      const ids: number[] = [];
      const param = style === 'offset' ? 'offset' : 'page';
      for await (const p of paginate<{ id: number }>(client, { path: '/p', query: { size: 10 } }, offsetPagination({ param, sizeParam: 'size', pageSize: 10, style }))) ids.push(p.id);
      assert.deepEqual(ids, people.map((p) => p.id), style);
    }
  });

  it('walks SCIM startIndex and count to totalResults', async () => {
    const server = await serve((req, res) => {
      const q = new URL(req.url, 'http://x').searchParams;
      const start = Number(q.get('startIndex') ?? 1);
      const count = Number(q.get('count') ?? 10);
      const page = people.slice(start - 1, start - 1 + count);
      json(res, 200, { totalResults: people.length, startIndex: start, itemsPerPage: page.length, Resources: page });
    });
    const ids: number[] = [];
    const client = new HttpClient({ name: 't', baseUrl: server.url });
    for await (const p of paginate<{ id: number }>(client, { path: '/Users', query: { startIndex: 1, count: 10 } }, scimPagination({ count: 10 }))) ids.push(p.id);
    assert.deepEqual(ids, people.map((p) => p.id));
  });

  it('parses several links in one header', () => {
    assert.deepEqual(parseLinks('<https://a/x?after=2>; rel="next", <https://a/x>; rel="self"'), { next: 'https://a/x?after=2', self: 'https://a/x' });
  });
});
