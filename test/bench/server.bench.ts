/**
 * npm run bench:server — the task list and task completion endpoints of `patchbay serve` under a
 * local load (autocannon, 10 connections, against 127.0.0.1) with 10,000 open tasks in the store.
 * Prints requests per second and latency percentiles, and the machine. Beside the task list, in the same
 * run: its ceiling (bare fastify on 127.0.0.1 sending the same bytes, same load), and the in-process cost
 * of building one page of 50 (one task at a time, as before issue 17, against the page read at once).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import Fastify from 'fastify';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { createServices } from '../../core/container.js';
import { startServer } from '../../core/server/app.js';

const openTasks = Number(process.env.BENCH_TASKS ?? 10_000);
const completions = Number(process.env.BENCH_COMPLETIONS ?? 2_000);
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
console.log(`store: ${tasks.length} open tasks in it-ops (made in ${((Date.now() - started) / 1000).toFixed(1)} s)`);

const server = await startServer({ services, runtime, profile, port: 0, version: 'bench', tickMs: 3_600_000 });
const { token } = (await server.access.createToken({ name: 'bench', actor: 'it.oncall@acme.example', role: 'operator' }));
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

function report(label: string, result: any): void {
  const errors = result.non2xx + result.errors;
  console.log(
    `${label.padEnd(52)} ${String(Math.round(result.requests.average)).padStart(6)} req/s  p50 ${String(result.latency.p50).padStart(4)} ms  p99 ${String(result.latency.p99).padStart(4)} ms  (${result.requests.total} requests, ${errors} not 2xx)`,
  );
}

// In-process: one page of 50 built as the route did before (a query per task for its items) and as it does now.
const page = tasks.slice(0, 50).map((t) => t.id);
const perList = (build: () => unknown) => {
  for (let i = 0; i < 50; i++) JSON.stringify(build());
  const cpu = process.cpuUsage();
  const rounds = 500;
  for (let i = 0; i < rounds; i++) JSON.stringify(build());
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / rounds;
};
const oneByOne = perList(() => page.map((id) => runtime.tasks.get(id)));
const atOnce = perList(() => runtime.tasks.getMany(page));
console.log(`one page of 50 tasks built and serialised in-process, CPU per page: one task at a time ${oneByOne.toFixed(2)} ms, the page at once ${atOnce.toFixed(2)} ms (${(oneByOne / atOnce).toFixed(2)}×), ${load()}`);

const listUrl = `${server.url}/api/v1/tasks?queue=it-ops&limit=50`;
const bytes = Buffer.from(await (await fetch(listUrl, { headers })).arrayBuffer());
const bare = Fastify();
bare.get('/', async (_req, reply) => reply.type('application/json; charset=utf-8').send(bytes));
const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
const ceiling = await autocannon({ url: bareUrl, connections: 10, duration: 10 });
await report(`ceiling: bare fastify sending the same ${Math.round(bytes.length / 1024)} KB`, ceiling);
await bare.close();
const list = await autocannon({ url: listUrl, connections: 10, duration: 10, headers });
await report('GET /api/v1/tasks?queue=it-ops&limit=50', list);
console.log(`task list against its ceiling: req/s ${(list.requests.average / ceiling.requests.average).toFixed(2)} (issue: ≥ 0.8), p99 ${(list.latency.p99 / ceiling.latency.p99).toFixed(2)}× (issue: ≤ 1.5), ${load()}`);

let next = 0;
const body = JSON.stringify({ action: 'complete', evidence: [{ text: 'removed from Okta assignments' }] });
await report(
  `POST /api/v1/tasks/:id/actions (complete ${completions})`,
  await autocannon({
    url: server.url,
    connections: 10,
    amount: completions,
    requests: [{ method: 'POST', headers, body, setupRequest: (req: any) => ({ ...req, path: `/api/v1/tasks/${tasks[next++ % tasks.length]!.id}/actions` }) }],
  }),
);
const completed = (await runtime.tasks.list({ status: 'completed', limit: 1_000_000 })).length;
console.log(`store: ${completed} tasks completed (each once; the runs move on in the background)`);
await server.close();
await runtime.close();
rmSync(dir, { recursive: true, force: true });
