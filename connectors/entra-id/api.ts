import { ClientCredentials } from '../../core/http/auth.js';
import { HttpClient, type VendorError, isHttpUrl } from '../../core/http/client.js';
import { ResourceNotFoundError } from '../../core/http/errors.js';
import type { HttpClock } from '../../core/http/limiter.js';
import { type Pagination, paginate } from '../../core/http/pagination.js';
import type { RetryPolicy } from '../../core/engine/retry.js';
import { ConnectorConfigError, StillAssignedError } from '../../core/errors.js';
import type { AppAccount, ConnectorApi, LeaverEvent, OperationHandler, OperationInput, OperationResult } from '../../core/registry/connector-api.js';

/**
 * The shapes read from Microsoft Graph v1.0 (learn.microsoft.com/graph/api/resources/user,
 * approleassignment, serviceprincipal, directoryaudit, signin).
 */
export interface GraphUser {
  id: string;
  displayName?: string;
  mail?: string | null;
  userPrincipalName: string;
  accountEnabled?: boolean;
}
export interface GraphAppRoleAssignment {
  id: string;
  appRoleId: string;
  principalId: string;
  principalType: 'User' | 'Group' | 'ServicePrincipal';
  principalDisplayName?: string;
  resourceId: string;
}
export interface GraphServicePrincipal {
  id: string;
  appId: string;
  displayName?: string;
  appRoles?: { id: string; value?: string | null; displayName?: string; isEnabled?: boolean; allowedMemberTypes?: string[] }[];
}
export interface GraphDirectoryAudit {
  id: string;
  activityDateTime: string;
  activityDisplayName: string;
  result?: string;
  targetResources?: { id?: string; type?: string; userPrincipalName?: string | null; displayName?: string | null; modifiedProperties?: { displayName?: string; newValue?: string | null }[] }[];
}
export interface GraphSignIn {
  id: string;
  createdDateTime: string;
  appId: string;
  userPrincipalName: string;
  status?: { errorCode?: number };
}

/** Graph's default access role: the app role id of an assignment to an app that defines no roles. */
export const defaultAccessRoleId = '00000000-0000-0000-0000-000000000000';
/** Audit activities that mean "this app was taken away from the person". */
export const appRemovalActivities = ['Remove app role assignment from user'] as const;
/** Audit activities that mean "the person left": every app goes. "Update user" counts when it set AccountEnabled to false. */
export const personLeftActivities = ['Disable account', 'Delete user', 'Update user'] as const;

const graphCloud = 'https://graph.microsoft.com/v1.0';
const scope = 'https://graph.microsoft.com/.default';
const userFields = 'id,displayName,mail,userPrincipalName,accountEnabled';
const pageSize = 999;
/** Microsoft's clouds: each Graph host gets its tokens from its own login host. */
const loginHosts: Readonly<Record<string, string>> = {
  'graph.microsoft.com': 'https://login.microsoftonline.com',
  'graph.microsoft.us': 'https://login.microsoftonline.us',
  'dod-graph.microsoft.us': 'https://login.microsoftonline.us',
  'microsoftgraph.chinacloudapi.cn': 'https://login.chinacloudapi.cn',
};

/**
 * Microsoft Entra ID, the identity provider, through Microsoft Graph v1.0 with an app registration's
 * client credentials (application permissions User.ReadWrite.All, AppRoleAssignment.ReadWrite.All,
 * Application.Read.All, AuditLog.Read.All). A Spendesk "assignment" is an app role assignment on the
 * enterprise app's service principal (`apps.<app>.idpAppId` is its object id). Every write reads
 * first, so a repeated request is "already done"; lists follow `@odata.nextLink`; 429 and 503 wait
 * as long as Retry-After says; Graph's `{ error: { code, message } }` is in every typed error.
 */
export class EntraIdApi implements ConnectorApi {
  readonly connector = 'entra-id';
  readonly requiredSecrets = ['tenantId', 'clientId', 'clientSecret'];
  readonly operations: Readonly<Record<string, OperationHandler>> = {
    listUsers: (i) => this.listUsers(i),
    getUser: (i) => this.getUser(i),
    deactivateUser: (i) => this.deactivateUser(i),
    listAppUsers: (i) => this.listAppUsers(i),
    assignApp: (i) => this.assignApp(i),
    unassignApp: (i) => this.unassignApp(i),
    findSignIn: (i) => this.findSignIn(i),
  };
  readonly leavers: NonNullable<ConnectorApi['leavers']> = (input) => (input.target ? this.appRemovalsSince(input) : this.departuresSince(input));
  private readonly clients = new Map<string, HttpClient>();

