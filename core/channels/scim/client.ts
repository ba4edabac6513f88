import { bearerToken } from '../../http/auth.js';
import { HttpClient, isHttpUrl } from '../../http/client.js';
import { ResourceNotFoundError } from '../../http/errors.js';
import type { HttpClock } from '../../http/limiter.js';
import { paginate, scimPagination } from '../../http/pagination.js';
import type { RetryPolicy } from '../../engine/retry.js';
import { ConnectorConfigError } from '../../errors.js';
import type { AppAccount, OperationResult } from '../../registry/connector-api.js';
import type { AppSettings } from '../../schema/types/tenant-profile.js';
import type { SecretResolver } from '../../tenant/secrets.js';

const userSchema = 'urn:ietf:params:scim:schemas:core:2.0:User';
const patchSchema = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface ScimUser {
  id: string;
  userName: string;
  active?: boolean;
  externalId?: string;
  name?: { givenName?: string; familyName?: string };
  emails?: { value: string; primary?: boolean }[];
}

/** What a server says it supports (RFC 7643 §5, /ServiceProviderConfig). */
export interface ScimServerConfig {
  readonly patch: boolean;
  readonly filter: boolean;
  readonly maxResults?: number;
  readonly bulk: boolean;
  readonly maxOperations?: number;
}

/**
 * A SCIM 2.0 client for any app, configured by the tenant profile (baseUrl and a token reference).
 * It asks the server what it supports once, and uses PATCH and filters only when the server says
 * it can; every write reads first, so that repeated work is "already done".
 */
export class ScimClient {
  private readonly http: HttpClient;
  private config: Promise<ScimServerConfig> | undefined;

  constructor(
    readonly app: string,
    settings: AppSettings,
    secrets: SecretResolver,
    options: { clock?: HttpClock; retry?: RetryPolicy } = {},
  ) {
    if (!settings.baseUrl) throw new ConnectorConfigError(app, `apps.${app}.baseUrl`, 'the SCIM base URL is not in the tenant profile');
    if (!isHttpUrl(settings.baseUrl)) throw new ConnectorConfigError(app, `apps.${app}.baseUrl`, `'${settings.baseUrl}' is not an http(s) URL`);
    const ref = settings.secrets?.token;
    if (!ref) throw new ConnectorConfigError(app, `apps.${app}.secrets.token`, 'no reference to the SCIM bearer token');
    this.http = new HttpClient({
      name: app,
      baseUrl: settings.baseUrl,
      auth: bearerToken(() => secrets.resolve(ref)),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
    });
  }

  /** 429 answers so far. */
  get rateLimited(): number {
    return this.http.rateLimited;
  }

  discover(): Promise<ScimServerConfig> {
    this.config ??= this.http.request<Record<string, { supported?: boolean; maxResults?: number; maxOperations?: number }>>({ path: 'ServiceProviderConfig' }).then(({ body }) => ({
      patch: body.patch?.supported === true,
      filter: body.filter?.supported === true,
      bulk: body.bulk?.supported === true,
      ...(body.filter?.maxResults ? { maxResults: body.filter.maxResults } : {}),
      ...(body.bulk?.maxOperations ? { maxOperations: body.bulk.maxOperations } : {}),
    }));
    return this.config;
  }

  async *users(): AsyncGenerator<ScimUser> {
    const count = Math.min(100, (await this.discover()).maxResults ?? 100);
    yield* paginate<ScimUser>(this.http, { path: 'Users', query: { startIndex: 1, count } }, scimPagination({ count }));
  }

  async findUser(email: string): Promise<ScimUser | undefined> {
    if ((await this.discover()).filter) {
      const { body } = await this.http.request<{ Resources?: ScimUser[] }>({ path: 'Users', query: { filter: `userName eq "${email.replace(/"/g, '\\"')}"` } });
      return body.Resources?.find((u) => u.userName.toLowerCase() === email.toLowerCase());
    }
    for await (const user of this.users()) if (user.userName.toLowerCase() === email.toLowerCase()) return user;
    return undefined;
  }

  async listUsers(): Promise<OperationResult> {
    const accounts: AppAccount[] = [];
    for await (const user of this.users()) accounts.push(toAccount(user));
    return { outcome: 'done', evidence: `read ${accounts.length} users over SCIM`, accounts };
  }

  async getUser(email: string): Promise<OperationResult> {
    const user = await this.findUser(email);
    if (!user) return { outcome: 'notFound', evidence: `no SCIM user with userName ${email}` };
    return { outcome: 'done', evidence: `SCIM user ${user.id} is ${user.active === false ? 'inactive' : 'active'}`, accounts: [toAccount(user)] };
  }

