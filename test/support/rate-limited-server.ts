import { type Server, createServer } from 'node:http';

/**
 * A user directory on 127.0.0.1 that enforces a rate limit the way many vendors do: a fixed window
 * of `limit` requests per second, X-RateLimit-* headers on every answer, 429 with Retry-After (whole
 * seconds) beyond it. Users are listed with a cursor, `pageSize` per page.
 */
export class RateLimitedDirectory {
  rejected = 0;
  served = 0;
  private server: Server | undefined;
  private window = { start: 0, used: 0 };

  constructor(
    readonly users: number,
    readonly pageSize: number,
    readonly limit: number,
  ) {}

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const now = Date.now();
      const start = Math.floor(now / 1000) * 1000;
      if (start !== this.window.start) this.window = { start, used: 0 };
      const reset = String(Math.ceil((start + 1000) / 1000));
      if (this.window.used >= this.limit) {
        this.rejected++;
        res.writeHead(429, { 'retry-after': '1', 'x-ratelimit-limit': String(this.limit), 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }).end();
        return;
      }
      this.window.used++;
      this.served++;
      const after = Number(new URL(req.url ?? '/', 'http://d').searchParams.get('after') ?? 0);
      const data = Array.from({ length: Math.min(this.pageSize, this.users - after) }, (_, i) => ({ id: after + i + 1, email: `user${after + i + 1}@acme.com` }));
      const next = after + data.length < this.users ? after + data.length : null;
      res
        .writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-limit': String(this.limit), 'x-ratelimit-remaining': String(this.limit - this.window.used), 'x-ratelimit-reset': reset })
        .end(JSON.stringify({ data, next_cursor: next }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
