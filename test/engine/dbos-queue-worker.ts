/**
 * A worker process for the DBOS engine's queue tests (dbos-engine.test.ts): launches DBOS under
 * EXECUTOR, listens on QUEUE (default `runs`; at most 15 runs at a time in this process), and executes
 * runs whose first step records which executor ran it, in `executed_by`. With TAKEOVER=1 it holds its
 * liveness lock and calls the engine's drive() every 200 ms, as a `patchbay worker` does each pass
 * (which takes over the runs of stopped workers); no scheduled job runs here. Prints `ready`; stops
 * on SIGTERM.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { sql } from 'kysely';
import { DbosRunEngine, launchDbos, shutdownDbos } from '../../core/engine/dbos-engine.js';
import type { Workflow } from '../../core/engine/port.js';
import { openStore } from '../../core/store/sql.js';

const queueName = process.env.QUEUE ?? 'runs';
const takeover = process.env.TAKEOVER === '1';
const workerConcurrency = 15;

const store = await openStore({ url: process.env.STORE_URL! }, { migrations: 'refuse' });
const workflow: Workflow = async (ctx) => {
  await ctx.step('work', () => sql`INSERT INTO executed_by (run_id, executor, at) VALUES (${ctx.runId}, ${DBOS.executorID}, ${Date.now()})`.execute(store.db).then(() => undefined));
  const go = await ctx.waitForSignal('go', 60_000);
  await ctx.step('after', () => 'after');
  return { outcome: go.timedOut ? 'failed' : 'done', summary: DBOS.executorID };
};
await launchDbos({ systemDatabaseUrl: process.env.SYSTEM_URL!, executorId: process.env.EXECUTOR!, applicationVersion: 'queue-test', logLevel: 'error', queues: [{ name: queueName, workerConcurrency, pollingIntervalMs: 50 }], advertise: takeover });
const engine = new DbosRunEngine(store, { name: 'queue', workflow, recoverEveryMs: 200 });
const driving = takeover ? setInterval(() => void engine.drive().catch((error: unknown) => process.stderr.write(`drive: ${(error as Error).message}\n`)), 200) : undefined;
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
clearInterval(driving);
await shutdownDbos();
await store.close();
