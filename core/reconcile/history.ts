import { inject, injectable } from '#inversify';
import { type RawBuilder, type Selectable, sql } from 'kysely';
import { type Dialect, StoreDatabase } from '../store/sql.js';
import type { ReconciliationsTable } from '../store/tables.js';
import type { Finding, FindingKind, Reconciliation } from './findings.js';
import type { Completeness, SnapshotSource } from './snapshot.js';

/** One reconciliation as the store keeps it: its sources, counts, findings by kind, and whether both reads were complete. */
export interface ReconciliationRecord {
  readonly id: number;
  readonly tenant: string;
  readonly app: string;
  readonly at: number;
  readonly idp: SnapshotSource;
  readonly appSource: SnapshotSource;
  /** Incomplete: a side was read short (reasons say how); it closed nothing and is not an audit. */
  readonly completeness: Completeness;
  readonly counts: Reconciliation['counts'];
  readonly byKind: Readonly<Partial<Record<FindingKind, number>>>;
  readonly findings: number;
}

/** A finding as stored. */
export interface StoredFinding {
  readonly kind: FindingKind;
  readonly person: string;
  readonly detail: string;
  readonly firstSeenAt: number;
}

type Row = Selectable<ReconciliationsTable>;

const keyOf = (f: { kind: string; person: string }) => `${f.kind}\u0000${f.person.toLowerCase()}`;
/**
 * Findings per INSERT statement: 5 bind parameters each, 2,500 parameters a statement: far under
 * PostgreSQL's 65,535 and SQLite's 32,766, and no statement is ever given a huge array.
 */
export const findingsBatch = 500;

/**
 * Every reconciliation, kept: the trend of findings per app over time, the age of a finding (since
 * the first reconciliation that showed it, carried while each later one still shows it), and the
 * date of each app's last audit.
 *
 * What closes a finding: only a later complete read of the same kind of evidence. A
 * reconciliation over an incomplete read is stored, marked incomplete with its reasons, and closes
 * nothing: the app's open findings stay those of its last audit, with their first-seen times. One
 * over attestations is a different kind of evidence: it never replaces the last audit either.
 *
 * Works on either store database (core/store/sql.ts).
 */
@injectable()
export class ReconcileHistory {
  constructor(@inject(StoreDatabase) private readonly store: StoreDatabase) {}

