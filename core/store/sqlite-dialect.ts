import type BetterSqlite3 from 'better-sqlite3';
import { isBusy } from './database.js';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type Kysely,
} from 'kysely';

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

/**
 * Kysely's dialect for the embedded store, on one better-sqlite3 connection. It differs from
 * Kysely's own SqliteDialect in three ways the store needs:
 * - transactions begin with `BEGIN IMMEDIATE` (the store reads then writes, and a read transaction
 *   that must become a write one cannot wait for another process's write), retried while busy;
 * - statements are prepared once per SQL text and reused (preparing is most of the cost of a small
 *   query; the store has a few hundred distinct statements);
 * - the connection is shared with the caller, who keeps it open and closes it.
 * Queries take turns on the one connection: a transaction holds it until it commits.
 */
export class EmbeddedSqliteDialect implements Dialect {
  constructor(private readonly db: BetterSqlite3.Database) {}

  createAdapter() {
    return new SqliteAdapter();
  }

  createDriver(): Driver {
    return new EmbeddedSqliteDriver(this.db);
  }

  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }

  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}


class EmbeddedSqliteDriver implements Driver {
  private readonly connection: EmbeddedSqliteConnection;
  private queue: Promise<void> = Promise.resolve();

  constructor(db: BetterSqlite3.Database) {
    this.connection = new EmbeddedSqliteConnection(db);
  }

  async init(): Promise<void> {}

  /** One connection: the next caller waits until the previous one released it. */
  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    this.connection.release = release;
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // The busy timeout waits inside SQLite; a few short retries after it cover what it does not.
    for (let attempt = 1; ; attempt++) {
      try {
        await connection.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'));
        return;
      } catch (error) {
        if (!isBusy(error) || attempt >= 8) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** Math.min(attempt - 1, 5)));
      }
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('COMMIT'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if ((connection as EmbeddedSqliteConnection).db.inTransaction) await connection.executeQuery(CompiledQuery.raw('ROLLBACK'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const release = (connection as EmbeddedSqliteConnection).release;
    (connection as EmbeddedSqliteConnection).release = undefined;
    release?.();
  }

  async destroy(): Promise<void> {
    // The connection belongs to whoever opened it.
  }
}

class EmbeddedSqliteConnection implements DatabaseConnection {
  release: (() => void) | undefined;
  private readonly statements = new Map<string, Statement>();

  constructor(readonly db: BetterSqlite3.Database) {}

  private prepare(text: string): Statement {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare<unknown[], unknown>(text)));
    return statement;
  }

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    try {
      const statement = this.prepare(compiled.sql);
      const parameters = compiled.parameters as unknown[];
      if (statement.reader) return Promise.resolve({ rows: statement.all(...parameters) as R[] });
      const { changes, lastInsertRowid } = statement.run(...parameters);
      return Promise.resolve({ rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const statement = this.prepare(compiled.sql);
    for (const row of statement.iterate(...(compiled.parameters as unknown[]))) yield { rows: [row as R] };
  }
}
