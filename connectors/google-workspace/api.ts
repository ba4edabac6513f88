import type { JWT } from 'google-auth-library';
import type { AuthStrategy } from '../../core/http/auth.js';
import { HttpClient, type VendorError, isHttpUrl } from '../../core/http/client.js';
import { NetworkError, RateLimitedError, ResourceNotFoundError, UnauthorizedError, UpstreamError, InvalidRequestError } from '../../core/http/errors.js';
import type { HttpClock } from '../../core/http/limiter.js';
import { cursorPagination, paginate } from '../../core/http/pagination.js';
import type { RetryPolicy } from '../../core/engine/retry.js';
import { ConnectorConfigError, PatchbayError, StillAssignedError } from '../../core/errors.js';
import type { AppAccount, ConnectorApi, LeaverEvent, OperationHandler, OperationInput, OperationResult } from '../../core/registry/connector-api.js';

/** The shapes read from the Admin SDK (developers.google.com/admin-sdk: Directory API users and members, Reports API activities). */
export interface GoogleUser {
  id: string;
  primaryEmail: string;
  name?: { fullName?: string };
  suspended?: boolean;
  archived?: boolean;
  orgUnitPath?: string;
}
export interface GoogleMember {
  id?: string;
  email?: string;
  type?: 'USER' | 'GROUP' | 'CUSTOMER' | 'EXTERNAL';
  status?: string;
}
export interface GoogleActivity {
  id: { time: string; uniqueQualifier: string; applicationName: string };
  actor?: { email?: string };
  events?: { type?: string; name: string; parameters?: { name: string; value?: string }[] }[];
}

/** The OAuth scopes the service account is granted in domain-wide delegation. */
export const googleScopes = [
  'https://www.googleapis.com/auth/admin.directory.user',
  'https://www.googleapis.com/auth/admin.directory.group.member',
  'https://www.googleapis.com/auth/admin.reports.audit.readonly',
] as const;
/** Admin audit events that mean the person left Google Workspace: every app goes. */
export const googleDepartureEvents = ['SUSPEND_USER', 'DELETE_USER'] as const;
/** The admin audit event that takes the person out of the group a SAML app is turned on for. */
export const googleGroupRemovalEvent = 'REMOVE_GROUP_MEMBER';

const adminApi = 'https://admin.googleapis.com';
/** Where google-auth-library exchanges a service account's JWT, and the token_uri of the keys Google issues. */
const googleTokenUrl = 'https://oauth2.googleapis.com/token';
const usersPath = 'admin/directory/v1/users';
const quotaReasons = new Set(['rateLimitExceeded', 'userRateLimitExceeded', 'quotaExceeded']);

/**
 * Where a SAML app is turned on in Google Workspace, from `apps.<app>.idpAppId`: a group's email
 * (assignment is group membership, which the Directory API can change) or an organisational unit's
 * path starting with "/" (which only the Admin console turns apps on for: people do it).
 */
export type SamlAccess = { readonly kind: 'group'; readonly group: string } | { readonly kind: 'orgUnit'; readonly path: string };

export function samlAccess(idpAppId: string): SamlAccess {
  return idpAppId.startsWith('/') ? { kind: 'orgUnit', path: idpAppId } : { kind: 'group', group: idpAppId };
}

/**
 * Google Workspace, the identity provider, through the Admin SDK with a service account acting as
 * an administrator (domain-wide delegation; google-auth-library signs the JWT). Users are read and
 * suspended through the Directory API; a SAML app's assignment is membership of the group it is
 * turned on for; sign-ins to the app (JIT evidence), suspensions, deletions and removals from the
 * group come from the Reports API. Lists follow `nextPageToken`; quota errors (403
 * rateLimitExceeded / userRateLimitExceeded, 429) wait and retry.
 */
