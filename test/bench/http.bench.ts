/**
 * npm run bench:http — read 20,000 users, 100 a page, from a server on 127.0.0.1 that allows 20
 * requests a second and answers 429 beyond: the HTTP toolkit (throttled under the documented limit
 * and the headers) against a naive loop that only retries after a 429. Prints time against the
 * theoretical minimum (pages ÷ limit) and the 429s received.
 */
import os from 'node:os';
import { HttpClient } from '../../core/http/client.js';
import { cursorPagination, paginate } from '../../core/http/pagination.js';
import { RateLimitedDirectory } from '../support/rate-limited-server.js';

const users = Number(process.env.BENCH_USERS ?? 20_000);
const pageSize = 100;
const limit = 20;
const pages = Math.ceil(users / pageSize);
const minimum = pages / limit;

async function run(label: string, read: (url: string) => Promise<{ items: number; rateLimited: number }>): Promise<void> {
  const server = new RateLimitedDirectory(users, pageSize, limit);
  const url = await server.listen();
  // Start at the beginning of a second, so that both contenders meet the same windows.
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
  const started = process.hrtime.bigint();
  const { items, rateLimited } = await read(url);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await server.close();
  if (items !== users) throw new Error(`${label} read ${items} of ${users} users`);
  const over = ((seconds / minimum - 1) * 100).toFixed(1);
  console.log(`${label.padEnd(44)} ${seconds.toFixed(2).padStart(6)} s (${Number(over) >= 0 ? '+' : ''}${over}% vs ${minimum.toFixed(1)} s minimum), 429s: ${String(rateLimited).padStart(3)} (server counted ${server.rejected})`);
}

console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}`);
console.log(`reading ${users} users, ${pageSize} per page (${pages} pages), server limit ${limit} requests/s`);

await run('toolkit: documented limit + headers', async (url) => {
  const client = new HttpClient({ name: 'bench', baseUrl: url, limits: [{ requests: limit, perSeconds: 1 }], concurrency: 1 });
  let items = 0;
  for await (const _ of paginate(client, { path: '/users' }, cursorPagination({ itemsPath: 'data', cursorPath: 'next_cursor', cursorParam: 'after' }))) items++;
  return { items, rateLimited: client.rateLimited };
});

await run('naive loop: retry after each 429', async (url) => {
  let items = 0;
  let rateLimited = 0;
  let after: number | null = 0;
  while (after !== null) {
    const response = await fetch(`${url}/users?after=${after}`);
    if (response.status === 429) {
      rateLimited++;
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after') ?? 1) * 1000));
      continue;
    }
    const body = (await response.json()) as { data: unknown[]; next_cursor: number | null };
    items += body.data.length;
    after = body.next_cursor;
  }
  return { items, rateLimited };
});
