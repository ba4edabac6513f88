/**
 * npm run bench:engine [-- --database postgres://…]: runs started per second (validate + plan +
 * persist + open the first task) for 10,000 Spendesk offboardings, one request at a time and as one
 * batch, and task completions per second, on the embedded store (WAL, synchronous=FULL) in a
 * temporary folder. Then:
 * - the same single starts and completions beside a backlog of 0, 10,000 and 100,000 other open
 *   tasks, each with its waiting run and a timer (BENCH_BACKLOGS, comma-separated): flat, or it grows;
 * - single starts through the real server (`POST /api/v1/runs`, BENCH_CALLERS connections at once,
 *   default 16) with group commit and with one commit per request (BENCH_SERVER_RUNS each);
 * - with --database (or BENCH_DATABASE): the same-shaped run (step, step, wait for a signal, step) on
 *   the embedded engine over SQLite, over PostgreSQL with 1, 2 and 4 worker processes
 *   (BENCH_WORKERS), and as a bare DBOS workflow (test/bench/dbos.bench.ts, run as a child).
 * BENCH_ONLY (comma-separated words of the labels) picks sections. The same file is the worker (BENCH_ROLE=worker).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-expect-error autocannon ships no types
import autocannon from 'autocannon';
import { createServices } from '../../core/container.js';
import { SystemClock } from '../../core/engine/clock.js';
import { EmbeddedRunEngine } from '../../core/engine/embedded-engine.js';
import { startServer } from '../../core/server/app.js';
import { GroupCommit } from '../../core/store/group-commit.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { offboarding, offboardingShape } from '../engine/dbos-support.js';
import { freshDatabase } from '../support/postgres.js';

if (process.env.BENCH_ROLE === 'worker') {
  await worker();
  process.exit(0);
}

const count = Number(process.env.BENCH_RUNS ?? 10_000);
const services = createServices();
const profile = services.profiles.load();
const request = (i: number) => ({ source: `request ${i}`, request: { playbook: 'offboard', app: 'spendesk', subject: { email: `leaver${i}@acme.com` } } });

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}
const load = () => `load ${os.loadavg()[0]!.toFixed(1)}`;

type Runtime = Awaited<ReturnType<typeof services.openRuntime>>;
const cpuPerOp = new Map<string, number>();

/** Times `fn` (not `setup`) on a fresh store and prints the rate. */
async function measure(label: string, fn: (runtime: Runtime) => Promise<number>, setup: (runtime: Runtime) => Promise<void> = async () => {}): Promise<number> {
  if (only && !only.some((o) => label.includes(o))) return 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-'));
  const runtime = await services.openRuntime({ dataDir: dir });
  try {
    await setup(runtime);
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const n = await fn(runtime);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    const rate = n / seconds;
    // CPU time per operation (user + system, this process) is steadier than the rate on a shared machine.
    const cpuMs = (used.user + used.system) / 1000 / n;
    console.log(`${label.padEnd(58)} ${String(n).padStart(6)} in ${seconds.toFixed(2).padStart(6)} s = ${rate.toFixed(0).padStart(6)}/s, CPU ${cpuMs.toFixed(3)} ms each (load ${os.loadavg()[0]!.toFixed(1)})`);
    cpuPerOp.set(label, cpuMs);
    return rate;
  } finally {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const only = process.env.BENCH_ONLY?.split(',');
console.log(`machine: ${machine()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`store: SQLite ${'WAL, synchronous=FULL'} in ${os.tmpdir()}`);

await measure('runs started, one request per call (a commit each)', async (rt) => {
  for (let i = 0; i < count; i++) await rt.runs.start([request(i)], profile);
  return count;
});

await measure('runs started, one batch of requests (500 per commit)', async (rt) => {
  await rt.runs.start(Array.from({ length: count }, (_, i) => request(i)), profile);
  return count;
});

await measure(
  'task completions, one per call (its run resumes, the next task opens)',
  async (rt) => {
    const tasks = await rt.tasks.list();
    // The owner-role transfers, one task per person, in the finance queue.
    for (const task of tasks) await rt.runs.completeTask(task.id, { by: 'finance.admin@acme.example', evidence: [{ text: 'held no owner role' }] });
    return tasks.length;
  },
  async (rt) => {
    await rt.runs.start(Array.from({ length: count }, (_, i) => request(i)), profile, {});
    // One task per person, as when requests arrive one by one.
    const [batched] = await rt.tasks.list();
    if (batched && batched.items.length > 1) {
      await rt.runs.completeTask(batched.id, { by: 'it.oncall@acme.example', evidence: [{ text: 'unassigned' }] });
    }
  },
);

/**
 * A backlog of `n` other open tasks, due in 30 days (so none escalates), in a queue of their own, each
 * with its waiting run whose timer is due in 30 days too: the rows the escalation and timer queries
 * used to walk and sort on every start and completion. Inserted directly, in one commit, because
 * 100,000 real offboardings take minutes to set up; their content is never read here.
 */
function backlog(rt: Runtime, n: number): void {
  const due = Date.now() + 30 * 24 * 3_600_000;
  const task = rt.db.prepare(
    "INSERT INTO tasks (id, tenant, app, runbook, title, queue, status, content, due_at, created_at) VALUES (?, 'acme', 'spendesk', 'remove-member', 'backlog', 'backlog', 'open', '{}', ?, ?)",
  );
  const run = rt.db.prepare(
    "INSERT INTO runs (id, idempotency_key, open_key, tenant, playbook, app, subject, request, plan, profile, status, waiting_for, wake_at, created_at, updated_at) VALUES (?, ?, ?, 'acme', 'offboard', 'spendesk', ?, '{}', '{}', '{}', 'waiting', ?, ?, ?, ?)",
  );
  const item = rt.db.prepare("INSERT INTO task_items (task_id, run_id, step_id, email, status) VALUES (?, ?, 'backlog', ?, 'open')");
  rt.db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const id = String(i).padStart(6, '0');
      const email = `backlog${id}@acme.com`;
      task.run(`backlog-${id}`, due + i, Date.now());
      run.run(`run-backlog-${id}`, `backlog-${id}`, `acme|offboard|spendesk|${email}`, email, `task:backlog-${id}`, due + i, Date.now(), Date.now());
      item.run(`backlog-${id}`, `run-backlog-${id}`, email);
    }
  })();
}

const backlogs = (process.env.BENCH_BACKLOGS ?? '0,10000,100000').split(',').map(Number);
const flatRuns = Number(process.env.BENCH_FLAT_RUNS ?? 2_000);
const starts: number[] = [];
const completions: number[] = [];
for (const n of backlogs) {
  starts.push(await measure(`runs started, one request per call, ${n} other open tasks`, async (rt) => {
    for (let i = 0; i < flatRuns; i++) await rt.runs.start([request(i)], profile);
    return flatRuns;
  }, async (rt) => backlog(rt, n)));
  completions.push(await measure(
    `task completions, one per call, ${n} other open tasks`,
    async (rt) => {
      const ids = rt.db.prepare("SELECT id FROM tasks WHERE status = 'open' AND queue <> 'backlog' ORDER BY due_at, id").pluck().all() as string[];
      for (const id of ids) await rt.runs.completeTask(id, { by: 'finance.admin@acme.example', evidence: [{ text: 'held no owner role' }] });
      return ids.length;
    },
    async (rt) => {
      backlog(rt, n);
      await rt.runs.start(Array.from({ length: flatRuns }, (_, i) => request(i)), profile, {});
      const [batched] = rt.db.prepare("SELECT id FROM tasks WHERE status = 'open' AND queue <> 'backlog'").pluck().all() as string[];
      if (batched) await rt.runs.completeTask(batched, { by: 'it.oncall@acme.example', evidence: [{ text: 'unassigned' }] });
    },
  ));
}
if (backlogs.length > 1 && starts[0] && completions[0]) {
  const last = backlogs.length - 1;
  const cpu = (what: string, n: number) => cpuPerOp.get(`${what}, ${n} other open tasks`)!;
  const cpuRatio = (what: string) => (cpu(what, backlogs[0]!) / cpu(what, backlogs[last]!)).toFixed(2);
  console.log(`flatness at ${backlogs[last]} open tasks against ${backlogs[0]} (1.00 = flat; the issue asks ≥ 0.90), load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}:`);
  console.log(`  rate:             starts ${(starts[last]! / starts[0]).toFixed(2)}, completions ${(completions[last]! / completions[0]).toFixed(2)}`);
  console.log(`  CPU per op (inv): starts ${cpuRatio('runs started, one request per call')}, completions ${cpuRatio('task completions, one per call')}`);
}

/**
 * Single starts through the real server: BENCH_SERVER_RUNS `POST /api/v1/runs`, each a different
 * person, from BENCH_CALLERS connections at once (autocannon), answered once recorded (the server's
 * loop drives them afterwards, beside the load). With group commit, and with one commit per request.
 */
async function serverStarts(groupCommit: boolean, loop: boolean): Promise<void> {
  const label = `server starts, ${callers} at once, ${groupCommit ? 'group commit' : 'one commit each'}, ${loop ? 'loop driving' : 'loop held back'}`;
  if (only && !only.some((o) => label.includes(o))) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-'));
  const runtime = await services.openRuntime({ dataDir: dir });
  if (!groupCommit) runtime.runs.groupCommit = new GroupCommit(runtime.store, { enabled: false });
  // Held back: the server's loop (which drives each new run to its first task after the answer) does nothing, so
  // that the figure is the start path alone; driving, it shares the process and the store with the requests.
  if (!loop) runtime.runs.settle = async () => false;
  const server = await startServer({ services, runtime, profile, port: 0, version: 'bench', tickMs: 3_600_000 });
  try {
    const { token } = await server.access.createToken({ name: 'bench', actor: 'people@acme.example', role: 'operator' });
    let i = 0;
    const before = { ...runtime.runs.groupCommit.stats };
    const cpu = process.cpuUsage();
    const result = await autocannon({
      url: `${server.url}/api/v1/runs`,
      connections: callers,
      amount: serverRuns,
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      requests: [{ setupRequest: (req: object) => ({ ...req, body: JSON.stringify({ playbook: 'offboard', app: 'spendesk', subject: { email: `leaver${i++}@acme.com` } }) }) }],
    });
    const used = process.cpuUsage(cpu);
    const seconds = result.duration;
    const answered = result['2xx'];
    const groups = runtime.runs.groupCommit.stats.groups - before.groups;
    const recorded = Number((await runtime.store.db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    console.log(
      `${label.padEnd(66)} ${String(answered).padStart(6)} in ${seconds.toFixed(2).padStart(6)} s = ${(answered / seconds).toFixed(0).padStart(6)}/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ` +
      `${result.non2xx + result.errors} not 2xx, ${recorded} runs in the store, ${groupCommit ? `${((runtime.runs.groupCommit.stats.requests - before.requests) / Math.max(1, groups)).toFixed(1)} requests per commit, ` : ''}` +
      `CPU ${((used.user + used.system) / 1000 / Math.max(1, answered)).toFixed(3)} ms each in this process (${load()})`,
    );
  } finally {
    await server.close();
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const callers = Number(process.env.BENCH_CALLERS ?? 16);
const serverRuns = Number(process.env.BENCH_SERVER_RUNS ?? 4_000);
await serverStarts(true, false);
await serverStarts(false, false);
await serverStarts(true, true);

/** Runs `count` calls of `fn` with `n` at a time. */
async function concurrently(count: number, n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, count) }, async () => {
    while (next < count) await fn(next++);
  }));
}

/** Polls `count()` until it reaches `target`; returns the time it did. */
async function until(target: number, count: () => Promise<number>): Promise<bigint> {
  for (const deadline = Date.now() + 900_000; ;) {
    const n = await count();
    if (n >= target) return process.hrtime.bigint();
    if (Date.now() > deadline) throw new Error(`only ${n} of ${target} after 900 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A worker process: the embedded engine on BENCH_STORE_URL driving the bench's runs until SIGTERM; prints its CPU time (µs). */
async function worker(): Promise<void> {
  const store = await openStore({ url: process.env.BENCH_STORE_URL! }, { migrations: 'refuse', poolSize: 4 });
  const engine = new EmbeddedRunEngine(store, new SystemClock());
  engine.use(offboardingShape);
  let stop = false;
  process.once('SIGTERM', () => (stop = true));
  process.stdout.write('ready\n');
  while (!stop) {
    const { slices } = await engine.drive();
    if (!slices) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await store.close();
  const cpu = process.cpuUsage();
  process.stdout.write(`cpu ${cpu.user + cpu.system}\n`);
}

/**
 * The same-shaped run on the embedded engine: BENCH_SHAPE_RUNS started by `callers` at once through
 * group commit (as the server records them), driven to their wait by `workers` processes (0: this
 * process drives, as the embedded server's loop does), then signalled the same way and driven to the end.
 */
async function shape(target: { dataDir: string } | { url: string }, workers: number): Promise<void> {
  const runs = Number(process.env.BENCH_SHAPE_RUNS ?? 2_000);
  const store: StoreDatabase = await openStore(target, { migrations: 'apply', poolSize: 20 });
  const engine = new EmbeddedRunEngine(store, new SystemClock());
  engine.use(offboardingShape);
  const group = new GroupCommit(store);
  const children: ChildProcess[] = [];
  const workerCpu: number[] = [];
  for (let w = 0; w < workers; w++) {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_ROLE: 'worker', BENCH_STORE_URL: (target as { url: string }).url }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
      const used = /cpu (\d+)/.exec(d.toString());
      if (used) workerCpu.push(Number(used[1]));
    }));
    children.push(child);
  }
  let driving = workers === 0;
  const loop = (async () => {
    while (driving) if (!(await engine.drive()).slices) await new Promise((resolve) => setTimeout(resolve, 5));
  })();
  const count = async (status: string) => Number((await store.db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', status as 'waiting').executeTakeFirstOrThrow()).n);
  const cpu = process.cpuUsage();
  const ids: string[] = [];
  const t0 = process.hrtime.bigint();
  await concurrently(runs, callers, async (i) => {
    const [result] = await group.run(() => engine.start([offboarding(`leaver${i}@acme.test`, `shape-${i}`)], { drive: false }));
    ids[i] = result!.run.id;
  });
  const tStarted = process.hrtime.bigint();
  const tWaiting = await until(runs, () => count('waiting'));
  const t1 = process.hrtime.bigint();
  await concurrently(runs, callers, (i) => group.run(() => engine.signal(ids[i]!, 'handover', { by: 'bench' }, `handover-${i}`, 'bench')));
  const tDone = await until(runs, () => count('completed'));
  driving = false;
  await loop;
  for (const child of children) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  const used = process.cpuUsage(cpu);
  await store.close();
  const s = (a: bigint, b: bigint) => Number(b - a) / 1e9;
  const rate = (a: bigint, b: bigint) => `${(runs / s(a, b)).toFixed(0).padStart(5)}/s`;
  const cpuMs = (used.user + used.system + workerCpu.reduce((a, b) => a + b, 0)) / 1000 / runs;
  const label = `embedded engine on ${'url' in target ? `PostgreSQL, ${workers} worker${workers === 1 ? '' : 's'}` : 'SQLite, in-process'}`;
  console.log(`${label.padEnd(38)} started ${rate(t0, tStarted)} (API), reach wait ${rate(t0, tWaiting)}, completions ${rate(t1, tDone)}; ${cpuMs.toFixed(2)} ms CPU per run in Node (${load()})`);
}

const flag = process.argv.indexOf('--database');
const database = flag > 0 ? process.argv[flag + 1] : process.env.BENCH_DATABASE;
if (database && (!only || only.some((o) => 'same-shaped run'.includes(o)))) {
  process.env.PATCHBAY_TEST_DATABASE_URL = database; // freshDatabase() makes its databases there.
  console.log(`same-shaped run (step, step, wait for a signal, step), ${Number(process.env.BENCH_SHAPE_RUNS ?? 2_000)} runs, ${callers} callers at once; PostgreSQL at ${database.replace(/\/\/[^@]*@/, '//…@')}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-'));
  await shape({ dataDir: dir }, 0);
  rmSync(dir, { recursive: true, force: true });
  const workerCounts = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
  for (const workers of workerCounts) await shape({ url: await freshDatabase() }, workers);
  // The bare DBOS workflow of the same shape, as test/bench/dbos.bench.ts measures it, in the same run.
  const dbos = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'dbos.bench.js'), '--database', database], {
    env: { ...process.env, BENCH_VARIANTS: process.env.BENCH_DBOS_VARIANTS ?? 'bare', BENCH_WORKERS: workerCounts.join(','), BENCH_RUNS: process.env.BENCH_SHAPE_RUNS ?? '2000', BENCH_CALLERS: String(callers) },
    stdio: 'inherit',
  });
  await new Promise((resolve) => dbos.once('exit', resolve));
}
