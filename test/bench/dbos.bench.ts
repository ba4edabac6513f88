/**
 * npm run bench:dbos [-- --database postgres://…]: the DBOS Transact engine against a bare DBOS
 * workflow of the same shape, on PostgreSQL (fsync as the server has it; the throwaway test cluster
 * keeps it on), with 0 (in-process), 1, 2 and 4 worker processes.
 *
 * A run's shape: step, step, wait for a signal, step. For each variant and worker count, on a fresh
 * store database and a fresh DBOS system database:
 * - "started/s (API)": BENCH_RUNS runs started by BENCH_CALLERS concurrent callers, each call
 *   resolved once the run is durably recorded and its workflow durably started (enqueued);
 * - "reach wait/s": the same runs counted until every one has executed its first two steps and
 *   waits for its signal (the workers' throughput);
 * - "completions/s": one signal per run sent by BENCH_CALLERS concurrent callers, until every
 *   workflow has finished.
 * With workers, the bench process only starts and signals (it dequeues nothing); runs go through a
 * DBOS queue to the workers (each its own executor ID). With 0 workers the bench process executes
 * the runs itself, without a queue.
 *
 * The same file is the worker (BENCH_ROLE=worker).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { DbosRunEngine, launchDbos, shutdownDbos } from '../../core/engine/dbos-engine.js';
import type { Workflow } from '../../core/engine/port.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { offboarding } from '../engine/dbos-support.js';
import { freshDatabase, postgresServer } from '../support/postgres.js';

/** bare: DBOS alone; engine: DbosRunEngine; engine-no-audit: the engine with audit appends switched off (what the hash chain costs). */
type Variant = 'bare' | 'engine' | 'engine-no-audit';
const noAudit = async () => {};
const queue = 'bench-runs';
const queues = [{ name: queue, pollingIntervalMs: Number(process.env.BENCH_QUEUE_POLL_MS ?? 50) }];
const applicationVersion = 'patchbay-dbos-bench';

/** The bare DBOS workflow: three steps and one recv, as a Patchbay run has. Registered before launch, in every process. */
const bareWorkflow = DBOS.registerWorkflow(async (i: number) => {
  await DBOS.runStep(async () => i, { name: 'revoke-sessions' });
  await DBOS.runStep(async () => i, { name: 'confirm-handover' });
  const message = await DBOS.recv<{ payload: unknown }>('handover', { timeoutSeconds: 3600 });
  await DBOS.runStep(async () => i, { name: 'deactivate' });
  return { outcome: message ? 'done' : 'failed' };
}, { name: 'bench.bare' });

/** The same shape through the port. */
const engineWorkflow: Workflow = async (ctx) => {
  await ctx.step('revoke-sessions', () => 1);
  await ctx.step('confirm-handover', () => 2);
  const signal = await ctx.waitForSignal('handover', 3600_000);
  await ctx.step('deactivate', () => 3);
  return { outcome: signal.timedOut ? 'failed' : 'done', summary: 'bench' };
};

