import { AccountIdentityError, ConnectorConfigError } from '../../errors.js';
import { type AuthStrategy, ClientCredentials, bearerToken, httpBasic } from '../../http/auth.js';
import { HttpClient, type HttpClientOptions, type HttpRequest, type HttpResponse } from '../../http/client.js';
import { RateLimitedError, UnauthorizedError, UpstreamError } from '../../http/errors.js';
import type { DocumentedLimit } from '../../http/limiter.js';
import { type Pagination, paginate, parseLinks } from '../../http/pagination.js';
import { placeholdersOf, surfaceIdOf } from '../../manifest/call-checks.js';
import type { LoadedConnector } from '../../manifest/loader.js';
import type { ConnectorApi, OperationHandler, OperationInput, OperationResult, AppAccount } from '../../registry/connector-api.js';
import type { ApiCall, AuthMethod, ConnectorManifest, ListMapping, RecordMapping, Surface } from '../../schema/types/connector-manifest.js';
import type { AppSettings } from '../../schema/types/tenant-profile.js';
import { fillUrlTemplate } from './url-template.js';
import { getPointer, unescapePointerToken as unescape } from '../../manifest/pointer.js';
import { type Proof, fold } from '../proof.js';

/** Options for tests and the conformance kit: the HTTP clock, fetch and retry policy given to every client. */
export type DeclarativeOptions = Pick<HttpClientOptions, 'clock' | 'fetch' | 'retry' | 'maxRetryWaitMs'>;

// ---------------------------------------------------------------- JSON Pointer (RFC 6901)

export { getPointer };

/** Sets the value at a pointer, making objects along the way (the stand-in builds vendor records with it). */
export function setPointer(document: Record<string, unknown>, pointer: string, value: unknown): void {
  const tokens = pointer.slice(1).split('/').map(unescape);
  let node: Record<string, unknown> = document;
  tokens.slice(0, -1).forEach((token) => {
    if (!node[token] || typeof node[token] !== 'object') node[token] = {};
    node = node[token] as Record<string, unknown>;
  });
  node[tokens.at(-1)!] = value;
}

// ---------------------------------------------------------------- records

/** One vendor record as an account, through the declared mapping; undefined when it has no id or email. */
export function mapRecord(record: unknown, mapping: RecordMapping): AppAccount | undefined {
  const id = getPointer(record, mapping.id);
  const email = getPointer(record, mapping.email);
  if ((typeof id !== 'string' && typeof id !== 'number') || typeof email !== 'string') return undefined;
  const list = (m: ListMapping | undefined): string[] | undefined => {
    if (m === undefined) return undefined;
    const value = getPointer(record, typeof m === 'string' ? m : m.pointer);
    if (!Array.isArray(value)) return typeof value === 'string' ? [value] : undefined;
    return value.map((v) => String(typeof m === 'string' ? v : getPointer(v, m.item))).filter((v) => v !== 'undefined');
  };
  const name = mapping.name ? getPointer(record, mapping.name) : undefined;
  const attributes = mapping.attributes
    ? Object.fromEntries(Object.entries(mapping.attributes).flatMap(([key, pointer]) => {
        const value = getPointer(record, pointer);
        return value === undefined || value === null ? [] : [[key, typeof value === 'object' ? JSON.stringify(value) : String(value)]];
      }))
    : undefined;
  const roles = list(mapping.roles);
  const groups = list(mapping.groups);
  return {
    id: String(id),
    email,
    active: isActive(record, mapping),
    ...(typeof name === 'string' ? { name } : {}),
    ...(roles ? { roles } : {}),
    ...(groups ? { groups } : {}),
    ...(attributes && Object.keys(attributes).length ? { attributes } : {}),
  };
}

function isActive(record: unknown, mapping: RecordMapping): boolean {
  if (typeof mapping.active === 'string') return getPointer(record, mapping.active) === true;
  const value = getPointer(record, mapping.active.pointer);
  return mapping.active.in.some((v) => v === value);
}

// ---------------------------------------------------------------- templates

type Bound = Record<string, string | number | boolean>;

function fill(template: string, values: Bound): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9_]*)\}/g, (_, name: string) => String(values[name]));
}

function fillBody(node: unknown, values: Bound): unknown {
  if (typeof node === 'string') {
    const whole = /^\{([A-Za-z][A-Za-z0-9_]*)\}$/.exec(node);
    return whole ? values[whole[1]!] : fill(node, values);
  }
  if (Array.isArray(node)) return node.map((n) => fillBody(n, values));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fillBody(v, values)]));
  return node;
}

