import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';

interface User {
  id: string;
  userName: string;
  active: boolean;
  externalId?: string;
  schemas?: string[];
  name?: { givenName?: string; familyName?: string };
  emails?: { value: string; primary?: boolean }[];
  [attribute: string]: unknown;
}

const enterprise = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export interface ScimServerOptions {
  readonly patch?: boolean;
  readonly filter?: boolean;
  readonly maxResults?: number;
  readonly token?: string;
  /** Answer 429 (with Retry-After) to these request numbers, counted from 1. */
  readonly rateLimitOn?: readonly number[];
  /** Quirks of real servers, one per option (see ../../../shared/cases/vendor-quirks). */
  readonly quirks?: ScimQuirks;
}

/** Ways real SCIM servers depart from RFC 7644, each reported publicly; the stand-in behaves so when asked. */
export interface ScimQuirks {
  /** No /ServiceProviderConfig (404), as authentik#4915 reports of some providers. */
  readonly noServiceProviderConfig?: boolean;
  /** No /ResourceTypes and /Schemas (404). */
  readonly noDiscoveryEndpoints?: boolean;
  /** How `active` is sent: "False"/"True" strings, 0/1, "TRUE"… (Entra-fed servers, Snipe-IT). */
  readonly activeAs?: (active: boolean) => unknown;
  /** startIndex counted from 0 (osiam#7, SimpleIdServer#185). */
  readonly zeroBasedStartIndex?: boolean;
  /** startIndex ignored: always the first page, count honoured (wso2/product-is#6313). */
  readonly ignoreStartIndex?: boolean;
  /** Each page after the first starts with the last user of the page before (no stable order). */
  readonly repeatAcrossPages?: boolean;
  /** Called on each list request (before it is answered): a test adds users "while the list is read". */
  readonly onList?: (server: ScimServer, n: number) => void;
  /** `userName eq` compares case-sensitively, though /Schemas says caseExact false (as scimmy's matcher does). */
  readonly caseSensitiveFilter?: boolean;
  /** /ServiceProviderConfig claims PATCH although PATCH answers 501 (with `patch: false`). */
  readonly claimsPatch?: boolean;
  /** No GET /Users/{id}: a bare 404 with an empty body, as small servers without that route answer. */
  readonly noGetById?: boolean;
  /** A PUT body with an extension attribute not listed in `schemas` is refused 400 invalidSyntax (the UnboundID/Ping SDK's SchemaChecker). */
  readonly checkExtensionSchemas?: boolean;
}

/**
 * A small SCIM 2.0 service provider on 127.0.0.1 (RFC 7644: Users with filter, paging, POST, PUT,
 * PATCH and DELETE; Groups with member PATCH), for the SCIM connector's tests and conformance.
 */
export class ScimServer {
  readonly users = new Map<string, User>();
  readonly groups = new Map<string, { id: string; displayName: string; members: { value: string }[] }>();
  readonly log: string[] = [];
  private server: Server | undefined;
  private next = 1;
  private count = 0;

  constructor(private readonly options: ScimServerOptions = {}) {}

  private throttleNext: number | undefined;

  /** The next request gets a 429 with Retry-After. */
  rateLimitNext(seconds: number): void {
    this.throttleNext = seconds;
  }

  seed(n: number): void {
    for (let i = 1; i <= n; i++) this.add(`user${String(i).padStart(6, '0')}@acme.com`);
  }

