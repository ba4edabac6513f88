import { sswsToken } from '../../core/http/auth.js';
import { HttpClient, isHttpUrl } from '../../core/http/client.js';
import { ResourceNotFoundError } from '../../core/http/errors.js';
import type { HttpClock } from '../../core/http/limiter.js';
import { linkHeaderPagination, paginate } from '../../core/http/pagination.js';
import type { RetryPolicy } from '../../core/engine/retry.js';
import { ConnectorConfigError } from '../../core/errors.js';
import type { AppAccount, ConnectorApi, LeaverEvent, OperationHandler, OperationInput, OperationResult } from '../../core/registry/connector-api.js';

/** The shapes read from Okta's Management API (developer.okta.com, Users, Application Users, System Log). */
export interface OktaUser {
  id: string;
  status: string;
  profile: { login: string; email: string; firstName?: string; lastName?: string };
}
export interface OktaLogEvent {
  uuid: string;
  published: string;
  eventType: string;
  actor?: { id: string; alternateId?: string };
  target?: { id: string; type: string; alternateId?: string }[];
  outcome?: { result: string };
}

const inactive = new Set(['DEPROVISIONED', 'SUSPENDED']);
/** System Log event types that mean the person left Okta itself (developer.okta.com, Event Types). */
export const oktaDepartureEvents = ['user.lifecycle.deactivate', 'user.lifecycle.suspend', 'user.lifecycle.delete.initiated'] as const;
const pageSize = 200;

/**
 * Okta, the identity provider: users, app assignments and the System Log, over the Management API
 * with an SSWS token. Every write first reads the state, so that "already assigned" or "already
 * deactivated" is a success said as such; lists follow the Link header; X-Rate-Limit-* is obeyed.
 */
export class OktaApi implements ConnectorApi {
  readonly connector = 'okta';
  readonly requiredSecrets = ['token'];
  readonly requiredSettings = ['baseUrl'] as const;
  readonly operations: Readonly<Record<string, OperationHandler>> = {
    listUsers: (i) => this.listUsers(i),
    getUser: (i) => this.getUser(i),
    createUser: (i) => this.createUser(i),
    deactivateUser: (i) => this.deactivateUser(i),
    listAppUsers: (i) => this.listAppUsers(i),
    assignApp: (i) => this.assignApp(i),
    unassignApp: (i) => this.unassignApp(i),
    findSignIn: (i) => this.findSignIn(i),
  };
  readonly leavers: NonNullable<ConnectorApi['leavers']> = async (input) =>
    input.target
      ? (await this.unassignmentsSince(input)).map((u) => ({ email: u.email, at: u.at, id: u.event, type: 'application.user_membership.remove', scope: 'app' as const }))
      : this.departuresSince(input);
  private readonly clients = new Map<string, HttpClient>();

  constructor(private readonly options: { clock?: HttpClock; retry?: RetryPolicy } = {}) {}

