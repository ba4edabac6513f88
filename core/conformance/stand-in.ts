import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authMethodsOf, getPointer, secretsOf, setPointer } from '../channels/api/declarative.js';
import { fillUrlTemplate } from '../channels/api/url-template.js';
import { surfaceIdOf } from '../manifest/call-checks.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { ApiCall, AuthMethod, RecordMapping } from '../schema/types/connector-manifest.js';
import type { AppSettings } from '../schema/types/tenant-profile.js';

/** An account the stand-in holds. */
export interface StandInAccount {
  id: string;
  email: string;
  active: boolean;
  roles: string[];
}

/** A request the stand-in received (no credentials kept). */
export interface StandInRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly at: number;
}

/** A vendor stand-in generated from a manifest's declared calls, listening on 127.0.0.1. */
export interface StandIn {
  readonly url: string;
  /** The settings that point the connector at the stand-in (baseUrl, every {settings.x}, secret references). */
  readonly settings: AppSettings;
  /** Resolves the secret references in `settings` to the values the stand-in accepts. */
  readonly secrets: { resolve(ref: string): string };
  /** A fetch that sends any URL (a vendor's fixed host, a token endpoint) to the stand-in, keeping its path and query. */
  readonly fetch: typeof fetch;
  readonly accounts: Map<string, StandInAccount>;
  readonly requests: StandInRequest[];
  /** The accounts a list answers per page. */
  readonly pageSize: number;
  /** Whether the stand-in checks credentials (not for signed JWTs). */
  readonly checksAuth: boolean;
  seed(emails: readonly string[], active?: boolean): void;
  /** The next request is answered "rate limited" (429, or the surface's first limited status) with Retry-After. */
  rateLimitNext(seconds: number): void;
  close(): Promise<void>;
}

interface Route {
  readonly operation: string;
  readonly call: ApiCall;
  readonly method: string;
  readonly pattern: RegExp;
  readonly names: readonly string[];
  /** The path of the call's surface's base URL. */
  readonly basePath: string;
  /** The credentials the call's surface checks (its first auth method). */
  readonly auth: AuthMethod | undefined;
}

/**
 * Generates and starts a stand-in for the vendor from the manifest: it serves each declared call
 * (list with the declared paging, get, create, update, deactivate, delete, grant, revoke) over
 * seeded accounts, builds vendor records through the declared record mapping (the inverse of the
 * JSON Pointers), answers with the statuses the declaration names for done, already done and not
 * found, checks the credentials of each call's surface (its first auth method), and answers one request
 * "rate limited" with Retry-After when told to. Only on 127.0.0.1.
 */
