/**
 * A worker process for the DBOS engine's queue test (dbos-engine.test.ts): launches DBOS under
 * EXECUTOR, listens on the `runs` queue (at most 15 runs at a time in this process), and executes
 * runs whose first step records which executor ran it, in `executed_by`. Prints `ready`; stops on
 * SIGTERM.
 */
import { DBOS } from '@dbos-inc/dbos-sdk';
import { sql } from 'kysely';
import { DbosRunEngine, launchDbos, shutdownDbos } from '../../core/engine/dbos-engine.js';
import type { Workflow } from '../../core/engine/port.js';
import { openStore } from '../../core/store/sql.js';

const queueName = 'runs';
const workerConcurrency = 15;

const store = await openStore({ url: process.env.STORE_URL! }, { migrations: 'refuse' });
const workflow: Workflow = async (ctx) => {
  await ctx.step('work', () => sql`INSERT INTO executed_by (run_id, executor, at) VALUES (${ctx.runId}, ${DBOS.executorID}, ${Date.now()})`.execute(store.db).then(() => undefined));
  const go = await ctx.waitForSignal('go', 60_000);
  await ctx.step('after', () => 'after');
  return { outcome: go.timedOut ? 'failed' : 'done', summary: DBOS.executorID };
};
await launchDbos({ systemDatabaseUrl: process.env.SYSTEM_URL!, executorId: process.env.EXECUTOR!, applicationVersion: 'queue-test', logLevel: 'error', queues: [{ name: queueName, workerConcurrency, pollingIntervalMs: 50 }] });
new DbosRunEngine(store, { name: 'queue', workflow });
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
await shutdownDbos();
await store.close();
