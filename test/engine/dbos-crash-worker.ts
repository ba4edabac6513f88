/**
 * The DBOS engine as its own process, for the crash test in dbos-engine.test.ts. MODE=start starts
 * one run of a four-step workflow whose steps count their executions in `step_executions` (in
 * Patchbay's database; the third step also counts its body being entered, outside its transaction) and prints `started <run id>`, then `in slow-step` while inside the third
 * step, where the test SIGKILLs it. MODE=resume launches DBOS under the same executor ID, which
 * recovers the run, prints `waiting for handover` once the run waits for its signal (the test may
 * kill it there too); with SEND=1 it then sends the signal twice with one dedupe key and prints
 * `finished <run id> <status> <outcome>` once the run has ended.
 */
import { sql } from 'kysely';
import { DbosRunEngine, launchDbos, shutdownDbos } from '../../core/engine/dbos-engine.js';
import type { Workflow } from '../../core/engine/port.js';
import { openStore } from '../../core/store/sql.js';
import { finished, offboarding, waitingFor } from './dbos-support.js';

const mode = process.env.MODE;
const store = await openStore({ url: process.env.STORE_URL! }, { migrations: 'apply' });
await sql`CREATE TABLE IF NOT EXISTS step_executions (run_id TEXT NOT NULL, step TEXT NOT NULL, phase TEXT NOT NULL, at BIGINT NOT NULL)`.execute(store.db);
const say = (line: string) => process.stdout.write(`${line}\n`);
const count = (runId: string, step: string, phase: string) =>
  sql`INSERT INTO step_executions (run_id, step, phase, at) VALUES (${runId}, ${step}, ${phase}, ${Date.now()})`.execute(store.db);

const workflow: Workflow = async (ctx) => {
  // These two return nothing: replayed after the restart, a step's undefined result must read back as one.
  await ctx.step('first', async () => void (await count(ctx.runId, 'first', 'done')));
  await ctx.step('second', async () => void (await count(ctx.runId, 'second', 'done')));
  await ctx.audit({ type: 'crash.checkpoint', actor: 'patchbay' });
  await ctx.step('slow-step', async () => {
    // On a connection of its own, outside the step's transaction: it counts the step's body being entered.
    await store.detached(() => count(ctx.runId, 'slow-step', 'entered'));
    // In the step's transaction: rolled back by the kill, so it is written once.
    await count(ctx.runId, 'slow-step', 'wrote');
    if (mode === 'start') {
      say('in slow-step');
      await new Promise((resolve) => setTimeout(resolve, 30_000));
    }
    await count(ctx.runId, 'slow-step', 'done');
  });
  const handover = await ctx.waitForSignal<{ by: string }>('handover');
  if (handover.timedOut) return { outcome: 'failed', summary: 'no handover' };
  await ctx.step('last', () => count(ctx.runId, 'last', 'done'));
  return { outcome: 'done', summary: 'survived' };
};

// The same executor ID and version on restart: DBOS recovers only the workflows of its own executor and version.
await launchDbos({ systemDatabaseUrl: process.env.SYSTEM_URL!, executorId: 'crash-worker', applicationVersion: 'crash-test', logLevel: 'error' });
const engine = new DbosRunEngine(store, { name: 'crash', ...(mode === 'start' ? { workflow } : {}) });
if (mode === 'resume') {
  // As a composition root may: the workflow is set after launch, so the recovered run waits for it.
  await new Promise((resolve) => setTimeout(resolve, 300));
  engine.use(workflow);
}
let runId = process.env.RUN_ID;
if (mode === 'start') {
  const [result] = await engine.start([offboarding('kim@acme.test', 'crash-kim')]);
  runId = result!.run.id;
  say(`started ${runId}`);
}
if (mode === 'resume') {
  await waitingFor(engine, runId!, 'handover', 60_000);
  say('waiting for handover');
  if (process.env.SEND === '1') {
    // Twice with one dedupe key, as a retried HTTP request would: delivered once.
    for (let i = 0; i < 2; i++) say(`signal ${await engine.signal(runId!, 'handover', { by: 'finance@acme.test' }, 'handover:kim', 'finance@acme.test')}`);
  }
}
const run = await finished(engine, runId!, 60_000);
say(`finished ${run.id} ${run.status} ${run.outcome}`);
await shutdownDbos();
await store.close();
