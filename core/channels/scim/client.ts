import { AsyncLocalStorage } from 'node:async_hooks';
import { bearerToken } from '../../http/auth.js';
import { HttpClient, type HttpRequest, type HttpResponse, isHttpUrl } from '../../http/client.js';
import { UnauthorizedError, UpstreamError } from '../../http/errors.js';
import type { HttpClock } from '../../http/limiter.js';
import type { RetryPolicy } from '../../engine/retry.js';
import { ConnectorConfigError } from '../../errors.js';
import type { AppAccount, OperationResult } from '../../registry/connector-api.js';
import type { AppSettings } from '../../schema/types/tenant-profile.js';
import type { SecretResolver } from '../../tenant/secrets.js';
import { type KnownIdentifiers, type Proof, describeProof, fold, noKnownIdentifiers } from '../proof.js';
import { ScimError, parseScimError } from './errors.js';
import { type ScimListing, readScimList } from './paging.js';
import { isActive, scimBoolean } from './values.js';

const userSchema = 'urn:ietf:params:scim:schemas:core:2.0:User';
const patchSchema = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const scimJson = { 'content-type': 'application/scim+json' };

/** A SCIM User as a server sends it (RFC 7643 §4.1); extension attributes sit under their schema URN. */
export interface ScimUser {
  id: string;
  userName: string;
  /** A boolean in the standard; servers send `"False"`, `0`… too: read with isActive. */
  active?: unknown;
  externalId?: string;
  schemas?: string[];
  name?: { givenName?: string; familyName?: string };
  emails?: { value: string; primary?: unknown; type?: string }[];
  meta?: unknown;
  [attribute: string]: unknown;
}

/**
 * What a server says it supports and how its Users are shaped, from its discovery endpoints
 * (RFC 7644 §4: /ServiceProviderConfig, /ResourceTypes, /Schemas). A server without
 * /ServiceProviderConfig gets safe defaults (no filter, no PATCH, no bulk), said once in `notes`.
 */
export interface ScimServerConfig {
  readonly patch: boolean;
  readonly filter: boolean;
  readonly maxResults?: number;
  readonly bulk: boolean;
  readonly maxOperations?: number;
  /** Whether the server answered /ServiceProviderConfig; false: the values above are the safe defaults. */
  readonly serviceProviderConfig: boolean;
  /** The Users endpoint, relative to the base URL (from /ResourceTypes; "Users" by default). */
  readonly usersEndpoint: string;
  /** The User resource type's schema extensions (enterprise user…), from /ResourceTypes. */
  readonly userExtensions: readonly { readonly schema: string; readonly required: boolean }[];
  /** What /Schemas says of userName: caseExact and uniqueness. A claim, never trusted where a check is cheap. */
  readonly userName: { readonly caseExact?: boolean; readonly uniqueness?: string };
  /** What discovery could not read, and the defaults it took, each said once. */
  readonly notes: readonly string[];
}

/** Where an account was found, or the proof that it is not there, or what was tried when neither could be had. */
export type Located = { readonly user: ScimUser; readonly proof: Proof } | { readonly user: undefined; readonly proof: Proof };

/** The error body of the request in flight, kept by the fetch wrapper so that errors can say what the server said. */
const errorBody = new AsyncLocalStorage<{ text?: string }>();

/**
 * A SCIM 2.0 client for any app, configured by the tenant profile (baseUrl and a token reference).
 * It reads the server's discovery endpoints once; it never concludes that a user is absent from a
 * filter that found nothing (a filter can compare case-sensitively whatever /Schemas claims):
 * absence is proven by the user's recorded id, or by a complete read of the list, compared by
 * folded identifiers; otherwise the answer says what was tried, and the step goes to a person.
 */
export class ScimClient {
  private readonly http: HttpClient;
  private readonly clock: HttpClock | undefined;
  private config: Promise<ScimServerConfig> | undefined;

  constructor(
    readonly app: string,
    readonly settings: AppSettings,
    secrets: SecretResolver,
    options: { clock?: HttpClock; retry?: RetryPolicy } = {},
  ) {
    if (!settings.baseUrl) throw new ConnectorConfigError(app, `apps.${app}.baseUrl`, 'the SCIM base URL is not in the tenant profile');
    if (!isHttpUrl(settings.baseUrl)) throw new ConnectorConfigError(app, `apps.${app}.baseUrl`, `'${settings.baseUrl}' is not an http(s) URL`);
    const ref = settings.secrets?.token;
    if (!ref) throw new ConnectorConfigError(app, `apps.${app}.secrets.token`, 'no reference to the SCIM bearer token');
    this.clock = options.clock;
    this.http = new HttpClient({
      name: app,
      baseUrl: settings.baseUrl,
      auth: bearerToken(() => secrets.resolve(ref)),
      fetch: (async (url: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
        const response = await fetch(url, init);
        const slot = errorBody.getStore();
        if (!response.ok && slot) slot.text = await response.clone().text().catch(() => undefined);
        return response;
      }) as typeof fetch,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
    });
  }

