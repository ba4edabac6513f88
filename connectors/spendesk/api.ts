import { ClientCredentials } from '../../core/http/auth.js';
import { HttpClient, isHttpUrl } from '../../core/http/client.js';
import { UpstreamError } from '../../core/http/errors.js';
import { linkHeaderPagination, type Pagination, paginate } from '../../core/http/pagination.js';
import type { Completeness } from '../../core/reconcile/snapshot.js';
import type { HttpClock } from '../../core/http/limiter.js';
import type { RetryPolicy } from '../../core/engine/retry.js';
import { ConnectorConfigError } from '../../core/errors.js';
import type { AppAccount, ConnectorApi, OperationHandler, OperationInput, OperationResult } from '../../core/registry/connector-api.js';
import { type Proof, fold } from '../../core/channels/proof.js';
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

const defaultBaseUrl = manifest.capabilities.userApi.baseUrl.value;
const limits = manifest.capabilities.rateLimits.limits.value.filter((l) => !('appliesTo' in l));
const concurrency = manifest.capabilities.rateLimits.concurrency.value;

/**
 * Reads Spendesk members through the public API (read-only: nothing in it can write members), on
 * the shared HTTP toolkit: the id:secret pair exchanged at /auth/token with HTTP Basic for a
 * one-hour token (renewed before it expires), 50 requests a minute and 5 at a time as documented.
 */
export class SpendeskMembersApi implements ConnectorApi {
  readonly connector = 'spendesk';
  readonly requiredSecrets = ['apiClientId', 'apiClientSecret'] as const;
  readonly operations: Readonly<Record<string, OperationHandler>> = {
    getUser: (input) => this.getUser(input),
    listUsers: (input) => this.listUsers(input),
  };
  private readonly clients = new Map<string, { client: HttpClient; auth: ClientCredentials }>();

  constructor(private readonly options: { clock?: HttpClock; retry?: RetryPolicy } = {}) {}

  /** Every member; `completeness` says whether every page was read (a next page in the Link header is followed, with the toolkit's guards). */
  async listUsers(input: OperationInput): Promise<OperationResult> {
    const { members, completeness } = await this.fetchMembers(input);
    return { outcome: 'done', evidence: `read ${members.length} members through the Spendesk API${completeness.complete ? '' : ' (incomplete)'}`, accounts: members, completeness };
  }

  /**
   * The member by every identifier known: a recorded member id first (an email can change, the id
   * does not), then each email seen, compared folded. The members list's paging is not documented,
   * so a member not in it is not proven gone: the answer says so, and the step goes on to a person.
   */
  async getUser(input: OperationInput): Promise<OperationResult> {
    const known = input.known;
    const ids = new Set(known?.ids ?? []);
    const emails = new Set([input.subject.email, ...(known?.emails ?? []), ...(known?.userNames ?? [])].map(fold));
    const tried = [...[...ids].map((id) => `id ${id}`), ...[...emails].map((e) => `email ${e}`)];
    const { members, completeness } = await this.fetchMembers(input);
    const byId = members.find((m) => ids.has(m.id));
    const member = byId ?? members.find((m) => emails.has(fold(m.email)));
    const at = Date.now();
    if (!member) {
      const proof: Proof = { method: 'scan', finding: 'unproven', identifiersTried: tried, accountsScanned: members.length, complete: false, at, notes: ["the members list's paging is not documented, so a list without a next page is not proof that it is complete", ...completeness.reasons] };
      return { outcome: 'notFound', evidence: `no member with email ${input.subject.email} in the Spendesk API's members list`, proof };
    }
    const proof: Proof = { method: byId ? 'id' : 'lookup', finding: member.active ? 'present' : 'inactive', identifiersTried: tried, at };
    return { outcome: 'done', evidence: `member ${member.id} (${member.email}) found through the Spendesk API by ${byId ? 'its recorded id' : 'email'} (${member.active ? 'active' : 'inactive'})`, accounts: [member], proof };
  }

  /** Exchanges made by the client for this tenant (for tests: the token is reused). */
  exchanges(input: OperationInput): number {
    return this.connection(input).auth.exchanges;
  }

  /**
   * The members list. One page as far as the documentation shows; should the API answer with an
   * RFC 8288 `Link: <…>; rel="next"`, the next pages are followed too, under the toolkit's guards.
   * Members without an email cannot be matched to anyone: they make the read incomplete.
   */
  private async fetchMembers(input: OperationInput): Promise<{ members: AppAccount[]; completeness: Completeness }> {
    const pagination: Pagination<SpendeskMember> = {
      items(response) {
        const body = response.body;
        const records = Array.isArray(body) ? body : Array.isArray((body as { data?: unknown })?.data) ? (body as { data: unknown[] }).data : undefined;
        if (!records) throw new UpstreamError(response.status, 'spendesk: list members', 'the answer has no list of members');
        return records as SpendeskMember[];
      },
      next: (request, response, n) => linkHeaderPagination().next(request, response, n),
    };
    const members: AppAccount[] = [];
    let unmatched = 0;
    const pages = paginate<SpendeskMember>(this.connection(input).client, { path: 'users' }, pagination, { onFault: 'report' });
    for await (const member of pages) {
      if (typeof member.email === 'string' && member.email.trim()) members.push(toAccount(member));
      else unmatched++;
    }
    const reasons = [...pages.completeness.reasons, ...(unmatched ? [`spendesk: ${unmatched} members have no email and cannot be matched`] : [])];
    return { members, completeness: reasons.length ? { complete: false, reasons } : pages.completeness };
  }

  private connection(input: OperationInput): { client: HttpClient; auth: ClientCredentials } {
    const base = input.settings.baseUrl ?? defaultBaseUrl;
    if (!isHttpUrl(base)) throw new ConnectorConfigError('spendesk', 'apps.spendesk.baseUrl', `'${base}' is not an http(s) URL`);
    const idRef = input.settings.secrets?.apiClientId;
    const secretRef = input.settings.secrets?.apiClientSecret;
    if (!idRef || !secretRef) throw new ConnectorConfigError('spendesk', 'apps.spendesk.secrets', 'apiClientId and apiClientSecret references are required for the API');
    const key = `${base}|${idRef}`;
    let connection = this.clients.get(key);
    if (!connection) {
      const auth = new ClientCredentials({
        tokenUrl: `${base.replace(/\/$/, '')}/auth/token`,
        clientId: () => input.secrets.resolve(idRef),
        clientSecret: () => input.secrets.resolve(secretRef),
        basic: true,
        ...(this.options.clock ? { clock: this.options.clock } : {}),
      });
      const client = new HttpClient({
        name: 'spendesk',
        baseUrl: base,
        auth,
        limits,
        concurrency,
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        ...(this.options.retry ? { retry: this.options.retry } : {}),
      });
      this.clients.set(key, (connection = { client, auth }));
    }
    return connection;
  }
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
