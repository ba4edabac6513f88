import assert from 'node:assert/strict';
import { HttpClient } from '../../core/http/client.js';
import { InvalidRequestError, RateLimitedError, ResourceNotFoundError, UpstreamError } from '../../core/http/errors.js';
import { json, serve } from '../support/http-server.js';

const clock = () => {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
};
const body = (reason: string) => ({ error: { message: `said ${reason}`, reason } });
const readError = (status: number, b: unknown) => {
  const reason = (b as { error?: { reason?: string } })?.error?.reason;
  return reason ? { detail: `${reason}: said ${reason}`, throttled: reason === 'slowDown' } : undefined;
};

describe("the HTTP client reads a vendor's error body", () => {
  it('puts what the body says into the typed error, and drops it without readError', async () => {
    const server = await serve((req, res) => void json(res, req.url === '/missing' ? 404 : 409, body(req.url === '/missing' ? 'notFound' : 'duplicate')));
    const reading = new HttpClient({ name: 'vendor', baseUrl: server.url, readError });
    await assert.rejects(reading.request({ path: '/missing' }), (e: unknown) => e instanceof ResourceNotFoundError && e.message === 'vendor: GET /missing: HTTP 404 (notFound: said notFound)');
    await assert.rejects(reading.request({ path: '/twice', method: 'POST', body: {} }), (e: unknown) => e instanceof InvalidRequestError && /HTTP 409 \(duplicate: said duplicate\)$/.test((e as Error).message));
    await assert.rejects(new HttpClient({ name: 'vendor', baseUrl: server.url }).request({ path: '/missing' }), (e: unknown) => (e as Error).message === 'vendor: GET /missing: HTTP 404');
  });

  it('retries an answer the body calls throttling (a 403 quota) as a rate limit, and says so when the attempts are spent', async () => {
    let calls = 0;
    const server = await serve((_req, res) => void (++calls < 3 ? json(res, 403, body('slowDown')) : json(res, 200, { ok: true })));
    const c = clock();
    const client = new HttpClient({ name: 'vendor', baseUrl: server.url, readError, clock: c, retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 100 } });
    assert.deepEqual((await client.request({ path: '/' })).body, { ok: true });
    assert.equal(client.rateLimited, 2);
    const always = await serve((_req, res) => void json(res, 403, body('slowDown')));
    await assert.rejects(new HttpClient({ name: 'vendor', baseUrl: always.url, readError, clock: clock(), retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }).request({ path: '/' }), (e: unknown) => e instanceof RateLimitedError && /\(slowDown: said slowDown\)/.test((e as Error).message));
  });

  it('waits as long as a 503 says in Retry-After, and backs off without it', async () => {
    let calls = 0;
    const server = await serve((_req, res) => void (++calls === 1 ? json(res, 503, {}, { 'retry-after': '9' }) : json(res, 200, {})));
    const c = clock();
    await new HttpClient({ name: 'vendor', baseUrl: server.url, clock: c, retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 10 } }).request({ path: '/' });
    assert.deepEqual(c.slept, [9_000]);
    const down = await serve((_req, res) => void json(res, 503, {}));
    const d = clock();
    await assert.rejects(new HttpClient({ name: 'vendor', baseUrl: down.url, clock: d, retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 10 } }).request({ path: '/' }), (e: unknown) => e instanceof UpstreamError && e.status === 503);
    assert.ok(d.slept.every((ms) => ms <= 10), 'jittered backoff, not a stated wait');
  });
});
