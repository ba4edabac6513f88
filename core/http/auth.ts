import { RateLimitedError, UnauthorizedError, UpstreamError } from './errors.js';
import { readRateLimit, waitAfter429 } from './rate-limit.js';
import { type HttpClock, realClock } from './limiter.js';

/** How a request proves who sends it. Strategies never put a secret anywhere but the request's headers. */
export interface AuthStrategy {
  /** Adds credentials to a request's headers. */
  authorize(headers: Headers): Promise<void>;
  /** The server refused the credentials: drop anything cached so that the next call fetches afresh. */
  invalidate?(): void;
}

/** Secrets are read when needed, through a function, so that none is kept longer than a call. */
export type SecretSource = () => string;

export const bearerToken = (token: SecretSource): AuthStrategy => ({
  async authorize(headers) {
    headers.set('authorization', `Bearer ${token()}`);
  },
});

export const httpBasic = (username: SecretSource, password: SecretSource): AuthStrategy => ({
  async authorize(headers) {
    headers.set('authorization', `Basic ${Buffer.from(`${username()}:${password()}`).toString('base64')}`);
  },
});

/** Okta's API tokens: `Authorization: SSWS <token>`. */
export const sswsToken = (token: SecretSource): AuthStrategy => ({
  async authorize(headers) {
    headers.set('authorization', `SSWS ${token()}`);
  },
});

export interface ClientCredentialsOptions {
  readonly tokenUrl: string;
  readonly clientId: SecretSource;
  readonly clientSecret: SecretSource;
  readonly scope?: string;
  /** Send the credentials as HTTP Basic (Spendesk) rather than in the form body. */
  readonly basic?: boolean;
  /** The grant_type sent (default client_credentials; Zoom's server-to-server apps send account_credentials). */
  readonly grantType?: string;
  /** Renew this long before the token's stated expiry (at most half its lifetime). Default 60 s. */
  readonly refreshMarginMs?: number;
  readonly clock?: HttpClock;
  readonly fetch?: typeof fetch;
}

/**
 * OAuth 2.0 client credentials: exchanges the client's id and secret for an access token, caches
 * it, and renews it before it expires. Concurrent callers share one exchange. `expires_in` is read
 * as a number of seconds whether the server sends a number or a string of one (`"120"`, as
 * several servers do, against RFC 6749 §5.1); without a usable value the token is kept an hour.
 */
export class ClientCredentials implements AuthStrategy {
  private token: { value: string; expiresAt: number; renewAt: number } | undefined;
  private pending: Promise<string> | undefined;
  private readonly clock: HttpClock;

  constructor(private readonly options: ClientCredentialsOptions) {
    this.clock = options.clock ?? realClock;
  }

  async authorize(headers: Headers): Promise<void> {
    headers.set('authorization', `Bearer ${await this.current()}`);
  }

  invalidate(): void {
    this.token = undefined;
  }

  /** Exchanges made so far, for tests and diagnostics. */
  exchanges = 0;

  private async current(): Promise<string> {
    if (this.token && this.token.renewAt > this.clock.now()) return this.token.value;
    this.pending ??= this.exchange().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async exchange(): Promise<string> {
    this.exchanges++;
    const body = new URLSearchParams({ grant_type: this.options.grantType ?? 'client_credentials' });
    if (this.options.scope) body.set('scope', this.options.scope);
    const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' });
    if (this.options.basic) headers.set('authorization', `Basic ${Buffer.from(`${this.options.clientId()}:${this.options.clientSecret()}`).toString('base64')}`);
    else {
      body.set('client_id', this.options.clientId());
      body.set('client_secret', this.options.clientSecret());
    }
    const response = await (this.options.fetch ?? fetch)(this.options.tokenUrl, { method: 'POST', headers, body });
    if (response.status === 429) {
      await response.body?.cancel();
      throw new RateLimitedError('exchange client credentials', waitAfter429(readRateLimit(response.headers, this.clock.now()), this.clock.now()));
    }
    if (response.status === 400 || response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new UnauthorizedError(response.status, 'exchange client credentials');
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new UpstreamError(response.status, 'exchange client credentials');
    }
    const json = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof json.access_token !== 'string') throw new UpstreamError(response.status, 'exchange client credentials', 'the answer has no access_token');
    const lifetime = (seconds(json.expires_in) ?? 3600) * 1000;
    const margin = Math.min(this.options.refreshMarginMs ?? 60_000, lifetime / 2);
    this.token = { value: json.access_token, expiresAt: this.clock.now() + lifetime, renewAt: this.clock.now() + lifetime - margin };
    return json.access_token;
  }
}

/** A positive number of seconds from a JSON number or a numeric string; undefined otherwise. */
function seconds(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : Number.NaN;
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
