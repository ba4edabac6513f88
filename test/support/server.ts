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
  private cookie = '';
  constructor(private readonly base: string) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<{ status: number; body: string; location: string | null }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...(this.cookie ? { cookie: this.cookie } : {}), ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const set = response.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0]!;
    return { status: response.status, body: await response.text(), location: response.headers.get('location') };
  }

  async signIn(email: string, password: string): Promise<void> {
    const answer = await this.request('POST', '/login', { email, password, next: '/inbox' });
    if (answer.status !== 302) throw new Error(`sign-in refused: ${answer.status}`);
  }

  /** The first form token on a page. */
  static token(html: string): string {
    return /name="_token" value="([^"]+)"/.exec(html)![1]!;
  }
}
