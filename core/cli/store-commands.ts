import type { Command } from 'commander';
import { databaseFile, redactUrl, storeExists } from '../store/location.js';
import type { CliContext } from './run-commands.js';

/**
 * `patchbay migrate`: brings the store's schema to this Patchbay's version. On PostgreSQL this is
 * the deliberate step before a server or worker starts (they refuse an older schema); the embedded
 * SQLite store migrates itself when opened, and this command does it without running anything.
 */
export function registerStoreCommands(program: Command, cli: Pick<CliContext, 'databaseUrl' | 'engine' | 'print' | 'printJson'> & { dataDir: () => string }): void {
  program
    .command('migrate')
    .description("apply the store's schema migrations (PostgreSQL with --database or PATCHBAY_DATABASE_URL; else the data folder's SQLite file); with --engine dbos, DBOS's tables too")
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      // The drivers are loaded by this command only: `patchbay --help` and `plan` never open a store.
      const [{ latestSchemaVersion, migratePostgres, openStore }, { migrations }] = await Promise.all([import('../store/sql.js'), import('../store/migrations.js')]);
      const url = cli.databaseUrl();
      const location = url ? redactUrl(url) : databaseFile(cli.dataDir());
      let applied: number[];
      if (url) {
        const store = await openStore({ url }, { migrations: 'ignore' });
        try {
          applied = await migratePostgres(store.db, location);
        } finally {
          await store.close();
        }
        // DBOS's own schema (dbos) in the same database, before servers and workers launch DBOS at once.
        if (cli.engine() === 'dbos') await (await import('../engine/dbos-engine.js')).migrateDbos(url);
      } else {
        const before = storeExists(cli.dataDir()) ? await sqliteSchemaVersion(databaseFile(cli.dataDir())) : 0;
        await (await openStore({ dataDir: cli.dataDir() })).close();
        applied = migrations.filter((m) => m.version > before).map((m) => m.version);
      }
      const dbos = cli.engine() === 'dbos';
      const result = { database: location, dialect: url ? 'postgres' : 'sqlite', schemaVersion: latestSchemaVersion(), applied, ...(dbos ? { dbos: 'migrated' } : {}) };
      if (options.json) cli.printJson(result);
      else cli.print(`${location}: schema version ${result.schemaVersion}${applied.length ? ` (applied ${applied.join(', ')})` : ' (already up to date)'}${dbos ? '; DBOS tables (schema dbos) up to date' : ''}`);
    });
}

async function sqliteSchemaVersion(file: string): Promise<number> {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    return has ? ((db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0) : 0;
  } finally {
    db.close();
  }
}