  add(userName: string, active = true, extra: Partial<User> = {}): User {
    const user: User = { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], id: `u-${this.next++}`, userName, active, emails: [{ value: userName, primary: true }], ...extra };
    this.users.set(user.id, user);
    return user;
  }

  /** Told of every request as it arrives (method and path with query); the answer waits for what it returns. */
  onRequest: ((method: string, path: string) => void | Promise<void>) | undefined;

  /** A user as the server sends it: `active` as its quirk spells it. */
  private wire(user: User): Record<string, unknown> {
    const activeAs = this.options.quirks?.activeAs;
    return { ...user, active: activeAs ? activeAs(user.active) : user.active, meta: { resourceType: 'User', location: `/Users/${user.id}` } };
  }

  private lists = 0;

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}/scim/v2`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}): void =>
      void res.writeHead(status, { 'content-type': 'application/scim+json', ...headers }).end(body === undefined ? '' : JSON.stringify(body));
    const error = (status: number, detail: string) => send(status, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: String(status), detail });
    this.count++;
    const url = new URL(req.url ?? '/', 'http://scim');
    const path = url.pathname.replace(/^\/scim\/v2/, '');
    this.log.push(`${req.method} ${path}${url.search}`);
    await this.onRequest?.(req.method ?? 'GET', `${path}${url.search}`);
    const quirks = this.options.quirks ?? {};
    if (req.headers.authorization !== `Bearer ${this.options.token ?? 'scim-token'}`) return error(401, 'bad token');
    if (this.options.rateLimitOn?.includes(this.count)) return send(429, undefined, { 'retry-after': '1' });
    if (this.throttleNext !== undefined) {
      const seconds = this.throttleNext;
      this.throttleNext = undefined;
      return send(429, undefined, { 'retry-after': String(seconds) });
    }
    const body = text ? (JSON.parse(text) as Record<string, any>) : {};
    if (path === '/ServiceProviderConfig') {
      if (quirks.noServiceProviderConfig) return error(404, 'Not found');
      return send(200, {
        patch: { supported: quirks.claimsPatch || (this.options.patch ?? true) },
        filter: { supported: this.options.filter ?? true, maxResults: this.options.maxResults ?? 200 },
        bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
        authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token' }],
      });
    }
    if ((path === '/ResourceTypes' || path === '/Schemas') && quirks.noDiscoveryEndpoints) return error(404, 'Not found');
    if (path === '/ResourceTypes') {
      return send(200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 1, Resources: [
        { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'], id: 'User', name: 'User', endpoint: '/Users', schema: 'urn:ietf:params:scim:schemas:core:2.0:User', schemaExtensions: [{ schema: enterprise, required: false }] },
      ] });
    }
    if (path === '/Schemas') {
      return send(200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 1, Resources: [
        { id: 'urn:ietf:params:scim:schemas:core:2.0:User', name: 'User', attributes: [{ name: 'userName', type: 'string', caseExact: false, uniqueness: 'server', required: true }, { name: 'active', type: 'boolean' }] },
      ] });
    }
    if (path === '/Users' && req.method === 'GET') {
      let all = [...this.users.values()];
      const filter = url.searchParams.get('filter');
      if (filter) {
        if (this.options.filter === false) return error(400, 'filter not supported');
        const match = /^(userName|externalId) eq "(.*)"$/.exec(filter);
        if (!match) return error(400, `unsupported filter ${filter}`);
        const [, attribute, value] = match;
        all = all.filter((u) => {
          const held = String(u[attribute!] ?? '');
          return attribute === 'externalId' || quirks.caseSensitiveFilter ? held === value : held.toLowerCase() === value!.toLowerCase();
        });
      } else {
        quirks.onList?.(this, ++this.lists);
        all = [...this.users.values()];
      }
      const asked = Number(url.searchParams.get('startIndex') ?? (quirks.zeroBasedStartIndex ? 0 : 1));
      const count = Math.min(this.options.maxResults ?? 200, Number(url.searchParams.get('count') ?? 100));
      let offset = quirks.ignoreStartIndex ? 0 : quirks.zeroBasedStartIndex ? Math.max(0, asked) : Math.max(1, asked) - 1;
      if (quirks.repeatAcrossPages && offset > 0) offset -= 1;
      const page = all.slice(offset, offset + count);
      const startIndex = quirks.ignoreStartIndex ? 1 : asked;
      return send(200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: all.length, startIndex, itemsPerPage: page.length, Resources: page.map((u) => this.wire(u)) });
    }
    if (path === '/Users' && req.method === 'POST') {
      if ([...this.users.values()].some((u) => u.userName === body.userName)) return error(409, 'userName exists');
      const user = this.add(body.userName, body.active !== false);
      Object.assign(user, { name: body.name });
      return send(201, this.wire(user));
    }
    const userMatch = /^\/Users\/([^/]+)$/.exec(path);
    if (userMatch && req.method === 'GET' && quirks.noGetById) return send(404, {});
    if (userMatch) {
      const user = this.users.get(userMatch[1]!);
      if (!user) return error(404, 'no such user');
      if (req.method === 'GET') return send(200, this.wire(user));
      if (req.method === 'PUT') {
        if (quirks.checkExtensionSchemas) {
          const missing = Object.keys(body).filter((k) => k.startsWith('urn:') && !(body.schemas ?? []).includes(k));
          if (missing.length) return send(400, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidSyntax', detail: missing.map((k) => `Extended attributes namespace ${k} must be included in the schemas attribute`).join(', ') });
        }
        const { meta: _meta, ...rest } = body;
        Object.assign(user, rest, { active: body.active !== false && body.active !== 'False' });
        return send(200, this.wire(user));
      }
      if (req.method === 'PATCH') {
        if (this.options.patch === false) return error(501, 'PATCH not supported');
        for (const op of body.Operations ?? []) if (op.op === 'replace' && op.path === 'active') user.active = op.value !== false && op.value !== 'False';
        return send(200, this.wire(user));
      }
      if (req.method === 'DELETE') {
        this.users.delete(user.id);
        return send(204);
      }
    }
    const groupMatch = /^\/Groups\/([^/]+)$/.exec(path);
    if (groupMatch) {
      const group = this.groups.get(groupMatch[1]!);
      if (!group) return error(404, 'no such group');
      if (req.method === 'GET') return send(200, group);
      if (req.method === 'PATCH') {
        for (const op of body.Operations ?? []) {
          if (op.op === 'add') group.members.push(...op.value);
          const removal = /^members\[value eq "(.*)"\]$/.exec(op.path ?? '');
          if (op.op === 'remove' && removal) group.members = group.members.filter((m) => m.value !== removal[1]);
        }
        return send(200, group);
      }
    }
    error(404, `no route ${req.method} ${path}`);
  }
}
