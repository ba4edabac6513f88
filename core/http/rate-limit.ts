/** What a response said about the rate limit, whichever header family it used. */
export interface RateLimitInfo {
  readonly limit?: number;
  readonly remaining?: number;
  /** When the window resets, as epoch milliseconds on this machine's clock (converted through the server's `Date`). */
  readonly resetAt?: number;
  /** How long the server asked us to wait (Retry-After), in milliseconds. */
  readonly retryAfterMs?: number;
}

/** Families of separate fields: [limit, remaining, reset]. Header names are case-insensitive, so one spelling each. */
const families = [
  ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'], // GitHub, Zoom, many others
  ['x-rate-limit-limit', 'x-rate-limit-remaining', 'x-rate-limit-reset'], // Okta, Twitter
  ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'], // draft-ietf-httpapi-ratelimit-headers up to -06
] as const;

/**
 * Reads every common rate-limit header family, tolerantly:
 * - a header sent twice (`x-rate-limit-remaining: 10, 0`, as proxies that merge answers do) counts
 *   its most cautious value: the smallest limit and remaining, the latest reset;
 * - a reset is an absolute epoch time (seconds, or milliseconds when that large) when it is after
 *   2001, else seconds from now; an absolute time is converted with the answer's own `Date` header
 *   (reset − Date), so a server whose clock differs from ours is waited for exactly (Okta's SDKs do
 *   the same); without `Date`, or with a `Date` that agrees with our clock to the second, our
 *   clock is used (it has the milliseconds `Date` lacks);
 * - the IETF fields: `RateLimit: "default";r=0;t=5` and `RateLimit-Policy: "default";q=100;w=60`
 *   (draft -07 onwards), `RateLimit: limit=100, remaining=0, reset=5` (draft -05/-06) and the older
 *   separate `RateLimit-Limit/-Remaining/-Reset`;
 * - `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3; an ISO 8601 date too),
 *   a date again taken relative to the answer's `Date`.
 *
 * `now` is this machine's time in epoch milliseconds.
 */
export function readRateLimit(headers: Headers, now: number): RateLimitInfo {
  const info: { -readonly [K in keyof RateLimitInfo]: RateLimitInfo[K] } = {};
  const serverDate = parseDate(headers.get('date'));
  // An absolute time on the server's clock, as a time on ours. `Date` has whole seconds, so a
  // server whose Date agrees with our clock within that resolution (and a second of latency) is
  // taken as in step, and our clock's milliseconds are kept; beyond that its clock is believed.
  const skew = serverDate === undefined || (now >= serverDate - 1000 && now < serverDate + 2000) ? 0 : serverDate - now;
  const local = (absolute: number) => absolute - skew;
  const lowest = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
  const latest = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.max(a, b));
  for (const [limit, remaining, reset] of families) {
    info.limit = lowest(info.limit, min(numbers(headers.get(limit))));
    info.remaining = lowest(info.remaining, min(numbers(headers.get(remaining))));
    const z = max(numbers(headers.get(reset)));
    if (z !== undefined) info.resetAt = latest(info.resetAt, z > 1e12 ? local(z) : z > 1e9 ? local(z * 1000) : now + z * 1000);
    else {
      // Some vendors (lemlist) write the reset as a date.
      const date = parseDate(headers.get(reset));
      if (date !== undefined) info.resetAt = latest(info.resetAt, local(date));
    }
  }
  // Several policies may be listed: the reset that matters is the latest of those spent, else the nearest.
  const spent: number[] = [];
  const open: number[] = [];
  for (const member of structuredList(headers.get('ratelimit'))) {
    // draft -05/-06: a dictionary, limit=100, remaining=0, reset=5
    if (member.item === 'limit' || member.item === 'remaining' || member.item === 'reset') {
      const value = num(member.value);
      if (value === undefined) continue;
      if (member.item === 'limit') info.limit = lowest(info.limit, value);
      else if (member.item === 'remaining') info.remaining = lowest(info.remaining, value);
      else info.resetAt = latest(info.resetAt, now + value * 1000);
      continue;
    }
    // draft -07 onwards: "policy";r=<remaining>;t=<seconds until reset>
    const r = num(member.params['r']);
    const t = num(member.params['t']);
    if (r !== undefined) info.remaining = lowest(info.remaining, r);
    if (t !== undefined) (r !== undefined && r <= 0 ? spent : open).push(now + t * 1000);
  }
  if (spent.length) info.resetAt = latest(info.resetAt, max(spent));
  else if (open.length) info.resetAt ??= min(open);
  for (const member of structuredList(headers.get('ratelimit-policy'))) {
    // "policy";q=100;w=60 (draft -07 onwards) or 100;w=60 (earlier drafts)
    const quota = num(member.params['q']) ?? num(member.item);
    if (quota !== undefined) info.limit = lowest(info.limit, quota);
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter) {
    const seconds = max(numbers(retryAfter));
    if (seconds !== undefined) info.retryAfterMs = Math.max(0, seconds * 1000);
    else {
      const date = parseDate(retryAfter);
      if (date !== undefined) info.retryAfterMs = Math.max(0, local(date) - now);
    }
  }
  return Object.fromEntries(Object.entries(info).filter(([, v]) => v !== undefined)) as RateLimitInfo;
}

