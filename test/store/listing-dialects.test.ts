import assert from 'node:assert/strict';
import type { AuditReport } from '../../core/reconcile/audit.js';
import { LiveEvents } from '../../core/server/events.js';
import { evidenceVisible, pageOfFindings, pageOfRuns, pageOfTasks, taskVisible, visibleTasks } from '../../core/server/listing.js';
import { type Sql, type StoreDatabase, openStore } from '../../core/store/sql.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';

async function open(dialect: 'sqlite' | 'postgres'): Promise<StoreDatabase> {
  const store = await openStore(dialect === 'sqlite' ? { dataDir: scratchDir('patchbay-listing-') } : { url: await freshDatabase() }, { migrations: 'apply' });
  after(() => store.close());
  return store;
}

const sha = (c: string) => c.repeat(64);

async function run(db: Sql, id: string, createdAt: number, status: 'waiting' | 'completed' = 'waiting') {
  await db
    .insertInto('runs')
    .values({ id, idempotency_key: `k-${id}`, open_key: `acme|offboard|app|${id}`, batch_id: null, tenant: 'acme', playbook: 'offboard', app: 'app', subject: '{}', request: '{}', plan: '{}', profile: '{}', status, outcome: null, waiting_for: null, wake_at: null, lease_owner: null, lease_until: null, created_at: createdAt, updated_at: createdAt, finished_at: null })
    .execute();
}

async function task(db: Sql, id: string, dueAt: number, queue: string, more: { assignee?: string; status?: 'open' | 'completed'; content?: string; runId?: string } = {}) {
  await db
    .insertInto('tasks')
    .values({ id, batch_key: null, tenant: 'acme', app: 'app', runbook: 'r', title: id, queue, assignee: more.assignee ?? null, status: more.status ?? 'open', content: more.content ?? '{}', due_at: dueAt, created_at: 0, closed_at: null, closed_by: null, open_key: null, profile: null })
    .execute();
  if (more.runId) await db.insertInto('task_items').values({ task_id: id, run_id: more.runId, step_id: 's', email: 'a@acme.com', status: 'open', closed_by: null }).execute();
}