export class GoogleWorkspaceApi implements ConnectorApi {
  readonly connector = 'google-workspace';
  readonly requiredSecrets = ['serviceAccountKey', 'adminEmail'];
  readonly operations: Readonly<Record<string, OperationHandler>> = {
    listUsers: (i) => this.listUsers(i),
    getUser: (i) => this.getUser(i),
    deactivateUser: (i) => this.deactivateUser(i),
    listAppUsers: (i) => this.listAppUsers(i),
    assignApp: (i) => this.assignApp(i),
    unassignApp: (i) => this.unassignApp(i),
    findSignIn: (i) => this.findSignIn(i),
  };
  readonly leavers: NonNullable<ConnectorApi['leavers']> = (input) => (input.target ? this.groupRemovalsSince(input) : this.departuresSince(input));
  private readonly clients = new Map<string, HttpClient>();

  constructor(private readonly options: { clock?: HttpClock; retry?: RetryPolicy } = {}) {}

  async getUser(input: OperationInput): Promise<OperationResult> {
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Google Workspace user ${input.subject.email}` };
    return { outcome: 'done', evidence: `Google Workspace user ${user.id} is ${user.suspended ? 'suspended' : 'active'}`, accounts: [toAccount(user)] };
  }

  async listUsers(input: OperationInput): Promise<OperationResult> {
    const accounts = (await this.users(input)).map(toAccount);
    return { outcome: 'done', evidence: `read ${accounts.length} Google Workspace users`, accounts };
  }

  /** Suspends the user: sign-in to Google and to its SAML apps stops; the account and its data stay. */
  async deactivateUser(input: OperationInput): Promise<OperationResult> {
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Google Workspace user ${input.subject.email}` };
    if (user.suspended) return { outcome: 'alreadyDone', evidence: `Google Workspace user ${user.id} was already suspended` };
    await this.client(input).request({ method: 'PUT', path: `${usersPath}/${user.id}`, body: { suspended: true }, idempotencyKey: input.idempotencyKey });
    return { outcome: 'done', evidence: `suspended Google Workspace user ${user.id}` };
  }

  /** The people the SAML app is turned on for: the group's members (nested ones too), or the users of the organisational unit and those under it. */
  async listAppUsers(input: OperationInput): Promise<OperationResult> {
    const access = this.access(input);
    if (access.kind === 'orgUnit') {
      const accounts = (await this.users(input, `orgUnitPath='${access.path.replace(/'/g, "\\'")}'`)).map(toAccount);
      return { outcome: 'done', evidence: `read ${accounts.length} users in organisational unit ${access.path}`, accounts };
    }
    const users = new Map((await this.users(input)).map((u) => [u.primaryEmail.toLowerCase(), u]));
    const accounts: AppAccount[] = [];
    const first = { path: `admin/directory/v1/groups/${encodeURIComponent(access.group)}/members`, query: { includeDerivedMembership: 'true', maxResults: 200 } };
    for await (const member of paginate<GoogleMember>(this.client(input), first, tokenPaging('members'))) {
      if (member.type && member.type !== 'USER') continue;
      const user = member.email ? users.get(member.email.toLowerCase()) : undefined;
      if (user) accounts.push(toAccount(user));
      else if (member.email) accounts.push({ id: member.id ?? member.email, email: member.email, active: member.status !== 'SUSPENDED' });
    }
    return { outcome: 'done', evidence: `read ${accounts.length} members of ${access.group}`, accounts };
  }

  async assignApp(input: OperationInput): Promise<OperationResult> {
    const group = this.group(input, 'assign');
    const user = await this.user(input);
    if (!user) throw new ConnectorConfigError('google-workspace', 'user', `no Google Workspace user ${input.subject.email} to add to ${group}`);
    if (await this.isMember(input, group, user.primaryEmail)) return { outcome: 'alreadyDone', evidence: `${input.subject.email} was already a member of ${group}` };
    try {
      await this.client(input).request({ method: 'POST', path: `admin/directory/v1/groups/${encodeURIComponent(group)}/members`, body: { email: user.primaryEmail, role: 'MEMBER' }, idempotencyKey: input.idempotencyKey });
    } catch (error) {
      // 409 "Member already exists": someone added them between the read and the write.
      if (error instanceof InvalidRequestError && error.status === 409) return { outcome: 'alreadyDone', evidence: `${input.subject.email} was already a member of ${group}` };
      throw error;
    }
    return { outcome: 'done', evidence: `added ${input.subject.email} to ${group}, which the SAML app is turned on for` };
  }

  /** Removes the person from the app's group; membership through a nested group is left to a person, who sees which. */
  async unassignApp(input: OperationInput): Promise<OperationResult> {
    const group = this.group(input, 'unassign');
    let direct = true;
    try {
      await this.client(input).request({ method: 'DELETE', path: `admin/directory/v1/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(input.subject.email)}`, idempotencyKey: input.idempotencyKey });
    } catch (error) {
      if (!(error instanceof ResourceNotFoundError)) throw error;
      direct = false;
    }
    // hasMember answers for nested membership too: a group inside the app's group still carries the app.
    if (await this.isMember(input, group, input.subject.email)) {
      throw new StillAssignedError(`${input.subject.email} is still a member of ${group} through a group inside it${direct ? ' (the direct membership is removed)' : ''}: remove them from that group`);
    }
    if (!direct) return { outcome: 'alreadyDone', evidence: `${input.subject.email} was not a member of ${group}` };
    return { outcome: 'done', evidence: `removed ${input.subject.email} from ${group}, which the SAML app is turned on for` };
  }

  /** Evidence of a JIT account: a SAML login_success of the person to the app in the Reports API. */
  async findSignIn(input: OperationInput): Promise<OperationResult> {
    const app = input.target?.app ?? '';
    const events = await this.activities(input, input.subject.email, 'saml', 'login_success');
    const wanted = normal(app);
    for (const activity of events) {
      for (const event of activity.events ?? []) {
        const name = param(event, 'application_name');
        if (event.name === 'login_success' && name && normal(name).includes(wanted)) {
          return { outcome: 'done', evidence: `Google Workspace SAML login ${activity.id.uniqueQualifier}: ${input.subject.email} signed in to ${name} at ${activity.id.time}` };
        }
      }
    }
    return { outcome: 'notFound', evidence: `no SAML sign-in by ${input.subject.email} to an app named like ${app} in the Google Workspace Reports API` };
  }

  /** People removed from the group the target app is turned on for (admin event REMOVE_GROUP_MEMBER). */
  async groupRemovalsSince(input: Omit<OperationInput, 'subject' | 'idempotencyKey'> & { since: number }): Promise<LeaverEvent[]> {
    const access = this.access(input as OperationInput);
    if (access.kind !== 'group') return [];
    const events: LeaverEvent[] = [];
    for (const activity of await this.activities(input as OperationInput, 'all', 'admin', googleGroupRemovalEvent)) {
      for (const event of activity.events ?? []) {
        const email = param(event, 'USER_EMAIL');
        if (event.name === googleGroupRemovalEvent && email && param(event, 'GROUP_EMAIL')?.toLowerCase() === access.group.toLowerCase()) {
          events.push({ email, at: activity.id.time, id: `${activity.id.time}/${activity.id.uniqueQualifier}`, type: googleGroupRemovalEvent, scope: 'app' });
        }
      }
    }
    return sortByTime(events);
  }

  /** People who left Google Workspace: users suspended or deleted by an administrator. */
  async departuresSince(input: Omit<OperationInput, 'subject' | 'idempotencyKey' | 'target'> & { since: number }): Promise<LeaverEvent[]> {
    const events: LeaverEvent[] = [];
    for (const name of googleDepartureEvents) {
      for (const activity of await this.activities(input as OperationInput, 'all', 'admin', name)) {
        for (const event of activity.events ?? []) {
          const email = param(event, 'USER_EMAIL');
          if (event.name === name && email) events.push({ email, at: activity.id.time, id: `${activity.id.time}/${activity.id.uniqueQualifier}`, type: name, scope: 'person' });
        }
      }
    }
    return sortByTime(events);
  }

  private async activities(input: OperationInput, userKey: string, application: 'admin' | 'saml' | 'login', eventName: string): Promise<GoogleActivity[]> {
    const startTime = new Date(input.since ?? Date.now() - 7 * 86_400_000).toISOString();
    const first = { path: `admin/reports/v1/activity/users/${encodeURIComponent(userKey)}/applications/${application}`, query: { eventName, startTime, maxResults: 1000 } };
    const found: GoogleActivity[] = [];
    for await (const activity of paginate<GoogleActivity>(this.client(input), first, tokenPaging('items'))) found.push(activity);
    return found;
  }

  private async users(input: OperationInput, query?: string): Promise<GoogleUser[]> {
    const users: GoogleUser[] = [];
    const first = { path: usersPath, query: { customer: 'my_customer', maxResults: 500, ...(query ? { query } : {}) } };
    for await (const user of paginate<GoogleUser>(this.client(input), first, tokenPaging('users'))) users.push(user);
    return users;
  }

  private async user(input: OperationInput): Promise<GoogleUser | undefined> {
    try {
      return (await this.client(input).request<GoogleUser>({ path: `${usersPath}/${encodeURIComponent(input.subject.email)}` })).body;
    } catch (error) {
      if (error instanceof ResourceNotFoundError) return undefined;
      throw error;
    }
  }

  private async isMember(input: OperationInput, group: string, email: string): Promise<boolean> {
    try {
      const answer = await this.client(input).request<{ isMember?: boolean }>({ path: `admin/directory/v1/groups/${encodeURIComponent(group)}/hasMember/${encodeURIComponent(email)}` });
      return answer.body?.isMember === true;
    } catch (error) {
      if (error instanceof ResourceNotFoundError) return false;
      throw error;
    }
  }

  private access(input: OperationInput): SamlAccess {
    const id = input.target?.settings.idpAppId;
    if (!id) throw new ConnectorConfigError('google-workspace', `apps.${input.target?.app ?? '<app>'}.idpAppId`, 'the group (email) or organisational unit (/path) the SAML app is turned on for is not in the tenant profile');
    return samlAccess(id);
  }

  private group(input: OperationInput, verb: string): string {
    const access = this.access(input);
    if (access.kind === 'orgUnit') {
      throw new ConnectorConfigError('google-workspace', `apps.${input.target?.app}.idpAppId`, `the SAML app is turned on for organisational unit ${access.path}; Google has no API to ${verb} it per person, so a person does it in the Admin console`);
    }
    return access.group;
  }

  private client(input: OperationInput): HttpClient {
    const base = input.settings.baseUrl ?? adminApi;
    if (!isHttpUrl(base)) throw new ConnectorConfigError('google-workspace', 'idp.baseUrl', `'${base}' is not an http(s) URL`);
    const keyRef = input.settings.secrets?.serviceAccountKey;
    const adminRef = input.settings.secrets?.adminEmail;
    if (!keyRef) throw new ConnectorConfigError('google-workspace', 'idp.secrets.serviceAccountKey', "no reference to the service account's JSON key");
    if (!adminRef) throw new ConnectorConfigError('google-workspace', 'idp.secrets.adminEmail', 'no reference to the administrator the service account acts as (domain-wide delegation)');
    const key = `${base}|${keyRef}|${adminRef}`;
    let client = this.clients.get(key);
    if (!client) {
      client = new HttpClient({
        name: 'google-workspace',
        baseUrl: base,
        auth: new DelegatedServiceAccount(() => input.secrets.resolve(keyRef), () => input.secrets.resolve(adminRef)),
        concurrency: 4,
        readError: readGoogleError,
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        ...(this.options.retry ? { retry: this.options.retry } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }
}


/**
 * A service account acting as an administrator: google-auth-library signs the JWT with the key's
 * private key, names the administrator as its subject and exchanges it at the key's token_uri
 * (Google's token endpoint in every key Google issues);
 * the token is cached until it nears expiry. The key is read from its secret reference when the
 * first token is needed and never leaves this object; token errors carry Google's error code only.
 */
export class DelegatedServiceAccount implements AuthStrategy {
  private jwt: Promise<JWT> | undefined;

  constructor(private readonly key: () => string, private readonly subject: () => string) {}

  async authorize(headers: Headers): Promise<void> {
    this.jwt ??= this.create();
    let token: string | null | undefined;
    try {
      ({ token } = await (await this.jwt).getAccessToken());
    } catch (error) {
      throw tokenError(error);
    }
    if (!token) throw new UpstreamError(200, 'google-workspace: exchange the service-account JWT', 'the answer has no access token');
    headers.set('authorization', `Bearer ${token}`);
  }

  invalidate(): void {
    this.jwt = undefined;
  }

  /** google-auth-library is loaded on first use, so that commands which never sign in to Google start without it. */
  private async create(): Promise<JWT> {
    let parsed: { client_email?: unknown; private_key?: unknown; token_uri?: unknown };
    try {
      parsed = JSON.parse(this.key()) as typeof parsed;
    } catch (error) {
      if (error instanceof PatchbayError) throw error;
      throw new ConnectorConfigError('google-workspace', 'idp.secrets.serviceAccountKey', 'is not a JSON service account key');
    }
    if (typeof parsed.client_email !== 'string' || typeof parsed.private_key !== 'string') {
      throw new ConnectorConfigError('google-workspace', 'idp.secrets.serviceAccountKey', 'the JSON key has no client_email or private_key');
    }
    const { JWT } = await import('google-auth-library');
    const jwt = new JWT({ email: parsed.client_email, key: parsed.private_key, scopes: [...googleScopes], subject: this.subject() });
    // The key names its token endpoint (token_uri), as Google's own libraries read it; this library
    // posts to Google's fixed address unless told, so a key that names another one is followed.
    const tokenUri = typeof parsed.token_uri === 'string' ? parsed.token_uri : googleTokenUrl;
    if (tokenUri !== googleTokenUrl) {
      if (!isHttpUrl(tokenUri)) throw new ConnectorConfigError('google-workspace', 'idp.secrets.serviceAccountKey', 'token_uri in the JSON key is not an http(s) URL');
      jwt.transporter.interceptors.request.add({
        resolved: async (config) => {
          if (String(config.url) === googleTokenUrl) config.url = new URL(tokenUri);
          return config;
        },
      });
    }
    return jwt;
  }
}

/**
 * A failed token exchange as a typed error. The library's error holds the request (with the signed
 * assertion), so it is not kept as the cause: only Google's `error: error_description` is.
 */
function tokenError(error: unknown): Error {
  if (error instanceof PatchbayError) return error;
  const response = (error as { response?: { status?: number; data?: { error?: string; error_description?: string } } }).response;
  const label = 'google-workspace: exchange the service-account JWT';
  if (!response?.status) return new NetworkError(label, { cause: new Error((error as Error).message ?? String(error)) });
  const detail = [response.data?.error, response.data?.error_description].filter(Boolean).join(': ') || undefined;
  if (response.status === 429) return new RateLimitedError(label, undefined);
  if (response.status === 400 || response.status === 401 || response.status === 403) return new UnauthorizedError(response.status, label, detail);
  return new UpstreamError(response.status, label, detail);
}

/**
 * Google's error body, `{ error: { code, message, errors: [{ reason }] } }`, as `reason: message`;
 * a 403 whose reason is a quota (rateLimitExceeded, userRateLimitExceeded, quotaExceeded) is a rate limit.
 */
export function readGoogleError(status: number, body: unknown): VendorError | undefined {
  const error = (body as { error?: { message?: unknown; errors?: { reason?: unknown }[]; status?: unknown } } | undefined)?.error;
  if (!error || typeof error !== 'object') return undefined;
  const reason = typeof error.errors?.[0]?.reason === 'string' ? (error.errors[0].reason as string) : typeof error.status === 'string' ? error.status : undefined;
  const message = typeof error.message === 'string' ? error.message : undefined;
  const detail = [reason, message].filter(Boolean).join(': ');
  return { ...(detail ? { detail } : {}), throttled: status === 429 || (status === 403 && !!reason && quotaReasons.has(reason)) };
}

/** `nextPageToken` in the body, sent back as `pageToken`, items under `key`. */
const tokenPaging = <T>(key: string) => cursorPagination<T>({ itemsPath: key, cursorPath: 'nextPageToken', cursorParam: 'pageToken' });

const param = (event: { parameters?: { name: string; value?: string }[] }, name: string) => event.parameters?.find((p) => p.name === name)?.value;
const normal = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

function toAccount(user: GoogleUser): AppAccount {
  return { id: user.id, email: user.primaryEmail, active: !user.suspended && !user.archived, ...(user.name?.fullName ? { name: user.name.fullName } : {}) };
}

function sortByTime(events: LeaverEvent[]): LeaverEvent[] {
  return events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
