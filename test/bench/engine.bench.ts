/**
 * npm run bench -- engine: runs started per second (validate + plan + persist + open the first
 * task) for 10,000 Spendesk offboardings, one request at a time and as one batch, and task
 * completions per second, on the embedded store (WAL, synchronous=FULL) in a temporary folder.
 * Then the same single starts and completions beside a backlog of 0, 10,000 and 100,000 other open
 * tasks (BENCH_BACKLOGS, comma-separated): the cost of a start or a completion must not grow with it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServices } from '../../core/container.js';

const count = Number(process.env.BENCH_RUNS ?? 10_000);
const services = createServices();
const profile = services.profiles.load();
const request = (i: number) => ({ source: `request ${i}`, request: { playbook: 'offboard', app: 'spendesk', subject: { email: `leaver${i}@acme.com` } } });

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

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
 * A backlog of `n` other open tasks, due in 30 days (so none escalates), in a queue of their own: the rows
 * the escalation query used to walk and sort on every start and completion. Inserted directly, in one
 * commit, because 100,000 real offboardings take minutes to set up; their content is never read here.
 */
function backlog(rt: Runtime, n: number): void {
  const due = Date.now() + 30 * 24 * 3_600_000;
  const insert = rt.db.prepare(
    "INSERT INTO tasks (id, tenant, app, runbook, title, queue, status, content, due_at, created_at) VALUES (?, 'acme', 'spendesk', 'remove-member', 'backlog', 'backlog', 'open', '{}', ?, ?)",
  );
  rt.db.transaction(() => {
    for (let i = 0; i < n; i++) insert.run(`backlog-${String(i).padStart(6, '0')}`, due + i, Date.now());
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
