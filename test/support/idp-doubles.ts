import { createVerify, generateKeyPairSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Double, send } from './vendor-doubles.js';

const day = 86_400_000;

type GraphUser = { id: string; userPrincipalName: string; mail: string; displayName: string; accountEnabled: boolean };
type Assignment = { id: string; appRoleId: string; principalId: string; principalType: 'User' | 'Group'; principalDisplayName: string; resourceId: string };
type Audit = { id: string; activityDateTime: string; activityDisplayName: string; result: string; targetResources: { id: string; type: string; userPrincipalName?: string; displayName?: string; modifiedProperties?: { displayName: string; newValue: string }[] }[] };

/**
 * Microsoft Graph v1.0 and the tenant's token endpoint, as Microsoft documents their shapes: client
 * credentials at `/{tenant}/oauth2/v2.0/token`, users with `$filter` on mail / userPrincipalName,
 * a service principal's app role assignments, group members, directory audits and sign-ins; pages
 * with `@odata.nextLink`; errors as `{ error: { code, message } }`; 429 with Retry-After. It pages
 * at `pageSize` whatever `$top` asks, as Graph may, so that clients must follow the link.
 */
export class EntraDouble extends Double {
  readonly tenant = 'contoso.onmicrosoft.com';
  readonly clientId = '11111111-2222-3333-4444-555555555555';
  readonly clientSecret = 'entra-client-secret-value';
  readonly users = new Map<string, GraphUser>();
  readonly assignments: Assignment[] = [];
  readonly groups = new Map<string, string[]>();
  readonly audits: Audit[] = [];
  readonly signIns: { id: string; createdDateTime: string; appId: string; userPrincipalName: string; status: { errorCode: number } }[] = [];
  readonly servicePrincipals = new Map<string, { id: string; appId: string; displayName: string; appRoles: { id: string; value: string; displayName: string; isEnabled: boolean; allowedMemberTypes: string[] }[] }>();
  tokensIssued = 0;
  private unavailable: number | undefined;

  constructor(readonly pageSize = 100) {
    super();
  }

  /** An enterprise app (service principal) with the given object id. */
  app(spId: string, displayName: string, appId = `app-${spId}`): this {
    this.servicePrincipals.set(spId, { id: spId, appId, displayName, appRoles: [] });
    return this;
  }

  seed(emails: readonly string[]): void {
    for (const email of emails) {
      const n = this.users.size + 1;
      this.users.set(email, { id: `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`, userPrincipalName: email, mail: email, displayName: email.split('@')[0]!, accountEnabled: true });
    }
  }

  isActive(email: string): boolean | undefined {
    return this.users.get(email)?.accountEnabled;
  }

  assign(spId: string, emails: readonly string[]): void {
    for (const email of emails) {
      const user = this.users.get(email)!;
      this.assignments.push({ id: `asg-${this.assignments.length + 1}`, appRoleId: '00000000-0000-0000-0000-000000000000', principalId: user.id, principalType: 'User', principalDisplayName: user.displayName, resourceId: spId });
    }
  }

  assignGroup(spId: string, groupId: string, emails: readonly string[]): void {
    this.groups.set(groupId, emails.map((e) => this.users.get(e)!.id));
    this.assignments.push({ id: `asg-${this.assignments.length + 1}`, appRoleId: '00000000-0000-0000-0000-000000000000', principalId: groupId, principalType: 'Group', principalDisplayName: groupId, resourceId: spId });
  }

  /** An admin removes the person's assignment in the portal, with its audit entry. */
  unassignByAdmin(spId: string, email: string, at = new Date().toISOString()): string {
    const user = this.users.get(email)!;
    const i = this.assignments.findIndex((a) => a.resourceId === spId && a.principalId === user.id);
    if (i >= 0) this.assignments.splice(i, 1);
    return this.audit('Remove app role assignment from user', at, [
      { id: spId, type: 'ServicePrincipal', displayName: this.servicePrincipals.get(spId)?.displayName ?? spId },
      { id: user.id, type: 'User', userPrincipalName: email },
    ]);
  }

  /** An admin disables the account, with its audit entry. */
  disableByAdmin(email: string, at = new Date().toISOString()): string {
    const user = this.users.get(email)!;
    user.accountEnabled = false;
    return this.audit('Disable account', at, [{ id: user.id, type: 'User', userPrincipalName: email }]);
  }

