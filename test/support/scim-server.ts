import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';

interface User {
  id: string;
  userName: string;
  active: boolean;
  name?: { givenName?: string; familyName?: string };
  emails?: { value: string; primary?: boolean }[];
}

export interface ScimServerOptions {
  readonly patch?: boolean;
  readonly filter?: boolean;
  readonly maxResults?: number;
  readonly token?: string;
  /** Answer 429 (with Retry-After) to these request numbers, counted from 1. */
  readonly rateLimitOn?: readonly number[];
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

  add(userName: string, active = true): User {
    const user = { id: `u-${this.next++}`, userName, active, emails: [{ value: userName, primary: true }] };
    this.users.set(user.id, user);
    return user;
  }

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
    if (req.headers.authorization !== `Bearer ${this.options.token ?? 'scim-token'}`) return error(401, 'bad token');
    if (this.options.rateLimitOn?.includes(this.count)) return send(429, undefined, { 'retry-after': '1' });
    if (this.throttleNext !== undefined) {
      const seconds = this.throttleNext;
      this.throttleNext = undefined;
      return send(429, undefined, { 'retry-after': String(seconds) });
    }
    const body = text ? (JSON.parse(text) as Record<string, any>) : {};
    if (path === '/ServiceProviderConfig') {
      return send(200, {
        patch: { supported: this.options.patch ?? true },
        filter: { supported: this.options.filter ?? true, maxResults: this.options.maxResults ?? 200 },
        bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
        authenticationSchemes: [{ type: 'oauthbearertoken', name: 'OAuth Bearer Token' }],
      });
    }
    if (path === '/Users' && req.method === 'GET') {
      let all = [...this.users.values()];
      const filter = url.searchParams.get('filter');
      if (filter) {
        if (this.options.filter === false) return error(400, 'filter not supported');
        const match = /^userName eq "(.*)"$/.exec(filter);
        if (!match) return error(400, `unsupported filter ${filter}`);
        all = all.filter((u) => u.userName.toLowerCase() === match[1]!.toLowerCase());
      }
      const start = Math.max(1, Number(url.searchParams.get('startIndex') ?? 1));
      const count = Math.min(this.options.maxResults ?? 200, Number(url.searchParams.get('count') ?? 100));
      const page = all.slice(start - 1, start - 1 + count);
      return send(200, { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: all.length, startIndex: start, itemsPerPage: page.length, Resources: page });
    }
    if (path === '/Users' && req.method === 'POST') {
      if ([...this.users.values()].some((u) => u.userName === body.userName)) return error(409, 'userName exists');
      const user = this.add(body.userName, body.active !== false);
      Object.assign(user, { name: body.name });
      return send(201, user);
    }
    const userMatch = /^\/Users\/([^/]+)$/.exec(path);
    if (userMatch) {
      const user = this.users.get(userMatch[1]!);
      if (!user) return error(404, 'no such user');
      if (req.method === 'GET') return send(200, user);
      if (req.method === 'PUT') {
        Object.assign(user, { userName: body.userName ?? user.userName, active: body.active !== false, name: body.name });
        return send(200, user);
      }
      if (req.method === 'PATCH') {
        if (this.options.patch === false) return error(501, 'PATCH not supported');
        for (const op of body.Operations ?? []) if (op.op === 'replace' && op.path === 'active') user.active = op.value !== false && op.value !== 'False';
        return send(200, user);
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
