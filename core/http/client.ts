import type { RetryPolicy } from '../engine/retry.js';
import { ConnectorConfigError, PatchbayError } from '../errors.js';
import type { AuthStrategy } from './auth.js';
import { InvalidRequestError, NetworkError, RateLimitedError, RateLimitWaitTooLongError, ResourceNotFoundError, UnauthorizedError, UpstreamError } from './errors.js';
import { type DocumentedLimit, type HttpClock, RateLimiter, realClock } from './limiter.js';
import { readRateLimit, saysRateLimited, waitAfterRateLimit } from './rate-limit.js';

export interface HttpClientOptions {
  /** Names the vendor in errors: "okta: GET /api/v1/users: HTTP 503". */
  readonly name: string;
  readonly baseUrl: string;
  readonly auth?: AuthStrategy;
  /** The vendor's documented limits: the client stays under them before the server has to say so. */
  readonly limits?: readonly DocumentedLimit[];
  readonly concurrency?: number;
  readonly retry?: RetryPolicy;
  readonly clock?: HttpClock;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  /**
   * Statuses besides 429 that this vendor uses to say "rate limited" (GitHub's secondary limits
   * answer 403). Such an answer is waited for only when it carries Retry-After, or a spent window
   * (remaining 0 and a reset); otherwise it is the error it looks like. 503 with Retry-After is
   * always honoured (RFC 9110 §10.2.3).
   */
  readonly rateLimitStatuses?: readonly number[];
  /** The longest wait a server may ask for (Retry-After, or a reset) before the call fails with RateLimitWaitTooLongError. Default 5 minutes. */
  readonly maxRetryWaitMs?: number;
  /** Told of every attempt, with nothing secret in it (no headers, no query string, no body). */
  readonly onEvent?: (event: HttpEvent) => void;
  /**
   * Reads the vendor's error body (parsed JSON, or text) of a failed answer: `detail` goes into the
   * typed error's message (Graph's `code: message`), `throttled` marks an answer that is a rate
   * limit whatever its status (Google's 403 `userRateLimitExceeded`). Without it the body is dropped.
   */
  readonly readError?: (status: number, body: unknown) => VendorError | undefined;
}

/** What a vendor's error body says, in the two words the client acts on. */
export interface VendorError {
  readonly detail?: string;
  readonly throttled?: boolean;
}

export interface HttpEvent {
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly attempt: number;
  readonly ms: number;
  readonly waitMs?: number;
  readonly error?: string;
}

export interface HttpRequest {
  readonly method?: string;
  /** A path under the base URL, or an absolute URL on the same host (a Link header's next page). */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly idempotencyKey?: string;
  /** Which request of several this is ("page 2"), for error messages; never sent. */
  readonly note?: string;
}

export interface HttpResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly url: string;
}

const retryableStatus = new Set([429, 502, 503, 504]);
const defaultRetry: RetryPolicy = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 };
/** Five minutes: longer than Okta's and Graph's windows, shorter than a night's patience for one call. */
export const defaultMaxRetryWaitMs = 300_000;

/**
 * The one HTTP client every API connector uses, on the platform's fetch: authentication, throttling
 * under the documented limits and the headers' word, retries with backoff and jitter on 429, 502,
 * 503, 504 and network errors (a rate-limited answer, a 429, a 503 with Retry-After or a status the
 * vendor declares in `rateLimitStatuses`, waits exactly as long as the server said, measured on the
 * server's own clock, up to `maxRetryWaitMs`), and typed
 * errors that keep the status and never carry a credential.
 */
export class HttpClient {
  private readonly limiter: RateLimiter;
  private readonly clock: HttpClock;
  private readonly retry: RetryPolicy;
  private readonly rateLimitStatuses: ReadonlySet<number>;
  private readonly maxWaitMs: number;
  /** Rate-limited answers received (429 and the like), for diagnostics and benchmarks. */
  rateLimited = 0;

  constructor(private readonly options: HttpClientOptions) {
    this.clock = options.clock ?? realClock;
    this.retry = options.retry ?? defaultRetry;
    this.rateLimitStatuses = new Set(options.rateLimitStatuses ?? []);
    this.maxWaitMs = options.maxRetryWaitMs ?? defaultMaxRetryWaitMs;
    this.limiter = new RateLimiter(options.limits ?? [], options.concurrency ?? 8, this.clock);
    if (!isHttpUrl(options.baseUrl)) throw new ConnectorConfigError(options.name, 'baseUrl', `'${options.baseUrl}' is not an http(s) URL`);
  }

