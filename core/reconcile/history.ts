import { inject, injectable } from 'inversify';
import { type Database, StatementCache, SqliteConnection } from '../store/database.js';
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

type Row = { id: number; tenant: string; app: string; at: number; idp_source: string; app_source: string; identities: number; accounts: number; matched: number; by_kind: string; complete: number; incomplete_reasons: string };

const keyOf = (f: { kind: string; person: string }) => `${f.kind}\u0000${f.person.toLowerCase()}`;
/** Findings per INSERT statement: 5 parameters each stays far under SQLite's limit, and no call is ever given a huge array. */
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
 */
@injectable()
export class ReconcileHistory {
  private readonly statements: StatementCache;

  constructor(@inject(SqliteConnection) private readonly database: Database) {
    this.statements = new StatementCache(database);
  }

  private sql(text: string) {
    return this.statements.get(text);
  }

  /**
   * Stores a reconciliation (with its completeness) and returns it with each finding's first-seen
   * time carried from the app's previous complete reconciliation of the same kind of evidence.
   * All in one transaction, the findings inserted `findingsBatch` at a time.
   */
  record(tenant: string, result: Reconciliation): Reconciliation & { readonly id: number } {
    return this.database.transaction(() => {
      const attestation = result.appSource.kind === 'attestation';
      const previous = attestation ? this.latestComplete(tenant, result.app, true) : this.lastAudit(tenant, result.app);
      const seen = new Map<string, number>();
      if (previous) {
        for (const row of this.sql('SELECT kind, person, first_seen_at AS firstSeenAt FROM reconcile_findings WHERE reconciliation_id = ?').iterate(previous.id) as Iterable<{ kind: string; person: string; firstSeenAt: number }>) {
          seen.set(keyOf(row), row.firstSeenAt);
        }
      }
      const findings: Finding[] = result.findings.map((f) => ({ ...f, firstSeenAt: Math.min(f.firstSeenAt, seen.get(keyOf(f)) ?? f.firstSeenAt) }));
      const byKind: Partial<Record<FindingKind, number>> = {};
      for (const f of findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
      const complete = result.completeness?.complete ?? true;
      const { lastInsertRowid } = this.sql(
        'INSERT INTO reconciliations (tenant, app, at, idp_source, app_source, identities, accounts, matched, by_kind, complete, incomplete_reasons) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(
        tenant,
        result.app,
        result.at,
        JSON.stringify(result.idp),
        JSON.stringify(result.appSource),
        result.counts.identities,
        result.counts.accounts,
        result.counts.matched,
        JSON.stringify(byKind),
        complete ? 1 : 0,
        JSON.stringify(complete ? [] : (result.completeness?.reasons ?? [])),
      );
      const id = Number(lastInsertRowid);
      const insert = (n: number) => this.sql(`INSERT INTO reconcile_findings (reconciliation_id, kind, person, detail, first_seen_at) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?)').join(', ')}`);
      const full = insert(findingsBatch);
      for (let start = 0; start < findings.length; start += findingsBatch) {
        const batch = findings.slice(start, start + findingsBatch);
        const values: unknown[] = [];
        for (const f of batch) values.push(id, f.kind, f.person, f.detail, f.firstSeenAt);
        (batch.length === findingsBatch ? full : insert(batch.length)).run(values);
      }
      return { ...result, id, findings };
    })();
  }

  /** The tenant's reconciliations, oldest first; of one app when given; since a time when given. */
  list(tenant: string, filter: { app?: string; since?: number } = {}): ReconciliationRecord[] {
    const where = ['tenant = ?', ...(filter.app ? ['app = ?'] : []), ...(filter.since !== undefined ? ['at >= ?'] : [])];
    const rows = this.sql(`SELECT * FROM reconciliations WHERE ${where.join(' AND ')} ORDER BY at, id`).all(
      tenant,
      ...(filter.app ? [filter.app] : []),
      ...(filter.since !== undefined ? [filter.since] : []),
    ) as Row[];
    return rows.map(toRecord);
  }

  /** The app's newest reconciliation, whatever it read. */
  latest(tenant: string, app: string): ReconciliationRecord | undefined {
    const row = this.sql('SELECT * FROM reconciliations WHERE tenant = ? AND app = ? ORDER BY at DESC, id DESC LIMIT 1').get(tenant, app) as Row | undefined;
    return row && toRecord(row);
  }

  /**
   * The app's last audit: its newest reconciliation against a complete read of its accounts (the
   * API, SCIM, the console, or an export) and of the IdP. Attestations cover only the work that
   * went through Patchbay, and a read that ended short saw only part: neither is an audit.
   */
  lastAudit(tenant: string, app: string): ReconciliationRecord | undefined {
    return this.latestComplete(tenant, app, false);
  }

  /** The app's newest complete reconciliation over attestations (attestation: true) or over a read of the app itself. */
  private latestComplete(tenant: string, app: string, attestation: boolean): ReconciliationRecord | undefined {
    const row = this.sql(
      `SELECT * FROM reconciliations WHERE tenant = ? AND app = ? AND complete = 1 AND json_extract(app_source, '$.kind') ${attestation ? '=' : '<>'} 'attestation' ORDER BY at DESC, id DESC LIMIT 1`,
    ).get(tenant, app) as Row | undefined;
    return row && toRecord(row);
  }

  /**
   * The app's open findings: those of its last audit, with their first-seen times. A later
   * incomplete or attestation reconciliation does not change them.
   */
  openFindings(tenant: string, app: string, limit?: number): StoredFinding[] {
    const audit = this.lastAudit(tenant, app);
    return audit ? this.findingsOf(audit.id, limit) : [];
  }

  /** The findings of one reconciliation, as stored (the first `limit` by kind and person when given). */
  findingsOf(id: number, limit?: number): StoredFinding[] {
    const sql = `SELECT kind, person, detail, first_seen_at AS firstSeenAt FROM reconcile_findings WHERE reconciliation_id = ? ORDER BY kind, person${limit !== undefined ? ' LIMIT ?' : ''}`;
    return this.sql(sql).all(id, ...(limit !== undefined ? [limit] : [])) as StoredFinding[];
  }
}

function toRecord(row: Row): ReconciliationRecord {
  const byKind = JSON.parse(row.by_kind) as Partial<Record<FindingKind, number>>;
  return {
    id: row.id,
    tenant: row.tenant,
    app: row.app,
    at: row.at,
    idp: JSON.parse(row.idp_source) as SnapshotSource,
    appSource: JSON.parse(row.app_source) as SnapshotSource,
    completeness: row.complete ? { complete: true, reasons: [] } : { complete: false, reasons: JSON.parse(row.incomplete_reasons) as string[] },
    counts: { identities: row.identities, accounts: row.accounts, matched: row.matched },
    byKind,
    findings: Object.values(byKind).reduce((a, b) => a + (b ?? 0), 0),
  };
}
