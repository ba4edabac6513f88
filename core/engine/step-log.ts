import type { Evidence } from '../channels/executor.js';
import { inject, injectable } from '#inversify';
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
      const db = this.store.db;
      let evidence: string | undefined;
      if (change.evidence?.length) {
        const row = await db.selectFrom('steps').select('evidence').where('run_id', '=', runId).where('step_id', '=', stepId).executeTakeFirst();
        evidence = JSON.stringify([...(row ? (JSON.parse(row.evidence) as Evidence[]) : []), ...change.evidence]);
      }
      await db
        .updateTable('steps')
        .set((eb) => ({
          status: change.status,
          ...(change.channel !== undefined ? { channel: change.channel } : {}),
          ...(change.attempt ? { attempts: eb('attempts', '+', 1) } : {}),
          ...(change.detail !== undefined ? { detail: change.detail } : {}),
          ...(evidence !== undefined ? { evidence } : {}),
          updated_at: at,
        }))
        .where('run_id', '=', runId)
        .where('step_id', '=', stepId)
        .execute();
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
