import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';

/*
 * Where the store is, without opening it: the functions every command needs at start (the data
 * folder, the PostgreSQL address chosen), kept apart from the drivers (better-sqlite3, pg, Kysely)
 * so that commands that never open the store (plan, --help) do not load them.
 */

/** Where the embedded store lives: --data-dir, else PATCHBAY_DATA_DIR, else the user's data folder. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PATCHBAY_DATA_DIR) return path.resolve(env.PATCHBAY_DATA_DIR);
  const base = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'patchbay');
}

/** The embedded store's SQLite file in a data folder. */
export const databaseFile = (dataDir: string) => path.join(dataDir, 'patchbay.db');

/** Whether a data folder already holds a store (commands that only read do not create one). */
export const storeExists = (dataDir: string): boolean => existsSync(databaseFile(dataDir));

/** What a SQLite error (its `code`, SQLITE_…) means for the person who ran the command, as the end of a sentence about the store. */
export function describeSqliteError(error: unknown): string {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return 'is not a Patchbay database or is corrupt (move it aside to start afresh)';
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return 'is locked by another process; try again when it has finished';
  if (code === 'SQLITE_READONLY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM') return `cannot be opened for writing (${code})`;
  return `database error: ${(error as Error)?.message ?? String(error)}`;
}

/**
 * The PostgreSQL address chosen by `--database` or, without it, PATCHBAY_DATABASE_URL; undefined
 * for the embedded store.
 * @throws InvalidInputError when the value is not a postgres:// or postgresql:// address.
 */
export function chosenDatabaseUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = flag ?? (env.PATCHBAY_DATABASE_URL || undefined);
  if (value === undefined) return undefined;
  const where = flag !== undefined ? '--database' : 'PATCHBAY_DATABASE_URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new InvalidInputError({ file: where }, 'is not an address: expected postgres://user@host:5432/database', { cause });
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InvalidInputError({ file: where }, `${url.protocol}// is not supported: expected postgres://user@host:5432/database (without it, the embedded SQLite store is used)`);
  }
  return value;
}

/** A PostgreSQL address as it may be printed: without its password or query string. */
export function redactUrl(address: string): string {
  try {
    const url = new URL(address);
    if (url.password) url.password = '***';
    url.search = '';
    return url.toString();
  } catch {
    return 'postgres://…';
  }
}