  /** 429 answers so far. */
  get rateLimited(): number {
    return this.http.rateLimited;
  }

  private now(): number {
    return this.clock?.now() ?? Date.now();
  }

  /** One request; an error answer becomes a ScimError carrying the server's status, scimType and detail. */
  private async request<T>(request: HttpRequest): Promise<HttpResponse<T>> {
    const slot: { text?: string } = {};
    try {
      return await errorBody.run(slot, () => this.http.request<T>(request));
    } catch (error) {
      if (!(error instanceof UpstreamError) || error instanceof UnauthorizedError || error instanceof ScimError || error.status === 429) throw error;
      const said = parseScimError(slot.text);
      throw new ScimError(error.status, error.message.replace(/: HTTP \d+.*$/, ''), said.scimType, said.detail, { cause: error, code: error.code, ...(said.status ? { scimStatus: said.status } : {}) });
    }
  }

  /** Reads /ServiceProviderConfig, /ResourceTypes and /Schemas, once; what a server lacks gets a safe default and a note. */
  discover(): Promise<ScimServerConfig> {
    this.config ??= this.readDiscovery();
    return this.config;
  }

  private async readDiscovery(): Promise<ScimServerConfig> {
    const notes: string[] = [];
    const optional = async <T>(path: string): Promise<T | undefined> => {
      try {
        return (await this.request<T>({ path })).body;
      } catch (error) {
        if (error instanceof UnauthorizedError || !(error instanceof UpstreamError) || error.status === 429) throw error;
        notes.push(`no /${path} (HTTP ${error.status})`);
        return undefined;
      }
    };
    type Feature = { supported?: unknown; maxResults?: unknown; maxOperations?: unknown };
    const spc = await optional<Record<string, Feature>>('ServiceProviderConfig');
    if (!spc) notes[notes.length - 1] += ': assuming no filter, no PATCH and no bulk, and reading the whole list to find a user';
    const supported = (f: Feature | undefined) => scimBoolean(f?.supported) === true;
    const positive = (v: unknown) => {
      const n = Number(v);
      return Number.isInteger(n) && n > 0 ? n : undefined;
    };
    const listOf = <T>(body: unknown): T[] => (Array.isArray(body) ? (body as T[]) : Array.isArray((body as { Resources?: unknown })?.Resources) ? ((body as { Resources: T[] }).Resources) : []);
    type ResourceType = { name?: string; endpoint?: string; schema?: string; schemaExtensions?: { schema?: string; required?: unknown }[] };
    const userType = listOf<ResourceType>(await optional('ResourceTypes')).find((t) => t.schema === userSchema || t.name === 'User');
    type Attribute = { name?: string; caseExact?: unknown; uniqueness?: string };
    const schema = listOf<{ id?: string; attributes?: Attribute[] }>(await optional('Schemas')).find((s) => s.id === userSchema);
    const userName = schema?.attributes?.find((a) => a.name === 'userName');
    const maxResults = positive(spc?.filter?.maxResults);
    const maxOperations = positive(spc?.bulk?.maxOperations);
    return {
      patch: supported(spc?.patch),
      filter: supported(spc?.filter),
      bulk: supported(spc?.bulk),
      ...(maxResults ? { maxResults } : {}),
      ...(maxOperations ? { maxOperations } : {}),
      serviceProviderConfig: spc !== undefined,
      usersEndpoint: (userType?.endpoint ?? 'Users').replace(/^\//, '') || 'Users',
      userExtensions: (userType?.schemaExtensions ?? []).filter((e) => e.schema).map((e) => ({ schema: e.schema!, required: scimBoolean(e.required) === true })),
      userName: {
        ...(scimBoolean(userName?.caseExact) !== undefined ? { caseExact: scimBoolean(userName?.caseExact)! } : {}),
        ...(userName?.uniqueness ? { uniqueness: userName.uniqueness } : {}),
      },
      notes,
    };
  }

  /** Every user, each once, with whether the read is sure it saw them all (see readScimList for the faults it handles). */
  async readAll(): Promise<ScimListing<ScimUser>> {
    const config = await this.discover();
    const count = Math.min(100, config.maxResults ?? 100);
    const endpoint = config.usersEndpoint;
    const listing = await readScimList<ScimUser>(
      async (startIndex, n) => (await this.request<{ Resources?: ScimUser[] }>({ path: endpoint, query: { startIndex, count: n } })).body ?? {},
      { count, where: `${this.settings.baseUrl!.replace(/\/$/, '')}/${endpoint}`, keyOf: (u) => (u && typeof u.id === 'string' ? u.id : undefined) },
    );
    // Said once with the read: the defaults a missing /ServiceProviderConfig imposed (missing /ResourceTypes or /Schemas change nothing a read relies on).
    return { ...listing, notes: [...config.notes.filter((n) => n.includes('ServiceProviderConfig')), ...listing.notes] };
  }

  /**
   * Finds the person's user by every identifier known: the recorded ids (`GET /Users/{id}`), then,
   * when the server filters, `externalId eq` and `userName eq` for each email and userName seen,
   * each answer checked by folded comparison; then a read of the whole list. Found: the user and
   * how. Not found: absent when the list was read complete (or a recorded id answered 404 and the
   * list could not be read), else unproven, with what was tried.
   */
  async locate(email: string, known: KnownIdentifiers = noKnownIdentifiers): Promise<Located> {
    const config = await this.discover();
    const endpoint = config.usersEndpoint;
    const tried: string[] = [];
    const notes: string[] = [];
    const names = unique([email, ...known.emails, ...known.userNames], fold);
    const wanted = new Set(names.map(fold));
    const externalIds = new Set(known.externalIds);
    const ids = new Set(known.ids);
    const matches = (u: ScimUser) =>
      ids.has(u.id) || (typeof u.userName === 'string' && wanted.has(fold(u.userName))) || (u.emails ?? []).some((e) => typeof e?.value === 'string' && wanted.has(fold(e.value))) || (typeof u.externalId === 'string' && externalIds.has(u.externalId));
    const found = (user: ScimUser, method: Proof['method'], extra: Partial<Proof> = {}): Located => ({
      user,
      proof: { method, finding: isActive(user.active) ? 'present' : 'inactive', identifiersTried: [...tried], at: this.now(), ...(notes.length ? { notes: [...notes] } : {}), ...extra },
    });
    let recordedIdGone: string | undefined;
    for (const id of known.ids) {
      tried.push(`id ${id}`);
      try {
        const { body } = await this.request<ScimUser>({ path: `${endpoint}/${encodeURIComponent(id)}` });
        if (body && typeof body === 'object' && body.id) return found(body, 'id');
      } catch (error) {
        if (!(error instanceof UpstreamError) || error.status !== 404) throw error;
        // Only a SCIM Error saying 404 is the server's word on this id; a bare 404 may be a route it lacks.
        const said = error instanceof ScimError && error.scimStatus === '404';
        if (said) recordedIdGone = id;
        notes.push(`GET /${endpoint}/${id} answered 404${said ? '' : ' without a SCIM Error body (the server may not serve users by id)'}`);
      }
    }
    if (config.filter) {
      const filters = [...[...externalIds].map((x) => ['externalId', x] as const), ...names.map((n) => ['userName', n] as const)];
      for (const [attribute, value] of filters) {
        tried.push(`${attribute} ${value}`);
        try {
          const { body } = await this.request<{ Resources?: ScimUser[] }>({ path: endpoint, query: { filter: `${attribute} eq "${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` } });
          const hit = (body?.Resources ?? []).find(matches);
          if (hit) return found(hit, 'filter');
        } catch (error) {
          if (!(error instanceof UpstreamError) || error.status === 429 || error instanceof UnauthorizedError || error.status >= 500) throw error;
          notes.push(`the filter ${attribute} eq was refused (HTTP ${error.status}), though /ServiceProviderConfig says filter is supported`);
          break;
        }
      }
    } else {
      tried.push(...names.map((n) => `userName ${n}`), ...[...externalIds].map((x) => `externalId ${x}`));
    }
    let listing: ScimListing<ScimUser>;
    try {
      listing = await this.readAll();
    } catch (error) {
      if (recordedIdGone) return { user: undefined, proof: { method: 'id', finding: 'absent', identifiersTried: tried, at: this.now(), notes: [...notes, `the list could not be read: ${(error as Error).message}`] } };
      throw error;
    }
    const candidates = listing.resources.filter(matches);
    const hit = candidates.find((u) => isActive(u.active)) ?? candidates[0];
    const scanned = { accountsScanned: listing.resources.length, complete: listing.completeness.complete };
    if (hit) {
      if (config.filter) notes.push(`the server's filter did not find ${hit.userName}; reading the list did (its filter compares differently${config.userName.caseExact === false ? ', though /Schemas says userName is not caseExact' : ''})`);
      if (candidates.length > 1) notes.push(`${candidates.length} users match: ${candidates.map((u) => `${u.id} (${u.userName})`).join(', ')}`);
      return found(hit, 'scan', scanned);
    }
    if (listing.completeness.complete) return { user: undefined, proof: { method: 'scan', finding: 'absent', identifiersTried: tried, at: this.now(), ...scanned, ...(notes.length ? { notes } : {}) } };
    if (recordedIdGone) return { user: undefined, proof: { method: 'id', finding: 'absent', identifiersTried: tried, at: this.now(), ...scanned, notes: [...notes, ...listing.completeness.reasons] } };
    return { user: undefined, proof: { method: 'scan', finding: 'unproven', identifiersTried: tried, at: this.now(), ...scanned, notes: [...notes, ...listing.completeness.reasons] } };
  }

  async listUsers(): Promise<OperationResult> {
    const listing = await this.readAll();
    const said = [...listing.notes, ...listing.completeness.reasons];
    return { outcome: 'done', evidence: `read ${listing.resources.length} users over SCIM${listing.completeness.complete ? '' : ' (not complete)'}${said.length ? `: ${said.join('; ')}` : ''}`, accounts: listing.resources.map(toAccount) };
  }

  async getUser(email: string, known?: KnownIdentifiers): Promise<OperationResult> {
    const { user, proof } = await this.locate(email, known);
    if (!user) return notFound(email, proof);
    return { outcome: 'done', evidence: `SCIM user ${user.id} (${user.userName}) is ${isActive(user.active) ? 'active' : 'inactive'}: ${describeProof(proof)}`, accounts: [toAccount(user)], proof };
  }

  async createUser(subject: { email: string; firstName?: string; lastName?: string }, known?: KnownIdentifiers): Promise<OperationResult> {
    const { user: existing, proof } = await this.locate(subject.email, known);
    if (existing) return { outcome: 'alreadyDone', evidence: `SCIM user ${existing.id} already exists`, accounts: [toAccount(existing)], proof };
    const endpoint = (await this.discover()).usersEndpoint;
    const { body } = await this.request<ScimUser>({
      method: 'POST',
      path: endpoint,
      headers: scimJson,
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

  async updateUser(subject: { email: string; firstName?: string; lastName?: string }, known?: KnownIdentifiers): Promise<OperationResult> {
    const { user, proof } = await this.locate(subject.email, known);
    if (!user) return notFound(subject.email, proof);
    const name = { ...user.name, ...(subject.firstName ? { givenName: subject.firstName } : {}), ...(subject.lastName ? { familyName: subject.lastName } : {}) };
    await this.put(user, { name });
    return { outcome: 'done', evidence: `updated SCIM user ${user.id}`, accounts: [toAccount({ ...user, name })], proof };
  }

  /** active=false, by PATCH when the server supports it, else (or when its PATCH is refused as unsupported) by PUT of the whole user. */
  async deactivateUser(email: string, known?: KnownIdentifiers): Promise<OperationResult> {
    const { user, proof } = await this.locate(email, known);
    if (!user) return notFound(email, proof);
    if (!isActive(user.active)) return { outcome: 'alreadyDone', evidence: `SCIM user ${user.id} (${user.userName}) was already inactive (active: ${JSON.stringify(user.active)}): ${describeProof(proof)}`, accounts: [toAccount(user)], proof };
    const config = await this.discover();
    let how = 'PUT';
    if (config.patch) {
      try {
        await this.request({ method: 'PATCH', path: `${config.usersEndpoint}/${encodeURIComponent(user.id)}`, headers: scimJson, body: { schemas: [patchSchema], Operations: [{ op: 'replace', path: 'active', value: false }] } });
        how = 'PATCH';
      } catch (error) {
        // A server that says it supports PATCH and then does not is checked, cheaply: fall back to PUT.
        if (!(error instanceof UpstreamError) || ![405, 501].includes(error.status)) throw error;
        how = `PUT (its PATCH answered ${error.status})`;
      }
    }
    if (how !== 'PATCH') await this.put(user, { active: false });
    return { outcome: 'done', evidence: `deactivated SCIM user ${user.id} (${user.userName}) by ${how}; ${describeProof(proof)}`, accounts: [toAccount({ ...user, active: false })], proof };
  }

  async deleteUser(email: string, known?: KnownIdentifiers): Promise<OperationResult> {
    const { user, proof } = await this.locate(email, known);
    if (!user) return notFound(email, proof);
    const endpoint = (await this.discover()).usersEndpoint;
    try {
      await this.request({ method: 'DELETE', path: `${endpoint}/${encodeURIComponent(user.id)}` });
    } catch (error) {
      if (error instanceof UpstreamError && error.status === 404) {
        const gone: Proof = { method: 'id', finding: 'absent', identifiersTried: [`id ${user.id}`], at: this.now() };
        return { outcome: 'alreadyDone', evidence: `SCIM user ${user.id} was already gone: DELETE by its id answered 404`, proof: gone };
      }
      throw error;
    }
    return { outcome: 'done', evidence: `deleted SCIM user ${user.id}`, accounts: [toAccount({ ...user, active: false })], proof };
  }

  /**
   * PUT of the whole user with changes: every attribute read is sent back, `schemas` keeps every
   * URN the resource had and every extension present in the body (RFC 7643 §3: `schemas` lists
   * the extensions used; servers such as those on the UnboundID/Ping SDK refuse a body without them).
   * `meta` is read-only and left out.
   */
  private async put(user: ScimUser, changes: Record<string, unknown>): Promise<void> {
    const { meta: _meta, ...rest } = user;
    const body: Record<string, unknown> = { ...rest, ...changes };
    const declared = Array.isArray(user.schemas) ? user.schemas.filter((s): s is string => typeof s === 'string') : [];
    body.schemas = unique([userSchema, ...declared, ...Object.keys(body).filter((k) => k.startsWith('urn:'))], (s) => s.toLowerCase());
    await this.request({ method: 'PUT', path: `${(await this.discover()).usersEndpoint}/${encodeURIComponent(user.id)}`, headers: scimJson, body });
  }

  async addToGroup(groupId: string, email: string): Promise<OperationResult> {
    return this.membership(groupId, email, 'add');
  }

  async removeFromGroup(groupId: string, email: string): Promise<OperationResult> {
    return this.membership(groupId, email, 'remove');
  }

  private async membership(groupId: string, email: string, op: 'add' | 'remove'): Promise<OperationResult> {
    const { user, proof } = await this.locate(email);
    if (!user) return notFound(email, proof);
    const { body: group } = await this.request<{ members?: { value: string }[] }>({ path: `Groups/${groupId}` });
    const member = group.members?.some((m) => m.value === user.id) ?? false;
    if ((op === 'add') === member) return { outcome: 'alreadyDone', evidence: `${email} was ${member ? 'already' : 'not'} in group ${groupId}` };
    const operation = op === 'add' ? { op: 'add', path: 'members', value: [{ value: user.id }] } : { op: 'remove', path: `members[value eq "${user.id}"]` };
    await this.request({ method: 'PATCH', path: `Groups/${groupId}`, headers: scimJson, body: { schemas: [patchSchema], Operations: [operation] } });
    return { outcome: 'done', evidence: `${op === 'add' ? 'added' : 'removed'} ${email} ${op === 'add' ? 'to' : 'from'} group ${groupId}` };
  }
}

function notFound(email: string, proof: Proof): OperationResult {
  const evidence = proof.finding === 'absent' ? `no SCIM user for ${email}: ${describeProof(proof)}` : `no SCIM user found for ${email}`;
  return { outcome: 'notFound', evidence, proof };
}

function unique(values: readonly string[], key: (s: string) => string): string[] {
  const seen = new Set<string>();
  return values.filter((v) => v && !seen.has(key(v)) && seen.add(key(v)));
}

/** The account in the few words every app shares; the userName and externalId go in attributes, for the identifiers Patchbay keeps. */
export function toAccount(user: ScimUser): AppAccount {
  const name = [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' ');
  const emails = Array.isArray(user.emails) ? user.emails.filter((e) => typeof e?.value === 'string') : [];
  const email = emails.find((e) => scimBoolean(e.primary) === true)?.value ?? emails[0]?.value ?? user.userName;
  return {
    id: user.id,
    email,
    active: isActive(user.active),
    ...(name ? { name } : {}),
    attributes: {
      userName: String(user.userName ?? ''),
      ...(typeof user.externalId === 'string' ? { externalId: user.externalId } : {}),
      ...(emails.length > 1 ? { emails: emails.map((e) => e.value).join(', ') } : {}),
    },
  };
}
