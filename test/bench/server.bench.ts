/**
 * npm run bench:server — the task list and task completion endpoints of `patchbay serve` under a
 * local load (autocannon, 10 connections, against 127.0.0.1) with BENCH_TASKS open tasks in the store
 * (default 10,000). Prints the machine and the load average beside every figure, and, in the same run:
 *
 * - the task list of one queue and of every queue beside their ceiling: bare fastify on 127.0.0.1 sending
 *   the same bytes under the same load (issue 17: ≥ 0.8 of the ceiling's req/s, p99 ≤ 1.5× the ceiling's);
 * - the in-process CPU of one page: as views (each task's JSON parsed, the page stringified, as before issue
 *   17 part 3) against the list's entries (stored JSON answered as kept, fast-json-stringify for the rest),
 *   and the whole route through fastify's inject against the bare route;
 * - where one list request's CPU goes, through inject: a public route, the token's check, the list's fixed part
 *   (one task) and its tasks (fifty);
 * - BENCH_COMPLETIONS completions (default 2,000), each a different task, with req/s and p99.
 *
 * BENCH_PROFILE=<dir> writes a V8 CPU profile of the list's load phase there (the same profiler as
 * node --cpu-prof) and prints the functions with the most self time.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import inspector from 'node:inspector/promises';
import Fastify from 'fastify';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { createServices } from '../../core/container.js';
import { startServer } from '../../core/server/app.js';
import { pageOfTaskRows, taskListBody } from '../../core/server/listing.js';

const openTasks = Number(process.env.BENCH_TASKS ?? 10_000);
const completions = Number(process.env.BENCH_COMPLETIONS ?? 2_000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const profileDir = process.env.BENCH_PROFILE;
const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-server-'));
const services = createServices();
const runtime = await services.openRuntime({ dataDir: dir });
const profile = services.profiles.load();
const load = () => `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${load()}`);

// One offboarding per person (not one batch), so that each opens its own Okta task in it-ops.
const started = Date.now();
for (let i = 0; i < openTasks; i++) {
  await runtime.runs.start([{ source: 'bench', request: { playbook: 'offboard', app: 'spendesk', subject: { email: `leaver${i}@acme.com` } } }], profile);
}
const tasks = await runtime.tasks.list({ status: 'open', queue: 'it-ops', limit: 1_000_000 });
console.log(`store: ${tasks.length} open tasks in it-ops (made in ${((Date.now() - started) / 1000).toFixed(1)} s), ${load()}`);

const server = await startServer({ services, runtime, profile, port: 0, version: 'bench', tickMs: 3_600_000 });
const { token } = await server.access.createToken({ name: 'bench', actor: 'it.oncall@acme.example', role: 'operator' });
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

interface Result {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
function report(label: string, result: Result): void {
  const errors = result.non2xx + result.errors;
  console.log(
    `${label.padEnd(56)} ${String(Math.round(result.requests.average)).padStart(6)} req/s  p50 ${String(result.latency.p50).padStart(4)} ms  p99 ${String(result.latency.p99).padStart(4)} ms  (${result.requests.total} requests, ${errors} not 2xx), ${load()}`,
  );
}

/** CPU (user + system) per call of `fn`, in ms, after a warm-up. */
async function cpuPer(fn: () => Promise<unknown>, rounds = 300): Promise<number> {
  for (let i = 0; i < 30; i++) await fn();
  const cpu = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await fn();
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / rounds;
}

// In-process, one page of 50 of it-ops: as views (parse every task's JSON, stringify the page) against the list's entries.
const fjs = createRequire(import.meta.url)('fast-json-stringify') as (schema: object) => (value: unknown) => string;
const compiled = new Map<object, (value: unknown) => string>();
const compile = (schema: object) => compiled.get(schema) ?? compiled.set(schema, fjs(schema)).get(schema)!;
const listArgs = { status: 'open', queue: 'it-ops', queues: null, actor: 'it.oncall@acme.example', limit: 50 };
const asViews = await cpuPer(async () => JSON.stringify(await runtime.tasks.getMany((await pageOfTaskRows(runtime.store.db, runtime.store.dialect, listArgs)).items.map((r) => r.id))));
const asEntries = await cpuPer(async () => taskListBody(compile, await runtime.tasks.listEntries((await pageOfTaskRows(runtime.store.db, runtime.store.dialect, listArgs)).items)));
console.log(`one page of 50 read and serialised in-process, CPU: as views ${asViews.toFixed(2)} ms, as the list's entries ${asEntries.toFixed(2)} ms (${(asViews / asEntries).toFixed(2)}×), ${load()}`);

