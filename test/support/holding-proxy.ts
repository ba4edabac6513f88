import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A pass-through to a console simulator that can hold one kind of request; see holdingProxy. */
export interface HoldingProxy {
  /** The proxy's address: give it to the tenant (consoleUrl) or the recipe instead of the console's. */
  readonly url: string;
  /** Whether a held request has arrived (it waits until release()). */
  held(): boolean;
  /** Lets every held request, and every later one, through to the console. */
  release(): void;
  /** Lets held requests through and stops listening. */
  close(): Promise<void>;
}

/**
 * A pass-through on 127.0.0.1 to `target` that holds the requests `holds` picks (by default the
 * confirmed removal, POST …/remove) until the test calls release(): the step that sent one is then in
 * flight at the console for as long as the test chooses. Everything else passes at once.
 */
export async function holdingProxy(target: string, holds: (req: http.IncomingMessage) => boolean = (req) => req.method === 'POST' && /\/remove$/.test(req.url ?? '')): Promise<HoldingProxy> {
  const upstream = new URL(target);
  let holding = false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (holds(req)) {
        holding = true;
        await released;
      }
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => holding,
    release,
    close: () => {
      release();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
