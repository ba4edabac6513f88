import { mkdirSync } from 'node:fs';
import BetterSqlite3 from 'better-sqlite3';
import { PatchbayError } from '../errors.js';
import { displayPath } from '../paths.js';
import { databaseFile, describeSqliteError } from './location.js';
import { migrations } from './migrations.js';

export type Database = BetterSqlite3.Database;
export type Statement = BetterSqlite3.Statement<unknown[], unknown>;

/** Prepared statements compiled once per connection: preparing is most of the cost of a small query. */
export class StatementCache {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly db: Database) {}

  get(text: string): Statement {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare<unknown[], unknown>(text)));
    return statement;
  }
}


/** The store cannot be opened or used: corrupt, locked, written by a newer Patchbay, unwritable. */
export class StoreError extends PatchbayError {
  readonly code = 'store';
  override readonly exitCode = 2;
  constructor(readonly file: string, reason: string, options?: { cause?: unknown }) {
    super(`${file.includes('://') ? file : displayPath(file)}: ${reason}`, options);
  }
}

export { databaseFile, defaultDataDir, describeSqliteError, storeExists } from './location.js';

/** The busy timeout of every connection: PATCHBAY_BUSY_TIMEOUT_MS, else 5 000 ms. */
export const busyTimeoutMs = (env: NodeJS.ProcessEnv = process.env): number => Number(env.PATCHBAY_BUSY_TIMEOUT_MS) || 5000;

/** Whether SQLite answered busy or locked (another connection holds the write lock). */
export const isBusy = (error: unknown): boolean => /^SQLITE_(BUSY|LOCKED)/.test((error as { code?: string })?.code ?? '');

/**
 * Runs `fn` again while SQLite answers busy or locked, waiting 25 ms, 50 ms, … (at most
 * `attempts` tries, default 8, about 6 s in all). For the few places SQLite does not wait by
 * itself under the busy timeout: a read transaction that must become a write one, changing the
 * journal mode, a checkpoint. Waits synchronously: better-sqlite3 is synchronous too.
 * @throws the last error when every try was busy, or the first error that is not busy.
 */
export function retryBusy<T>(fn: () => T, attempts = 8): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return fn();
    } catch (error) {
      if (!isBusy(error) || attempt >= attempts) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25 * 2 ** Math.min(attempt - 1, 5));
    }
  }
}

/**
 * Opens (and creates or migrates) the SQLite journal: WAL, synchronous=FULL so that a committed
 * transaction survives a power cut, foreign keys on, and a busy timeout (5 s, or
 * PATCHBAY_BUSY_TIMEOUT_MS) so that two processes on one data dir wait for each other (a CLI
 * command beside a running server waits for the server's write to commit, then goes on).
 * Migrations run in `BEGIN IMMEDIATE` transactions, retried briefly when busy.
 */
export function openDatabase(dataDir: string, options: { busyTimeoutMs?: number } = {}): Database {
  const file = databaseFile(dataDir);
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (cause) {
    throw new StoreError(dataDir, `cannot create the data folder (${(cause as NodeJS.ErrnoException).code})`, { cause });
  }
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(file, { timeout: options.busyTimeoutMs ?? busyTimeoutMs() });
    const open = db;
    open.pragma(`busy_timeout = ${options.busyTimeoutMs ?? busyTimeoutMs()}`);
    retryBusy(() => open.pragma('journal_mode = WAL'));
    open.pragma('synchronous = FULL');
    open.pragma('foreign_keys = ON');
    retryBusy(() => migrate(open, file));
    return open;
  } catch (cause) {
    db?.close();
    if (cause instanceof StoreError) throw cause;
    throw new StoreError(file, describeSqliteError(cause), { cause });
  }
}

function migrate(db: Database, file: string): void {
  const latest = migrations.at(-1)!.version;
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  // An up-to-date store is only read: a CLI command beside a busy server takes no write lock to start.
  if (hasTable && ((db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0) === latest) return;
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const current = (db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    if (current > latest) {
      throw new StoreError(file, `was written by a newer Patchbay (schema version ${current}; this one knows up to ${latest})`);
    }
    for (const migration of migrations.filter((m) => m.version > current)) {
      db.exec(migration.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(migration.version, migration.name, Date.now());
    }
  }).immediate();
}