// ---------------------------------------------------------------- auth

/** The secret names an auth method reads from apps.<id>.secrets. */
export function secretsOf(method: AuthMethod): string[] {
  return [method.secret, method.usernameSecret, method.passwordSecret, method.clientIdSecret, method.clientSecretSecret, method.refreshTokenSecret, method.issuerSecret].filter((s): s is string => !!s);
}

/** The surface's auth methods, in the manifest's order of preference (none when it says unknown). */
export function authMethodsOf(surface: Surface): AuthMethod[] {
  return Array.isArray(surface.auth.value) ? surface.auth.value : [];
}

function strategy(connector: string, method: AuthMethod, settings: AppSettings, input: OperationInput, options: DeclarativeOptions): { auth?: AuthStrategy; query?: Record<string, string> } {
  const secret = (name: string | undefined) => () => input.secrets.resolve(settings.secrets![name!]!);
  switch (method.type) {
    case 'bearer':
      return { auth: bearerToken(secret(method.secret)) };
    case 'custom-scheme':
      return { auth: { async authorize(headers) { headers.set('authorization', `${method.scheme} ${secret(method.secret)()}`); } } };
    case 'basic':
      return { auth: httpBasic(secret(method.usernameSecret), method.passwordSecret ? secret(method.passwordSecret) : () => '') };
    case 'api-key':
      if (method.in === 'query') return { query: { [method.name!]: secret(method.secret)() } };
      return { auth: { async authorize(headers) { headers.set(method.name!, secret(method.secret)()); } } };
    case 'oauth2-client-credentials':
      return {
        auth: new ClientCredentials({
          tokenUrl: fillUrlTemplate(connector, method.tokenUrl!, settings),
          clientId: secret(method.clientIdSecret),
          clientSecret: secret(method.clientSecretSecret),
          ...(method.scopes ? { scope: method.scopes.join(' ') } : {}),
          ...(method.basicClientAuth ? { basic: true } : {}),
          ...(method.grantType ? { grantType: method.grantType } : {}),
          ...(options.clock ? { clock: options.clock } : {}),
          ...(options.fetch ? { fetch: options.fetch } : {}),
        }),
      };
    case 'oauth2-refresh-token':
      return { auth: refreshTokenAuth(fillUrlTemplate(connector, method.tokenUrl!, settings), secret(method.clientIdSecret), secret(method.clientSecretSecret), secret(method.refreshTokenSecret), options.fetch) };
    default:
      throw new ConnectorConfigError(connector, 'auth', `${method.type} cannot be carried out from a declaration; write a connector module for it`);
  }
}

/** OAuth 2.0 refresh token grant (RFC 6749 §6): exchanges the stored refresh token for access tokens, kept until the server refuses one. */
function refreshTokenAuth(tokenUrl: string, clientId: () => string, clientSecret: () => string, refreshToken: () => string, fetchFn: typeof fetch = fetch): AuthStrategy {
  let token: string | undefined;
  return {
    async authorize(headers) {
      if (!token) {
        const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken(), client_id: clientId(), client_secret: clientSecret() });
        const response = await fetchFn(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body });
        if (!response.ok) {
          await response.body?.cancel();
          throw new UpstreamError(response.status, 'exchange refresh token');
        }
        const json = (await response.json()) as { access_token?: unknown };
        if (typeof json.access_token !== 'string') throw new UpstreamError(response.status, 'exchange refresh token', 'the answer has no access_token');
        token = json.access_token;
      }
      headers.set('authorization', `Bearer ${token}`);
    },
    invalidate() {
      token = undefined;
    },
  };
}

// ---------------------------------------------------------------- paging

/**
 * How a declared list is walked. `authQuery` (an API key sent in the query) goes on every page,
 * also on a next link the vendor gives: the HTTP client sends nothing to an origin other than the
 * surface's base URL, so the key never leaves it. Each next request carries a `note` ("page 2",
 * "page 2, cursor parameter after") that errors name.
 */
