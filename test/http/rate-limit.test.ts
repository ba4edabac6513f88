import assert from 'node:assert/strict';
import { RateLimiter } from '../../core/http/limiter.js';
import { readRateLimit, waitAfter429 } from '../../core/http/rate-limit.js';

const now = Date.UTC(2026, 10, 28, 12, 0, 0);
const headers = (h: Record<string, string>) => new Headers(h);

describe('rate-limit headers', () => {
  it('reads X-RateLimit-* with an epoch reset', () => {
    assert.deepEqual(readRateLimit(headers({ 'X-RateLimit-Limit': '100', 'X-RateLimit-Remaining': '7', 'X-RateLimit-Reset': String(now / 1000 + 30) }), now), { limit: 100, remaining: 7, resetAt: now + 30_000 });
  });

  it("reads Okta's X-Rate-Limit-*", () => {
    assert.deepEqual(readRateLimit(headers({ 'X-Rate-Limit-Limit': '600', 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Reset': String(now / 1000 + 12) }), now), { limit: 600, remaining: 0, resetAt: now + 12_000 });
  });

  it("reads Spendesk's lower-case x-ratelimit-*", () => {
    assert.equal(readRateLimit(headers({ 'x-ratelimit-remaining': '3' }), now).remaining, 3);
  });

  it('reads the IETF RateLimit-* fields, whose reset is seconds from now', () => {
    assert.deepEqual(readRateLimit(headers({ 'RateLimit-Limit': '20', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '2' }), now), { limit: 20, remaining: 0, resetAt: now + 2000 });
  });

  it('reads the IETF structured RateLimit field', () => {
    assert.deepEqual(readRateLimit(headers({ RateLimit: 'limit=50, remaining=4, reset=9' }), now), { limit: 50, remaining: 4, resetAt: now + 9000 });
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    assert.equal(readRateLimit(headers({ 'Retry-After': '5' }), now).retryAfterMs, 5000);
    assert.equal(readRateLimit(headers({ 'Retry-After': new Date(now + 8000).toUTCString() }), now).retryAfterMs, 8000);
  });

  it('waits after a 429 for Retry-After first, else until the reset, else does not know', () => {
    assert.equal(waitAfter429({ retryAfterMs: 1000, resetAt: now + 9000 }, now), 1000);
    assert.equal(waitAfter429({ resetAt: now + 9000 }, now), 9000);
    assert.equal(waitAfter429({}, now), undefined);
  });
});

describe('rate limiter', () => {
  const clock = () => {
    let t = 0;
    const sleeps: number[] = [];
    return { now: () => t, sleep: async (ms: number) => void (sleeps.push(ms), (t += ms)), sleeps, at: () => t };
  };

  it('lets no more than the documented requests out in any window', async () => {
    const c = clock();
    const limiter = new RateLimiter([{ requests: 3, perSeconds: 1 }], 10, c);
    const sentAt: number[] = [];
    for (let i = 0; i < 7; i++) {
      const release = await limiter.acquire();
      sentAt.push(c.at());
      release();
    }
    assert.deepEqual(sentAt, [0, 0, 0, 1000, 1000, 1000, 2000]);
  });

  it('stops when the headers say the window is spent, until its reset', async () => {
    const c = clock();
    const limiter = new RateLimiter([], 10, c);
    (await limiter.acquire())();
    limiter.observe({ remaining: 0, resetAt: 4500 });
    (await limiter.acquire())();
    assert.equal(c.at(), 4500);
  });

  it('caps requests in flight', async () => {
    const c = clock();
    const limiter = new RateLimiter([], 2, c);
    const a = await limiter.acquire();
    await limiter.acquire();
    let third = false;
    const pending = limiter.acquire().then(() => (third = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(third, false);
    a();
    await pending;
    assert.equal(third, true);
  });
  it('hands a released slot to the caller that waited: one arriving in between waits too', async () => {
    const c = clock();
    const limiter = new RateLimiter([], 1, c);
    let inFlight = 0;
    let most = 0;
    const send = async () => {
      const release = await limiter.acquire();
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      release();
    };
    const first = limiter.acquire();
    const waiter = send();
    const release = await first;
    // The release and two new callers in the same turn: they must not take the slot meant for the waiter.
    release();
    await Promise.all([waiter, send(), send()]);
    assert.equal(most, 1);
  });

  it('gives the slot back when waiting for the window fails', async () => {
    let failing = true;
    let t = 0;
    const limiter = new RateLimiter([{ requests: 1, perSeconds: 1 }], 1, {
      now: () => t,
      sleep: async (ms) => {
        if (failing) throw new Error('clock stopped');
        t += ms;
      },
    });
    (await limiter.acquire())();
    await assert.rejects(limiter.acquire(), /clock stopped/);
    failing = false;
    // The slot of the failed wait is free again: a concurrency of 1 would otherwise block for ever.
    const later = await Promise.race([limiter.acquire().then(() => 'acquired'), new Promise((r) => setTimeout(() => r('blocked'), 200))]);
    assert.equal(later, 'acquired');
  });
});
