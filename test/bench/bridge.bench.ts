/**
 * npm run bench:bridge — the SCIM bridge (`/scim/v2/<app>/`) with 10,000 Users, beside a bare SCIM
 * server built on scimmy + scimmy-routers (Express 4, Users in memory) with the same 10,000, on the
 * same machine in the same run: `GET /Users?filter=userName eq …` and a PATCH of `title` (an
 * attribute no lifecycle run follows, so both sides do the same work: find, apply, store), with
 * autocannon (10 connections, 10 s each, against 127.0.0.1). Prints req/s, p50 and p99, and the ratio.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { createServices } from '../../core/container.js';
import { startServer } from '../../core/server/app.js';
import { ScimmyServer } from '../support/scimmy-server.js';

const users = Number(process.env.BENCH_USERS ?? 10_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-bridge-'));
const services = createServices();
const runtime = await services.openRuntime({ dataDir: dir });
const profile = services.profiles.load();
console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`);

const server = await startServer({ services, runtime, profile, port: 0, version: 'bench', tickMs: 3_600_000, scimRequestsPerMinute: 100_000_000 });
const { token } = (await server.access.createBridgeToken('6sense'));
const userName = (i: number) => `user${i}@acme.com`;
const bridgeIds: string[] = [];
await runtime.store.transaction(async () => {
  for (let i = 0; i < users; i++) {
    bridgeIds.push((await server.bridge.adopt('6sense', { userName: userName(i), name: { givenName: 'User', familyName: String(i) }, emails: [{ value: userName(i), type: 'work', primary: true }], active: true }, 'bench')).id);
  }
});
const scimmy = new ScimmyServer('bench-token');
const scimmyIds: string[] = [];
for (let i = 0; i < users; i++) scimmyIds.push(scimmy.add(userName(i), { name: { givenName: 'User', familyName: String(i) } }).id);
const scimmyBase = await scimmy.listen();
console.log(`store: ${users} Users in the bridge (SQLite) and in scimmy (memory)`);

type Result = { requests: { average: number; total: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number };
function report(label: string, result: Result): Result {
  console.log(`${label.padEnd(58)} ${String(Math.round(result.requests.average)).padStart(6)} req/s  p50 ${String(result.latency.p50).padStart(4)} ms  p99 ${String(result.latency.p99).padStart(4)} ms  (${result.requests.total} requests, ${result.non2xx + result.errors} not 2xx)`);
  return result;
}

const load = (base: string, auth: string, make: (n: number) => { method: string; path: string; body?: string }) => {
  let n = 0;
  const url = new URL(base);
  return autocannon({
    url: url.origin,
    connections: 10,
    duration: seconds,
    headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/scim+json' },
    requests: [{ setupRequest: (req: Record<string, unknown>) => ({ ...req, ...make(n++) }) }],
  }) as Promise<Result>;
};
const filterPath = (prefix: string) => (n: number) => ({ method: 'GET', path: `${prefix}/Users?filter=${encodeURIComponent(`userName eq "${userName((n * 7919) % users)}"`)}` });
const patchPath = (prefix: string, ids: string[]) => (n: number) => ({
  method: 'PATCH',
  path: `${prefix}/Users/${ids[(n * 7919) % users]}`,
  body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: `title ${n}` }] }),
});

const bridgeGet = await report('bridge  GET /Users?filter=userName eq …', await load(server.url, token, filterPath('/scim/v2/6sense')));
const scimmyGet = await report('scimmy  GET /Users?filter=userName eq …', await load(scimmyBase, 'bench-token', filterPath('/scim/v2')));
const bridgePatch = await report('bridge  PATCH /Users/:id (title)', await load(server.url, token, patchPath('/scim/v2/6sense', bridgeIds)));
const scimmyPatch = await report('scimmy  PATCH /Users/:id (title)', await load(scimmyBase, 'bench-token', patchPath('/scim/v2', scimmyIds)));
console.log(`ratio bridge/scimmy: filter GET ${(bridgeGet.requests.average / scimmyGet.requests.average).toFixed(2)}x req/s, PATCH ${(bridgePatch.requests.average / scimmyPatch.requests.average).toFixed(2)}x req/s`);

await server.close();
await scimmy.close();
await runtime.close();