/** A worker: executes runs from the queue until SIGTERM. */
async function worker(): Promise<void> {
  const variant = process.env.BENCH_VARIANT as Variant;
  const store = variant !== 'bare' ? await openStore({ url: process.env.BENCH_STORE_URL! }, { migrations: 'refuse', poolSize: 20 }) : undefined;
  await launchDbos({ systemDatabaseUrl: process.env.BENCH_SYSTEM_URL!, executorId: process.env.BENCH_EXECUTOR!, applicationVersion, queues, poolSize: 20, logLevel: 'error' });
  if (store) new DbosRunEngine(store, { name: 'bench', workflow: engineWorkflow, queue, ...(variant === 'engine-no-audit' ? { appendAudit: noAudit } : {}) });
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  await shutdownDbos();
  await store?.close();
  const cpu = process.cpuUsage();
  process.stdout.write(`cpu ${cpu.user + cpu.system}\n`);
  process.exit(0);
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} cores (${cpus[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`;
}

/** Runs `count` calls of `fn` with `callers` at a time. */
async function concurrently(count: number, callers: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(callers, count) }, async () => {
    while (next < count) await fn(next++);
  }));
}

/** Polls `count()` until it reaches `target`; returns when it did. */
async function until(target: number, count: () => Promise<number>, timeoutMs: number): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = await count();
    if (n >= target) return process.hrtime.bigint();
    if (Date.now() > deadline) throw new Error(`only ${n} of ${target} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts a worker process and waits until it is ready; its CPU time (µs) is pushed to `cpu` when it exits. */
async function startWorker(cpu: number[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, ...env, BENCH_ROLE: 'worker' }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
    child.stdout!.on('data', (d: Buffer) => {
      const text = d.toString();
      if (text.includes('ready')) resolve();
      const used = /cpu (\d+)/.exec(text);
      if (used) cpu.push(Number(used[1]));
    });
  });
  child.removeAllListeners('exit');
  return child;
}

const seconds = (from: bigint, to: bigint) => Number(to - from) / 1e9;

async function measure(variant: Variant, workers: number, runs: number, callers: number): Promise<void> {
  const systemUrl = await freshDatabase();
  const storeUrl = await freshDatabase();
  const store: StoreDatabase | undefined = variant !== 'bare' ? await openStore({ url: storeUrl }, { migrations: 'apply', poolSize: 20 }) : undefined;
  const children: ChildProcess[] = [];
  const workerCpu: number[] = [];
  const cpuBefore = process.cpuUsage();
  let measured!: Record<'t0' | 'tStarted' | 'tWaiting' | 't1' | 'tSent' | 'tDone', bigint>;
  for (let w = 1; w <= workers; w++) children.push(await startWorker(workerCpu, { BENCH_VARIANT: variant, BENCH_SYSTEM_URL: systemUrl, BENCH_STORE_URL: storeUrl, BENCH_EXECUTOR: `bench-worker-${w}` }));
  await launchDbos({ systemDatabaseUrl: systemUrl, executorId: 'bench-main', applicationVersion, queues, poolSize: 20, logLevel: 'error', ...(workers ? { listen: [] } : {}) });
  const engine = store ? new DbosRunEngine(store, { name: 'bench', workflow: engineWorkflow, ...(workers ? { queue } : {}), ...(variant === 'engine-no-audit' ? { appendAudit: noAudit } : {}) }) : undefined;
  const probe = new pg.Client({ connectionString: variant !== 'bare' ? storeUrl : systemUrl });
  await probe.connect();
  const countOf = async (text: string) => Number((await probe.query(text)).rows[0].n);
  try {
    const ids: string[] = [];
    const t0 = process.hrtime.bigint();
    await concurrently(runs, callers, async (i) => {
      if (engine) {
        const [result] = await engine.start([offboarding(`leaver${i}@acme.test`, `bench-${i}`)]);
        ids[i] = result!.run.id;
      } else {
        ids[i] = `bare-${i}`;
        await DBOS.startWorkflow(bareWorkflow, { workflowID: ids[i], ...(workers ? { queueName: queue } : {}) })(i);
      }
    });
    const tStarted = process.hrtime.bigint();
    const tWaiting = await until(runs, () => countOf(variant !== 'bare'
      ? "SELECT count(*) AS n FROM runs WHERE status = 'waiting'"
      : "SELECT count(*) AS n FROM dbos.operation_outputs WHERE function_name = 'confirm-handover'"), 600_000);

    const t1 = process.hrtime.bigint();
    await concurrently(runs, callers, async (i) => {
      if (engine) await engine.signal(ids[i]!, 'handover', { by: 'bench' }, `handover-${i}`, 'bench');
      else await DBOS.send(ids[i]!, { payload: { by: 'bench' } }, 'handover', `handover-${i}`);
    });
    const tSent = process.hrtime.bigint();
    const tDone = await until(runs, () => countOf(variant !== 'bare'
      ? "SELECT count(*) AS n FROM runs WHERE status = 'completed'"
      : "SELECT count(*) AS n FROM dbos.workflow_status WHERE status = 'SUCCESS'"), 600_000);

    measured = { t0, tStarted, tWaiting, t1, tSent, tDone };
  } finally {
    await probe.end();
    engine?.detach();
    await shutdownDbos();
    for (const child of children) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await store?.close();
  }
  const { t0, tStarted, tWaiting, t1, tSent, tDone } = measured;
  const used = process.cpuUsage(cpuBefore);
  const cpuMs = (used.user + used.system + workerCpu.reduce((a, b) => a + b, 0)) / 1000;
  // Every pool is closed now, so PostgreSQL has the sessions' statistics: commits in both databases.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stats = new pg.Client({ connectionString: systemUrl });
  await stats.connect();
  const commits = Number((await stats.query('SELECT sum(xact_commit) AS n FROM pg_stat_database WHERE datname = ANY($1)', [[new URL(systemUrl).pathname.slice(1), new URL(storeUrl).pathname.slice(1)]])).rows[0].n);
  await stats.end();
  {
    const label = `${{ bare: 'bare DBOS', engine: 'DbosRunEngine', 'engine-no-audit': 'DbosRunEngine, no audit' }[variant]}, ${workers ? `${workers} worker${workers > 1 ? 's' : ''}` : 'in-process'}`;
    const rate = (n: number, s: number) => `${(n / s).toFixed(0).padStart(5)}/s`;
    console.log(
      `${label.padEnd(38)} started ${rate(runs, seconds(t0, tStarted))} (API), reach wait ${rate(runs, seconds(t0, tWaiting))}, ` +
      `signals sent ${rate(runs, seconds(t1, tSent))}, completions ${rate(runs, seconds(t1, tDone))}; ` +
      `per run: ${(commits / runs).toFixed(1)} commits, ${(cpuMs / runs).toFixed(1)} ms CPU in Node  (load ${os.loadavg()[0]!.toFixed(1)})`,
    );
  }
}

async function main(): Promise<void> {
  const flag = process.argv.indexOf('--database');
  const server = flag > 0 ? process.argv[flag + 1]! : process.env.PATCHBAY_TEST_DATABASE_URL || postgresServer();
  process.env.PATCHBAY_TEST_DATABASE_URL = server; // freshDatabase() creates its databases there.
  const runs = Number(process.env.BENCH_RUNS ?? 1000);
  const callers = Number(process.env.BENCH_CALLERS ?? 16);
  const workerCounts = (process.env.BENCH_WORKERS ?? '0,1,2,4').split(',').map(Number);
  const variants = (process.env.BENCH_VARIANTS ?? 'bare,engine,engine-no-audit').split(',') as Variant[];

  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  const setting = async (name: string) => (await admin.query(`SHOW ${name}`)).rows[0][name];
  console.log(`machine: ${machine()}`);
  console.log(`PostgreSQL ${await setting('server_version')} at ${server.replace(/\/\/[^@]*@/, '//…@')}: fsync=${await setting('fsync')}, synchronous_commit=${await setting('synchronous_commit')}, wal_sync_method=${await setting('wal_sync_method')}`);
  const sdk = JSON.parse(readFileSync(new URL('../../package.json', import.meta.resolve('@dbos-inc/dbos-sdk')), 'utf8')) as { version: string };
  console.log(`DBOS Transact ${sdk.version}; ${runs} runs, ${callers} concurrent callers; shape: step, step, recv, step`);
  await admin.end();
  for (const workers of workerCounts) {
    for (const variant of variants) await measure(variant, workers, runs, callers);
  }
}

if (process.env.BENCH_ROLE === 'worker') {
  await worker();
} else {
  await main();
}