export async function startStandIn(connector: LoadedConnector, options: { pageSize?: number } = {}): Promise<StandIn> {
  const manifest = connector.manifest;
  const calls = Object.entries(manifest.operations).flatMap(([operation, op]) => {
    const call = op.channels.find((r) => r.channel === 'api' && r.call)?.call;
    return call ? [{ operation, call }] : [];
  });
  // Every surface the calls use (Slack's Web API and SCIM): each keeps its base path and first auth method.
  const surfaceIds = [...new Set(calls.map(({ call }) => surfaceIdOf(manifest, call)!))];
  const surface = surfaceIds.length ? manifest.surfaces?.[surfaceIds[0]!] : undefined;
  const methodOf = new Map(surfaceIds.map((id) => [id, authMethodsOf(manifest.surfaces![id]!)[0]] as const));
  const methods = [...methodOf.values()].filter((m): m is AuthMethod => !!m);
  const secretValues = Object.fromEntries(methods.flatMap(secretsOf).map((name) => [name, `standin-${name}-value`]));
  const placeholders = new Set<string>();
  const templates = [...surfaceIds.map((id) => manifest.surfaces![id]!.baseUrl.value), ...methods.map((m) => m.tokenUrl ?? '')];
  for (const t of templates) for (const [, name] of t.matchAll(/\{settings\.([A-Za-z][A-Za-z0-9_]*)\}/g)) placeholders.add(name!);
  // Call parameters bound from the tenant's settings (an Asana workspace gid) are filled too.
  for (const { call } of calls) {
    for (const binding of Object.values(call.params ?? {})) {
      const setting = binding.from === 'settings' ? /^\/settings\/([A-Za-z][A-Za-z0-9_]*)$/.exec(binding.pointer ?? '') : null;
      if (setting) placeholders.add(setting[1]!);
    }
  }
  const accounts = new Map<string, StandInAccount>();
  const requests: StandInRequest[] = [];
  const pageSize = options.pageSize ?? 50;
  let limitNext = 0;
  let nextId = 1;
  const accessToken = 'standin-access-token';

  const server: Server = createServer((req, res) => void handle(req, res).catch((error) => send(res, 500, { error: String(error) })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const settings: AppSettings = {
    baseUrl: url,
    ...(placeholders.size ? { settings: Object.fromEntries([...placeholders].map((p) => [p, 'conformance'])) } : {}),
    ...(Object.keys(secretValues).length ? { secrets: Object.fromEntries(Object.keys(secretValues).map((name) => [name, `env:STANDIN_${name.toUpperCase().replace(/-/g, '_')}`])) } : {}),
  };
  const refs = new Map(Object.entries(settings.secrets ?? {}).map(([name, ref]) => [ref, secretValues[name]!]));
  const prefix = (template: string) => {
    try {
      return new URL(fillUrlTemplate(manifest.id, template, settings)).pathname.replace(/\/$/, '');
    } catch {
      return '';
    }
  };
  const basePathOf = new Map(surfaceIds.map((id) => [id, prefix(manifest.surfaces![id]!.baseUrl.value)]));
  const tokenPaths = new Set(methods.flatMap((m) => (m.tokenUrl ? [new URL(fillUrlTemplate(manifest.id, m.tokenUrl, settings), url).pathname] : [])));
  const routes: Route[] = calls.map(({ operation, call }) => {
    const names: string[] = [];
    const surfaceId = surfaceIdOf(manifest, call)!;
    const basePath = basePathOf.get(surfaceId) ?? '';
    const parts = (basePath + call.path).split(/\{([A-Za-z][A-Za-z0-9_]*)\}/);
    const source = parts.map((part, i) => (i % 2 ? (names.push(part), '([^/]+)') : part.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&'))).join('');
    return { operation, call, method: call.method, pattern: new RegExp(`^${source}$`), names, basePath, auth: methodOf.get(surfaceId) };
  });

  function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers });
    res.end(body !== undefined ? JSON.stringify(body) : undefined);
  }

  function authorized(req: IncomingMessage, query: URLSearchParams, method: AuthMethod | undefined): boolean {
    if (!method) return true;
    const header = req.headers.authorization ?? '';
    const secret = (name?: string) => secretValues[name!] ?? '';
    switch (method.type) {
      case 'bearer':
        return header === `Bearer ${secret(method.secret)}`;
      case 'custom-scheme':
        return header === `${method.scheme} ${secret(method.secret)}`;
      case 'basic':
        return header === `Basic ${Buffer.from(`${secret(method.usernameSecret)}:${method.passwordSecret ? secret(method.passwordSecret) : ''}`).toString('base64')}`;
      case 'api-key':
        return method.in === 'query' ? query.get(method.name!) === secret(method.secret) : req.headers[method.name!.toLowerCase()] === secret(method.secret);
      case 'oauth2-client-credentials':
      case 'oauth2-refresh-token':
        return header === `Bearer ${accessToken}`;
      default:
        return true;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const target = new URL(req.url ?? '/', url);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const answer = (status: number, body?: unknown, headers?: Record<string, string>) => {
      requests.push({ method: req.method ?? 'GET', path: target.pathname, status, at });
      send(res, status, body, headers);
    };
    if (tokenPaths.has(target.pathname) && req.method === 'POST') return answer(200, { access_token: accessToken, token_type: 'Bearer', expires_in: 3600 });
    if (limitNext > 0) {
      const seconds = limitNext;
      limitNext = 0;
      return answer(surface?.limitedStatuses?.[0] ?? 429, { error: 'rate limited' }, { 'retry-after': String(seconds) });
    }
    // Two calls on one path (a list, and a get through a filtered list): the one whose bound query
    // parameters the request carries wins.
    const score = (route: Route) => Object.entries(route.call.query ?? {}).filter(([key, value]) => typeof value === 'string' && value.includes('{') && target.searchParams.has(key)).length;
    for (const route of [...routes].sort((a, b) => score(b) - score(a))) {
      if (route.method !== req.method) continue;
      const match = route.pattern.exec(target.pathname);
      if (!match) continue;
      if (!authorized(req, target.searchParams, route.auth)) return answer(401, { error: 'unauthorized' });
      const values = Object.fromEntries(route.names.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]));
      const result = serve(route, values, target.searchParams, text);
      return answer(result.status, result.body, result.headers);
    }
    if (!methods.some((m) => authorized(req, target.searchParams, m)) && methods.length) return answer(401, { error: 'unauthorized' });
    return answer(404, { error: `no declared call for ${req.method} ${target.pathname}` });
  }

  /** The account a request names: by a path value, else a query value, else an email in the body. */
  function named(values: Record<string, string>, query: URLSearchParams, text: string): StandInAccount | undefined {
    const candidates = [...Object.values(values), ...query.values(), ...(text.match(/[^\s"@]+@[^\s"@]+\.[a-z]+/gi) ?? [])];
    for (const value of candidates) {
      const found = accounts.get(value) ?? [...accounts.values()].find((a) => a.email.toLowerCase() === value.toLowerCase());
      if (found) return found;
    }
    return undefined;
  }

  function statusFor(call: ApiCall, outcome: 'done' | 'alreadyDone' | 'notFound', fallback: number): number {
    const declared = Object.entries(call.outcomes ?? {}).find(([, o]) => o === outcome)?.[0];
    return declared ? Number(declared) : fallback;
  }

  function serve(route: Route, values: Record<string, string>, query: URLSearchParams, text: string): { status: number; body?: unknown; headers?: Record<string, string> } {
    const { call, operation } = route;
    const record = (a: StandInAccount) => (call.record ? buildRecord(a, call.record) : { id: a.id, email: a.email });
    const doneStatus = statusFor(call, 'done', call.method === 'DELETE' ? 204 : 200);
    const withBody = (status: number, body: unknown) => (status === 204 ? { status } : { status, body });
    if (operation === 'listUsers' || call.page) return listPage(route, query, record);
    if (call.items !== undefined) {
      const found = named(values, query, text);
      const wrapped: Record<string, unknown> = {};
      const list = found ? [record(found)] : [];
      if (call.items === '') return { status: 200, body: list };
      setPointer(wrapped, call.items, list);
      return { status: 200, body: wrapped };
    }
    if (operation === 'createUser') {
      const email = (text.match(/[^\s"@]+@[^\s"@]+\.[a-z]+/i) ?? [])[0];
      const existing = email ? [...accounts.values()].find((a) => a.email.toLowerCase() === email.toLowerCase()) : undefined;
      if (existing) return { status: statusFor(call, 'alreadyDone', 409), body: { error: 'exists' } };
      const account = add(email ?? `user${nextId}@example.com`, true);
      return withBody(statusFor(call, 'done', 201), record(account));
    }
    const account = named(values, query, text);
    if (!account) return { status: statusFor(call, 'notFound', 404), body: { error: 'not found' } };
    switch (operation) {
      case 'deactivateUser':
        if (!account.active && Object.values(call.outcomes ?? {}).includes('alreadyDone')) return { status: statusFor(call, 'alreadyDone', 409), body: { error: 'already inactive' } };
        account.active = false;
        break;
      case 'deleteUser':
        accounts.delete(account.id);
        break;
      default:
        break;
    }
    return withBody(doneStatus, record(account));
  }

  function listPage({ call, basePath }: Route, query: URLSearchParams, record: (a: StandInAccount) => Record<string, unknown>) {
    const spec = call.page ?? { style: 'none' as const };
    const all = [...accounts.values()];
    let start = 0;
    let size = pageSize;
    const route = `${url}${basePath}${call.path}`;
    switch (spec.style) {
      case 'cursor':
        start = Number(query.get(spec.param!) ?? '0') || 0;
        break;
      case 'next-link':
      case 'link-header':
        start = Number(query.get('standin_offset') ?? '0') || 0;
        break;
      case 'offset':
        size = Number(query.get(spec.sizeParam!) ?? spec.pageSize);
        start = Number(query.get(spec.param!) ?? spec.start ?? 0);
        break;
      case 'page':
        size = Number(query.get(spec.sizeParam!) ?? spec.pageSize);
        start = (Number(query.get(spec.param!) ?? spec.start ?? 1) - (spec.start ?? 1)) * size;
        break;
      case 'scim':
        size = Number(query.get('count') ?? spec.pageSize);
        start = Number(query.get('startIndex') ?? 1) - 1;
        break;
      default:
        size = all.length;
    }
    const page = all.slice(start, start + size).map(record);
    const more = start + size < all.length;
    const body: Record<string, unknown> = {};
    const items = spec.items ?? call.items ?? (spec.style === 'scim' ? '/Resources' : '');
    const headers: Record<string, string> = {};
    if (spec.style === 'cursor') setPointer(body, spec.cursor!, more ? String(start + size) : '');
    if (spec.style === 'next-link' && more) setPointer(body, spec.next!, `${route}?standin_offset=${start + size}`);
    if (spec.style === 'link-header' && more) headers.link = `<${route}?standin_offset=${start + size}>; rel="next"`;
    if (spec.style === 'scim') Object.assign(body, { totalResults: all.length, startIndex: start + 1, itemsPerPage: page.length });
    if (spec.total) setPointer(body, spec.total, all.length);
    if (items === '') return { status: 200, body: page, headers };
    setPointer(body, items, page);
    return { status: 200, body, headers };
  }

  function add(email: string, active: boolean): StandInAccount {
    const account = { id: `u${String(nextId++).padStart(5, '0')}`, email, active, roles: ['member'] };
    accounts.set(account.id, account);
    return account;
  }

  const rewriting: typeof fetch = (input, init) => {
    const original = new URL(typeof input === 'string' ? input : input instanceof URL ? input.toString() : input.url);
    return fetch(`${url}${original.pathname}${original.search}`, init);
  };

  return {
    url,
    settings,
    secrets: { resolve: (ref: string) => refs.get(ref) ?? '' },
    fetch: rewriting,
    accounts,
    requests,
    pageSize,
    checksAuth: methods.length > 0 && methods.every((m) => m.type !== 'signed-jwt'),
    seed(emails, active = true) {
      for (const email of emails) add(email, active);
    },
    rateLimitNext(seconds) {
      limitNext = seconds;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A vendor record for an account, built through the record mapping's pointers. */
export function buildRecord(account: StandInAccount, mapping: RecordMapping): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  const put = (pointer: string, value: unknown) => {
    if (pointer !== '' && getPointer(record, pointer) === undefined) setPointer(record, pointer, value);
  };
  put(mapping.id, account.id);
  put(mapping.email, account.email);
  if (typeof mapping.active === 'string') put(mapping.active, account.active);
  else put(mapping.active.pointer, account.active ? mapping.active.in[0] : (mapping.active.inactive?.[0] ?? 'inactive'));
  if (mapping.name) put(mapping.name, account.email.split('@')[0]);
  const list = (m: RecordMapping['roles']) => {
    if (!m) return;
    if (typeof m === 'string') put(m, account.roles);
    else put(m.pointer, account.roles.map((role) => {
      const item: Record<string, unknown> = {};
      setPointer(item, m.item, role);
      return item;
    }));
  };
  list(mapping.roles);
  return record;
}
