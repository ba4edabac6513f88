/**
 * What the DBOS engine's tests, crash worker and benchmark share: a run to start (the engine only
 * reads the tenant, playbook, app, subject and the plan's step ids, so these are kept minimal),
 * waiting for a run to end, and checking the audit chain the engine wrote.
 */
import { createHash } from 'node:crypto';
import type { DbosRunEngine } from '../../core/engine/dbos-engine.js';
import type { NewRun, RunRecord, Workflow } from '../../core/engine/port.js';
import type { LifecycleRequest } from '../../core/schema/types/lifecycle-request.js';
import type { Plan } from '../../core/schema/types/plan.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import type { StoreDatabase } from '../../core/store/sql.js';

/** An offboarding of `email` from the ledger app with three plan steps, under `idempotencyKey`. */
export function offboarding(email: string, idempotencyKey: string, batchId?: string): NewRun {
  return {
    idempotencyKey,
    request: { playbook: 'offboard', app: 'ledger', subject: { email }, requestedBy: 'ops@acme.test' } as LifecycleRequest,
    plan: { steps: [{ id: 'revoke-sessions' }, { id: 'confirm-handover' }, { id: 'deactivate' }] } as unknown as Plan,
    profile: { tenant: 'acme' } as TenantProfile,
    ...(batchId ? { batchId } : {}),
  };
}

/**
 * The benchmarks' run through the port, the shape of offboarding(): two steps, a wait for the
 * "handover" signal, a last step (test/bench/dbos.bench.ts's bare DBOS workflow has the same shape).
 */
export const offboardingShape: Workflow = async (ctx) => {
  await ctx.step('revoke-sessions', () => 1);
  await ctx.step('confirm-handover', () => 2);
  const signal = await ctx.waitForSignal('handover', 3600_000);
  await ctx.step('deactivate', () => 3);
  return { outcome: signal.timedOut ? 'failed' : 'done', summary: 'bench' };
};

/** Polls until the run is finished (completed, failed or cancelled); throws after `timeoutMs`. */
export async function finished(engine: DbosRunEngine, runId: string, timeoutMs = 20_000, everyMs = 20): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await engine.get(runId);
    if (run.status !== 'running' && run.status !== 'waiting') return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run.status} (${run.waitingFor ?? ''}) after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Polls until the run waits for `what`. */
export async function waitingFor(engine: DbosRunEngine, runId: string, what: string, timeoutMs = 20_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await engine.get(runId);
    if (run.status === 'waiting' && run.waitingFor === what) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} is ${run.status} (${run.waitingFor ?? ''}), not waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Walks the audit chain as core/engine/audit.ts defines it; returns the first broken row, or undefined. */
export async function brokenAuditRow(store: StoreDatabase): Promise<number | undefined> {
  const rows = await store.db.selectFrom('audit').selectAll().orderBy('seq').execute();
  let prev = '0'.repeat(64);
  let seq = 1;
  for (const row of rows) {
    const hash = createHash('sha256').update(JSON.stringify([prev, seq, row.at, row.type, row.actor, row.run_id, row.task_id, row.data])).digest('hex');
    if (Number(row.seq) !== seq || row.prev_hash !== prev || row.hash !== hash) return seq;
    prev = row.hash;
    seq++;
  }
  return undefined;
}
