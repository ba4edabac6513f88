/**
 * npm run bench -- engine: runs started per second (validate + plan + persist + open the first
 * task) for 10,000 Spendesk offboardings, one request at a time and as one batch, and task
 * completions per second, on the embedded store (WAL, synchronous=FULL) in a temporary folder.
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

type Runtime = ReturnType<typeof services.openRuntime>;

/** Times `fn` (not `setup`) on a fresh store and prints the rate. */
async function measure(label: string, fn: (runtime: Runtime) => Promise<number>, setup: (runtime: Runtime) => Promise<void> = async () => {}): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-bench-'));
  const runtime = services.openRuntime({ dataDir: dir });
  try {
    await setup(runtime);
    const started = process.hrtime.bigint();
    const n = await fn(runtime);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const rate = n / seconds;
    console.log(`${label.padEnd(58)} ${String(n).padStart(6)} in ${seconds.toFixed(2).padStart(6)} s = ${rate.toFixed(0).padStart(6)}/s`);
    return rate;
  } finally {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`machine: ${machine()}`);
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
    const tasks = rt.tasks.list();
    // The owner-role transfers, one task per person, in the finance queue.
    for (const task of tasks) await rt.runs.completeTask(task.id, { by: 'finance.admin@acme.example', evidence: [{ text: 'held no owner role' }] });
    return tasks.length;
  },
  async (rt) => {
    await rt.runs.start(Array.from({ length: count }, (_, i) => request(i)), profile, {});
    // One task per person, as when requests arrive one by one.
    const [batched] = rt.tasks.list();
    if (batched && batched.items.length > 1) {
      await rt.runs.completeTask(batched.id, { by: 'it.oncall@acme.example', evidence: [{ text: 'unassigned' }] });
    }
  },
);