  constructor(private readonly options: { clock?: HttpClock; retry?: RetryPolicy } = {}) {}

  async getUser(input: OperationInput): Promise<OperationResult> {
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Entra ID user with mail or userPrincipalName ${input.subject.email}` };
    return { outcome: 'done', evidence: `Entra ID user ${user.id} is ${user.accountEnabled === false ? 'disabled' : 'enabled'}`, accounts: [toAccount(user)] };
  }

  async listUsers(input: OperationInput): Promise<OperationResult> {
    const accounts: AppAccount[] = [];
    for await (const user of paginate<GraphUser>(this.client(input), { path: 'users', query: { $select: userFields, $top: pageSize } }, odataPagination())) accounts.push(toAccount(user));
    return { outcome: 'done', evidence: `read ${accounts.length} Entra ID users`, accounts };
  }

  /** Sets accountEnabled to false: sign-in stops; the user and their assignments stay. */
  async deactivateUser(input: OperationInput): Promise<OperationResult> {
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Entra ID user ${input.subject.email}` };
    if (user.accountEnabled === false) return { outcome: 'alreadyDone', evidence: `Entra ID user ${user.id} was already disabled` };
    await this.client(input).request({ method: 'PATCH', path: `users/${user.id}`, body: { accountEnabled: false }, idempotencyKey: input.idempotencyKey });
    return { outcome: 'done', evidence: `disabled Entra ID user ${user.id} (accountEnabled false)` };
  }

  /** Everyone the enterprise app is assigned to: users directly, and the members of assigned groups (transitively). */
  async listAppUsers(input: OperationInput): Promise<OperationResult> {
    const sp = this.servicePrincipalId(input);
    const client = this.client(input);
    const byId = new Map<string, AppAccount>();
    const users = new Map<string, GraphUser>();
    for await (const user of paginate<GraphUser>(client, { path: 'users', query: { $select: userFields, $top: pageSize } }, odataPagination())) users.set(user.id, user);
    for await (const a of paginate<GraphAppRoleAssignment>(client, { path: `servicePrincipals/${sp}/appRoleAssignedTo`, query: { $top: pageSize } }, odataPagination())) {
      if (a.principalType === 'User') {
        const user = users.get(a.principalId);
        if (user) byId.set(user.id, toAccount(user));
      } else if (a.principalType === 'Group') {
        for await (const member of paginate<GraphUser>(client, { path: `groups/${a.principalId}/transitiveMembers/microsoft.graph.user`, query: { $select: userFields, $top: pageSize } }, odataPagination())) byId.set(member.id, toAccount(member));
      }
    }
    const accounts = [...byId.values()];
    return { outcome: 'done', evidence: `read ${accounts.length} people assigned to Entra ID enterprise app ${sp}`, accounts };
  }

  async assignApp(input: OperationInput): Promise<OperationResult> {
    const sp = await this.servicePrincipal(input);
    const user = await this.user(input);
    if (!user) throw new ConnectorConfigError('entra-id', 'user', `no Entra ID user ${input.subject.email} to assign`);
    const existing = await this.assignmentsOf(input, user.id, sp.id);
    if (existing.length) {
      const how = existing.some((a) => a.principalType === 'User') ? 'directly' : `through group ${existing.map((a) => a.principalDisplayName ?? a.principalId).join(', ')}`;
      return { outcome: 'alreadyDone', evidence: `${input.subject.email} was already assigned to Entra ID enterprise app ${sp.displayName ?? sp.id} (${how})` };
    }
    const appRoleId = this.appRole(input, sp);
    const created = await this.client(input).request<GraphAppRoleAssignment>({
      method: 'POST',
      path: `servicePrincipals/${sp.id}/appRoleAssignedTo`,
      body: { principalId: user.id, resourceId: sp.id, appRoleId },
      idempotencyKey: input.idempotencyKey,
    });
    return { outcome: 'done', evidence: `assigned ${input.subject.email} (${user.id}) to Entra ID enterprise app ${sp.displayName ?? sp.id} (app role assignment ${created.body?.id ?? '?'})` };
  }

  /** Removes the person's direct app role assignments to the app; assignments through a group stay with the group. */
  async unassignApp(input: OperationInput): Promise<OperationResult> {
    const sp = this.servicePrincipalId(input);
    const user = await this.user(input);
    if (!user) return { outcome: 'alreadyDone', evidence: `no Entra ID user ${input.subject.email}, so no assignment to ${sp}` };
    const all = await this.assignmentsOf(input, user.id, sp);
    // Graph lists the assignments of the groups the user is in beside the user's own; removing one of those would take the app from the whole group.
    const existing = all.filter((a) => a.principalType === 'User' && a.principalId === user.id);
    const throughGroups = all.filter((a) => a.principalType === 'Group');
    const stillThrough = () => {
      const groups = throughGroups.map((a) => a.principalDisplayName ?? a.principalId).join(', ');
      return new StillAssignedError(`${input.subject.email} still has Entra ID enterprise app ${sp} through group ${groups}${existing.length ? ' (the direct assignment is removed)' : ''}: remove them from the group`);
    };
    if (!existing.length) {
      if (throughGroups.length) throw stillThrough();
      return { outcome: 'alreadyDone', evidence: `${input.subject.email} had no direct assignment to Entra ID enterprise app ${sp}` };
    }
    let removed = 0;
    for (const assignment of existing) {
      try {
        await this.client(input).request({ method: 'DELETE', path: `servicePrincipals/${sp}/appRoleAssignedTo/${assignment.id}`, idempotencyKey: `${input.idempotencyKey}:${assignment.id}` });
        removed++;
      } catch (error) {
        if (!(error instanceof ResourceNotFoundError)) throw error;
      }
    }
    if (throughGroups.length) throw stillThrough();
    if (!removed) return { outcome: 'alreadyDone', evidence: `${input.subject.email}'s assignment to ${sp} was already gone` };
    return { outcome: 'done', evidence: `removed ${removed} app role assignment${removed === 1 ? '' : 's'} of ${input.subject.email} to Entra ID enterprise app ${sp}` };
  }

  /** Evidence of a JIT account: a successful sign-in of the person to the app in the sign-in logs. */
  async findSignIn(input: OperationInput): Promise<OperationResult> {
    const sp = await this.servicePrincipal(input);
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Entra ID user ${input.subject.email}` };
    const since = new Date(input.since ?? Date.now() - 7 * 86_400_000).toISOString();
    const filter = `appId eq '${sp.appId}' and userPrincipalName eq '${odataString(user.userPrincipalName)}' and createdDateTime ge ${since}`;
    for await (const signIn of paginate<GraphSignIn>(this.client(input), { path: 'auditLogs/signIns', query: { $filter: filter, $top: 1000 } }, odataPagination())) {
      if ((signIn.status?.errorCode ?? 0) === 0) return { outcome: 'done', evidence: `Entra ID sign-in ${signIn.id}: ${input.subject.email} signed in to ${sp.displayName ?? sp.appId} at ${signIn.createdDateTime}` };
    }
    return { outcome: 'notFound', evidence: `no successful sign-in by ${input.subject.email} to ${sp.displayName ?? sp.appId} in the Entra ID sign-in logs` };
  }

  /** People whose assignment to the target app was removed since a time (directory audit "Remove app role assignment from user"). */
  async appRemovalsSince(input: Omit<OperationInput, 'subject' | 'idempotencyKey'> & { since: number }): Promise<LeaverEvent[]> {
    const sp = this.servicePrincipalId(input as OperationInput);
    const events: LeaverEvent[] = [];
    for (const activity of appRemovalActivities) {
      for (const audit of await this.audits(input as OperationInput, activity)) {
        if (audit.result && audit.result !== 'success') continue;
        const touches = audit.targetResources?.some((t) => t.id === sp || t.modifiedProperties?.some((p) => (p.newValue ?? '').includes(sp)));
        const user = audit.targetResources?.find((t) => t.type === 'User' && t.userPrincipalName);
        if (touches && user) events.push({ email: user.userPrincipalName!, at: audit.activityDateTime, id: audit.id, type: activity, scope: 'app' });
      }
    }
    return sortByTime(events);
  }

  /** People who left the directory since a time: accounts disabled (or set to accountEnabled false) and users deleted. */
  async departuresSince(input: Omit<OperationInput, 'subject' | 'idempotencyKey' | 'target'> & { since: number }): Promise<LeaverEvent[]> {
    const events: LeaverEvent[] = [];
    for (const activity of personLeftActivities) {
      for (const audit of await this.audits(input as OperationInput, activity)) {
        if (audit.result && audit.result !== 'success') continue;
        const user = audit.targetResources?.find((t) => t.type === 'User' && t.userPrincipalName);
        if (!user) continue;
        if (activity === 'Update user' && !user.modifiedProperties?.some((p) => p.displayName === 'AccountEnabled' && /false/i.test(p.newValue ?? ''))) continue;
        // A deleted user's userPrincipalName is prefixed with its object id (no dashes): the address is what follows.
        const email = activity === 'Delete user' ? user.userPrincipalName!.replace(/^[0-9a-f]{32}/i, '') : user.userPrincipalName!;
        events.push({ email, at: audit.activityDateTime, id: audit.id, type: activity, scope: 'person' });
      }
    }
    return sortByTime(events);
  }

  private async audits(input: OperationInput, activity: string): Promise<GraphDirectoryAudit[]> {
    const since = new Date(input.since ?? Date.now() - 7 * 86_400_000).toISOString();
    const audits: GraphDirectoryAudit[] = [];
    const filter = `activityDisplayName eq '${odataString(activity)}' and activityDateTime ge ${since}`;
    for await (const audit of paginate<GraphDirectoryAudit>(this.client(input), { path: 'auditLogs/directoryAudits', query: { $filter: filter, $top: 1000 } }, odataPagination())) audits.push(audit);
    return audits;
  }

  /** The user whose mail or userPrincipalName is the person's address. */
  private async user(input: OperationInput): Promise<GraphUser | undefined> {
    const address = odataString(input.subject.email);
    const response = await this.client(input).request<{ value: GraphUser[] }>({ path: 'users', query: { $filter: `mail eq '${address}' or userPrincipalName eq '${address}'`, $select: userFields } });
    return response.body.value?.[0];
  }

  /** The user's app role assignments to the app: their own, and (as Graph lists them) those of groups they are a direct member of. */
  private async assignmentsOf(input: OperationInput, userId: string, sp: string): Promise<GraphAppRoleAssignment[]> {
    const found: GraphAppRoleAssignment[] = [];
    for await (const a of paginate<GraphAppRoleAssignment>(this.client(input), { path: `users/${userId}/appRoleAssignments`, query: { $filter: `resourceId eq ${sp}` } }, odataPagination())) {
      if (a.resourceId === sp) found.push(a);
    }
    return found;
  }

  private async servicePrincipal(input: OperationInput): Promise<GraphServicePrincipal> {
    const id = this.servicePrincipalId(input);
    try {
      return (await this.client(input).request<GraphServicePrincipal>({ path: `servicePrincipals/${id}`, query: { $select: 'id,appId,displayName,appRoles' } })).body;
    } catch (error) {
      if (error instanceof ResourceNotFoundError) throw new ConnectorConfigError('entra-id', `apps.${input.target?.app}.idpAppId`, `no enterprise app (service principal) ${id} in the tenant`);
      throw error;
    }
  }

  /**
   * The app role to give: the one named after the object id (`<id>/<appRoleId>`), else the app's only
   * role members can hold, else the one called User or msiam_access, else the default access role.
   */
  private appRole(input: OperationInput, sp: GraphServicePrincipal): string {
    const named = input.target?.settings.idpAppId?.split('/')[1];
    if (named) return named;
    const roles = (sp.appRoles ?? []).filter((r) => r.isEnabled !== false && (r.allowedMemberTypes ?? ['User']).includes('User'));
    if (!roles.length) return defaultAccessRoleId;
    if (roles.length === 1) return roles[0]!.id;
    const usual = roles.find((r) => r.value === 'User' || r.value === 'msiam_access' || r.displayName === 'User' || r.displayName === 'msiam_access');
    if (usual) return usual.id;
    throw new ConnectorConfigError('entra-id', `apps.${input.target?.app}.idpAppId`, `the enterprise app has ${roles.length} app roles (${roles.map((r) => r.value ?? r.displayName).join(', ')}): name one as <servicePrincipalId>/<appRoleId>`);
  }

  private servicePrincipalId(input: OperationInput): string {
    const id = input.target?.settings.idpAppId?.split('/')[0];
    if (!id) throw new ConnectorConfigError('entra-id', `apps.${input.target?.app ?? '<app>'}.idpAppId`, "the object id of the app's enterprise app (service principal) in Entra ID is not in the tenant profile");
    return id;
  }

  private client(input: OperationInput): HttpClient {
    const base = input.settings.baseUrl ?? graphCloud;
    if (!isHttpUrl(base)) throw new ConnectorConfigError('entra-id', 'idp.baseUrl', `'${base}' is not an http(s) URL`);
    const refs = Object.fromEntries(this.requiredSecrets.map((name) => [name, input.settings.secrets?.[name]]));
    for (const [name, ref] of Object.entries(refs)) if (!ref) throw new ConnectorConfigError('entra-id', `idp.secrets.${name}`, 'no secret reference (Entra ID needs tenantId, clientId and clientSecret)');
    const key = `${base}|${refs.tenantId}|${refs.clientId}|${refs.clientSecret}`;
    let client = this.clients.get(key);
    if (!client) {
      const tenant = () => {
        const id = input.secrets.resolve(refs.tenantId!);
        if (!/^[A-Za-z0-9.-]+$/.test(id)) throw new ConnectorConfigError('entra-id', 'idp.secrets.tenantId', 'the tenant id must be a GUID or a domain name');
        return id;
      };
      const auth = new EntraTokens(tenantTokenUrl(base), tenant, () => input.secrets.resolve(refs.clientId!), () => input.secrets.resolve(refs.clientSecret!), this.options.clock);
      client = new HttpClient({
        name: 'entra-id',
        baseUrl: base,
        auth,
        concurrency: 4,
        readError: readGraphError,
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        ...(this.options.retry ? { retry: this.options.retry } : {}),
      });
      this.clients.set(key, client);
    }
    return client;
  }
}


/**
 * Client credentials against the Microsoft identity platform's v2.0 token endpoint of the tenant
 * (`{login host}/{tenant}/oauth2/v2.0/token`, scope `https://graph.microsoft.com/.default`). The
 * tenant id is resolved with the other secrets, when the first token is needed.
 */
class EntraTokens extends ClientCredentials {
  constructor(tokenUrl: (tenant: string) => string, tenant: () => string, clientId: () => string, clientSecret: () => string, clock?: HttpClock) {
    let url: string | undefined;
    super({
      get tokenUrl() {
        return (url ??= tokenUrl(tenant()));
      },
      clientId,
      clientSecret,
      scope,
      ...(clock ? { clock } : {}),
    });
  }
}

/**
 * Where the tenant's tokens come from: Microsoft's login host for the Graph cloud named, or for
 * any other address (a proxy, a stand-in in tests) the same origin as the Graph address.
 */
export function tenantTokenUrl(graphBase: string): (tenant: string) => string {
  const url = new URL(graphBase);
  const login = loginHosts[url.host] ?? url.origin;
  return (tenant) => `${login}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`;
}

/** Graph's error body, `{ error: { code, message } }`, as `code: message`; 429 and 503 are throttling. */
export function readGraphError(status: number, body: unknown): VendorError | undefined {
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (!error || typeof error !== 'object') return undefined;
  const detail = [error.code, error.message].filter((part): part is string => typeof part === 'string' && part !== '').join(': ');
  return { ...(detail ? { detail } : {}), throttled: status === 429 };
}

/** OData paging: items in `value`, the next page's whole URL in `@odata.nextLink`. */
export function odataPagination<T>(): Pagination<T> {
  return {
    items: (r) => ((r.body as { value?: T[] } | undefined)?.value ?? []),
    next(request, response) {
      const next = (response.body as { '@odata.nextLink'?: string } | undefined)?.['@odata.nextLink'];
      return next ? { ...request, path: next, query: {} } : undefined;
    },
  };
}

/** A value inside an OData string literal: a single quote is written twice. */
export const odataString = (value: string) => value.replace(/'/g, "''");

function toAccount(user: GraphUser): AppAccount {
  return { id: user.id, email: user.mail || user.userPrincipalName, active: user.accountEnabled !== false, ...(user.displayName ? { name: user.displayName } : {}) };
}

function sortByTime(events: LeaverEvent[]): LeaverEvent[] {
  return events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
