import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { VendorStandIn } from '../../core/conformance/module-kit.js';

/** A vendor stand-in for the conformance kit: core/conformance/module-kit.ts says what it must do. */
export type VendorDouble = VendorStandIn;

/** The common half of a vendor double: a real server on 127.0.0.1 that can answer the next request with the vendor's 429. */
export abstract class Double implements VendorDouble {
  url = '';
  protected throttleNext: number | undefined;
  private server: Server | undefined;

  rateLimitNext(seconds: number): void {
    this.throttleNext = seconds;
  }

  /** Requests the next 429 passes over (a token endpoint that is throttled apart from the API). */
  protected exempt(_url: URL): boolean {
    return false;
  }

  abstract seed(emails: readonly string[]): void;
  abstract isActive(email: string): boolean | undefined;
  protected abstract route(req: IncomingMessage, body: string, res: ServerResponse, url: URL): void;
  protected abstract throttle(res: ServerResponse, seconds: number): void;

  async listen(): Promise<this> {
    this.server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      if (this.throttleNext !== undefined && !this.exempt(new URL(req.url ?? '/', this.url))) {
        const seconds = this.throttleNext;
        this.throttleNext = undefined;
        return this.throttle(res, seconds);
      }
      this.route(req, body, res, new URL(req.url ?? '/', this.url));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export const send = (res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}) =>
  void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body === undefined ? '' : JSON.stringify(body));

/** Okta's Management API shapes (users, lifecycle, app users), Link-header paging, X-Rate-Limit-* on 429. */
export class OktaDouble extends Double {
  readonly users = new Map<string, { id: string; status: string; profile: { login: string; email: string } }>();
  /** App assignments as `<appId>/<email>`. */
  readonly assignments = new Set<string>();

  assign(appId: string, emails: readonly string[]): void {
    for (const email of emails) this.assignments.add(`${appId}/${email}`);
  }

  /** The System Log, oldest first. */
  readonly events: { uuid: string; published: string; eventType: string; target: { id: string; type: string; alternateId?: string }[] }[] = [];

  /** Takes the app away from the person, as an admin would, with its System Log event. */
  unassign(appId: string, email: string, at = new Date().toISOString()): string {
    this.assignments.delete(`${appId}/${email}`);
    const uuid = `ev-${this.events.length + 1}`;
    const user = this.users.get(email);
    this.events.push({ uuid, published: at, eventType: 'application.user_membership.remove', target: [{ id: appId, type: 'AppInstance' }, { id: user?.id ?? `00uX${this.events.length}`, type: 'User', alternateId: email }] });
    return uuid;
  }

  seed(emails: readonly string[]): void {
    for (const email of emails) this.users.set(email, { id: `00u${this.users.size + 1}`, status: 'ACTIVE', profile: { login: email, email } });
  }

  /** An admin deactivates (or suspends, or deletes) the person in Okta, with its System Log event. */
  lifecycle(email: string, eventType: 'user.lifecycle.deactivate' | 'user.lifecycle.suspend' | 'user.lifecycle.delete.initiated', at = new Date().toISOString()): string {
    const user = this.users.get(email);
    if (user) user.status = eventType === 'user.lifecycle.suspend' ? 'SUSPENDED' : 'DEPROVISIONED';
    const uuid = `ev-${this.events.length + 1}`;
    this.events.push({ uuid, published: at, eventType, target: [{ id: user?.id ?? `00uX${this.events.length}`, type: 'User', alternateId: email }] });
    return uuid;
  }

  isActive(email: string): boolean | undefined {
    const user = this.users.get(email);
    return user && user.status !== 'DEPROVISIONED';
  }

  protected throttle(res: ServerResponse, seconds: number): void {
    send(res, 429, { errorCode: 'E0000047' }, { 'x-rate-limit-limit': '600', 'x-rate-limit-remaining': '0', 'x-rate-limit-reset': String(Math.floor(Date.now() / 1000) + seconds) });
  }

