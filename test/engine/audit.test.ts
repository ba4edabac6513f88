import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import { databaseFile } from '../../core/store/database.js';
import { runCli } from '../support/fixtures.js';
import { harness, type Harness } from '../support/runtime.js';

async function withHistory(): Promise<Harness> {
  const h = await harness();
  const run = (await h.start('offboard', 'alice@acme.com'))[0]!.run;
  await h.completeNext(run.id);
  await h.completeNext(run.id);
  return h;
}

/** What someone with write access to the database could do: the triggers are no obstacle to them. */
async function tamper(h: Harness, statement: string): Promise<void> {
  if (h.runtime.store.dialect === 'postgres') {
    await sql.raw(`ALTER TABLE audit DISABLE TRIGGER USER; ${statement}; ALTER TABLE audit ENABLE TRIGGER USER`).execute(h.runtime.store.db);
    return;
  }
  const db = new BetterSqlite3(databaseFile(h.dataDir));
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  db.exec(statement);
  db.close();
}

describe('audit log', () => {
  it('is intact after a run, with every transition in it', async () => {
    const h = await withHistory();
    const result = await h.runtime.engine.audit.verify();
    assert.equal(result.broken, undefined);
    assert.ok(result.rows >= 8, `${result.rows} rows`);
    const types = (await h.runtime.engine.audit.list()).map((a) => a.type);
    for (const type of ['run.started', 'task.opened', 'run.signalled', 'task.completed', 'step.done']) assert.ok(types.includes(type), type);
  });

  it('refuses UPDATE and DELETE', async () => {
    const h = await withHistory();
    await assert.rejects(sql`UPDATE audit SET actor = 'mallory' WHERE seq = 1`.execute(h.runtime.store.db), /append-only/);
    await assert.rejects(sql`DELETE FROM audit WHERE seq = 1`.execute(h.runtime.store.db), /append-only/);
  });

  it('reports the first row that was altered', async () => {
    const h = await withHistory();
    await tamper(h, "UPDATE audit SET actor = 'mallory' WHERE seq = 4");
    assert.deepEqual((await h.runtime.engine.audit.verify()).broken, { seq: 4, reason: 'row 4 was altered (its content no longer matches its hash)' });
  });

  it('reports a row removed from the middle', async () => {
    const h = await withHistory();
    await tamper(h, 'DELETE FROM audit WHERE seq = 3');
    assert.deepEqual((await h.runtime.engine.audit.verify()).broken, { seq: 3, reason: 'row 3 is missing (next row is 4)' });
  });

  it('reports rows removed from the end', async () => {
    const h = await withHistory();
    const rows = (await h.runtime.engine.audit.verify()).rows;
    await tamper(h, `DELETE FROM audit WHERE seq > ${rows - 2}`);
    assert.deepEqual((await h.runtime.engine.audit.verify()).broken, { seq: rows - 1, reason: `rows ${rows - 1} to ${rows} were removed from the end` });
  });

  it('reads an append rolled back, or one not committed yet, as nothing removed', async () => {
    const h = await withHistory();
    const { audit } = h.runtime.engine;
    // A refused request in a group commit rolls back the audit row it appended.
    await assert.rejects(
      h.runtime.store.transaction(async () => {
        await audit.append({ type: 'test.refused', actor: 'test' }, Date.now());
        throw new Error('refused');
      }),
      /refused/,
    );
    const after = await audit.verify();
    assert.equal(after.broken, undefined, JSON.stringify(after.broken));
    if (h.runtime.store.dialect !== 'postgres') return; // One SQLite connection: no reader beside an open write.
    // PostgreSQL: verify on another connection while an append waits for its commit.
    let appended!: () => void;
    let commit!: () => void;
    const inFlight = new Promise<void>((resolve) => (appended = resolve));
    const held = new Promise<void>((resolve) => (commit = resolve));
    const writing = h.runtime.store.transaction(async () => {
      await audit.append({ type: 'test.slow', actor: 'test' }, Date.now());
      appended();
      await held;
    });
    await inFlight;
    const during = await audit.verify();
    commit();
    await writing;
    assert.equal(during.broken, undefined, JSON.stringify(during.broken));
    assert.equal((await audit.verify()).rows, during.rows + 1);
  });

  it('reports a re-hashed row that no longer follows its predecessor', async () => {
    const h = await withHistory();
    await tamper(h, "UPDATE audit SET prev_hash = hash WHERE seq = 5");
    assert.equal((await h.runtime.engine.audit.verify()).broken?.seq, 5);
  });

  it('patchbay audit verify exits 1 and names the row', async () => {
    const h = await withHistory();
    assert.equal(runCli([...h.storeArgs, 'audit', 'verify']).status, 0);
    await tamper(h, "UPDATE audit SET data = '{}' WHERE seq = 2");
    const result = runCli([...h.storeArgs, 'audit', 'verify']);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /audit log BROKEN at row 2: row 2 was altered/);
  });
});
