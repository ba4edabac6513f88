import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLog } from '../../core/engine/audit.js';
import { GroupCommit } from '../../core/store/group-commit.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const kinds = [
  { name: 'SQLite', open: async () => ({ dataDir: scratchDir() }) },
  { name: 'PostgreSQL', open: async () => {
    const url = await freshDatabase();
    await (await openStore({ url }, { migrations: 'apply' })).close();
    return { url };
  } },
] as const;

/** One outbox row named `tag` (the outbox is a plain table with no trigger: a cheap row to write). */
const write = (store: StoreDatabase, tag: string) => store.db.insertInto('outbox').values({ kind: 'test', payload: tag, created_at: 0, next_attempt_at: 0 }).execute();
const tagsIn = async (store: StoreDatabase) => (await store.db.selectFrom('outbox').select('payload').execute()).map((r) => r.payload).sort();

for (const kind of kinds) {
  describe(`group commit on ${kind.name}`, function () {
    this.timeout(60_000);

    it('concurrent requests share a transaction, and each is answered only once its commit is visible to another connection', async () => {
      const target = await kind.open();
      const store = await openStore(target, { migrations: 'apply' });
      // Where an answered request is checked from: another connection to the same database.
      const other = await openStore(target);
      try {
        const group = new GroupCommit(store);
        const seenAtAnswer: boolean[] = [];
        await Promise.all(Array.from({ length: 16 }, async (_, i) => {
          await group.run(() => write(store, `r${String(i).padStart(2, '0')}`));
          // The answer: at this moment the row must already be committed.
          seenAtAnswer[i] = (await other.db.selectFrom('outbox').select('id').where('payload', '=', `r${String(i).padStart(2, '0')}`).executeTakeFirst()) !== undefined;
        }));
        assert.deepEqual(seenAtAnswer, Array(16).fill(true));
        assert.deepEqual(await tagsIn(other), Array.from({ length: 16 }, (_, i) => `r${String(i).padStart(2, '0')}`));
        assert.equal(group.stats.requests, 16);
        assert.ok(group.stats.groups <= 2, `16 requests made at once share one or two commits (got ${group.stats.groups})`);
        assert.equal(group.stats.replayed, 0, 'no request failed: no group ran a second time (in savepoints)');
      } finally {
        await other.close();
        await store.close();
      }
    });

    it('a request that fails is refused alone: its work is rolled back, the others of its group commit', async () => {
      const target = await kind.open();
      const store = await openStore(target, { migrations: 'apply' });
      try {
        const group = new GroupCommit(store);
        const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => group.run(async () => {
          await write(store, `r${i}`);
          if (i === 3) throw new Error('request 3 is refused');
          // A statement the database refuses (a duplicate key): on PostgreSQL it aborts the transaction, which its savepoint restores.
          if (i === 5) await store.db.insertInto('schema_migrations').values({ version: 1, name: 'again', applied_at: 0 }).execute();
          return i;
        })));
        assert.equal(group.stats.groups, 1, 'one group');
        assert.equal(group.stats.replayed, 1, 'rolled back whole at the first failure, then run again request by request');
        assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
        assert.match(((outcomes[3] as PromiseRejectedResult).reason as Error).message, /request 3 is refused/);
        assert.match(((outcomes[5] as PromiseRejectedResult).reason as Error).message, /UNIQUE|duplicate key/i);
        assert.deepEqual(await tagsIn(store), ['r0', 'r1', 'r2', 'r4', 'r6', 'r7']);
      } finally {
        await store.close();
      }
    });

    it('a refused request takes back its audit rows and its after-commit calls: the chain the group goes on with links to what stays', async () => {
      const target = await kind.open();
      const store = await openStore(target, { migrations: 'apply' });
      // A second writer on its own connection, appending while the group runs: the chain must stay one line.
      const other = await openStore(target);
      try {
        const audit = new AuditLog(store);
        const group = new GroupCommit(store);
        const said: string[] = [];
        const requests = Array.from({ length: 9 }, (_, i) => group.run(async () => {
          // Two appends per request: the second links to the first without reading the table again.
          await audit.append({ type: 'test.first', actor: `r${i}` }, 1);
          await audit.append({ type: 'test.second', actor: `r${i}` }, 2);
          store.afterCommit(() => said.push(`r${i}`));
          if (i % 3 === 1) throw new Error(`request ${i} is refused`);
          return i;
        }));
        const outside = Promise.all(Array.from({ length: 4 }, (_, i) => new AuditLog(other).append({ type: 'test.other', actor: `o${i}` }, 3)));
        const outcomes = await Promise.allSettled(requests);
        await outside;
        assert.ok(group.stats.replayed >= 1);
        assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
        assert.deepEqual(said.sort(), ['r0', 'r2', 'r3', 'r5', 'r6', 'r8'], 'no after-commit call of a refused request');
        const rows = await audit.list();
        assert.deepEqual(rows.filter((r) => r.type !== 'test.other').map((r) => r.actor).sort(), ['r0', 'r0', 'r2', 'r2', 'r3', 'r3', 'r5', 'r5', 'r6', 'r6', 'r8', 'r8']);
        assert.equal(rows.filter((r) => r.type === 'test.other').length, 4);
        assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 16 }, (_, i) => i + 1), 'one line, no gap where the refused rows were');
        assert.deepEqual(await audit.verify(), { rows: 16 });
      } finally {
        await other.close();
        await store.close();
      }
    });

    it('a request made inside an open transaction joins it, and without group commit each request commits alone', async () => {
      const target = await kind.open();
      const store = await openStore(target, { migrations: 'apply' });
      try {
        const group = new GroupCommit(store);
        await assert.rejects(store.transaction(async () => {
          await group.run(() => write(store, 'joined'));
          throw new Error('the caller rolls back');
        }), /the caller rolls back/);
        assert.deepEqual(await tagsIn(store), [], 'the joined request rolled back with its caller');
        const alone = new GroupCommit(store, { enabled: false });
        await Promise.all([alone.run(() => write(store, 'a')), alone.run(() => write(store, 'b'))]);
        assert.deepEqual(await tagsIn(store), ['a', 'b']);
        assert.equal(alone.stats.groups, 0, 'no group made');
      } finally {
        await store.close();
      }
    });

    it('killed in the middle of concurrent starts, the store holds every run that was answered', async function () {
      this.timeout(180_000);
      const target = await kind.open();
      const dataDir = 'dataDir' in target ? target.dataDir : scratchDir();
      const child = spawn(process.execPath, [path.join(here, 'group-commit-worker.js'), dataDir], {
        env: { ...process.env, ...('url' in target ? { PATCHBAY_DATABASE_URL: target.url } : {}) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const answered: string[] = [];
      let rest = '';
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`the worker exited by itself (${code})`)));
        child.stdout!.on('data', (chunk: Buffer) => {
          const lines = (rest + chunk.toString()).split('\n');
          rest = lines.pop()!;
          for (const line of lines) if (line.startsWith('answered ')) answered.push(line.slice(9));
          if (answered.length >= 100) {
            child.removeAllListeners('exit');
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }
        });
      });
      const store = await openStore(target, { migrations: 'apply' });
      try {
        const kept = new Set((await store.db.selectFrom('runs').select('id').execute()).map((r) => r.id));
        const lost = answered.filter((id) => !kept.has(id));
        assert.deepEqual(lost, [], `${lost.length} of ${answered.length} answered runs are not in the store`);
        assert.ok(kept.size >= answered.length);
      } finally {
        await store.close();
      }
    });
  });
}