function pagination(call: ApiCall, authQuery: Record<string, string>): Pagination<unknown> {
  const spec = call.page ?? { style: 'none' as const };
  const pageOf = (request: HttpRequest) => Number(/^page (\d+)/.exec(request.note ?? '')?.[1] ?? 1) + 1;
  const noted = (request: HttpRequest, extra = '') => ({ ...request, note: `page ${pageOf(request)}${extra}` });
  const items = (response: HttpResponse) => {
    const rule = answerRuleFor(call, response.body);
    if (rule?.outcome === 'failed') throw answerFailure(rule, response);
    const value = getPointer(response.body, spec.items ?? call.items ?? '');
    return Array.isArray(value) ? value : [];
  };
  const key = call.record ? (item: unknown) => `id:${String(getPointer(item, call.record!.id))}` : undefined;
  const total = spec.total ? (response: HttpResponse) => {
    const n = Number(getPointer(response.body, spec.total!));
    return Number.isFinite(n) ? n : undefined;
  } : undefined;
  const base = { items, ...(key ? { key } : {}), ...(total ? { total } : {}) };
  switch (spec.style) {
    case 'cursor':
      return { ...base, next(request, response) {
        const cursor = getPointer(response.body, spec.cursor!);
        if (cursor === undefined || cursor === null || cursor === '') return undefined;
        return { ...noted(request, `, cursor parameter ${spec.param!}`), query: { ...request.query, [spec.param!]: String(cursor) } };
      } };
    case 'next-link':
      return { ...base, next(request, response) {
        const link = getPointer(response.body, spec.next!);
        return typeof link === 'string' && link ? { ...noted(request), path: new URL(link, response.url).toString(), query: { ...authQuery } } : undefined;
      } };
    case 'link-header':
      return { ...base, next(request, response) {
        const next = parseLinks(response.headers.get('link'))['next'];
        return next ? { ...noted(request), path: new URL(next, response.url).toString(), query: { ...authQuery } } : undefined;
      } };
    case 'offset':
    case 'page':
      return { ...base, next(request, _response, count) {
        if (count < spec.pageSize!) return undefined;
        const current = Number(request.query?.[spec.param!] ?? spec.start ?? (spec.style === 'page' ? 1 : 0));
        return { ...noted(request), query: { ...request.query, [spec.param!]: spec.style === 'page' ? current + 1 : current + count, [spec.sizeParam!]: spec.pageSize! } };
      } };
    case 'scim':
      return { ...base, total: (r) => Number((r.body as { totalResults?: unknown })?.totalResults) || undefined, next(request, response, count) {
        const body = response.body as { totalResults?: number; startIndex?: number };
        const start = Number(body?.startIndex ?? request.query?.startIndex ?? 1);
        if (count === 0 || body?.totalResults === undefined || start - 1 + count >= body.totalResults) return undefined;
        return { ...noted(request), query: { ...request.query, startIndex: start + count, count: spec.pageSize! } };
      } };
    default:
      return { ...base, next: () => undefined };
  }
}

/** The first request of a list: offset, page and SCIM styles ask for their page size from the start. */
function firstPage(call: ApiCall, first: HttpRequest): HttpRequest {
  const spec = call.page;
  const request = spec && spec.style !== 'none' ? { ...first, note: 'page 1' } : first;
  if (spec?.style === 'offset' || spec?.style === 'page') return { ...request, query: { [spec.param!]: spec.start ?? (spec.style === 'page' ? 1 : 0), [spec.sizeParam!]: spec.pageSize!, ...request.query } };
  if (spec?.style === 'scim') return { ...request, query: { startIndex: 1, count: spec.pageSize!, ...request.query } };
  return request;
}

// ---------------------------------------------------------------- the module

/**
 * Builds a ConnectorApi from a manifest's declared calls: one handler per operation whose api route
 * has a `call`. Each handler binds its {placeholders} (from the person, the account read first,
 * the tenant's settings or constants), sends one request (or walks every page of a list) through
 * the HTTP toolkit (the surface's first auth method the tenant has secrets for, its documented rate
 * limits and limited statuses, retries), and reads the answer as typed outcomes. Returns undefined
 * for a manifest that declares no calls.
 */