  async getUser(input: OperationInput): Promise<OperationResult> {
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Okta user with login ${input.subject.email}` };
    return { outcome: 'done', evidence: `Okta user ${user.id} is ${user.status}`, accounts: [toAccount(user)] };
  }

  /** Every user, page by page; `completeness` says whether the pages were read to their end (a repeating next link, a page of users already read, stop it). */
  async listUsers(input: OperationInput): Promise<OperationResult> {
    const accounts: AppAccount[] = [];
    const pages = paginate<OktaUser>(this.client(input), { path: '/api/v1/users', query: { limit: pageSize } }, linkHeaderPagination(), { onFault: 'report' });
    for await (const user of pages) accounts.push(toAccount(user));
    return { outcome: 'done', evidence: `read ${accounts.length} Okta users${pages.completeness.complete ? '' : ' (incomplete)'}`, accounts, completeness: pages.completeness };
  }

  async createUser(input: OperationInput): Promise<OperationResult> {
    const existing = await this.user(input);
    if (existing) return { outcome: 'alreadyDone', evidence: `Okta user ${existing.id} already exists (${existing.status})`, accounts: [toAccount(existing)] };
    const { email, firstName, lastName } = input.subject as { email: string; firstName?: string; lastName?: string };
    const response = await this.client(input).request<OktaUser>({
      method: 'POST',
      path: '/api/v1/users',
      query: { activate: 'true' },
      body: { profile: { login: email, email, firstName: firstName ?? email.split('@')[0], lastName: lastName ?? '-' } },
      idempotencyKey: input.idempotencyKey,
    });
    return { outcome: 'done', evidence: `created Okta user ${response.body.id}`, accounts: [toAccount(response.body)] };
  }

  async deactivateUser(input: OperationInput): Promise<OperationResult> {
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Okta user with login ${input.subject.email}` };
    if (user.status === 'DEPROVISIONED') return { outcome: 'alreadyDone', evidence: `Okta user ${user.id} was already deactivated` };
    await this.client(input).request({ method: 'POST', path: `/api/v1/users/${user.id}/lifecycle/deactivate`, idempotencyKey: input.idempotencyKey });
    return { outcome: 'done', evidence: `deactivated Okta user ${user.id}` };
  }

  /** The app's assignments, page by page, with whether every page was read (as listUsers). */
  async listAppUsers(input: OperationInput): Promise<OperationResult> {
    const appId = this.appId(input);
    const accounts: AppAccount[] = [];
    const pages = paginate<{ id: string; status: string; credentials?: { userName?: string } }>(this.client(input), { path: `/api/v1/apps/${appId}/users`, query: { limit: pageSize } }, linkHeaderPagination(), { onFault: 'report' });
    for await (const u of pages) accounts.push({ id: u.id, email: u.credentials?.userName ?? '', active: u.status !== 'INACTIVE' });
    return { outcome: 'done', evidence: `read ${accounts.length} assignments of Okta app ${appId}${pages.completeness.complete ? '' : ' (incomplete)'}`, accounts, completeness: pages.completeness };
  }

  async assignApp(input: OperationInput): Promise<OperationResult> {
    const appId = this.appId(input);
    const user = await this.user(input);
    if (!user) throw new ConnectorConfigError('okta', 'user', `no Okta user with login ${input.subject.email} to assign`);
    if (await this.assigned(input, appId, user.id)) return { outcome: 'alreadyDone', evidence: `${input.subject.email} was already assigned to Okta app ${appId}` };
    await this.client(input).request({ method: 'POST', path: `/api/v1/apps/${appId}/users`, body: { id: user.id, scope: 'USER' }, idempotencyKey: input.idempotencyKey });
    return { outcome: 'done', evidence: `assigned ${input.subject.email} (${user.id}) to Okta app ${appId}` };
  }

  async unassignApp(input: OperationInput): Promise<OperationResult> {
    const appId = this.appId(input);
    const user = await this.user(input);
    if (!user) return { outcome: 'alreadyDone', evidence: `no Okta user ${input.subject.email}, so no assignment to ${appId}` };
    try {
      await this.client(input).request({ method: 'DELETE', path: `/api/v1/apps/${appId}/users/${user.id}`, idempotencyKey: input.idempotencyKey });
    } catch (error) {
      if (error instanceof ResourceNotFoundError) return { outcome: 'alreadyDone', evidence: `${input.subject.email} was not assigned to Okta app ${appId}` };
      throw error;
    }
    return { outcome: 'done', evidence: `removed ${input.subject.email}'s assignment to Okta app ${appId}` };
  }

  /** Evidence of a JIT account: the person's SSO sign-in to the app in the System Log. */
  async findSignIn(input: OperationInput): Promise<OperationResult> {
    const appId = this.appId(input);
    const user = await this.user(input);
    if (!user) return { outcome: 'notFound', evidence: `no Okta user ${input.subject.email}` };
    const events = await this.events(input, `eventType eq "user.authentication.sso" and target.id eq "${appId}" and actor.id eq "${user.id}"`);
    const success = events.find((e) => e.outcome?.result !== 'FAILURE');
    if (!success) return { outcome: 'notFound', evidence: `no SSO sign-in by ${input.subject.email} to Okta app ${appId} in the System Log` };
    return { outcome: 'done', evidence: `System Log ${success.uuid}: ${input.subject.email} signed in to app ${appId} at ${success.published}` };
  }

  /** Unassignments from an app since a time: the trigger for offboardings (System Log, application.user_membership.remove). */
  async unassignmentsSince(input: Omit<OperationInput, 'subject' | 'idempotencyKey'> & { since: number }): Promise<{ email: string; at: string; event: string }[]> {
    const appId = this.appId(input as OperationInput);
    const events = await this.events(input as OperationInput, `eventType eq "application.user_membership.remove" and target.id eq "${appId}"`);
    return events.flatMap((e) => {
      const user = e.target?.find((t) => t.type === 'User');
      return user?.alternateId ? [{ email: user.alternateId, at: e.published, event: e.uuid }] : [];
    });
  }

  /**
   * People who left Okta since a time: deactivated, suspended or deleted users (System Log
   * user.lifecycle.deactivate, .suspend, .delete.initiated). Each is offboarded from every app.
   */
  async departuresSince(input: Omit<OperationInput, 'subject' | 'idempotencyKey' | 'target'> & { since: number }): Promise<LeaverEvent[]> {
    const filter = oktaDepartureEvents.map((type) => `eventType eq "${type}"`).join(' or ');
    const events = await this.events(input as OperationInput, filter);
    return events.flatMap((e) => {
      const user = e.target?.find((t) => t.type === 'User');
      if (!user?.alternateId || e.outcome?.result === 'FAILURE') return [];
      return [{ email: user.alternateId, at: e.published, id: e.uuid, type: e.eventType, scope: 'person' as const }];
    });
  }

  private async events(input: OperationInput, filter: string): Promise<OktaLogEvent[]> {
    const since = new Date(input.since ?? Date.now() - 7 * 86_400_000).toISOString();
    const events: OktaLogEvent[] = [];
    const first = { path: '/api/v1/logs', query: { filter, since, limit: 1000, sortOrder: 'ASCENDING' } };
    // The System Log's next link never ends while polling: stop at an empty page.
    for await (const event of paginate<OktaLogEvent>(this.client(input), first, { ...linkHeaderPagination(), next: (req, res, n) => (n === 0 ? undefined : linkHeaderPagination().next(req, res, n)) })) events.push(event);
    return events;
  }

  private async user(input: OperationInput): Promise<OktaUser | undefined> {
    try {
      return (await this.client(input).request<OktaUser>({ path: `/api/v1/users/${encodeURIComponent(input.subject.email)}` })).body;
    } catch (error) {
      if (error instanceof ResourceNotFoundError) return undefined;
      throw error;
    }
  }

  private async assigned(input: OperationInput, appId: string, userId: string): Promise<boolean> {
    try {
      await this.client(input).request({ path: `/api/v1/apps/${appId}/users/${userId}` });
      return true;
    } catch (error) {
      if (error instanceof ResourceNotFoundError) return false;
      throw error;
    }
  }

  private appId(input: OperationInput): string {
    const id = input.target?.settings.idpAppId;
    if (!id) throw new ConnectorConfigError('okta', `apps.${input.target?.app ?? '<app>'}.idpAppId`, "the app's Okta id (0oa…) is not in the tenant profile");
    return id;
  }

  private client(input: OperationInput): HttpClient {
    const base = input.settings.baseUrl;
    if (!base) throw new ConnectorConfigError('okta', 'idp.baseUrl', 'the Okta org address is not in the tenant profile');
    if (!isHttpUrl(base)) throw new ConnectorConfigError('okta', 'idp.baseUrl', `'${base}' is not an http(s) URL`);
    const ref = input.settings.secrets?.token;
    if (!ref) throw new ConnectorConfigError('okta', 'idp.secrets.token', 'no reference to an API token');
    let client = this.clients.get(`${base}|${ref}`);
    if (!client) {
      client = new HttpClient({
        name: 'okta',
        baseUrl: base,
        auth: sswsToken(() => input.secrets.resolve(ref)),
        concurrency: 4,
        ...(this.options.clock ? { clock: this.options.clock } : {}),
        ...(this.options.retry ? { retry: this.options.retry } : {}),
      });
      this.clients.set(`${base}|${ref}`, client);
    }
    return client;
  }
}

function toAccount(user: OktaUser): AppAccount {
  const name = [user.profile.firstName, user.profile.lastName].filter(Boolean).join(' ');
  return { id: user.id, email: user.profile.email, active: !inactive.has(user.status), ...(name ? { name } : {}) };
}
