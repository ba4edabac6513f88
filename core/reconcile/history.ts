import { inject, injectable } from 'inversify';
import { type Database, StatementCache, StoreDatabase } from '../store/database.js';
import type { Finding, FindingKind, Reconciliation } from './findings.js';
import type { SnapshotSource } from './snapshot.js';

/** One reconciliation as the store keeps it: its sources, counts and findings by kind. */
export interface ReconciliationRecord {
  readonly id: number;
  readonly tenant: string;
  readonly app: string;
  readonly at: number;
  readonly idp: SnapshotSource;
  readonly appSource: SnapshotSource;
  readonly counts: Reconciliation['counts'];
  readonly byKind: Readonly<Partial<Record<FindingKind, number>>>;
  readonly findings: number;
}

type Row = { id: number; tenant: string; app: string; at: number; idp_source: string; app_source: string; identities: number; accounts: number; matched: number; by_kind: string };

const keyOf = (f: { kind: string; person: string }) => `${f.kind}\u0000${f.person.toLowerCase()}`;

/**
 * Every reconciliation, kept: the trend of findings per app over time, the age of a finding (since
 * the first reconciliation that showed it, carried while each later one still shows it), and the
 * date of each app's last audit.
 */
@injectable()
export class ReconcileHistory {
  private readonly statements: StatementCache;

  constructor(@inject(StoreDatabase) private readonly database: Database) {
    this.statements = new StatementCache(database);
  }

  private sql(text: string) {
    return this.statements.get(text);
  }

  /** Stores a reconciliation and returns it with each finding's first-seen time carried from the app's previous one. */
  record(tenant: string, result: Reconciliation): Reconciliation & { readonly id: number } {
    return this.database.transaction(() => {
      const previous = this.latest(tenant, result.app);
      const seen = new Map<string, number>();
      if (previous) {
        for (const row of this.sql('SELECT kind, person, first_seen_at AS firstSeenAt FROM reconcile_findings WHERE reconciliation_id = ?').iterate(previous.id) as Iterable<{ kind: string; person: string; firstSeenAt: number }>) {
          seen.set(keyOf(row), row.firstSeenAt);
        }
      }
      const findings: Finding[] = result.findings.map((f) => ({ ...f, firstSeenAt: Math.min(f.firstSeenAt, seen.get(keyOf(f)) ?? f.firstSeenAt) }));
      const byKind: Partial<Record<FindingKind, number>> = {};
      for (const f of findings) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
      const { lastInsertRowid } = this.sql(
        'INSERT INTO reconciliations (tenant, app, at, idp_source, app_source, identities, accounts, matched, by_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ).run(tenant, result.app, result.at, JSON.stringify(result.idp), JSON.stringify(result.appSource), result.counts.identities, result.counts.accounts, result.counts.matched, JSON.stringify(byKind));
      const id = Number(lastInsertRowid);
      const insert = this.sql('INSERT INTO reconcile_findings (reconciliation_id, kind, person, detail, first_seen_at) VALUES (?, ?, ?, ?, ?)');
      for (const f of findings) insert.run(id, f.kind, f.person, f.detail, f.firstSeenAt);
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
   * The app's last audit: its newest reconciliation against a full read of its accounts (the API,
   * the console, or an export). Attestations cover only the work that went through Patchbay, so a
   * reconciliation on them alone is not an audit.
   */
  lastAudit(tenant: string, app: string): ReconciliationRecord | undefined {
    const row = this.sql("SELECT * FROM reconciliations WHERE tenant = ? AND app = ? AND json_extract(app_source, '$.kind') <> 'attestation' ORDER BY at DESC, id DESC LIMIT 1").get(tenant, app) as Row | undefined;
    return row && toRecord(row);
  }

  /** The findings of one reconciliation, as stored. */
  findingsOf(id: number): { kind: FindingKind; person: string; detail: string; firstSeenAt: number }[] {
    return this.sql('SELECT kind, person, detail, first_seen_at AS firstSeenAt FROM reconcile_findings WHERE reconciliation_id = ? ORDER BY kind, person').all(id) as {
      kind: FindingKind;
      person: string;
      detail: string;
      firstSeenAt: number;
    }[];
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
    counts: { identities: row.identities, accounts: row.accounts, matched: row.matched },
    byKind,
    findings: Object.values(byKind).reduce((a, b) => a + (b ?? 0), 0),
  };
}
