import { AsyncLocalStorage } from 'node:async_hooks';
import { type ControlledTransaction, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { type Database as SqliteHandle, StoreError, databaseFile, openDatabase } from './database.js';
import { redactUrl } from './location.js';
import { migrations } from './migrations.js';
import { EmbeddedSqliteDialect } from './sqlite-dialect.js';
import type { Tables } from './tables.js';

/** The query builder over the store's tables, in either dialect. */
export type Sql = Kysely<Tables>;

export type Dialect = 'sqlite' | 'postgres';

/**
 * The store's database, whichever it is: the embedded SQLite file (the default) or PostgreSQL
 * (`--database postgres://…`, for several servers and workers on one database). Every table is
 * read and written through `db`, a Kysely query builder that compiles for the dialect.
 *
 * Transactions are ambient: inside `transaction(fn)`, `db` is that transaction for everything `fn`
 * awaits (an AsyncLocalStorage), so store classes need not pass it along, and a nested call joins
 * the open transaction. Outside one, each statement commits by itself.
 */
export interface StoreDatabase {
  readonly dialect: Dialect;
  /** Where the store is, safe to print: a file path, or a PostgreSQL address without its password. */
  readonly location: string;
  /** The open transaction of the calling async context, else the database. */
  readonly db: Sql;
  /** Whether the calling async context is inside a transaction. */
  readonly inTransaction: boolean;
  /**
   * Runs `fn` in a write transaction (SQLite: BEGIN IMMEDIATE, waiting for another process's write;
   * PostgreSQL: READ COMMITTED, so code writes with conditions and unique keys, never read-then-write
   * without a lock), or in the one already open. Commits when `fn` resolves, rolls back when it throws.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /** Commits the open transaction (if any), runs `fn` outside any, then opens a new one for the rest. */
  outside<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Calls `fn` once the open transaction has committed (never if it rolls back), or at once outside
   * one: for what must not be said before it is true, such as a log line. What `fn` throws after a commit is dropped.
   */
  afterCommit(fn: () => void): void;
  /**
   * Runs `fn` (synchronously) outside the ambient transaction: what it starts, such as a timer,
   * belongs to no transaction and queries the database on its own.
   */
  detached<T>(fn: () => T): T;
  /**
   * Runs `fn` inside a SAVEPOINT of the open transaction (throws when none is open). When `fn` throws,
   * everything it did is undone: its writes (ROLLBACK TO), what it asked to run after the commit
   * (afterCommit), and what the transaction remembered of the audit chain's head; the error is rethrown.
   */
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Serialises appends to the audit log's hash chain within the open transaction, so that two
   * writers cannot both link to the same previous row: SQLite's write transaction already does;
   * PostgreSQL takes a transaction-scoped advisory lock, once per transaction. Answers the chain's
   * head as this transaction last wrote it (noteAuditHead), or undefined when it has appended
   * nothing yet (then the caller reads the last row: another writer may have appended before).
   */
  lockAuditChain(): Promise<AuditHead | undefined>;
  /** Notes the audit chain's head the open transaction has just written, for its next append. */
  noteAuditHead(head: AuditHead): void;
  /** The schema version the database is at (0 for an empty one). */
  schemaVersion(): Promise<number>;
  /** The SQLite connection under the embedded store (undefined on PostgreSQL), for backups and pragmas. */
  readonly sqlite: SqliteHandle | undefined;
  close(): Promise<void>;
}

/** The store's database, bound by the composition root. */
export const StoreDatabase = Symbol('StoreDatabase');

/** The newest schema version this Patchbay knows. */
export const latestSchemaVersion = (): number => migrations.at(-1)!.version;

/** A rollback to a savepoint failed: the whole transaction is lost (`cause`: the rollback's error; `undone`: what `fn` threw). */
export class SavepointRollbackError extends Error {
  constructor(
    cause: unknown,
    readonly undone: unknown,
  ) {
    super(`could not roll back to a savepoint: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** The audit chain's last row: its sequence number and hash. */
export interface AuditHead {
  readonly seq: number;
  readonly hash: string;
}

interface Scope {
  trx: ControlledTransaction<Tables> | null;
  /** What to call when `trx` commits (afterCommit). */
  committed?: (() => void)[];
  /** Whether `trx` holds the audit chain's lock, and the head it last wrote (lockAuditChain). */
  chain?: { head: AuditHead | undefined };
}

/** Calls what waited for a commit, then forgets it. What it throws is dropped: the commit stands, whatever a log line does. */
function runCommitted(scope: Scope): void {
  const waiting = scope.committed ?? [];
  scope.committed = undefined;
  for (const fn of waiting) {
    try {
      fn();
    } catch {
      // See above.
    }
  }
}

class KyselyStore implements StoreDatabase {
  private readonly scope = new AsyncLocalStorage<Scope>();

  constructor(
    readonly dialect: Dialect,
    readonly location: string,
    private readonly root: Sql,
    readonly sqlite: SqliteHandle | undefined,
    private readonly onClose: () => Promise<void>,
  ) {}

  get db(): Sql {
    return this.scope.getStore()?.trx ?? this.root;
  }

  get inTransaction(): boolean {
    return !!this.scope.getStore()?.trx;
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn();
    const scope: Scope = { trx: await this.root.startTransaction().execute() };
    try {
      const result = await this.scope.run(scope, fn);
      await scope.trx?.commit().execute();
      runCommitted(scope);
      return result;
    } catch (error) {
      scope.committed = undefined;
      if (scope.trx && !scope.trx.isCommitted && !scope.trx.isRolledBack) await scope.trx.rollback().execute().catch(() => {});
      throw error;
    } finally {
      scope.trx = null;
    }
  }

  async outside<T>(fn: () => Promise<T>): Promise<T> {
    const scope = this.scope.getStore();
    if (!scope?.trx) return fn();
    await scope.trx.commit().execute();
    scope.trx = null;
    scope.chain = undefined;
    runCommitted(scope);
    try {
      return await fn();
    } finally {
      scope.trx = await this.root.startTransaction().execute();
    }
  }

  detached<T>(fn: () => T): T {
    return this.scope.exit(fn);
  }

  afterCommit(fn: () => void): void {
    const scope = this.scope.getStore();
    if (!scope?.trx) return fn();
    (scope.committed ??= []).push(fn);
  }

  private savepoints = 0;

  async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const scope = this.scope.getStore();
    if (!scope?.trx) throw new Error('a savepoint needs an open transaction');
    // Savepoints are standard SQL on both dialects; the ambient transaction has no builder method for them.
    const name = sql.id(`pb_savepoint_${++this.savepoints}`);
    const before = { committed: scope.committed?.length ?? 0, chain: scope.chain && { head: scope.chain.head } };
    await sql`SAVEPOINT ${name}`.execute(scope.trx);
    try {
      const value = await fn();
      await sql`RELEASE SAVEPOINT ${name}`.execute(scope.trx);
      return value;
    } catch (error) {
      try {
        await sql`ROLLBACK TO SAVEPOINT ${name}`.execute(scope.trx);
        await sql`RELEASE SAVEPOINT ${name}`.execute(scope.trx);
      } catch (failed) {
        // The transaction cannot go on (PostgreSQL would answer its COMMIT with a rollback): the caller must not commit.
        throw new SavepointRollbackError(failed, error);
      }
      scope.committed?.splice(before.committed);
      // A lock taken after the savepoint is released by the rollback to it (PostgreSQL), and rows it appended are gone.
      scope.chain = before.chain;
      throw error;
    }
  }

  async lockAuditChain(): Promise<AuditHead | undefined> {
    const scope = this.scope.getStore();
    if (scope?.trx && scope.chain) return scope.chain.head;
    if (this.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${auditChainLock})`.execute(this.db);
    if (scope?.trx) scope.chain = { head: undefined };
    return undefined;
  }

  noteAuditHead(head: AuditHead): void {
    const scope = this.scope.getStore();
    if (scope?.trx) scope.chain = { head };
  }

  async schemaVersion(): Promise<number> {
    return schemaVersionOf(this.root, this.dialect);
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

/**
 * What a database error means to an operator, in words, for the few that are about the connection or
 * the role rather than the query (PostgreSQL's SQLSTATE codes, Node's socket errors).
 */
const connectionErrors: Record<string, string> = {
  ECONNREFUSED: 'connection refused: is PostgreSQL running and listening there?',
  ENOTFOUND: 'no such host',
  ETIMEDOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  '28P01': 'password authentication failed for the role',
  '28000': 'the role may not connect (pg_hba.conf or the role does not exist)',
  '3D000': 'the database does not exist (create it, then patchbay migrate)',
  '57P01': 'the server was shut down by its administrator',
  '57P02': 'the server crashed',
  '57P03': 'the server is starting up or shutting down',
  '53300': 'the server has too many connections',
  '08006': 'the connection failed',
  '08001': 'the server refused the connection',
  '08004': 'the server rejected the connection',
  '42501': 'permission denied: the role needs rights on the schema and its tables (or run patchbay migrate as their owner)',
};

const codeOf = (error: unknown): string | undefined => (error as { code?: unknown })?.code as string | undefined;

/**
 * Whether an error means the store does not answer now (down, restarting, unreachable, out of
 * connections), so that asking again later may work: a server answers 503, a worker waits and retries.
 */
export function isStoreUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (code && ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', '57P01', '57P02', '57P03', '53300'].includes(code)) return true;
  if (code?.startsWith('08')) return true;
  return /Connection terminated|connect ECONNREFUSED|the database system is (shutting down|starting up)|Client has encountered a connection error|is not currently accepting connections|terminating connection due to administrator command/i.test((error as Error)?.message ?? '');
}

/** A connection or permission error said in words ("password authentication failed…"), else the driver's message. */
export function describeDatabaseError(error: unknown): string {
  const code = codeOf(error);
  const words = code ? connectionErrors[code] : undefined;
  if (words) return `${words} (${code})`;
  return (error as Error)?.message ?? String(error);
}

/** The advisory lock key of the audit chain (any constant unique to Patchbay). */
const auditChainLock = 0x70617463;
/** The advisory lock key that lets one process migrate at a time. */
const migrationLock = 0x70617464;

async function schemaVersionOf(db: Sql, dialect: Dialect): Promise<number> {
  const exists = dialect === 'sqlite'
    ? await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`.execute(db)
    : // to_regclass sees the table whatever the role may do with it: a role without rights is told so when it reads.
      await sql<{ n: number }>`SELECT (to_regclass('schema_migrations') IS NOT NULL)::int AS n`.execute(db);
  if (!exists.rows[0]?.n) return 0;
  const row = await db.selectFrom('schema_migrations').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
  return Number(row?.v ?? 0);
}

/** Where the store is: a PostgreSQL address (`--database`, else PATCHBAY_DATABASE_URL), else the embedded file in the data folder. */
export type StoreTarget = { readonly dataDir: string; readonly url?: undefined } | { readonly url: string; readonly dataDir?: string };

export { chosenDatabaseUrl, redactUrl } from './location.js';

export interface OpenStoreOptions {
  /**
   * What to do with a database whose schema is older than this Patchbay's: `apply` the missing
   * migrations (the embedded store always does: it needs no setup), or `refuse` with one line
   * asking for `patchbay migrate` (a server or worker on PostgreSQL, where migrating is a
   * deliberate step). A newer schema is always refused. `ignore` checks nothing (`patchbay migrate` itself).
   */
  readonly migrations?: 'apply' | 'refuse' | 'ignore';
  /** PostgreSQL: connections in the pool (default 10). */
  readonly poolSize?: number;
}

/**
 * Opens the store's database. The embedded SQLite file is created and migrated as before
 * (core/store/database.ts); PostgreSQL is connected to, and its schema checked or migrated.
 * @throws StoreError naming the database: cannot connect, schema older (with `refuse`) or newer.
 */
export async function openStore(target: StoreTarget, options: OpenStoreOptions = {}): Promise<StoreDatabase> {
  if (target.url === undefined) {
    const handle = openDatabase(target.dataDir);
    const root = new Kysely<Tables>({ dialect: new EmbeddedSqliteDialect(handle) });
    return new KyselyStore('sqlite', databaseFile(target.dataDir), root, handle, async () => {
      await root.destroy();
      if (handle.open) handle.close();
    });
  }
  const location = redactUrl(target.url);
  const pool = new pg.Pool({
    connectionString: target.url,
    max: options.poolSize ?? 10,
    // BIGINT (times in ms, identities) and COUNT read as numbers: every value the store keeps fits in 2^53.
    types: { getTypeParser: (oid: number, format?: unknown) => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) } as pg.CustomTypesConfig,
  });
  pool.on('error', () => {}); // An idle connection's error surfaces on the next query that uses it.
  // So does a checked-out one's: a connection ended by the server (a restart, a failover, pg_terminate_backend)
  // between two queries of a transaction emits 'error' on its client, which without a listener ended the process.
  pool.on('connect', (client) => client.on('error', () => {}));
  const root = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  const store = new KyselyStore('postgres', location, root, undefined, () => root.destroy());
  try {
    await sql`SELECT 1`.execute(root);
  } catch (cause) {
    await store.close();
    throw new StoreError(location, `cannot connect: ${describeDatabaseError(cause)}`, { cause });
  }
  try {
    if (options.migrations === 'ignore') return store;
    if (options.migrations === 'apply') await migratePostgres(root, location);
    const version = await store.schemaVersion();
    const latest = latestSchemaVersion();
    if (version > latest) throw new StoreError(location, `was written by a newer Patchbay (schema version ${version}; this one knows up to ${latest})`);
    if (version < latest) throw new StoreError(location, `has schema version ${version}, this Patchbay needs ${latest}: run \`patchbay migrate --database <address>\` first`);
    return store;
  } catch (error) {
    await store.close();
    if (error instanceof StoreError) throw error;
    throw new StoreError(location, describeDatabaseError(error), { cause: error });
  }
}

/**
 * Applies the missing migrations to PostgreSQL, each in its own transaction with its version row,
 * one process at a time (an advisory lock): two `patchbay migrate` at once apply each version once.
 * Returns the versions applied.
 * @throws StoreError when the database's schema is newer than this Patchbay's.
 */
export async function migratePostgres(db: Sql, location: string): Promise<number[]> {
  try {
    return await applyPostgresMigrations(db, location);
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError(location, `cannot migrate: ${describeDatabaseError(error)}`, { cause: error });
  }
}

async function applyPostgresMigrations(db: Sql, location: string): Promise<number[]> {
  const applied: number[] = [];
  await db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${migrationLock})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`.execute(conn);
      const current = await schemaVersionOf(conn, 'postgres');
      const latest = latestSchemaVersion();
      if (current > latest) throw new StoreError(location, `was written by a newer Patchbay (schema version ${current}; this one knows up to ${latest})`);
      for (const migration of migrations.filter((m) => m.version > current)) {
        await conn.transaction().execute(async (trx) => {
          await sql.raw(migration.postgres).execute(trx);
          await trx.insertInto('schema_migrations').values({ version: migration.version, name: migration.name, applied_at: Date.now() }).execute();
        });
        applied.push(migration.version);
      }
    } finally {
      await sql`SELECT pg_advisory_unlock(${migrationLock})`.execute(conn);
    }
  });
  return applied;
}
