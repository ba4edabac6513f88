import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { StoreError, databaseFile, defaultDataDir, openDatabase } from '../../core/store/database.js';
import { migrations } from '../../core/store/migrations.js';

// The migrations this build knows, in the order they must run: every test below reads them from the list.
const versions = migrations.map((m) => m.version);
const latest = versions.at(-1)!;
import { caught, runCli, scratchDir } from '../support/fixtures.js';

describe('embedded store', () => {
  it('keeps its migrations in strictly ascending versions (a store runs those above its newest)', () => {
    assert.ok(versions.every((v, i) => i === 0 || v > versions[i - 1]!), `versions out of order: ${versions.join(', ')}`);
  });

  it('creates the data folder, runs the migrations and sets WAL and synchronous=FULL', () => {
    const dir = path.join(scratchDir(), 'nested', 'data');
    const db = openDatabase(dir);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('synchronous', { simple: true }), 2);
    assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), versions);
    db.close();
    const again = openDatabase(dir);
    assert.deepEqual(again.prepare('SELECT version FROM schema_migrations').pluck().all(), versions, 'migrations run once');
    again.close();
  });

  it('defaults to PATCHBAY_DATA_DIR, else the user data folder', () => {
    assert.equal(defaultDataDir({ PATCHBAY_DATA_DIR: '/srv/pb' }), '/srv/pb');
    assert.equal(defaultDataDir({ XDG_DATA_HOME: '/home/x/.data' }), '/home/x/.data/patchbay');
  });

  it('refuses a file that is not a database, and leaves it as it was', () => {
    const dir = scratchDir();
    writeFileSync(databaseFile(dir), 'this is not sqlite, it is a shopping list\n'.repeat(200));
    const error = caught(StoreError, () => openDatabase(dir));
    assert.match(error.message, /patchbay\.db: is not a Patchbay database or is corrupt/);
    assert.deepEqual(readdirSync(dir), ['patchbay.db']);
  });

  it('refuses a store written by a newer Patchbay', () => {
    const dir = scratchDir();
    openDatabase(dir).close();
    const db = new BetterSqlite3(databaseFile(dir));
    db.prepare('INSERT INTO schema_migrations VALUES (99, ?, 0)').run('from the future');
    db.close();
    assert.match(caught(StoreError, () => openDatabase(dir)).message, new RegExp(`written by a newer Patchbay \\(schema version 99; this one knows up to ${latest}\\)`));
  });

  it('says the store is locked when another process holds it past the wait, and writes nothing', () => {
    const dir = scratchDir();
    openDatabase(dir).close();
    const holder = new BetterSqlite3(databaseFile(dir));
    holder.exec('BEGIN IMMEDIATE');
    let result;
    try {
      result = runCli(['--data-dir', dir, 'run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com'], { PATCHBAY_BUSY_TIMEOUT_MS: '100' });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    assert.equal(result.status, 2);
    assert.equal(result.stderr, 'patchbay: the store is locked by another process; try again when it has finished\n');
    const db = openDatabase(dir);
    assert.equal(db.prepare('SELECT count(*) FROM runs').pluck().get(), 0);
    db.close();
  });

  it('the CLI names a corrupt store in one line, exit 2', () => {
    const dir = scratchDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(databaseFile(dir), Buffer.alloc(8192, 7));
    const result = runCli(['--data-dir', dir, 'runs']);
    assert.equal(result.status, 2);
    assert.match(result.stderr.trim(), /^patchbay: .*patchbay\.db: is not a Patchbay database or is corrupt \(move it aside to start afresh\)$/);
  });
  it('has an index for each sort the lists offer: no page sorts or scans a whole table (issue 17)', () => {
    const db = openDatabase(scratchDir());
    // The shapes core/server/listing.ts builds, first page and a later page (keyset cursor as a row value).
    const shapes = [
      'SELECT id, due_at FROM tasks WHERE status = ? AND queue = ? ORDER BY due_at, id LIMIT ?',
      'SELECT id, due_at FROM tasks WHERE status = ? AND queue = ? AND (due_at, id) > (?, ?) ORDER BY due_at, id LIMIT ?',
      'SELECT id, due_at FROM tasks WHERE status = ? ORDER BY due_at, id LIMIT ?',
      'SELECT id, due_at FROM tasks WHERE status = ? AND (queue IN (?, ?) OR assignee = ?) AND (due_at, id) > (?, ?) ORDER BY due_at, id LIMIT ?',
      'SELECT id, due_at FROM tasks ORDER BY due_at, id LIMIT ?',
      'SELECT id, created_at FROM runs ORDER BY created_at DESC, id DESC LIMIT ?',
      'SELECT id, created_at FROM runs WHERE status = ? AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?',
    ];
    for (const text of shapes) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...Array(text.split('?').length - 1).fill(1)) as { detail: string }[]).map((p) => p.detail).join('; ');
      assert.doesNotMatch(plan, /TEMP B-TREE/, `${text}: ${plan}`);
      assert.match(plan, /USING (COVERING )?INDEX/, `${text}: ${plan}`);
      // Only the unfiltered lists walk an index from its start (and stop after a page); the rest search it.
      if (text.includes('WHERE')) assert.match(plan, /^SEARCH/, `${text}: ${plan}`);
    }
    db.close();
  });
});
