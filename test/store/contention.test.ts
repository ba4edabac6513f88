import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import BetterSqlite3 from 'better-sqlite3';
import { databaseFile, openDatabase, retryBusy } from '../../core/store/database.js';
import { runCliAsync, scratchDir } from '../support/fixtures.js';

const require = createRequire(import.meta.url);

/**
 * Another process on the store writing all the time, as a busy server does: transactions of
 * `holdMs` that read and then write, back to back with `gapMs` between them. It prints "holding"
 * once it holds its first write lock and counts its commits on exit.
 */
function busyWriter(dir: string, holdMs: number, gapMs: number): { child: ChildProcess; holding: Promise<void>; stop: () => Promise<number> } {
  const script = `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
    const db = new Database(${JSON.stringify(databaseFile(dir))}, { timeout: 5000 });
    db.exec('CREATE TABLE IF NOT EXISTS writer_beats (at INTEGER NOT NULL)');
    let commits = 0, stop = false;
    process.on('SIGTERM', () => { stop = true; });
    const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    (async function loop() {
      while (!stop) {
        db.exec('BEGIN IMMEDIATE');
        db.prepare('SELECT count(*) FROM runs').get();
        db.prepare('INSERT INTO writer_beats VALUES (?)').run(Date.now());
        if (commits === 0) process.stdout.write('holding\\n');
        sleep(${holdMs});
        db.exec('COMMIT');
        commits++;
        await new Promise((r) => setTimeout(r, ${gapMs}));
      }
      process.stdout.write('commits ' + commits + '\\n');
      db.close();
    })();
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const holding = new Promise<void>((resolve) => child.stdout!.on('data', (d) => {
    out += d;
    if (out.includes('holding')) resolve();
  }));
  const stop = () => new Promise<number>((resolve) => {
    child.once('close', () => resolve(Number(/commits (\d+)/.exec(out)?.[1] ?? 0)));
    child.kill('SIGTERM');
  });
  return { child, holding, stop };
}

describe('store contention', function () {
  this.timeout(120_000);

  it('lets CLI commands work beside another process that keeps writing to the store', async () => {
    const dir = scratchDir();
    openDatabase(dir).close();
    const writer = busyWriter(dir, 150, 15);
    try {
      await writer.holding;
      const cli = (...args: string[]) => runCliAsync(['--data-dir', dir, ...args]);
      const started = await cli('run', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com');
      assert.equal(started.status, 0, started.stderr);
      const list = await cli('runs', '--json');
      assert.equal(list.status, 0, list.stderr);
      assert.equal(JSON.parse(list.stdout).length, 1);
      const tasks = await cli('tasks', '--json');
      assert.equal(tasks.status, 0, tasks.stderr);
      const task = (JSON.parse(tasks.stdout) as { id: string; queue: string }[]).find((t) => t.queue === 'it-ops')!;
      const done = await cli('task', 'complete', task.id, '--by', 'it.oncall@acme.example', '--evidence', 'removed from Okta assignments');
      assert.equal(done.status, 0, done.stderr);
      assert.match(done.stdout, new RegExp(`${task.id}: completed`));
      const verify = await cli('audit', 'verify');
      assert.equal(verify.status, 0, verify.stderr);
    } finally {
      const commits = await writer.stop();
      assert.ok(commits > 5, `the other process kept writing (${commits} commits)`);
    }
  });

  it('retries a busy store briefly, and gives up with the busy error when it stays busy', () => {
    const dir = scratchDir();
    openDatabase(dir).close();
    const holder = new BetterSqlite3(databaseFile(dir));
    const waiter = new BetterSqlite3(databaseFile(dir), { timeout: 0 });
    holder.exec('BEGIN IMMEDIATE');
    let tries = 0;
    try {
      assert.throws(() => retryBusy(() => {
        tries++;
        waiter.exec('BEGIN IMMEDIATE');
      }, 3), /database is locked/);
      assert.equal(tries, 3);
      tries = 0;
      // Released after the first try: the second succeeds.
      retryBusy(() => {
        tries++;
        try {
          waiter.exec('BEGIN IMMEDIATE');
        } catch (error) {
          if (tries === 1) holder.exec('ROLLBACK');
          throw error;
        }
      });
      assert.equal(tries, 2);
      waiter.exec('ROLLBACK');
      assert.throws(() => retryBusy(() => {
        throw Object.assign(new Error('no such table'), { code: 'SQLITE_ERROR' });
      }), /no such table/);
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
      waiter.close();
    }
  });

  it('opens an up-to-date store without taking a write lock', () => {
    const dir = scratchDir();
    openDatabase(dir).close();
    const holder = new BetterSqlite3(databaseFile(dir));
    holder.exec('BEGIN IMMEDIATE');
    try {
      const db = openDatabase(dir, { busyTimeoutMs: 50 });
      assert.ok(db.prepare('SELECT count(*) FROM runs').pluck().get() === 0);
      db.close();
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });
});
