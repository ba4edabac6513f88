import assert from 'node:assert/strict';
import { sql } from 'kysely';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { migrations } from '../../core/store/migrations.js';
import { latestSchemaVersion, migratePostgres, openStore, redactUrl } from '../../core/store/sql.js';
import { freshDatabase } from '../support/postgres.js';
import { runCli, scratchDir } from '../support/fixtures.js';

/** Every table's columns as "name type-family nullability", sorted: what rows look like to the query layer. */
async function columnsOfSqlite(dataDir: string): Promise<Map<string, string[]>> {
  const store = await openStore({ dataDir });
  try {
    const tables = (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`.execute(store.db)).rows;
    const result = new Map<string, string[]>();
    for (const { name } of tables) {
      const cols = (await sql<{ name: string; type: string; notnull: number; pk: number }>`SELECT name, type, "notnull", pk FROM pragma_table_info(${name})`.execute(store.db)).rows;
      result.set(name, cols.map((c) => `${c.name} ${family(c.type)} ${c.notnull || c.pk ? 'not null' : 'null'}`).sort());
    }
    return result;
  } finally {
    await store.close();
  }
}

async function columnsOfPostgres(url: string): Promise<Map<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public'`);
    const result = new Map<string, string[]>();
    for (const r of rows) result.set(r.table_name, [...(result.get(r.table_name) ?? []), `${r.column_name} ${family(r.data_type)} ${r.is_nullable === 'YES' ? 'null' : 'not null'}`]);
    for (const [k, v] of result) result.set(k, v.sort());
    // PostgreSQL's counterpart of SQLite's own sqlite_sequence (left out above): the audit log's high-water mark.
    result.delete('audit_high_water');
    return result;
  } finally {
    await client.end();
  }
}

/** INTEGER and BIGINT are one family (SQLite's INTEGER is 64-bit); TEXT is TEXT. */
const family = (type: string) => (/int/i.test(type) ? 'integer' : /text|char/i.test(type) ? 'text' : type.toLowerCase());

