/** What a response said about the rate limit, whichever header family it used. */
export interface RateLimitInfo {
  readonly limit?: number;
  readonly remaining?: number;
  /** When the window resets, as epoch milliseconds. */
  readonly resetAt?: number;
  /** How long the server asked us to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs?: number;
}

const families = [
  ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'], // X-RateLimit-* and lower-case x-ratelimit-* (headers are case-insensitive)
  ['x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset'], // Okta
  ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'], // IETF draft, separate fields
] as const;

/**
 * Reads every common rate-limit header family. A reset is an epoch time in seconds (Okta, GitHub)
 * when it is that large, else seconds from now (IETF); Retry-After is seconds or an HTTP date.
 */
export function readRateLimit(headers: Headers, now: number): RateLimitInfo {
  const info: { -readonly [K in keyof RateLimitInfo]: RateLimitInfo[K] } = {};
  for (const [limit, remaining, reset] of families) {
    const l = num(headers.get(limit));
    const r = num(headers.get(remaining));
    const z = num(headers.get(reset));
    if (l !== undefined) info.limit ??= l;
    if (r !== undefined) info.remaining ??= r;
    if (z !== undefined) info.resetAt ??= resetToEpochMs(z, now);
  }
  // IETF structured field: RateLimit: limit=100, remaining=50, reset=30
  const combined = headers.get('ratelimit');
  if (combined) {
    const fields = Object.fromEntries(combined.split(/[,;]/).map((p) => p.trim().split('=')).filter((kv) => kv.length === 2).map(([k, v]) => [k!.toLowerCase(), num(v!)]));
    if (fields.limit !== undefined) info.limit ??= fields.limit;
    if (fields.remaining !== undefined) info.remaining ??= fields.remaining;
    if (fields.reset !== undefined) info.resetAt ??= now + fields.reset * 1000;
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter) {
    const seconds = num(retryAfter);
    if (seconds !== undefined) info.retryAfterMs = seconds * 1000;
    else {
      const date = Date.parse(retryAfter);
      if (!Number.isNaN(date)) info.retryAfterMs = Math.max(0, date - now);
    }
  }
  return info;
}

/** How long to wait after a 429: Retry-After if given, else until the reset, else unknown. */
export function waitAfter429(info: RateLimitInfo, now: number): number | undefined {
  if (info.retryAfterMs !== undefined) return info.retryAfterMs;
  if (info.resetAt !== undefined) return Math.max(0, info.resetAt - now);
  return undefined;
}

function resetToEpochMs(value: number, now: number): number {
  return value > 1_000_000_000 ? value * 1000 : now + value * 1000;
}

function num(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
