import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';

export interface LedgerEvent {
  readonly kind: 'received' | 'applied';
  readonly operation: string;
  readonly email: string;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for an app whose API writes. It behaves like a
 * careful vendor: a write without an Idempotency-Key is refused, and a key seen before gets the
 * first answer again without doing the work twice. It counts requests and effects.
 */
export class LedgerServer {
  readonly users = new Map<string, { active: boolean; sessions: number }>();
  readonly effects = new Map<string, number>();
  readonly requests = new Map<string, number>();
  private readonly answers = new Map<string, { status: number; body: unknown }>();
  private server: Server | undefined;
  /** Called on each request before its effect, and after; the crash tests kill the engine here. */
  onEvent: (event: LedgerEvent) => void | Promise<void> = () => {};

  constructor(emails: readonly string[]) {
    for (const email of emails) this.users.set(email, { active: true, sessions: 3 });
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += chunk;
    const reply = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = new URL(req.url ?? '/', 'http://ledger');
    if (req.headers.authorization !== 'Bearer ledger-token') return reply(401, { error: 'unauthorized' });
    if (req.method === 'GET' && url.pathname.startsWith('/users/')) {
      const email = decodeURIComponent(url.pathname.slice(7));
      this.count(this.requests, `GET ${email}`);
      await this.onEvent({ kind: 'received', operation: 'getUser', email });
      const user = this.users.get(email);
      return user ? reply(200, { email, active: user.active }) : reply(404, { error: 'no such user' });
    }
    const match = /^\/ops\/(\w+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) return reply(404, { error: 'no such route' });
    const operation = match[1]!;
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || !key) return reply(400, { error: 'Idempotency-Key is required' });
    const { email } = JSON.parse(text) as { email: string };
    this.count(this.requests, key);
    await this.onEvent({ kind: 'received', operation, email });
    const seen = this.answers.get(key);
    if (seen) return reply(seen.status, seen.body);
    const answer = this.apply(operation, email);
    this.answers.set(key, answer);
    await this.onEvent({ kind: 'applied', operation, email });
    reply(answer.status, answer.body);
  }

  private apply(operation: string, email: string): { status: number; body: unknown } {
    const user = this.users.get(email);
    if (!user) return { status: 404, body: { error: 'no such user' } };
    this.count(this.effects, `${operation} ${email}`);
    if (operation === 'revokeSessions') user.sessions = 0;
    else if (operation === 'deactivateUser') {
      if (!user.active) return { status: 200, body: { result: 'alreadyDone' } };
      user.active = false;
    } else return { status: 400, body: { error: `unknown operation ${operation}` } };
    return { status: 200, body: { result: 'done' } };
  }

  private count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}
