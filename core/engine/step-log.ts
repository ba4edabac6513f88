import type { Evidence } from '../channels/executor.js';
import { inject, injectable } from 'inversify';
import { type Database, StatementCache, SqliteConnection } from '../store/database.js';

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
  private readonly statements: StatementCache;

  constructor(@inject(SqliteConnection) database: Database) {
    this.statements = new StatementCache(database);
  }

  private get db() {
    return { prepare: (text: string) => this.statements.get(text) };
  }

  update(runId: string, stepId: string, change: { status: StepStatus; channel?: string; attempt?: boolean; detail?: string; evidence?: readonly Evidence[] }, at: number): void {
    this.db
      .prepare(
        `UPDATE steps SET status = ?, channel = coalesce(?, channel), attempts = attempts + ?, detail = coalesce(?, detail),
           evidence = CASE WHEN ? IS NULL THEN evidence ELSE json_insert(evidence, '$[#]', json(?)) END, updated_at = ?
         WHERE run_id = ? AND step_id = ?`,
      )
      .run(change.status, change.channel ?? null, change.attempt ? 1 : 0, change.detail ?? null, change.evidence?.length ? 1 : null, JSON.stringify(change.evidence ?? []), at, runId, stepId);
    // json_insert appends one value; evidence lists are flattened when read.
  }

  list(runId: string): StepRecord[] {
    const rows = this.db
      .prepare('SELECT step_id AS stepId, position, status, channel, attempts, detail, evidence, updated_at AS updatedAt FROM steps WHERE run_id = ? ORDER BY position')
      .all(runId) as (Omit<StepRecord, 'evidence'> & { evidence: string })[];
    return rows.map((r) => ({ ...r, evidence: (JSON.parse(r.evidence) as (Evidence | Evidence[])[]).flat() }));
  }
}