  /**
   * Stores a reconciliation (with its completeness) and returns it with each finding's first-seen
   * time carried from the app's previous complete reconciliation of the same kind of evidence.
   * All in one transaction, the findings inserted `findingsBatch` at a time.
   */
  async record(tenant: string, result: Reconciliation): Promise<Reconciliation & { readonly id: number }> {
    return this.store.transaction(async () => {
      const attestation = result.appSource.kind === 'attestation';
      const previous = await this.latestComplete(tenant, result.app, attestation);
      const seen = new Map<string, number>();
      if (previous) {
        const rows = await this.store.db
          .selectFrom('reconcile_findings')
          .select(['kind', 'person', 'first_seen_at'])
          .where('reconciliation_id', '=', previous.id)
          .execute();
        for (const row of rows) seen.set(keyOf(row), Number(row.first_seen_at));
      }
      const findings: Finding[] = result.findings.map((f) => ({ ...f, firstSeenAt: Math.min(f.firstSeenAt, seen.get(keyOf(f)) ?? f.firstSeenAt) }));
      const byKind: Partial<Record<FindingKind, number>> = {};
      for (const f of findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
      const complete = result.completeness?.complete ?? true;
      const inserted = await this.store.db
        .insertInto('reconciliations')
        .values({
          tenant,
          app: result.app,
          at: result.at,
          idp_source: JSON.stringify(result.idp),
          app_source: JSON.stringify(result.appSource),
          identities: result.counts.identities,
          accounts: result.counts.accounts,
          matched: result.counts.matched,
          by_kind: JSON.stringify(byKind),
          complete: complete ? 1 : 0,
          incomplete_reasons: JSON.stringify(complete ? [] : (result.completeness?.reasons ?? [])),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const id = Number(inserted.id);
      for (let start = 0; start < findings.length; start += findingsBatch) {
        const batch = findings.slice(start, start + findingsBatch);
        await this.store.db
          .insertInto('reconcile_findings')
          .values(batch.map((f) => ({ reconciliation_id: id, kind: f.kind, person: f.person, detail: f.detail, first_seen_at: f.firstSeenAt })))
          .execute();
      }
      return { ...result, id, findings };
    });
  }

  /** The tenant's reconciliations, oldest first; of one app when given; since a time when given. */
  async list(tenant: string, filter: { app?: string; since?: number } = {}): Promise<ReconciliationRecord[]> {
    let query = this.store.db.selectFrom('reconciliations').selectAll().where('tenant', '=', tenant);
    if (filter.app) query = query.where('app', '=', filter.app);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    const rows = await query.orderBy('at').orderBy('id').execute();
    return rows.map(toRecord);
  }

  /** The app's newest reconciliation, whatever it read. */
  async latest(tenant: string, app: string): Promise<ReconciliationRecord | undefined> {
    const row = await this.store.db
      .selectFrom('reconciliations')
      .selectAll()
      .where('tenant', '=', tenant)
      .where('app', '=', app)
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * The app's last audit: its newest reconciliation against a complete read of its accounts (the
   * API, SCIM, the console, or an export) and of the IdP. Attestations cover only the work that
   * went through Patchbay, and a read that ended short saw only part: neither is an audit.
   */
  async lastAudit(tenant: string, app: string): Promise<ReconciliationRecord | undefined> {
    return this.latestComplete(tenant, app, false);
  }

  /** The app's newest complete reconciliation over attestations (attestation: true) or over a read of the app itself. */
  private async latestComplete(tenant: string, app: string, attestation: boolean): Promise<ReconciliationRecord | undefined> {
    const row = await this.store.db
      .selectFrom('reconciliations')
      .selectAll()
      .where('tenant', '=', tenant)
      .where('app', '=', app)
      .where('complete', '=', 1)
      .where(this.sourceKind(), attestation ? '=' : '<>', 'attestation')
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && toRecord(row);
  }

  /**
   * The `kind` of a reconciliation's app source (a JSON text column). The builder has no JSON
   * accessor, and the dialects spell it differently: SQLite reads the text as JSON directly,
   * PostgreSQL must cast the TEXT column to json first.
   */
  private sourceKind(): RawBuilder<string> {
    return this.store.dialect === 'postgres' ? sql<string>`(app_source::json ->> 'kind')` : sql<string>`json_extract(app_source, '$.kind')`;
  }

  /**
   * The app's open findings: those of its last audit, with their first-seen times. A later
   * incomplete or attestation reconciliation does not change them.
   */
  async openFindings(tenant: string, app: string, limit?: number): Promise<StoredFinding[]> {
    const audit = await this.lastAudit(tenant, app);
    return audit ? this.findingsOf(audit.id, limit) : [];
  }

  /** The findings of one reconciliation, as stored (the first `limit` by kind and person, in code-point order, when given). */
  async findingsOf(id: number, limit?: number): Promise<StoredFinding[]> {
    let query = this.store.db
      .selectFrom('reconcile_findings')
      .select(['kind', 'person', 'detail', 'first_seen_at as firstSeenAt'])
      .where('reconciliation_id', '=', id)
      .orderBy(byCodePoint(this.store.dialect, 'kind'))
      .orderBy(byCodePoint(this.store.dialect, 'person'));
    if (limit !== undefined) query = query.limit(limit);
    const rows = await query.execute();
    return rows.map((r) => ({ kind: r.kind as FindingKind, person: r.person, detail: r.detail, firstSeenAt: Number(r.firstSeenAt) }));
  }
}

/**
 * A text column ordered by code point, the same on both databases: SQLite compares text bytewise
 * already; PostgreSQL uses the database's collation (en_US sorts "a.b" after "ab") unless told "C".
 */
function byCodePoint(dialect: Dialect, column: 'kind' | 'person'): RawBuilder<string> {
  return dialect === 'postgres' ? sql<string>`${sql.ref(column)} COLLATE "C"` : sql<string>`${sql.ref(column)}`;
}

function toRecord(row: Row): ReconciliationRecord {
  const byKind = JSON.parse(row.by_kind) as Partial<Record<FindingKind, number>>;
  return {
    id: Number(row.id),
    tenant: row.tenant,
    app: row.app,
    at: Number(row.at),
    idp: JSON.parse(row.idp_source) as SnapshotSource,
    appSource: JSON.parse(row.app_source) as SnapshotSource,
    completeness: row.complete ? { complete: true, reasons: [] } : { complete: false, reasons: JSON.parse(row.incomplete_reasons) as string[] },
    counts: { identities: row.identities, accounts: row.accounts, matched: row.matched },
    byKind,
    findings: Object.values(byKind).reduce((a, b) => a + (b ?? 0), 0),
  };
}