describe('the store on two databases', function () {
  this.timeout(60_000);

  it('one migration history: SQLite and PostgreSQL end with the same tables, columns, types and nullability', async () => {
    const url = await freshDatabase();
    const store = await openStore({ url }, { migrations: 'apply' });
    await store.close();
    const [lite, pgsql] = [await columnsOfSqlite(scratchDir()), await columnsOfPostgres(url)];
    assert.deepEqual([...pgsql.keys()].sort(), [...lite.keys()].sort());
    for (const [table, columns] of lite) assert.deepEqual(pgsql.get(table), columns, table);
  });

  it('one set of indexes on both: every SQLite index exists on PostgreSQL, with the run timers of migration 15 in place of runs_due', async () => {
    const url = await freshDatabase();
    const store = await openStore({ url }, { migrations: 'apply' });
    const pgIndexes = (await sql<{ name: string }>`SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'`.execute(store.db)).rows.map((r) => r.name).sort();
    await store.close();
    const lite = await openStore({ dataDir: scratchDir() });
    const liteIndexes = (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'`.execute(lite.db)).rows.map((r) => r.name).sort();
    await lite.close();
    assert.ok(liteIndexes.includes('runs_timers') && !liteIndexes.includes('runs_due'), liteIndexes.join(', '));
    assert.ok(!pgIndexes.includes('runs_due'), pgIndexes.join(', '));
    assert.deepEqual(liteIndexes.filter((n) => !pgIndexes.includes(n)), [], 'every SQLite index exists on PostgreSQL');
  });

  it('every migration has both dialects, in ascending versions', () => {
    const versions = migrations.map((m) => m.version);
    assert.deepEqual(versions, [...versions].sort((a, b) => a - b));
    for (const m of migrations) assert.ok(m.sql.trim() && m.postgres.trim(), `migration ${m.version}`);
    assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17]);
  });

  it("migration 16 fills each existing task's app_name from its content, the same on both, and leaves the findings' order to an index", async () => {
    const before = migrations.filter((m) => m.version < 16);
    const sixteen = migrations.find((m) => m.version === 16)!;
    const content = JSON.stringify({ appName: 'Spendesk "Premium"', runbook: { id: 'r' } });
    const row = ['task_1', 'acme', 'spendesk', 'r', 'Remove {email} from {app}', 'it-ops', 'open', content, 1, 1];
    const insert = 'INSERT INTO tasks (id, tenant, app, runbook, title, queue, status, content, due_at, created_at) VALUES ';
    const lite = new BetterSqlite3(path.join(scratchDir(), 'old.db'));
    try {
      for (const m of before) lite.exec(m.sql);
      lite.prepare(`${insert}(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...row);
      lite.prepare(`${insert}(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run('task_2', ...row.slice(1, 7), '{}', 1, 1);
      lite.exec(sixteen.sql);
      assert.deepEqual(lite.prepare('SELECT id, app_name FROM tasks ORDER BY id').all(), [{ id: 'task_1', app_name: 'Spendesk "Premium"' }, { id: 'task_2', app_name: '' }]);
      assert.deepEqual(lite.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'reconcile_findings'").pluck().all(), ['reconcile_findings_page']);
    } finally {
      lite.close();
    }
    const client = new pg.Client({ connectionString: await freshDatabase() });
    await client.connect();
    try {
      for (const m of before) await client.query(m.postgres);
      await client.query(`${insert}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, row);
      await client.query(`${insert}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, ['task_2', ...row.slice(1, 7), '{}', 1, 1]);
      await client.query(sixteen.postgres);
      assert.deepEqual((await client.query('SELECT id, app_name FROM tasks ORDER BY id')).rows, [{ id: 'task_1', app_name: 'Spendesk "Premium"' }, { id: 'task_2', app_name: '' }]);
      assert.deepEqual((await client.query("SELECT indexname FROM pg_indexes WHERE tablename = 'reconcile_findings'")).rows.map((r) => r.indexname), ['reconcile_findings_page']);
    } finally {
      await client.end();
    }
  });

  it('two migrations at once apply each version once; a server refuses an older schema and a newer one with one line', async () => {
    const url = await freshDatabase();
    const [a, b] = await Promise.all([1, 2].map(async () => {
      const store = await openStore({ url }, { migrations: 'ignore' });
      try {
        return await migratePostgres(store.db, redactUrl(url));
      } finally {
        await store.close();
      }
    }));
    assert.deepEqual([...a!, ...b!].sort((x, y) => x - y), migrations.map((m) => m.version));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)', [latestSchemaVersion() + 1, 'from the future']);
      await assert.rejects(openStore({ url }, { migrations: 'refuse' }), new RegExp(`written by a newer Patchbay \\(schema version ${latestSchemaVersion() + 1}`));
      const older = await freshDatabase();
      await assert.rejects(openStore({ url: older }, { migrations: 'refuse' }), /has schema version 0, this Patchbay needs \d+: run `patchbay migrate/);
    } finally {
      await client.end();
    }
  });

  it('patchbay migrate: applies, then says up to date; a wrong address or scheme is one line, exit 2, with no password shown', async () => {
    const url = await freshDatabase();
    const first = runCli(['migrate', '--database', url, '--json']);
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).applied, migrations.map((m) => m.version));
    const again = runCli(['migrate', '--json'], { PATCHBAY_DATABASE_URL: url });
    assert.deepEqual(JSON.parse(again.stdout).applied, []);
    const refused = runCli(['migrate', '--database', 'postgres://robot:hunter2@127.0.0.1:1/none']);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /^patchbay: postgres:\/\/robot:\*\*\*@127\.0\.0\.1:1\/none: cannot connect: connection refused: is PostgreSQL running and listening there\? \(ECONNREFUSED\)\n$/);
    assert.doesNotMatch(refused.stderr, /hunter2/);
    // A database that does not exist, and a role without rights on a migrated one: said in words, exit 2, never "internal error".
    const missing = new URL(url);
    missing.pathname = '/patchbay_no_such_database';
    assert.match(runCli(['runs', '--database', missing.toString()]).stderr, /cannot connect: the database does not exist \(create it, then patchbay migrate\) \(3D000\)/);
    const role = `patchbay_reader_${Date.now()}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    await admin.end();
    const asRole = new URL(url);
    asRole.username = role;
    for (const args of [['runs'], ['migrate']]) {
      const denied = runCli([...args, '--database', asRole.toString()]);
      assert.equal(denied.status, 2, denied.stderr);
      assert.match(denied.stderr, /^patchbay: postgres:\/\/patchbay_reader_\d+@.*: (cannot migrate: )?permission denied: the role needs rights on the schema and its tables .*\(42501\)\n$/);
    }
    const scheme = runCli(['migrate', '--database', 'mysql://db/x']);
    assert.equal(scheme.status, 2);
    assert.match(scheme.stderr, /--database: mysql:\/\/ is not supported/);
  });
});