/** Every page of a list, following the cursors. */
async function walk(next: (cursor?: string) => Promise<{ items: readonly string[]; next: string | null }>): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  do {
    const page = await next(cursor);
    pages.push([...page.items]);
    cursor = page.next ?? undefined;
  } while (cursor);
  return pages;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`server listings on ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: keyset pages, visibility, findings, live events`, function () {
    this.timeout(60_000);

    it('pages tasks by due time then id and runs newest first, through ties, with queue, assignee, mine and status filters', async () => {
      const { db } = await open(dialect);
      for (const [i, createdAt] of [100, 200, 200, 200, 300].entries()) await run(db, `r${i}`, createdAt, i === 0 || i === 4 ? 'completed' : 'waiting');
      await task(db, 't1', 10, 'it-ops');
      await task(db, 't2', 20, 'finance');
      await task(db, 't3', 20, 'it-ops', { assignee: 'ann@acme.com' });
      await task(db, 't4', 20, 'finance', { assignee: 'ann@acme.com' });
      await task(db, 't5', 30, 'it-ops', { status: 'completed' });
      await task(db, 't6', 40, 'finance');
      const tasks = (args: Partial<Parameters<typeof pageOfTasks>[1]>) => walk((cursor) => pageOfTasks(db, { status: 'open', queues: null, actor: 'ann@acme.com', limit: 2, ...args, ...(cursor ? { cursor } : {}) }));
      assert.deepEqual(await tasks({}), [['t1', 't2'], ['t3', 't4'], ['t6']]);
      assert.deepEqual(await tasks({ status: 'all', limit: 4 }), [['t1', 't2', 't3', 't4'], ['t5', 't6']]);
      assert.deepEqual((await tasks({ queues: ['it-ops'] })).flat(), ['t1', 't3', 't4'], "the caller's queues, and what is assigned to them");
      assert.deepEqual((await tasks({ queues: [] })).flat(), ['t3', 't4'], 'no queue: only what is assigned');
      assert.deepEqual((await tasks({ queue: 'finance' })).flat(), ['t2', 't4', 't6']);
      assert.deepEqual((await tasks({ mine: { queues: ['finance'] } })).flat(), ['t2', 't3', 't4', 't6'], 'mine: assigned to me, or unassigned in my queues');
      assert.deepEqual((await tasks({ mine: { queues: [] } })).flat(), ['t3', 't4']);
      assert.deepEqual(await walk((cursor) => pageOfRuns(db, { limit: 2, ...(cursor ? { cursor } : {}) })), [['r4', 'r3'], ['r2', 'r1'], ['r0']]);
      assert.deepEqual((await walk((cursor) => pageOfRuns(db, { status: 'waiting', limit: 1, ...(cursor ? { cursor } : {}) }))).flat(), ['r3', 'r2', 'r1']);
      await assert.rejects(pageOfTasks(db, { status: 'open', queues: null, actor: 'a', limit: 2, cursor: 'bm90IGEgY3Vyc29y' }), /cursor: is not a cursor this server gave/);
    });

    it('shows a task to its queues and its assignee (any case), and an evidence file by its task, its run\'s task or, for an admin, any step', async () => {
      const { db } = await open(dialect);
      await run(db, 'r1', 1);
      await run(db, 'r2', 2);
      await task(db, 't1', 10, 'it-ops', { content: JSON.stringify({ evidence: [{ sha256: sha('a') }] }), runId: 'r1' });
      await task(db, 't2', 10, 'finance', { assignee: 'Ann@Acme.com' });
      await db.insertInto('steps').values({ run_id: 'r1', step_id: 's', position: 0, status: 'done', channel: 'browser', detail: null, evidence: JSON.stringify([{ sha256: sha('b') }]), updated_at: 0 }).execute();
      await db.insertInto('steps').values({ run_id: 'r2', step_id: 's', position: 0, status: 'done', channel: 'api', detail: null, evidence: JSON.stringify([{ sha256: sha('c') }]), updated_at: 0 }).execute();
      assert.equal(await taskVisible(db, 't1', ['it-ops'], 'bob@acme.com'), true);
      assert.equal(await taskVisible(db, 't1', ['finance'], 'bob@acme.com'), false);
      assert.equal(await taskVisible(db, 't2', [], 'ann@acme.com'), true);
      assert.equal(await taskVisible(db, 'nope', null, 'ann@acme.com'), false);
      assert.deepEqual(await visibleTasks(db, ['t2', 'nope', 't1'], ['it-ops'], 'ann@acme.com'), ['t2', 't1']);
      assert.deepEqual(await visibleTasks(db, ['t1', 't2'], ['finance'], 'bob@acme.com'), ['t2']);
      assert.equal(await evidenceVisible(db, sha('a'), ['it-ops']), true, 'in the task');
      assert.equal(await evidenceVisible(db, sha('a'), ['finance']), false);
      assert.equal(await evidenceVisible(db, sha('b'), ['it-ops']), true, "in a step of a run with a task in the queue");
      assert.equal(await evidenceVisible(db, sha('b'), []), false);
      assert.equal(await evidenceVisible(db, sha('c'), ['it-ops']), false, 'a run without a task is for admins');
      assert.equal(await evidenceVisible(db, sha('c'), null), true);
      assert.equal(await evidenceVisible(db, sha('d'), null), false);
      assert.equal(await evidenceVisible(db, 'A'.repeat(64), null), false, 'not a hash: nothing');
      assert.equal(await evidenceVisible(db, '%', null), false, 'a wildcard is not a hash');
    });

    it("pages every current finding once, app by app, with the total; a cursor the server did not make is refused", async () => {
      const { db } = await open(dialect);
      const report = { apps: [] as { app: string; latest?: { id: number; findings: number } }[] };
      for (const [app, n] of [['alpha', 3], ['beta', 0], ['gamma', 4]] as const) {
        const { id } = await db
          .insertInto('reconciliations')
          .values({ tenant: 'acme', app, at: 0, idp_source: 'okta', app_source: 'csv', identities: n, accounts: n, matched: 0, by_kind: '{}' })
          .returning('id')
          .executeTakeFirstOrThrow();
        for (let i = 0; i < n; i++) await db.insertInto('reconcile_findings').values({ reconciliation_id: Number(id), kind: i % 2 ? 'orphaned' : 'missing', person: `p${i}@acme.com`, detail: `${app} ${i}`, first_seen_at: i }).execute();
        report.apps.push({ app, latest: { id: Number(id), findings: n } });
      }
      report.apps.push({ app: 'never-read' });
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await pageOfFindings(db, report as unknown as AuditReport, { limit: 2, ...(cursor ? { cursor } : {}) });
        assert.equal(page.total, 7);
        pages.push(page.items.map((f) => `${f.app}:${f.detail}`));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.deepEqual(pages.map((p) => p.length), [2, 2, 2, 1]);
      assert.deepEqual(pages.flat().sort(), ['alpha:alpha 0', 'alpha:alpha 1', 'alpha:alpha 2', 'gamma:gamma 0', 'gamma:gamma 1', 'gamma:gamma 2', 'gamma:gamma 3']);
      assert.deepEqual(pages.flat().slice(0, 3).map((f) => f.split(':')[0]), ['alpha', 'alpha', 'alpha'], 'app by app');
      const bad = Buffer.from(JSON.stringify([0, 'x'])).toString('base64url');
      await assert.rejects(pageOfFindings(db, report as unknown as AuditReport, { limit: 2, cursor: bad }), /is not a cursor this server gave/);
    });

    it('pushes to each live stream the runs and tasks it may see, past the events it had, a task\'s runs with it', async () => {
      const { db } = await open(dialect);
      await run(db, 'r1', 1);
      await task(db, 't1', 10, 'it-ops', { runId: 'r1' });
      await task(db, 't2', 10, 'finance');
      let seq = 0;
      const audit = (runId: string | null, taskId: string | null) =>
        db.insertInto('audit').values({ seq: ++seq, at: 0, run_id: runId, task_id: taskId, type: 'x', actor: 'patchbay', data: '{}', prev_hash: '', hash: '' }).execute();
      await audit('r0', null);
      const live = new LiveEvents(db, 1000);
      const seen: string[] = [];
      const all: string[] = [];
      const stop = await live.listen(async (c) => ({ runs: c.runs, tasks: await visibleTasks(db, c.tasks, ['it-ops'], 'bob@acme.com') }), (chunk) => seen.push(chunk));
      const stopAll = await live.listen(async (c) => c, (chunk) => all.push(chunk));
      await live.poll();
      assert.deepEqual(seen, ['retry: 5000\n\n'], 'what happened before the stream opened is not pushed');
      await audit(null, 't1');
      await audit(null, 't2');
      await live.poll();
      assert.deepEqual(seen.slice(1), [`event: change\ndata: ${JSON.stringify({ runs: ['r1'], tasks: ['t1'] })}\n\n`]);
      assert.deepEqual(all.slice(1), [`event: change\ndata: ${JSON.stringify({ runs: ['r1'], tasks: ['t1', 't2'] })}\n\n`]);
      await live.poll();
      assert.equal(seen.length, 2, 'nothing new, nothing pushed');
      stop();
      stopAll();
    });
  });
}
