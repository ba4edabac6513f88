import type { Evidence } from '../channels/executor.js';
import { inject, injectable } from '#inversify';
import { sql } from 'kysely';
import { type Params, type PreparedQuery, preparedQuery } from '../store/prepared.js';
import { StoreDatabase } from '../store/sql.js';

export type StepStatus = 'pending' | 'running' | 'done' | 'already-done' | 'failed' | 'skipped';

export interface StepRecord {
  readonly stepId: string;
  readonly position: number;
  readonly status: StepStatus;
  readonly channel: string | null;
  readonly attempts: number;
  readonly detail: string | null;
  readonly evidence: readonly Evidence[];
  readonly updatedAt: number;
}

interface StepChange {
  status: StepStatus;
  channel?: string;
  attempt?: boolean;
  detail?: string;
  evidence?: string;
}

type UpdateValues = { runId: string; stepId: string; at: number } & Omit<StepChange, 'attempt'>;

/** A step's evidence, compiled once (core/store/prepared.ts). */
const evidenceOf = preparedQuery((db, p: Params<{ runId: string; stepId: string }>) =>
  db.selectFrom('steps').select('evidence').where('run_id', '=', p('runId')).where('step_id', '=', p('stepId')),
);

/**
 * The update of a step, one prepared query per set of columns it changes (at most 16): every step of
 * every run passes here at least twice.
 */
const updates = new Map<string, PreparedQuery<UpdateValues, unknown>>();
function updateFor(change: StepChange): PreparedQuery<UpdateValues, unknown> {
  const shape = `${change.channel !== undefined}${!!change.attempt}${change.detail !== undefined}${change.evidence !== undefined}`;
  let update = updates.get(shape);
  if (!update) {
    update = preparedQuery((db, p: Params<UpdateValues>) =>
      db
        .updateTable('steps')
        .set((eb) => ({
          status: p('status'),
          ...(change.channel !== undefined ? { channel: p('channel') } : {}),
          ...(change.attempt ? { attempts: eb('attempts', '+', sql.lit(1)) } : {}),
          ...(change.detail !== undefined ? { detail: p('detail') } : {}),
          ...(change.evidence !== undefined ? { evidence: p('evidence') } : {}),
          updated_at: p('at'),
        }))
        .where('run_id', '=', p('runId'))
        .where('step_id', '=', p('stepId')),
    );
    updates.set(shape, update);
  }
  return update;
}

/** Where each step of a run stands, for the timeline; written through the run's journal so it is exact after replay. */
@injectable()
export class StepLog {
  constructor(@inject(StoreDatabase) private readonly store: StoreDatabase) {}

  /**
   * Records a step's status (and channel, an attempt, a detail, evidence appended to what it has).
   * The run is driven by one driver at a time, so reading the evidence and writing it back inside one
   * transaction loses nothing.
   */
  async update(runId: string, stepId: string, change: { status: StepStatus; channel?: string; attempt?: boolean; detail?: string; evidence?: readonly Evidence[] }, at: number): Promise<void> {
    await this.store.transaction(async () => {
      let evidence: string | undefined;
      if (change.evidence?.length) {
        const row = await evidenceOf.executeTakeFirst(this.store, { runId, stepId });
        evidence = JSON.stringify([...(row ? (JSON.parse(row.evidence) as Evidence[]) : []), ...change.evidence]);
      }
      const values = { status: change.status, channel: change.channel, attempt: change.attempt, detail: change.detail, evidence };
      await updateFor(values).run(this.store, { runId, stepId, at, status: change.status, channel: change.channel, detail: change.detail, evidence });
    });
  }

  async list(runId: string): Promise<StepRecord[]> {
    const rows = await this.store.db
      .selectFrom('steps')
      .select(['step_id as stepId', 'position', 'status', 'channel', 'attempts', 'detail', 'evidence', 'updated_at as updatedAt'])
      .where('run_id', '=', runId)
      .orderBy('position')
      .execute();
    // Rows written before evidence was kept flat hold nested lists: flattened when read.
    return rows.map((r) => ({ ...r, status: r.status as StepStatus, evidence: (JSON.parse(r.evidence) as (Evidence | Evidence[])[]).flat() }));
  }
}