/** How long to wait after a rate-limited answer: Retry-After if given, else until the reset, else unknown (ms). */
export function waitAfter429(info: RateLimitInfo, now: number): number | undefined {
  if (info.retryAfterMs !== undefined) return info.retryAfterMs;
  if (info.resetAt !== undefined) return Math.max(0, info.resetAt - now);
  return undefined;
}

/** Same as waitAfter429, for any status that says "rate limited" (429, 503 with Retry-After, GitHub's 403). */
export const waitAfterRateLimit = waitAfter429;

/** Whether the answer itself says the window is spent: Retry-After, or remaining 0 with a reset. */
export function saysRateLimited(info: RateLimitInfo): boolean {
  return info.retryAfterMs !== undefined || (info.remaining !== undefined && info.remaining <= 0 && info.resetAt !== undefined);
}

function parseDate(value: string | null): number | undefined {
  if (!value) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

function numbers(value: string | null): number[] {
  if (value === null) return [];
  return value.split(',').map(num).filter((n): n is number => n !== undefined);
}
const min = (values: number[]) => (values.length ? Math.min(...values) : undefined);
const max = (values: number[]) => (values.length ? Math.max(...values) : undefined);

function num(value: string | undefined | null): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim().replace(/^"(.*)"$/, '$1');
  if (text === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A Structured Field list or dictionary (RFC 8941), read leniently: top-level members split on
 * commas outside quotes, each an item (token, string or number, or `key=value`) with `;key=value`
 * parameters. Enough for the rate-limit fields; anything unreadable is skipped.
 */
function structuredList(value: string | null): { item: string; value?: string; params: Record<string, string> }[] {
  if (!value) return [];
  const split = (text: string, separator: string) => {
    const parts: string[] = [];
    let current = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '"' && text[i - 1] !== '\\') quoted = !quoted;
      if (c === separator && !quoted) {
        parts.push(current);
        current = '';
      } else current += c;
    }
    parts.push(current);
    return parts.map((p) => p.trim()).filter(Boolean);
  };
  const unquote = (text: string) => text.trim().replace(/^"(.*)"$/, '$1');
  return split(value, ',').map((member) => {
    const [head = '', ...rest] = split(member, ';');
    const at = head.indexOf('=');
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) params[p.trim().toLowerCase()] = '1';
      else params[p.slice(0, eq).trim().toLowerCase()] = unquote(p.slice(eq + 1));
    }
    return at < 0 ? { item: unquote(head), params } : { item: head.slice(0, at).trim().toLowerCase(), value: unquote(head.slice(at + 1)), params };
  });
}