  protected route(req: IncomingMessage, _body: string, res: ServerResponse, url: URL): void {
    if (!req.headers.authorization?.startsWith('SSWS ')) return send(res, 401, { errorCode: 'E0000011' });
    const all = [...this.users.values()];
    if (url.pathname === '/api/v1/users' && req.method === 'GET') {
      const limit = Number(url.searchParams.get('limit') ?? 200);
      const after = url.searchParams.get('after');
      const start = after ? all.findIndex((u) => u.id === after) + 1 : 0;
      const page = all.slice(start, start + limit);
      const next = start + limit < all.length ? { link: `<${this.url}/api/v1/users?after=${page.at(-1)!.id}&limit=${limit}>; rel="next"` } : {};
      return send(res, 200, page, next as Record<string, string>);
    }
    if (url.pathname === '/api/v1/logs' && req.method === 'GET') {
      // Only the filters Patchbay sends: an event type and a target id; `since` inclusive, as Okta's.
      const filter = url.searchParams.get('filter') ?? '';
      // Several event types joined by `or` are any of them.
      const types = [...filter.matchAll(/eventType eq "([^"]+)"/g)].map((m) => m[1]!);
      const target = /target\.id eq "([^"]+)"/.exec(filter)?.[1];
      const since = Date.parse(url.searchParams.get('since') ?? '1970-01-01T00:00:00Z');
      return send(res, 200, this.events.filter((e) => (!types.length || types.includes(e.eventType)) && (!target || e.target.some((t) => t.id === target)) && Date.parse(e.published) >= since));
    }
    const app = /^\/api\/v1\/apps\/([^/]+)\/users$/.exec(url.pathname);
    if (app && req.method === 'GET') {
      const assigned = [...this.assignments].filter((a) => a.startsWith(`${app[1]}/`)).map((a) => a.slice(app[1]!.length + 1));
      return send(res, 200, assigned.map((email, i) => ({ id: this.users.get(email)?.id ?? `00uA${i}`, status: 'ACTIVE', credentials: { userName: email } })));
    }
    const user = /^\/api\/v1\/users\/([^/]+)$/.exec(url.pathname);
    if (user && req.method === 'GET') {
      const found = this.users.get(decodeURIComponent(user[1]!)) ?? all.find((u) => u.id === user[1]);
      return found ? send(res, 200, found) : send(res, 404, { errorCode: 'E0000007' });
    }
    const deactivate = /^\/api\/v1\/users\/([^/]+)\/lifecycle\/deactivate$/.exec(url.pathname);
    if (deactivate && req.method === 'POST') {
      const found = all.find((u) => u.id === deactivate[1]);
      if (!found) return send(res, 404, { errorCode: 'E0000007' });
      found.status = 'DEPROVISIONED';
      return send(res, 200, {});
    }
    send(res, 404, { errorCode: 'E0000022', errorSummary: `no route ${req.method} ${url.pathname}` });
  }
}

/** Spendesk's token exchange and members list, lower-case x-ratelimit-* on 429. */
export class SpendeskDouble extends Double {
  readonly members = new Map<string, { id: string; email: string; status: string }>();

  seed(emails: readonly string[]): void {
    for (const email of emails) this.members.set(email, { id: `m${this.members.size + 1}`, email, status: 'active' });
  }

  isActive(email: string): boolean | undefined {
    return this.members.has(email) || undefined;
  }

  protected throttle(res: ServerResponse, seconds: number): void {
    send(res, 429, {}, { 'x-ratelimit-limit': '50', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(seconds) });
  }

  protected route(req: IncomingMessage, _body: string, res: ServerResponse, url: URL): void {
    if (url.pathname === '/auth/token' && req.method === 'POST') return send(res, 200, { access_token: 'tok', expires_in: 3600 });
    if (req.headers.authorization !== 'Bearer tok') return send(res, 401, {});
    if (url.pathname === '/users') return send(res, 200, { data: [...this.members.values()] });
    send(res, 404, {});
  }
}