export function declarativeApi(connector: LoadedConnector, options: DeclarativeOptions = {}): ConnectorApi | undefined {
  const manifest = connector.manifest;
  const calls = new Map<string, ApiCall>();
  for (const [name, operation] of Object.entries(manifest.operations)) {
    const call = operation.channels.find((r) => r.channel === 'api' && r.call)?.call;
    if (call) calls.set(name, call);
  }
  if (!calls.size) return undefined;
  const surfaceIds = new Set([...calls.values()].map((c) => surfaceIdOf(manifest, c)!));
  const surfaces = [...surfaceIds].map((id) => manifest.surfaces![id]!);
  const firstMethods = surfaces.map((s) => authMethodsOf(s)[0]).filter((m): m is AuthMethod => !!m);
  const requiredSecrets = [...new Set(firstMethods.flatMap(secretsOf))];
  const needsBaseUrl = surfaces.some((s) => s.baseUrl.value.includes('{baseUrl}'));
  const clients = new WeakMap<AppSettings, Map<string, { client: HttpClient; query: Record<string, string>; method: AuthMethod | undefined }>>();

  const clientFor = (surfaceId: string, settings: AppSettings, input: OperationInput) => {
    let bySurface = clients.get(settings);
    if (!bySurface) clients.set(settings, (bySurface = new Map()));
    const cached = bySurface.get(surfaceId);
    if (cached) return cached;
    const surface = manifest.surfaces![surfaceId]!;
    const methods = authMethodsOf(surface);
    const method = methods.find((m) => secretsOf(m).every((s) => settings.secrets?.[s])) ?? (methods.length ? undefined : null);
    if (method === undefined) {
      throw new ConnectorConfigError(manifest.id, 'secrets', `no auth method of surface '${surfaceId}' has its secrets in the tenant profile (apps.${manifest.id}.secrets: ${methods.map((m) => `${m.type} needs ${secretsOf(m).join(', ') || 'nothing'}`).join('; ')})`);
    }
    const { auth, query = {} } = method ? strategy(manifest.id, method, settings, input, options) : {};
    const made = {
      client: new HttpClient({
        name: manifest.id,
        baseUrl: fillUrlTemplate(manifest.id, surface.baseUrl.value, settings),
        ...(auth ? { auth } : {}),
        limits: documentedLimits(manifest, surface, settings),
        rateLimitStatuses: (surface.limitedStatuses ?? []).filter((s) => s !== 429),
        ...options,
      }),
      query,
      method: method ?? undefined,
    };
    bySurface.set(surfaceId, made);
    return made;
  };

  const handlers: Record<string, OperationHandler> = {};
  const run = async (name: string, input: OperationInput): Promise<OperationResult & { account?: AppAccount }> => {
    const call = calls.get(name)!;
    const settings = input.settings;
    let account: AppAccount | undefined;
    if (call.read) {
      const read = await run(call.read, input);
      if (read.outcome === 'notFound') return { outcome: 'notFound', evidence: read.evidence, ...(read.proof ? { proof: read.proof } : {}) };
      account = read.accounts?.[0];
      // A write goes only to an id read from a record proven to be the person's.
      if (account) ownRecords(manifest.id, call.read, [account], input.subject.email);
      for (const rule of call.when ?? []) {
        if (account && holds(account, rule)) return { outcome: rule.outcome, evidence: `${rule.outcome === 'alreadyDone' ? 'already done' : 'not found'}: ${describeRule(rule)} (${read.evidence})` };
      }
    }
    const values: Bound = {};
    for (const [param, binding] of Object.entries(call.params ?? {})) {
      const value =
        binding.from === 'const' ? binding.value
          : getPointer(binding.from === 'subject' ? input.subject : binding.from === 'account' ? account : settings, binding.pointer!);
      if (value === undefined || value === null || typeof value === 'object') {
        const where = binding.from === 'settings' ? `the tenant profile's apps.${manifest.id} entry (/apps/${manifest.id}${binding.pointer})` : binding.from === 'subject' ? `the person's request (${binding.pointer})` : `the account read first (${binding.pointer})`;
        throw new ConnectorConfigError(manifest.id, `${name}.params.${param}`, `nothing in ${where} to bind {${param}} to`);
      }
      values[param] = value as string | number | boolean;
    }
    const pathValues = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, encodeURIComponent(String(v))]));
    const { client, query: authQuery, method: authMethod } = clientFor(surfaceIdOf(manifest, call)!, settings, input);
    const surface = manifest.surfaces![surfaceIdOf(manifest, call)!]!;
    const request: HttpRequest = {
      method: call.method,
      path: fill(call.path, pathValues),
      query: { ...authQuery, ...Object.fromEntries(Object.entries(call.query ?? {}).map(([k, v]) => [k, typeof v === 'string' ? fill(v, values) : String(v)])) },
      headers: Object.fromEntries(Object.entries({ ...surface.headers, ...call.headers }).map(([k, v]) => [k, fill(v, values)])),
      ...(call.body !== undefined ? { body: fillBody(call.body, values) } : {}),
      ...(call.method !== 'GET' ? { idempotencyKey: input.idempotencyKey } : {}),
    };
    const label = `${call.method} ${request.path}`;

    if (name === 'listUsers' || call.page) {
      const walk = paginate(client, firstPage(call, request), pagination(call, authQuery), { onFault: 'report' });
      const accounts: AppAccount[] = [];
      try {
        for await (const item of walk) {
          const mapped = call.record ? mapRecord(item, call.record) : undefined;
          if (mapped) accounts.push(mapped);
        }
      } catch (error) {
        const outcome = outcomeOf(call, error);
        if (outcome) return { outcome, evidence: `${label}: HTTP ${(error as UpstreamError).status}` } as OperationResult;
        throw refusedSecret(error, authMethod, settings);
      }
      if (name === 'listUsers') return { outcome: 'done', evidence: `${label}: ${accounts.length} accounts on ${walk.pages} pages`, accounts, completeness: walk.completeness };
      // Any other read of a list is about one person: only the records with their email count.
      const mine = ownRecords(manifest.id, name, accounts, input.subject.email, true);
      const { complete, reasons } = walk.completeness;
      if (mine.length) return { outcome: 'done', evidence: `${label}: account ${mine[0]!.id} for ${input.subject.email} among ${accounts.length} accounts on ${walk.pages} pages`, accounts: mine, completeness: walk.completeness };
      const proof: Proof = { method: 'scan', finding: 'absent', identifiersTried: [`email ${input.subject.email}`], accountsScanned: accounts.length, complete, at: Date.now(), ...(reasons.length ? { notes: reasons } : {}) };
      return complete
        ? { outcome: 'notFound', evidence: `${label}: no account for ${input.subject.email} among ${accounts.length} accounts on ${walk.pages} pages (the whole list)`, proof }
        : { outcome: 'notFound', evidence: `${label}: could not prove absence of ${input.subject.email}: the list was not read to its end (${accounts.length} accounts on ${walk.pages} pages)`, proof };
    }

    let response: HttpResponse;
    try {
      response = await client.request(request);
    } catch (error) {
      const outcome = outcomeOf(call, error);
      if (outcome) return { outcome, evidence: `${label}: HTTP ${(error as UpstreamError).status}` } as OperationResult;
      throw refusedSecret(error, authMethod, settings);
    }
    const rule = answerRuleFor(call, response.body);
    if (rule?.outcome === 'failed') throw answerFailure(rule, response);
    if (rule) return { outcome: rule.outcome, evidence: `${label}: HTTP ${response.status}, ${rule.pointer} is ${JSON.stringify(getPointer(response.body, rule.pointer))}` } as OperationResult;
    const declared = call.outcomes?.[String(response.status)] ?? 'done';
    if (declared === 'notFound') return { outcome: 'notFound', evidence: `${label}: HTTP ${response.status}` };
    if (call.record) {
      const records = call.items !== undefined ? getPointer(response.body, call.items) : [response.body];
      const mapped = (Array.isArray(records) ? records : []).map((r) => mapRecord(r, call.record!)).filter((a): a is AppAccount => !!a);
      // A list is filtered to the person's records; a single record must be theirs.
      const matches = ownRecords(manifest.id, name, mapped, input.subject.email, call.items !== undefined);
      if (!matches.length) return { outcome: 'notFound', evidence: `${label}: no account for ${input.subject.email}` };
      return { outcome: declared, evidence: `${label}: HTTP ${response.status}, account ${matches[0]!.id}`, accounts: matches.slice(0, 1) };
    }
    return { outcome: declared, evidence: `${label}: HTTP ${response.status}` };
  };
  for (const name of calls.keys()) handlers[name] = (input) => run(name, input);

  return {
    connector: manifest.id,
    operations: handlers,
    requiredSecrets,
    ...(needsBaseUrl ? { requiredSettings: ['baseUrl' as const] } : {}),
  };
}

