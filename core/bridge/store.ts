import type { Selectable } from 'kysely';
import type { StoreDatabase } from '../store/sql.js';
import type { ScimResourcesTable } from '../store/tables.js';
import { ScimRefusal } from './errors.js';
import { type EqFilter, filterCondition } from './filter.js';
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

type Row = Selectable<ScimResourcesTable>;

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
  runOperation: r.run_operation as BridgeOperation | null,
  failure: r.failure,
});

const fold = (s: string) => s.trim().toLowerCase();

/**
 * Whether an error is a unique-key violation, on either database: SQLite's constraint code, or
 * PostgreSQL's SQLSTATE 23505 (unique_violation).
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/**
 * The bridge's SCIM resources in the store (migration 10): one row per (tenant, app, id), userName
 * unique per app case-insensitively among live rows (a unique index, so that two servers creating
 * one userName at once cannot both succeed); a DELETE keeps the row as a tombstone (for the run it
 * started and to number a later re-creation's onboarding).
 */
export class BridgeStore {
  constructor(private readonly store: StoreDatabase) {}

  private live(tenant: string, app: string) {
    return this.store.db.selectFrom('scim_resources').selectAll().where('tenant', '=', tenant).where('app', '=', app).where('deleted_at', 'is', null);
  }

  async get(tenant: string, app: string, id: string): Promise<BridgeResource | undefined> {
    const row = await this.live(tenant, app).where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  /** The live resources matching one `eq` filter (userName and emails case-insensitively, ids and externalId exactly), oldest first. */
  async find(tenant: string, app: string, filter: EqFilter): Promise<BridgeResource[]> {
    const rows = await this.live(tenant, app).where((eb) => filterCondition(eb, filter)).orderBy('created_at').orderBy('id').execute();
    return rows.map(fromRow);
  }

  /** One page of the live resources, oldest first: `startIndex` is 1-based (RFC 7644 §3.4.2.4). */
  async page(tenant: string, app: string, startIndex: number, count: number): Promise<{ total: number; items: BridgeResource[] }> {
    const counted = await this.store.db
      .selectFrom('scim_resources')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant', '=', tenant)
      .where('app', '=', app)
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    const rows = await this.live(tenant, app).orderBy('created_at').orderBy('id').limit(count).offset(startIndex - 1).execute();
    return { total: Number(counted.n), items: rows.map(fromRow) };
  }

  /** Every live resource of an app, oldest first. */
  async all(tenant: string, app: string): Promise<BridgeResource[]> {
    return (await this.live(tenant, app).orderBy('created_at').orderBy('id').execute()).map(fromRow);
  }

  /** How many resources with this userName were deleted before: numbers a re-creation's onboarding. */
  async deletedWithUserName(tenant: string, app: string, userName: string): Promise<number> {
    const row = await this.store.db
      .selectFrom('scim_resources')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant', '=', tenant)
      .where('app', '=', app)
      .where('user_name_folded', '=', fold(userName))
      .where('deleted_at', 'is not', null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /**
   * Writes a resource (insert or whole replacement) and records its run, in one transaction.
   * @throws ScimRefusal 409 `uniqueness` when another live resource of the app has the userName.
   */
  async put(r: BridgeResource): Promise<void> {
    try {
      await this.store.transaction(async () => {
        await this.store.db
          .insertInto('scim_resources')
          .values({
            tenant: r.tenant,
            app: r.app,
            id: r.id,
            user_name: r.userName,
            user_name_folded: fold(r.userName),
            external_id: r.externalId,
            email_folded: fold(r.email),
            attributes: JSON.stringify(r.attributes),
            active: r.active ? 1 : 0,
            version: r.version,
            created_at: r.createdAt,
            last_modified: r.lastModified,
            run_id: r.runId,
            run_operation: r.runOperation,
            failure: r.failure,
          })
          .onConflict((oc) =>
            oc.columns(['tenant', 'app', 'id']).doUpdateSet((eb) => ({
              user_name: eb.ref('excluded.user_name'),
              user_name_folded: eb.ref('excluded.user_name_folded'),
              external_id: eb.ref('excluded.external_id'),
              email_folded: eb.ref('excluded.email_folded'),
              attributes: eb.ref('excluded.attributes'),
              active: eb.ref('excluded.active'),
              version: eb.ref('excluded.version'),
              last_modified: eb.ref('excluded.last_modified'),
              run_id: eb.ref('excluded.run_id'),
              run_operation: eb.ref('excluded.run_operation'),
              failure: eb.ref('excluded.failure'),
            })),
          )
          .execute();
        if (r.runId) {
          await this.store.db
            .insertInto('scim_runs')
            .values({ tenant: r.tenant, app: r.app, id: r.id, run_id: r.runId, operation: r.runOperation!, started_at: r.lastModified })
            .onConflict((oc) => oc.columns(['tenant', 'app', 'id', 'run_id']).doNothing())
            .execute();
        }
      });
    } catch (error) {
      // The one unique key an upsert on the primary key can still break: the live userName's.
      if (isUniqueViolation(error)) throw new ScimRefusal(409, `a User with userName ${JSON.stringify(r.userName)} already exists in ${r.app}`, 'uniqueness');
      throw error;
    }
  }

  async markDeleted(tenant: string, app: string, id: string, at: number): Promise<void> {
    await this.store.db.updateTable('scim_resources').set({ deleted_at: at }).where('tenant', '=', tenant).where('app', '=', app).where('id', '=', id).where('deleted_at', 'is', null).execute();
  }

  /** The runs started for a resource, oldest first. */
  async runsOf(tenant: string, app: string, id: string): Promise<{ runId: string; operation: BridgeOperation }[]> {
    const rows = await this.store.db
      .selectFrom('scim_runs')
      .select(['run_id', 'operation'])
      .where('tenant', '=', tenant)
      .where('app', '=', app)
      .where('id', '=', id)
      .orderBy('started_at')
      .orderBy('run_id')
      .execute();
    return rows.map((r) => ({ runId: r.run_id, operation: r.operation as BridgeOperation }));
  }
}