  async request<T = unknown>(request: HttpRequest): Promise<HttpResponse<T>> {
    const method = request.method ?? 'GET';
    const url = this.url(request);
    const label = `${this.options.name}: ${method} ${url.pathname}${request.note ? ` (${request.note})` : ''}`;
    for (let attempt = 1; ; attempt++) {
      const release = await this.limiter.acquire();
      const started = this.clock.now();
      let response: Response;
      try {
        response = await this.send(method, url, request);
      } catch (cause) {
        release();
        // A token exchange that was told to wait waits like any 429; our other typed errors
        // (a refused exchange, a missing secret) are not network trouble and end the request.
        if (cause instanceof RateLimitedError && attempt < this.retry.maxAttempts) {
          this.rateLimited++;
          if (cause.retryAfterMs !== undefined && cause.retryAfterMs > this.maxWaitMs) throw new RateLimitWaitTooLongError(cause.operation, cause.retryAfterMs, this.maxWaitMs, cause.status);
          const wait = cause.retryAfterMs ?? this.backoff(attempt) ?? 0;
          this.limiter.pause(wait);
          await this.clock.sleep(wait);
          continue;
        }
        if (cause instanceof PatchbayError) throw cause;
        const error = new NetworkError(label, { cause });
        const wait = this.backoff(attempt);
        this.options.onEvent?.({ method, path: url.pathname, attempt, ms: this.clock.now() - started, error: error.message, ...(wait !== undefined ? { waitMs: wait } : {}) });
        if (wait === undefined) throw error;
        await this.clock.sleep(wait);
        continue;
      }
      release();
      const now = this.clock.now();
      const info = readRateLimit(response.headers, now);
      this.limiter.observe(info);
      if (response.ok) {
        this.options.onEvent?.({ method, path: url.pathname, status: response.status, attempt, ms: now - started });
        return { status: response.status, headers: response.headers, body: (await parseBody(response)) as T, url: response.url || url.toString() };
      }
      const vendor = this.options.readError ? this.options.readError(response.status, await parseBody(response).catch(() => undefined)) : (await response.body?.cancel().catch(() => {}), undefined);
      const status = response.status;
      if (status === 429 || vendor?.throttled || ((status === 503 || this.rateLimitStatuses.has(status)) && saysRateLimited(info))) {
        this.rateLimited++;
        const exact = waitAfterRateLimit(info, now);
        if (exact !== undefined && exact > this.maxWaitMs) {
          this.options.onEvent?.({ method, path: url.pathname, status, attempt, ms: now - started, error: 'rate limit wait too long' });
          throw new RateLimitWaitTooLongError(label, exact, this.maxWaitMs, status);
        }
        if (exact !== undefined) this.limiter.pause(exact);
        const wait = attempt < this.retry.maxAttempts ? (exact ?? this.backoff(attempt)) : undefined;
        this.options.onEvent?.({ method, path: url.pathname, status, attempt, ms: now - started, ...(wait !== undefined ? { waitMs: wait } : {}) });
        if (wait === undefined) throw new RateLimitedError(vendor?.detail ? `${label} (${vendor.detail})` : label, exact, status);
        await this.clock.sleep(wait);
        continue;
      }
      const wait = retryableStatus.has(response.status) ? this.backoff(attempt) : undefined;
      this.options.onEvent?.({ method, path: url.pathname, status: response.status, attempt, ms: now - started, ...(wait !== undefined ? { waitMs: wait } : {}) });
      if (wait !== undefined) {
        await this.clock.sleep(wait);
        continue;
      }
      if (response.status === 401 || response.status === 403) {
        this.options.auth?.invalidate?.();
        throw new UnauthorizedError(response.status, label, vendor?.detail);
      }
      if (response.status === 404) throw new ResourceNotFoundError(404, label, vendor?.detail);
      if (response.status === 400 || response.status === 409 || response.status === 422) throw new InvalidRequestError(response.status, label, vendor?.detail);
      throw new UpstreamError(response.status, label, vendor?.detail);
    }
  }

  /** Full-jitter backoff for the next attempt, or undefined when the attempts are spent. */
  private backoff(attempt: number): number | undefined {
    if (attempt >= this.retry.maxAttempts) return undefined;
    return Math.round(Math.random() * Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1)));
  }

  private async send(method: string, url: URL, request: HttpRequest): Promise<Response> {
    const headers = new Headers({ accept: 'application/json', 'user-agent': 'patchbay', ...request.headers });
    if (request.idempotencyKey) headers.set('idempotency-key', request.idempotencyKey);
    let body: string | undefined;
    if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    await this.options.auth?.authorize(headers);
    return (this.options.fetch ?? fetch)(url, { method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
  }

  /** The URL a request goes to (base URL, path, query), as `request` would send it. */
  urlOf(request: HttpRequest): URL {
    return this.url(request);
  }

  /** The vendor's name, as errors say it. */
  get name(): string {
    return this.options.name;
  }

  private url(request: HttpRequest): URL {
    const base = new URL(this.options.baseUrl.endsWith('/') ? this.options.baseUrl : `${this.options.baseUrl}/`);
    const url = /^https?:\/\//.test(request.path) ? new URL(request.path) : new URL(request.path.replace(/^\//, ''), base);
    if (url.origin !== base.origin) throw new ConnectorConfigError(this.options.name, 'next page', `refusing to send credentials to ${url.origin}, outside ${base.origin}`);
    for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    return url;
  }
}

export function isHttpUrl(value: string | undefined): boolean {
  if (!value) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

async function parseBody(response: Response): Promise<unknown> {
  if (response.status === 204) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('json')) return JSON.parse(text);
  return text;
}