  async createUser(subject: { email: string; firstName?: string; lastName?: string }): Promise<OperationResult> {
    const existing = await this.findUser(subject.email);
    if (existing) return { outcome: 'alreadyDone', evidence: `SCIM user ${existing.id} already exists`, accounts: [toAccount(existing)] };
    const { body } = await this.http.request<ScimUser>({
      method: 'POST',
      path: 'Users',
      headers: { 'content-type': 'application/scim+json' },
      body: {
        schemas: [userSchema],
        userName: subject.email,
        name: { givenName: subject.firstName ?? subject.email.split('@')[0], familyName: subject.lastName ?? '' },
        emails: [{ value: subject.email, primary: true }],
        active: true,
      },
    });
    return { outcome: 'done', evidence: `created SCIM user ${body.id}`, accounts: [toAccount(body)] };
  }

  async updateUser(subject: { email: string; firstName?: string; lastName?: string }): Promise<OperationResult> {
    const user = await this.findUser(subject.email);
    if (!user) return { outcome: 'notFound', evidence: `no SCIM user with userName ${subject.email}` };
    const next = { ...user, schemas: [userSchema], name: { ...user.name, ...(subject.firstName ? { givenName: subject.firstName } : {}), ...(subject.lastName ? { familyName: subject.lastName } : {}) } };
    await this.http.request({ method: 'PUT', path: `Users/${user.id}`, headers: { 'content-type': 'application/scim+json' }, body: next });
    return { outcome: 'done', evidence: `updated SCIM user ${user.id}` };
  }

  /** active=false, by PATCH when the server supports it, else by PUT of the whole user. */
  async deactivateUser(email: string): Promise<OperationResult> {
    const user = await this.findUser(email);
    if (!user) return { outcome: 'notFound', evidence: `no SCIM user with userName ${email}` };
    if (user.active === false) return { outcome: 'alreadyDone', evidence: `SCIM user ${user.id} was already inactive` };
    const { patch } = await this.discover();
    if (patch) {
      await this.http.request({ method: 'PATCH', path: `Users/${user.id}`, headers: { 'content-type': 'application/scim+json' }, body: { schemas: [patchSchema], Operations: [{ op: 'replace', path: 'active', value: false }] } });
    } else {
      await this.http.request({ method: 'PUT', path: `Users/${user.id}`, headers: { 'content-type': 'application/scim+json' }, body: { ...user, schemas: [userSchema], active: false } });
    }
    return { outcome: 'done', evidence: `deactivated SCIM user ${user.id} by ${patch ? 'PATCH' : 'PUT'}` };
  }

  async deleteUser(email: string): Promise<OperationResult> {
    const user = await this.findUser(email);
    if (!user) return { outcome: 'notFound', evidence: `no SCIM user with userName ${email}` };
    try {
      await this.http.request({ method: 'DELETE', path: `Users/${user.id}` });
    } catch (error) {
      if (error instanceof ResourceNotFoundError) return { outcome: 'alreadyDone', evidence: `SCIM user ${user.id} was already gone` };
      throw error;
    }
    return { outcome: 'done', evidence: `deleted SCIM user ${user.id}` };
  }

  async addToGroup(groupId: string, email: string): Promise<OperationResult> {
    return this.membership(groupId, email, 'add');
  }

  async removeFromGroup(groupId: string, email: string): Promise<OperationResult> {
    return this.membership(groupId, email, 'remove');
  }

  private async membership(groupId: string, email: string, op: 'add' | 'remove'): Promise<OperationResult> {
    const user = await this.findUser(email);
    if (!user) return { outcome: 'notFound', evidence: `no SCIM user with userName ${email}` };
    const { body: group } = await this.http.request<{ members?: { value: string }[] }>({ path: `Groups/${groupId}` });
    const member = group.members?.some((m) => m.value === user.id) ?? false;
    if ((op === 'add') === member) return { outcome: 'alreadyDone', evidence: `${email} was ${member ? 'already' : 'not'} in group ${groupId}` };
    const operation = op === 'add' ? { op: 'add', path: 'members', value: [{ value: user.id }] } : { op: 'remove', path: `members[value eq "${user.id}"]` };
    await this.http.request({ method: 'PATCH', path: `Groups/${groupId}`, headers: { 'content-type': 'application/scim+json' }, body: { schemas: [patchSchema], Operations: [operation] } });
    return { outcome: 'done', evidence: `${op === 'add' ? 'added' : 'removed'} ${email} ${op === 'add' ? 'to' : 'from'} group ${groupId}` };
  }
}

function toAccount(user: ScimUser): AppAccount {
  const name = [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' ');
  return { id: user.id, email: user.emails?.find((e) => e.primary)?.value ?? user.userName, active: user.active !== false, ...(name ? { name } : {}) };
}
