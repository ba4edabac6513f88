import type { Database } from '../store/database.js';
import { StatementCache } from '../store/database.js';
import type { EqFilter } from './filter.js';
import type { UserAttributes } from './patch.js';

/** The lifecycle a bridge write asked for. */
export type BridgeOperation = 'onboard' | 'offboard' | 'change';

/** A SCIM User the bridge holds for one app: what the IdP asked for, and the run that carries it out. Times in ms since the epoch. */
export interface BridgeResource {
  readonly tenant: string;
  readonly app: string;
  readonly id: string;
  readonly userName: string;
  readonly externalId: string | null;
  /** The person's email in the app (the work email, else the primary, else the userName). */
  readonly email: string;
  /** Every attribute as the IdP sent it (userName, name, emails, active, extensions), without id, meta and schemas. */
  readonly attributes: UserAttributes;
  readonly active: boolean;
  /** Goes up by one on each change; the ETag is `W/"<version>"`. */
  readonly version: number;
  readonly createdAt: number;
  readonly lastModified: number;
  /** The run the latest lifecycle change started, and which lifecycle it was. */
  readonly runId: string | null;
  readonly runOperation: BridgeOperation | null;
  /** Why the latest change could not start a run (it is then `failed`). */
  readonly failure: string | null;
}

interface Row {
  tenant: string;
  app: string;
  id: string;
  user_name: string;
  external_id: string | null;
  email_folded: string | null;
  attributes: string;
  active: number;
  version: number;
  created_at: number;
  last_modified: number;
  run_id: string | null;
  run_operation: BridgeOperation | null;
  failure: string | null;
}

const fromRow = (r: Row): BridgeResource => ({
  tenant: r.tenant,
  app: r.app,
  id: r.id,
  userName: r.user_name,
  externalId: r.external_id,
  email: r.email_folded ?? '',
  attributes: JSON.parse(r.attributes) as UserAttributes,
  active: r.active === 1,
  version: r.version,
  createdAt: r.created_at,
  lastModified: r.last_modified,
  runId: r.run_id,
  runOperation: r.run_operation,
  failure: r.failure,
});

const fold = (s: string) => s.trim().toLowerCase();

/**
 * The bridge's SCIM resources in the store (migration 10): one row per (tenant, app, id), userName
 * unique per app case-insensitively among live rows; a DELETE keeps the row as a tombstone (for the
 * run it started and to number a later re-creation's onboarding).
 */
export class BridgeStore {
  private readonly statements: StatementCache;

  constructor(private readonly db: Database) {
    this.statements = new StatementCache(db);
  }

  get(tenant: string, app: string, id: string): BridgeResource | undefined {
    const row = this.statements.get('SELECT * FROM scim_resources WHERE tenant = ? AND app = ? AND id = ? AND deleted_at IS NULL').get(tenant, app, id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** The live resources matching one `eq` filter (userName and emails case-insensitively, ids and externalId exactly). */
  find(tenant: string, app: string, filter: EqFilter): BridgeResource[] {
    const column = { userName: 'user_name_folded', externalId: 'external_id', id: 'id', email: 'email_folded' }[filter.attribute];
    const value = filter.attribute === 'userName' || filter.attribute === 'email' ? fold(filter.value) : filter.value;
    return (this.statements.get(`SELECT * FROM scim_resources WHERE tenant = ? AND app = ? AND ${column} = ? AND deleted_at IS NULL ORDER BY created_at, id`).all(tenant, app, value) as Row[]).map(fromRow);
  }

  /** One page of the live resources, oldest first: `startIndex` is 1-based (RFC 7644 §3.4.2.4). */
  page(tenant: string, app: string, startIndex: number, count: number): { total: number; items: BridgeResource[] } {
    const total = (this.statements.get('SELECT COUNT(*) AS n FROM scim_resources WHERE tenant = ? AND app = ? AND deleted_at IS NULL').get(tenant, app) as { n: number }).n;
    const rows = this.statements.get('SELECT * FROM scim_resources WHERE tenant = ? AND app = ? AND deleted_at IS NULL ORDER BY created_at, id LIMIT ? OFFSET ?').all(tenant, app, count, startIndex - 1) as Row[];
    return { total, items: rows.map(fromRow) };
  }

  /** Every live resource of an app, oldest first. */
  all(tenant: string, app: string): BridgeResource[] {
    return (this.statements.get('SELECT * FROM scim_resources WHERE tenant = ? AND app = ? AND deleted_at IS NULL ORDER BY created_at, id').all(tenant, app) as Row[]).map(fromRow);
  }

  /** How many resources with this userName were deleted before: numbers a re-creation's onboarding. */
  deletedWithUserName(tenant: string, app: string, userName: string): number {
    return (this.statements.get('SELECT COUNT(*) AS n FROM scim_resources WHERE tenant = ? AND app = ? AND user_name_folded = ? AND deleted_at IS NOT NULL').get(tenant, app, fold(userName)) as { n: number }).n;
  }

  /** Writes a resource (insert or whole replacement) and records its run. Throws SQLite's unique-constraint error on a taken userName. */
  put(r: BridgeResource): void {
    this.db.transaction(() => {
      this.statements
        .get(
          `INSERT INTO scim_resources (tenant, app, id, user_name, user_name_folded, external_id, email_folded, attributes, active, version, created_at, last_modified, run_id, run_operation, failure)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (tenant, app, id) DO UPDATE SET user_name = excluded.user_name, user_name_folded = excluded.user_name_folded, external_id = excluded.external_id,
             email_folded = excluded.email_folded, attributes = excluded.attributes, active = excluded.active, version = excluded.version, last_modified = excluded.last_modified,
             run_id = excluded.run_id, run_operation = excluded.run_operation, failure = excluded.failure`,
        )
        .run(r.tenant, r.app, r.id, r.userName, fold(r.userName), r.externalId, fold(r.email), JSON.stringify(r.attributes), r.active ? 1 : 0, r.version, r.createdAt, r.lastModified, r.runId, r.runOperation, r.failure);
      if (r.runId) this.statements.get('INSERT OR IGNORE INTO scim_runs (tenant, app, id, run_id, operation, started_at) VALUES (?, ?, ?, ?, ?, ?)').run(r.tenant, r.app, r.id, r.runId, r.runOperation, r.lastModified);
    })();
  }

  markDeleted(tenant: string, app: string, id: string, at: number): void {
    this.statements.get('UPDATE scim_resources SET deleted_at = ? WHERE tenant = ? AND app = ? AND id = ? AND deleted_at IS NULL').run(at, tenant, app, id);
  }

  /** The runs started for a resource, oldest first. */
  runsOf(tenant: string, app: string, id: string): { runId: string; operation: BridgeOperation }[] {
    return this.statements.get('SELECT run_id AS runId, operation FROM scim_runs WHERE tenant = ? AND app = ? AND id = ? ORDER BY started_at, run_id').all(tenant, app, id) as { runId: string; operation: BridgeOperation }[];
  }
}