  /** Another change to the user, which is not a departure. */
  renameByAdmin(email: string, at = new Date().toISOString()): string {
    const user = this.users.get(email)!;
    return this.audit('Update user', at, [{ id: user.id, type: 'User', userPrincipalName: email, modifiedProperties: [{ displayName: 'DisplayName', newValue: '["New Name"]' }] }]);
  }

  signIn(email: string, appId: string, at = new Date().toISOString(), errorCode = 0): void {
    this.signIns.push({ id: `signin-${this.signIns.length + 1}`, createdDateTime: at, appId, userPrincipalName: email, status: { errorCode } });
  }

  /** The next request gets a 503 with Retry-After. */
  unavailableNext(seconds: number): void {
    this.unavailable = seconds;
  }

  private audit(activity: string, at: string, targets: Audit['targetResources']): string {
    const id = `Directory_${this.audits.length + 1}`;
    this.audits.push({ id, activityDateTime: at, activityDisplayName: activity, result: 'success', targetResources: targets });
    return id;
  }

  protected throttle(res: ServerResponse, seconds: number): void {
    send(res, 429, { error: { code: 'TooManyRequests', message: 'Too many requests.' } }, { 'retry-after': String(seconds) });
  }

  protected route(req: IncomingMessage, body: string, res: ServerResponse, url: URL): void {
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (token && req.method === 'POST') {
      const form = new URLSearchParams(body);
      const ok = token[1] === this.tenant && form.get('grant_type') === 'client_credentials' && form.get('client_id') === this.clientId && form.get('client_secret') === this.clientSecret && form.get('scope') === 'https://graph.microsoft.com/.default';
      if (!ok) return send(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
      this.tokensIssued++;
      return send(res, 200, { token_type: 'Bearer', expires_in: 3599, access_token: 'graph-access-token' });
    }
    if (req.headers.authorization !== 'Bearer graph-access-token') return send(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' } });
    if (this.unavailable !== undefined) {
      const seconds = this.unavailable;
      this.unavailable = undefined;
      return send(res, 503, { error: { code: 'serviceNotAvailable', message: 'Service unavailable.' } }, { 'retry-after': String(seconds) });
    }
    const path = url.pathname.replace(/^\/v1\.0/, '');
    const filter = url.searchParams.get('$filter') ?? '';
    const quoted = (name: string) => new RegExp(`${name} eq '((?:[^']|'')*)'`).exec(filter)?.[1]?.replace(/''/g, "'");
    const since = Date.parse(/(?:activityDateTime|createdDateTime) ge (\S+)/.exec(filter)?.[1] ?? '1970-01-01T00:00:00Z');
    const all = [...this.users.values()];
    const notFound = (what: string) => send(res, 404, { error: { code: 'Request_ResourceNotFound', message: `Resource '${what}' does not exist or one of its queried reference-property objects are not present.` } });

    if (path === '/users' && req.method === 'GET') {
      const mail = quoted('mail');
      if (mail !== undefined) return send(res, 200, { value: all.filter((u) => u.mail === mail || u.userPrincipalName === quoted('userPrincipalName')) });
      return this.page(res, url, all);
    }
    const user = /^\/users\/([^/]+)$/.exec(path);
    if (user && req.method === 'PATCH') {
      const found = all.find((u) => u.id === user[1]);
      if (!found) return notFound(user[1]!);
      Object.assign(found, JSON.parse(body) as Partial<GraphUser>);
      return send(res, 204);
    }
    const ofUser = /^\/users\/([^/]+)\/appRoleAssignments$/.exec(path);
    if (ofUser && req.method === 'GET') {
      const resource = /resourceId eq (\S+)/.exec(filter)?.[1];
      // As Graph documents: the user's own assignments and those of the groups they are a direct member of.
      const groups = [...this.groups].filter(([, ids]) => ids.includes(ofUser[1]!)).map(([id]) => id);
      return send(res, 200, { value: this.assignments.filter((a) => (a.principalId === ofUser[1] || groups.includes(a.principalId)) && (!resource || a.resourceId === resource)) });
    }
    const sp = /^\/servicePrincipals\/([^/]+)$/.exec(path);
    if (sp && req.method === 'GET') {
      const found = this.servicePrincipals.get(sp[1]!);
      return found ? send(res, 200, found) : notFound(sp[1]!);
    }
    const assigned = /^\/servicePrincipals\/([^/]+)\/appRoleAssignedTo(?:\/([^/]+))?$/.exec(path);
    if (assigned) {
      const [, spId, assignmentId] = assigned;
      if (!this.servicePrincipals.has(spId!)) return notFound(spId!);
      if (req.method === 'GET' && !assignmentId) return this.page(res, url, this.assignments.filter((a) => a.resourceId === spId));
      if (req.method === 'POST' && !assignmentId) {
        const wanted = JSON.parse(body) as { principalId: string; resourceId: string; appRoleId: string };
        if (this.assignments.some((a) => a.resourceId === spId && a.principalId === wanted.principalId && a.appRoleId === wanted.appRoleId)) {
          return send(res, 400, { error: { code: 'Request_BadRequest', message: 'Permission being assigned already exists on the object' } });
        }
        const principal = all.find((u) => u.id === wanted.principalId);
        if (!principal) return notFound(wanted.principalId);
        const created: Assignment = { id: `asg-${this.assignments.length + 1}`, appRoleId: wanted.appRoleId, principalId: principal.id, principalType: 'User', principalDisplayName: principal.displayName, resourceId: spId! };
        this.assignments.push(created);
        return send(res, 201, created);
      }
      if (req.method === 'DELETE' && assignmentId) {
        const i = this.assignments.findIndex((a) => a.id === assignmentId && a.resourceId === spId);
        if (i < 0) return notFound(assignmentId);
        this.assignments.splice(i, 1);
        return send(res, 204);
      }
    }
    const members = /^\/groups\/([^/]+)\/transitiveMembers\/microsoft\.graph\.user$/.exec(path);
    if (members && req.method === 'GET') {
      const ids = this.groups.get(members[1]!);
      if (!ids) return notFound(members[1]!);
      return this.page(res, url, all.filter((u) => ids.includes(u.id)));
    }
    if (path === '/auditLogs/directoryAudits' && req.method === 'GET') {
      const activity = quoted('activityDisplayName');
      return this.page(res, url, this.audits.filter((a) => (!activity || a.activityDisplayName === activity) && Date.parse(a.activityDateTime) >= since));
    }
    if (path === '/auditLogs/signIns' && req.method === 'GET') {
      const appId = quoted('appId');
      const upn = quoted('userPrincipalName');
      return this.page(res, url, this.signIns.filter((s) => (!appId || s.appId === appId) && (!upn || s.userPrincipalName === upn) && Date.parse(s.createdDateTime) >= since));
    }
    send(res, 400, { error: { code: 'BadRequest', message: `no route ${req.method} ${url.pathname}` } });
  }

  private page(res: ServerResponse, url: URL, items: readonly unknown[]): void {
    const top = Math.min(Number(url.searchParams.get('$top') ?? 100), this.pageSize);
    const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
    const next = new URL(url.toString());
    next.searchParams.set('$skiptoken', String(skip + top));
    send(res, 200, { '@odata.context': `${this.url}/v1.0/$metadata`, value: items.slice(skip, skip + top), ...(skip + top < items.length ? { '@odata.nextLink': next.toString() } : {}) });
  }
}

type GoogleUser = { id: string; primaryEmail: string; name: { fullName: string }; suspended: boolean; orgUnitPath: string };
type Activity = { kind: string; id: { time: string; uniqueQualifier: string; applicationName: string; customerId: string }; actor: { email: string }; events: { type: string; name: string; parameters: { name: string; value: string }[] }[] };

/**
 * The Admin SDK's Directory and Reports APIs, as Google documents their shapes: users (paged with
 * nextPageToken, `query` on orgUnitPath), suspension by update, group members with hasMember,
 * activities by application and event name; errors as `{ error: { code, message, errors: [{ reason }] } }`;
 * quota as 403 userRateLimitExceeded. It also plays the token endpoint at `/token` (a key's token_uri):
 * every call must carry the token it gave for a correctly signed, delegated assertion.
 */
export class GoogleDouble extends Double {
  readonly users = new Map<string, GoogleUser>();
  readonly groups = new Map<string, Set<string>>();
  /** Members a group has through a group inside it (they are not its direct members). */
  readonly nested = new Map<string, Set<string>>();
  readonly activities: Activity[] = [];

  /** The claims of every JWT assertion the token endpoint accepted. */
  readonly tokenClaims: GoogleTokenClaims[] = [];
  /** Set by `trust`: the service account's public key and the administrator it may act as. */
  private trusted: { publicKey: string; subject: string } | undefined;

  constructor(readonly accessToken = 'ya29.test-access-token') {
    super();
  }

  /** Domain-wide delegation: the service account (its public key) may act as `subject`. */
  trust(publicKey: string, subject: string): this {
    this.trusted = { publicKey, subject };
    return this;
  }

  /** The token endpoint (a key's token_uri): a JWT bearer assertion signed RS256 by the trusted key, for the trusted subject. */
  private token(body: string, res: ServerResponse): void {
    const form = new URLSearchParams(body);
    const [header, payload, signature] = (form.get('assertion') ?? '').split('.');
    const verifier = createVerify('RSA-SHA256');
    verifier.update(`${header}.${payload}`);
    const signed = !!this.trusted && form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && !!signature && verifier.verify(this.trusted.publicKey, Buffer.from(signature, 'base64url'));
    const claims = signed ? (JSON.parse(Buffer.from(payload!, 'base64url').toString()) as GoogleTokenClaims) : undefined;
    if (!claims || claims.sub !== this.trusted!.subject) {
      return send(res, 401, { error: 'unauthorized_client', error_description: 'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.' });
    }
    this.tokenClaims.push(claims);
    send(res, 200, { access_token: this.accessToken, expires_in: 3599, token_type: 'Bearer' });
  }

  seed(emails: readonly string[], orgUnitPath = '/'): void {
    for (const email of emails) this.users.set(email, { id: `1${String(this.users.size + 1).padStart(20, '0')}`, primaryEmail: email, name: { fullName: email.split('@')[0]! }, suspended: false, orgUnitPath });
  }

  isActive(email: string): boolean | undefined {
    const user = this.users.get(email);
    return user && !user.suspended;
  }

  group(email: string, members: readonly string[], throughNestedGroups: readonly string[] = []): void {
    this.groups.set(email, new Set(members));
    this.nested.set(email, new Set(throughNestedGroups));
  }

  /** An admin suspends the person in the Admin console, with its admin audit event. */
  suspendByAdmin(email: string, at = new Date().toISOString()): string {
    const user = this.users.get(email);
    if (user) user.suspended = true;
    return this.activity('admin', 'USER_SETTINGS', 'SUSPEND_USER', at, { USER_EMAIL: email });
  }

  /** An admin removes the person from a group, with its admin audit event. */
  removeFromGroupByAdmin(group: string, email: string, at = new Date().toISOString()): string {
    this.groups.get(group)?.delete(email);
    return this.activity('admin', 'GROUP_SETTINGS', 'REMOVE_GROUP_MEMBER', at, { GROUP_EMAIL: group, USER_EMAIL: email });
  }

  samlLogin(email: string, appName: string, at = new Date().toISOString()): string {
    return this.activity('saml', 'login', 'login_success', at, { application_name: appName, initiated_by: 'sp' }, email);
  }

  private activity(applicationName: string, type: string, name: string, at: string, parameters: Record<string, string>, actor = 'admin@acme.com'): string {
    const uniqueQualifier = String(-1000 - this.activities.length);
    this.activities.push({ kind: 'admin#reports#activity', id: { time: at, uniqueQualifier, applicationName, customerId: 'C01234567' }, actor: { email: actor }, events: [{ type, name, parameters: Object.entries(parameters).map(([n, value]) => ({ name: n, value })) }] });
    return `${at}/${uniqueQualifier}`;
  }

  protected override exempt(url: URL): boolean {
    return url.pathname === '/token';
  }

  protected throttle(res: ServerResponse): void {
    send(res, 403, { error: { code: 403, message: 'Quota exceeded for quota metric per user per minute.', errors: [{ message: 'Quota exceeded.', domain: 'usageLimits', reason: 'userRateLimitExceeded' }] } });
  }

  protected route(req: IncomingMessage, body: string, res: ServerResponse, url: URL): void {
    const error = (code: number, reason: string, message: string) => send(res, code, { error: { code, message, errors: [{ message, domain: 'global', reason }] } });
    if (url.pathname === '/token' && req.method === 'POST') return this.token(body, res);
    if (req.headers.authorization !== `Bearer ${this.accessToken}`) return error(401, 'authError', 'Invalid Credentials');
    const all = [...this.users.values()];
    const q = url.searchParams;
    const path = decodeURIComponent(url.pathname);
    if (path === '/admin/directory/v1/users' && req.method === 'GET') {
      if (q.get('customer') !== 'my_customer' && !q.get('domain')) return error(400, 'badRequest', 'Bad Request');
      const ou = /orgUnitPath='([^']+)'/.exec(q.get('query') ?? '')?.[1];
      return this.page(res, 'users', all.filter((u) => !ou || u.orgUnitPath === ou || u.orgUnitPath.startsWith(`${ou}/`)), Math.min(Number(q.get('maxResults') ?? 100), 500), q.get('pageToken'));
    }
    const user = /^\/admin\/directory\/v1\/users\/([^/]+)$/.exec(path);
    if (user) {
      const found = this.users.get(user[1]!) ?? all.find((u) => u.id === user[1]);
      if (!found) return error(404, 'notFound', 'Resource Not Found: userKey');
      if (req.method === 'GET') return send(res, 200, { kind: 'admin#directory#user', ...found });
      if (req.method === 'PUT') {
        Object.assign(found, JSON.parse(body) as Partial<GoogleUser>);
        return send(res, 200, { kind: 'admin#directory#user', ...found });
      }
    }
    const hasMember = /^\/admin\/directory\/v1\/groups\/([^/]+)\/hasMember\/([^/]+)$/.exec(path);
    if (hasMember && req.method === 'GET') {
      const group = this.groups.get(hasMember[1]!);
      if (!group) return error(404, 'notFound', 'Resource Not Found: groupKey');
      return send(res, 200, { isMember: group.has(hasMember[2]!) || !!this.nested.get(hasMember[1]!)?.has(hasMember[2]!) });
    }
    const members = /^\/admin\/directory\/v1\/groups\/([^/]+)\/members(?:\/([^/]+))?$/.exec(path);
    if (members) {
      const group = this.groups.get(members[1]!);
      if (!group) return error(404, 'notFound', 'Resource Not Found: groupKey');
      if (req.method === 'GET' && !members[2]) {
        const list = [...group].map((email) => ({ kind: 'admin#directory#member', email, id: this.users.get(email)?.id ?? email, role: 'MEMBER', type: 'USER', status: this.users.get(email)?.suspended ? 'SUSPENDED' : 'ACTIVE' }));
        return this.page(res, 'members', list, Math.min(Number(q.get('maxResults') ?? 200), 200), q.get('pageToken'));
      }
      if (req.method === 'POST' && !members[2]) {
        const { email } = JSON.parse(body) as { email: string };
        if (group.has(email)) return error(409, 'duplicate', 'Member already exists.');
        group.add(email);
        return send(res, 200, { kind: 'admin#directory#member', email, role: 'MEMBER', type: 'USER' });
      }
      if (req.method === 'DELETE' && members[2]) {
        if (!group.delete(members[2])) return error(404, 'notFound', 'Resource Not Found: memberKey');
        return send(res, 204);
      }
    }
    const activity = /^\/admin\/reports\/v1\/activity\/users\/([^/]+)\/applications\/([^/]+)$/.exec(path);
    if (activity && req.method === 'GET') {
      const [, userKey, application] = activity;
      const since = Date.parse(q.get('startTime') ?? new Date(Date.now() - 180 * day).toISOString());
      const eventName = q.get('eventName');
      // Newest first, as the Reports API answers.
      const found = this.activities
        .filter((a) => a.id.applicationName === application && (userKey === 'all' || a.actor.email === userKey) && Date.parse(a.id.time) >= since && (!eventName || a.events.some((e) => e.name === eventName)))
        .sort((a, b) => Date.parse(b.id.time) - Date.parse(a.id.time));
      return this.page(res, 'items', found, Math.min(Number(q.get('maxResults') ?? 1000), 1000), q.get('pageToken'), { kind: 'admin#reports#activities' });
    }
    error(400, 'badRequest', `no route ${req.method} ${path}`);
  }

  private page(res: ServerResponse, key: string, items: readonly unknown[], size: number, token: string | null, extra: Record<string, string> = {}): void {
    const start = Number(token ?? 0);
    send(res, 200, { ...extra, [key]: items.slice(start, start + size), ...(start + size < items.length ? { nextPageToken: String(start + size) } : {}) });
  }
}

/** A service account's key pair, made for one test run: the private key is never written anywhere. */
export function serviceAccountKey(tokenUri: string, clientEmail = 'patchbay@acme-admin.iam.gserviceaccount.com'): { json: string; publicKey: string; clientEmail: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return { json: JSON.stringify({ type: 'service_account', client_email: clientEmail, private_key: privateKey, private_key_id: 'k1', token_uri: tokenUri }), publicKey, clientEmail };
}

/** What the stand-in token endpoint saw: each assertion's claims, after its signature was checked. */
export type GoogleTokenClaims = { iss: string; sub?: string; scope: string; aud: string };