/**
 * The records of a read that are the person's: those whose mapped email equals theirs (trimmed,
 * case folded). From a list (`list`), none is an empty answer; from a single record, another email
 * is refused. More than one is refused: a person chooses, never Patchbay.
 * @throws AccountIdentityError naming the operation and the emails read
 */
function ownRecords(connector: string, operation: string, accounts: readonly AppAccount[], email: string, list = false): AppAccount[] {
  const mine = accounts.filter((a) => fold(a.email) === fold(email));
  if (mine.length > 1) {
    throw new AccountIdentityError(connector, 'ambiguous', `${operation} found ${mine.length} records with the email ${email} (ids ${mine.map((a) => a.id).join(', ')}); a person must choose which is theirs`);
  }
  if (!list && accounts.length && !mine.length) {
    throw new AccountIdentityError(connector, 'another-person', `${operation} returned a record of another person (${accounts[0]!.email}, id ${accounts[0]!.id}) for ${email}; nothing was changed`);
  }
  return mine;
}

/**
 * A 401/403 said in terms the operator can act on: which secret was sent (by the name of the
 * environment variable or file it came from, never its value). Other errors are returned as they are.
 */
function refusedSecret(error: unknown, method: AuthMethod | undefined, settings: AppSettings): unknown {
  if (!(error instanceof UnauthorizedError) || error instanceof RateLimitedError || !method) return error;
  const names = secretsOf(method);
  const where = names.map((n) => {
    const ref = settings.secrets?.[n] ?? '';
    return `${ref.replace(/^(env|file):/, '') || n} (secrets.${n})`;
  });
  const what = method.type === 'api-key' ? `the API key (${method.in === 'query' ? 'query parameter' : 'header'} ${method.name})` : method.type === 'basic' ? 'the credentials' : 'the token';
  return new UnauthorizedError(error.status, error.operation, `${what} in ${where.join(' and ')} was refused`, { cause: error });
}