// What one list request is made of, through inject (in-process CPU per request): the framework and a public route,
// plus the API token's check, plus the list's own fixed part (one task), plus its tasks (fifty).
const parts = [
  ['GET /healthz (no token)', '/healthz'],
  ['GET /api/v1/token (the token checked)', '/api/v1/token'],
  ['GET /api/v1/tasks?queue=it-ops&limit=1', '/api/v1/tasks?queue=it-ops&limit=1'],
  ['GET /api/v1/tasks?queue=it-ops&limit=50', '/api/v1/tasks?queue=it-ops&limit=50'],
] as const;
const costs = [] as number[];
for (const [, url] of parts) costs.push(await cpuPer(() => server.app.inject({ method: 'GET', url, headers }), 300));
console.log(`where a list request's CPU goes (inject, ms per request), ${load()}:`);
parts.forEach(([label], i) => console.log(`  ${label.padEnd(44)} ${costs[i]!.toFixed(2)} ms${i ? ` (+${(costs[i]! - costs[i - 1]!).toFixed(2)})` : ''}`));
console.log(`  per task of the page: ${((costs[3]! - costs[2]!) / 49 * 1000).toFixed(0)} µs`);

const lists = [
  { label: 'GET /api/v1/tasks?queue=it-ops&limit=50', path: '/api/v1/tasks?queue=it-ops&limit=50' },
  { label: 'GET /api/v1/tasks?limit=50 (every queue the token sees)', path: '/api/v1/tasks?limit=50' },
];
for (const list of lists) {
  const bytes = Buffer.from(await (await fetch(`${server.url}${list.path}`, { headers })).arrayBuffer());
  const bare = Fastify();
  bare.get('/', async (_req, reply) => reply.type('application/json; charset=utf-8').send(bytes));
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
  const route = await cpuPer(() => server.app.inject({ method: 'GET', url: list.path, headers }), 200);
  const bareRoute = await cpuPer(() => bare.inject({ method: 'GET', url: '/' }), 200);
  console.log(`${list.label}: in-process CPU per request through inject ${route.toFixed(2)} ms, the bare route ${bareRoute.toFixed(2)} ms`);
  const ceiling = (await autocannon({ url: bareUrl, connections: 10, duration: seconds })) as Result;
  report(`ceiling: bare fastify sending the same ${Math.round(bytes.length / 1024)} KB`, ceiling);
  await bare.close();
  const profiling = profileDir && list === lists[0] ? new inspector.Session() : undefined;
  if (profiling) {
    profiling.connect();
    await profiling.post('Profiler.enable');
    await profiling.post('Profiler.start');
  }
  const result = (await autocannon({ url: `${server.url}${list.path}`, connections: 10, duration: seconds, headers })) as Result;
  if (profiling) await writeProfile(profiling, profileDir!);
  report(list.label, result);
  console.log(`  against its ceiling: req/s ${(result.requests.average / ceiling.requests.average).toFixed(2)} (issue: ≥ 0.8), p99 ${(result.latency.p99 / ceiling.latency.p99).toFixed(2)}× (issue: ≤ 1.5)`);
}

let next = 0;
const body = JSON.stringify({ action: 'complete', evidence: [{ text: 'removed from Okta assignments' }] });
report(
  `POST /api/v1/tasks/:id/actions (complete ${completions})`,
  (await autocannon({
    url: server.url,
    connections: 10,
    amount: completions,
    requests: [{ method: 'POST', headers, body, setupRequest: (req: Record<string, unknown>) => ({ ...req, path: `/api/v1/tasks/${tasks[next++ % tasks.length]!.id}/actions` }) }],
  })) as Result,
);
const completed = (await runtime.tasks.list({ status: 'completed', limit: 1_000_000 })).length;
console.log(`store: ${completed} tasks completed (each once; the runs move on in the background)`);
await server.close();
await runtime.close();
rmSync(dir, { recursive: true, force: true });

/** Stops the profiler, writes the profile, and prints the 15 functions with the most self time (share of samples). */
async function writeProfile(session: inspector.Session, into: string): Promise<void> {
  const { profile: cpu } = await session.post('Profiler.stop');
  session.disconnect();
  mkdirSync(into, { recursive: true });
  const file = path.join(into, `server-list-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(cpu));
  const self = new Map<number, number>();
  for (const id of cpu.samples ?? []) self.set(id, (self.get(id) ?? 0) + 1);
  const byFunction = new Map<string, number>();
  for (const node of cpu.nodes) {
    const f = node.callFrame;
    const where = f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + (self.get(node.id) ?? 0));
  }
  const total = cpu.samples?.length ?? 1;
  console.log(`  CPU profile of the list's load phase: ${file} (${total} samples); most self time:`);
  for (const [key, n] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`    ${((100 * n) / total).toFixed(1).padStart(5)} %  ${key}`);
}
