import { type PatchbayServer, startServer } from '../../core/server/app.js';
import type { Harness } from './runtime.js';

/** The server on 127.0.0.1 and a free port, on a harness's store, closed after the test. */
export async function serverFor(h: Harness): Promise<PatchbayServer> {
  const server = await startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, version: 'test', tickMs: 60_000 });
  after(() => server.close());
  return server;
}

/** A cookie-keeping client for the pages, as a browser without JavaScript would post forms. */
export class FormClient {
  private readonly cookies = new Map<string, string>();
  constructor(private readonly base: string) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<{ status: number; body: string; location: string | null; headers: Headers }> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
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
