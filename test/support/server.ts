import http from 'node:http';
import { type PatchbayServer, startServer } from '../../core/server/app.js';
import type { Harness } from './runtime.js';

/** The server on 127.0.0.1 and a free port, on a harness's store, closed after the test. */
export async function serverFor(h: Harness): Promise<PatchbayServer> {
  const server = await startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, version: 'test', tickMs: 60_000, eventStreamMs: 2000 });
  after(() => server.close());
  return server;
}

/** A cookie-keeping client for the pages, as a browser without JavaScript would post forms. */
export class FormClient {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<{ status: number; body: string; location: string | null; headers: Headers }> {
    const cookie = this.cookieHeader();
    const response = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    for (const set of response.headers.getSetCookie()) {
      const [pair, ...attributes] = set.split(';');
      const [name, value = ''] = pair!.split('=');
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value);
    }
    return { status: response.status, body: await response.text(), location: response.headers.get('location'), headers: response.headers };
  }

  /** The Cookie header this client sends (to replay its session from another client). */
  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Signs in as a browser would: the sign-in page first (its form token and pre-session cookie), then the post. */
  async signIn(email: string, password: string): Promise<void> {
    const answer = await this.signInAttempt(email, password);
    if (answer.status !== 302) throw new Error(`sign-in refused: ${answer.status}`);
  }

  /** One sign-in attempt with a fresh form from the sign-in page; returns the answer to the post. */
  async signInAttempt(email: string, password: string, next = '/inbox') {
    const page = await this.request('GET', `/login?next=${encodeURIComponent(next)}`);
    return this.request('POST', '/login', { _token: FormClient.token(page.body, '/login'), email, password, next });
  }

  /** The form token of the form posting to `action` on a page (the first form's without an action). */
  static token(html: string, action?: string): string {
    const forms = [...html.matchAll(/<form method="post" action="([^"]+)"[^>]*><input type="hidden" name="_token" value="([^"]*)"/g)];
    const form = action ? forms.find((f) => f[1] === action) : forms[0];
    if (!form) throw new Error(`no form${action ? ` posting to ${action}` : ''} on the page`);
    return form[2]!;
  }
}

/**
 * One request sent as written (no URL normalisation, unlike fetch), on its own connection: for odd
 * spellings of paths. A request line Node's HTTP parser refuses answers 400 and closes; when the
 * parser refuses so early that no answer can be read (a HEAD), this resolves with status 400 and `refusedByParser`.
 */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; refusedByParser?: true }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, agent: false, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'HPE_INVALID_CONSTANT' || error.code === 'ECONNRESET') resolve({ status: 400, headers: {}, body: '', refusedByParser: true });
      else reject(error);
    });
    req.end(body);
  });
}
