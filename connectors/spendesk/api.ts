import { NetworkError, RateLimitedError, UnauthorizedError, UpstreamError } from '../../core/http/errors.js';
import type { AppAccount, ConnectorApi, OperationHandler, OperationInput, OperationResult } from '../../core/registry/connector-api.js';
import manifest from './manifest.json' with { type: 'json' };

/**
 * The members record as this client reads it. The developer portal documents the token exchange
 * and the "Retrieve users (members)" permission but its members reference was not readable when
 * this was written: the fields follow the third-party descriptions (Celigo's "Get users"), and
 * unknown fields are ignored rather than guessed.
 */
interface SpendeskMember {
  id: string | number;
  email?: string;
  first_name?: string;
  last_name?: string;
  status?: string;
}

interface CachedToken {
  readonly value: string;
  readonly expiresAt: number;
}

const defaultBaseUrl = manifest.capabilities.userApi.baseUrl.value;
/** Refresh this long before the token's stated expiry, so that no call carries a token that dies in flight. */
const refreshMarginMs = 60_000;

/**
 * Reads Spendesk members through the public API (read-only: nothing in it can write members).
 * Credentials come from the tenant's secret references apiClientId and apiClientSecret; the
 * one-hour access token is cached per client and renewed before it expires.
 */
export class SpendeskMembersApi implements ConnectorApi {
  readonly connector = 'spendesk';
  readonly requiredSecrets = ['apiClientId', 'apiClientSecret'] as const;
  readonly operations: Readonly<Record<string, OperationHandler>> = {
    getUser: (input) => this.getUser(input),
    listUsers: (input) => this.listUsers(input),
  };
  private readonly tokens = new Map<string, CachedToken>();

  constructor(private readonly now: () => number = Date.now) {}

  async listUsers(input: OperationInput): Promise<OperationResult> {
    const members = await this.fetchMembers(input);
    return { outcome: 'done', evidence: `read ${members.length} members through the Spendesk API`, accounts: members };
  }

  async getUser(input: OperationInput): Promise<OperationResult> {
    const wanted = input.subject.email.toLowerCase();
    const member = (await this.fetchMembers(input)).find((m) => m.email.toLowerCase() === wanted);
    if (!member) return { outcome: 'notFound', evidence: `no member with email ${input.subject.email} in the Spendesk API's members list` };
    return { outcome: 'done', evidence: `member ${member.id} found through the Spendesk API (${member.active ? 'active' : 'inactive'})`, accounts: [member] };
  }

  private async fetchMembers(input: OperationInput): Promise<AppAccount[]> {
    const base = input.settings.baseUrl ?? defaultBaseUrl;
    const token = await this.token(base, input);
    const response = await this.send('list members', `${base}/users`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: input.signal });
    const body = (await response.json()) as unknown;
    const records = Array.isArray(body) ? body : Array.isArray((body as { data?: unknown }).data) ? (body as { data: unknown[] }).data : undefined;
    if (!records) throw new UpstreamError(response.status, 'list members', 'the answer has no list of members');
    return (records as SpendeskMember[]).filter((m) => typeof m.email === 'string').map(toAccount);
  }

  private async token(base: string, input: OperationInput): Promise<string> {
    const clientId = input.secrets.resolve(input.settings.secrets!.apiClientId!);
    const key = `${base}\u0000${clientId}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt - refreshMarginMs > this.now()) return cached.value;
    const clientSecret = input.secrets.resolve(input.settings.secrets!.apiClientSecret!);
    const response = await this.send('exchange API credentials', `${base}/auth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: 'grant_type=client_credentials',
      signal: input.signal,
    });
    const body = (await response.json()) as { access_token?: unknown; expires_in?: unknown };
    if (typeof body.access_token !== 'string') throw new UpstreamError(response.status, 'exchange API credentials', 'the answer has no access_token');
    const lifetimeS = typeof body.expires_in === 'number' ? body.expires_in : manifest.capabilities.auth.tokenLifetimeSeconds.value;
    this.tokens.set(key, { value: body.access_token, expiresAt: this.now() + lifetimeS * 1000 });
    return body.access_token;
  }

  private async send(operation: string, url: string, init: RequestInit): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (cause) {
      throw new NetworkError(operation, { cause });
    }
    if (response.ok) return response;
    await response.body?.cancel();
    if (response.status === 401 || response.status === 403) throw new UnauthorizedError(response.status, operation);
    if (response.status === 429) throw new RateLimitedError(operation, resetDelayMs(response.headers, this.now()));
    throw new UpstreamError(response.status, operation);
  }
}

/** Spendesk documents x-ratelimit-reset; read it as seconds to wait, or as an epoch time when it is one. */
function resetDelayMs(headers: Headers, now: number): number | undefined {
  const reset = Number(headers.get('x-ratelimit-reset') ?? headers.get('retry-after') ?? NaN);
  if (!Number.isFinite(reset)) return undefined;
  return reset > 1_000_000_000 ? Math.max(0, reset * 1000 - now) : reset * 1000;
}

function toAccount(member: SpendeskMember): AppAccount {
  const name = [member.first_name, member.last_name].filter(Boolean).join(' ');
  return {
    id: String(member.id),
    email: member.email!,
    active: member.status === undefined ? true : !/inactive|archived|deleted|disabled/i.test(member.status),
    ...(name ? { name } : {}),
  };
}