type AnswerRule = NonNullable<ApiCall['answer']>[number];

/** The first declared rule that holds on a 2xx answer's body (Slack's {"ok": false}), if any. */
function answerRuleFor(call: ApiCall, body: unknown): AnswerRule | undefined {
  return call.answer?.find((rule) => {
    const value = getPointer(body, rule.pointer);
    return ('equals' in rule && value === rule.equals) || (rule.in?.some((v) => v === value) ?? false);
  });
}

/** The error a `failed` answer rule raises: the status, and the value that failed (Slack's `error` string when the body has one). */
function answerFailure(rule: AnswerRule, response: HttpResponse): UpstreamError {
  const error = getPointer(response.body, '/error');
  const said = `${rule.pointer} is ${JSON.stringify(getPointer(response.body, rule.pointer))}${typeof error === 'string' && rule.pointer !== '/error' ? `, error ${JSON.stringify(error)}` : ''}`;
  // The path only: a query string can carry an API key.
  const where = (() => {
    try {
      return new URL(response.url).pathname;
    } catch {
      return 'the request';
    }
  })();
  return new UpstreamError(response.status, where, `the answer says ${said}`);
}

/** The outcome a declared status gives an error answer (404 → notFound), or undefined to let the error stand. */
function outcomeOf(call: ApiCall, error: unknown): 'done' | 'alreadyDone' | 'notFound' | undefined {
  if (!(error instanceof UpstreamError)) return undefined;
  return call.outcomes?.[String(error.status)];
}

function holds(account: AppAccount, rule: NonNullable<ApiCall['when']>[number]): boolean {
  const value = getPointer(account, rule.account);
  if ('equals' in rule && value === rule.equals) return true;
  if (rule.in && rule.in.some((v) => v === value)) return true;
  if (rule.includes !== undefined && Array.isArray(value) && value.includes(rule.includes)) return true;
  return false;
}

function describeRule(rule: NonNullable<ApiCall['when']>[number]): string {
  if ('equals' in rule) return `${rule.account} is ${JSON.stringify(rule.equals)}`;
  if (rule.in) return `${rule.account} is one of ${rule.in.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${rule.account} includes ${JSON.stringify(rule.includes)}`;
}

/** The surface's documented limits that hold for the tenant (entries whose plan the tenant is on, or with no condition). */
function documentedLimits(manifest: ConnectorManifest, surface: Surface, settings: AppSettings): DocumentedLimit[] {
  const value = surface.rateLimits?.value;
  if (!Array.isArray(value)) return [];
  return value
    .filter((entry) => !entry.requires?.plans || (settings.plan && entry.requires.plans.includes(settings.plan)))
    .filter((entry) => !entry.requires?.features || entry.requires.features.every((f) => settings.features?.[f] ?? manifest.features?.find((x) => x.id === f)?.default))
    .map((entry) => ({ requests: entry.requests, perSeconds: entry.perSeconds }));
}

/** The placeholders of a call, for the docs. */
export { placeholdersOf };
