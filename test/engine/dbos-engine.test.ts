import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { DBOS } from '@dbos-inc/dbos-sdk';
import { sql } from 'kysely';
import { DbosEngineError, DbosRunEngine, launchDbos, shutdownDbos } from '../../core/engine/dbos-engine.js';
import { ConnectorUnavailable, connectorWait, type StartResult, type Workflow } from '../../core/engine/port.js';
import { NotFoundError } from '../../core/errors.js';
import { NetworkError } from '../../core/http/errors.js';
import { packageRoot } from '../../core/paths.js';
import { GroupCommit } from '../../core/store/group-commit.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';
import { brokenAuditRow, finished, offboarding, waitingFor } from './dbos-support.js';

let counter = 0;
/** A new engine (its own name, so its workflow is its own) on `store`. */
const engineOn = (store: StoreDatabase, workflow: Workflow) => new DbosRunEngine(store, { name: `test-${++counter}`, workflow });

const threeSteps: Workflow = async (ctx) => {
  await ctx.step('revoke-sessions', () => 'revoked');
  await ctx.audit({ type: 'test.between', actor: 'patchbay' });
  const signal = await ctx.waitForSignal<{ by: string }>('handover');
  if (signal.timedOut) return { outcome: 'failed', summary: 'no handover' };
  await ctx.step('deactivate', () => 'deactivated');
  return { outcome: 'done', summary: `handed over by ${signal.payload.by}` };
};

describe('the DBOS Transact engine on PostgreSQL', function () {
  this.timeout(60_000);
  let store: StoreDatabase;
  let storeUrl: string;
  let second: StoreDatabase | undefined;
  const engines: DbosRunEngine[] = [];
  const track = (engine: DbosRunEngine) => (engines.push(engine), engine);

  before(async () => {
    storeUrl = await freshDatabase();
    store = await openStore({ url: storeUrl }, { migrations: 'apply' });
    await launchDbos({ systemDatabaseUrl: await freshDatabase(), executorId: 'dbos-engine-test', applicationVersion: 'dbos-engine-test', logLevel: 'error' });
  });

  after(async () => {
    for (const engine of engines) engine.detach();
    await shutdownDbos({ deregister: true });
    await second?.close();
    await store?.close();
  });

  it('starts a run as a DBOS workflow under the run id; a signal lets it finish; runs, steps and the audit chain are written as on the embedded engine', async () => {
    const engine = track(engineOn(store, threeSteps));
    const [result] = await engine.start([offboarding('ann@acme.test', 'k-ann', 'batch-1')]);
    assert.equal(result!.created, true);
    const runId = result!.run.id;
    assert.match(runId, /^run-/);
    const waiting = await waitingFor(engine, runId, 'handover');
    assert.equal(waiting.wakeAt, null, 'no timeout: nothing to wake for');
    assert.equal((await DBOS.getWorkflowStatus(runId))?.status, 'PENDING');
    assert.deepEqual((await engine.list({ status: 'waiting', batchId: 'batch-1' })).map((r) => r.id), [runId]);

    assert.equal(await engine.signal(runId, 'handover', { by: 'finance@acme.test' }, 'handover:ann', 'finance@acme.test'), true);
    const done = await finished(engine, runId);
    assert.equal(done.status, 'completed');
    assert.equal(done.outcome, 'done');
    assert.ok(done.finishedAt);
    assert.equal((await DBOS.getResult<{ summary: string }>(runId))?.summary, 'handed over by finance@acme.test');
    const steps = await store.db.selectFrom('steps').select(['step_id', 'position', 'status']).where('run_id', '=', runId).orderBy('position').execute();
    assert.deepEqual(steps.map((s) => s.step_id), ['revoke-sessions', 'confirm-handover', 'deactivate']);
    const audit = await store.db.selectFrom('audit').select(['type', 'actor']).where('run_id', '=', runId).orderBy('seq').execute();
    assert.deepEqual(audit.map((a) => a.type), ['run.started', 'test.between', 'run.signalled', 'run.completed']);
    assert.equal(audit[0]!.actor, 'ops@acme.test');
    assert.equal(await brokenAuditRow(store), undefined);
    await assert.rejects(engine.get('run-nosuchrun'), NotFoundError);
    await assert.rejects(engine.signal('run-nosuchrun', 'handover', {}, 'x', 'a'), NotFoundError);
  });

  it('the same idempotency key twice gives one run; a finished run is not reopened by it', async () => {
    const engine = track(engineOn(store, async (ctx) => (await ctx.step('only', () => 1), { outcome: 'done', summary: 'ok' })));
    const [first] = await engine.start([offboarding('ben@acme.test', 'k-ben')]);
    const [second] = await engine.start([offboarding('ben@acme.test', 'k-ben')]);
    assert.equal(first!.created, true);
    assert.equal(second!.created, false);
    assert.equal(second!.run.id, first!.run.id);
    await finished(engine, first!.run.id);
    const [third] = await engine.start([offboarding('ben@acme.test', 'k-ben')]);
    assert.deepEqual([third!.created, third!.run.id, third!.run.status], [false, first!.run.id, 'completed']);
    const rows = await store.db.selectFrom('runs').select(sql<number>`count(*)::int`.as('n')).where('subject', '=', 'ben@acme.test').executeTakeFirstOrThrow();
    assert.equal(rows.n, 1);
  });

  it('a batch started inside a store transaction: it is committed before the workflows start, the workflows write outside it, and the same person twice in the batch is one run', async () => {
    const engine = track(engineOn(store, async (ctx, run) => (await ctx.step('only', () => run.subject), { outcome: 'done', summary: run.subject })));
    let results: StartResult[] = [];
    // The caller fails after starting: what start() committed stays, and the workflows' own writes
    // (which run in the background) are not swept into the caller's rolled-back transaction.
    await assert.rejects(store.transaction(async () => {
      results = await engine.start([
        offboarding('lea@acme.test', 'k-lea', 'batch-2'), offboarding('max@acme.test', 'k-max', 'batch-2'), offboarding('LEA@acme.test', 'k-lea-again', 'batch-2'),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      throw new Error('the caller fails after starting');
    }), /the caller fails after starting/);
    assert.deepEqual(results.map((r) => r.created), [true, true, false]);
    assert.equal(results[2]!.run.id, results[0]!.run.id);
    for (const r of results) assert.equal((await finished(engine, r.run.id)).outcome, 'done');
    assert.deepEqual((await engine.list({ batchId: 'batch-2' })).map((r) => r.subject).sort(), ['lea@acme.test', 'max@acme.test']);
  });

  it("a server's group commit: two runs started and a signal given by three requests sharing one transaction all commit, the workflows start after it, and the signal rings without drive()", async () => {
    const engine = track(engineOn(store, async (ctx, run) => {
      const answer = await ctx.waitForSignal<{ by: string }>('handover', 60_000);
      return { outcome: answer.timedOut ? 'failed' : 'done', summary: `${run.subject} by ${answer.timedOut ? 'nobody' : answer.payload.by}` };
    }));
    const { run: waiting } = (await engine.start([offboarding('ole@acme.test', 'k-ole')]))[0]!;
    await waitingFor(engine, waiting.id, 'handover');
    const group = new GroupCommit(store);
    // Queued in one turn of the event loop: one transaction, a savepoint per request.
    const [a, b, sent] = await Promise.all([
      group.run(() => engine.start([offboarding('pia@acme.test', 'k-pia')], { drive: false })),
      group.run(() => engine.start([offboarding('quin@acme.test', 'k-quin')], { drive: false })),
      group.run(() => engine.signal(waiting.id, 'handover', { by: 'ops@acme.test' }, 'handover:ole', 'ops@acme.test')),
    ]);
    assert.equal(group.stats.groups, 1, 'one shared transaction');
    assert.deepEqual([a[0]!.created, b[0]!.created, sent], [true, true, true]);
    // No drive(): the doorbell rang after the group's commit, well before the 60 s timeout or the 5 min recheck.
    assert.equal((await finished(engine, waiting.id, 10_000)).outcome, 'done');
    assert.equal((await DBOS.getResult<{ summary: string }>(waiting.id))?.summary, 'ole@acme.test by ops@acme.test');
    for (const started of [a[0]!, b[0]!]) {
      await waitingFor(engine, started.run.id, 'handover');
      assert.equal((await DBOS.getWorkflowStatus(started.run.id))?.status, 'PENDING');
      await engine.cancel(started.run.id, 'cleanup', 'ops@acme.test');
    }
  });

  it("a run whose connector is missing from the process's catalogue waits, with the reason, due again after a durable DBOS sleep, and runs once the connector is there; nothing fails it", async () => {
    const catalogue = new Set<string>();
    let stepsRun = 0;
    const engine = track(engineOn(store, async (ctx, run) => {
      // As the lifecycle workflow: the catalogue is checked before the first step.
      if (!catalogue.has(run.app)) throw new ConnectorUnavailable(run.app, 700);
      await ctx.step('deactivate', () => ++stepsRun);
      return { outcome: 'done', summary: 'deactivated' };
    }));
    const { run } = (await engine.start([offboarding('joe@acme.test', 'k-joe')]))[0]!;
    const reason = connectorWait('ledger');
    const parked = await waitingFor(engine, run.id, reason);
    assert.ok(parked.wakeAt && parked.wakeAt > parked.updatedAt && parked.wakeAt <= parked.updatedAt + 700, `due again 700 ms after it parked: ${parked.wakeAt} vs ${parked.updatedAt}`);
    // Still missing when it wakes: it parks again, audited again, still not failed.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.equal((await engine.get(run.id)).status, 'waiting');
    catalogue.add('ledger');
    const done = await finished(engine, run.id, 10_000);
    assert.deepEqual([done.status, done.outcome, stepsRun], ['completed', 'done', 1]);
    const audit = await store.db.selectFrom('audit').select(['type', 'data']).where('run_id', '=', run.id).orderBy('seq').execute();
    const parks = audit.filter((a) => a.type === 'run.connector-unavailable');
    assert.ok(parks.length >= 2, `parked at least twice: ${audit.map((a) => a.type).join(', ')}`);
    assert.deepEqual(JSON.parse(parks[0]!.data), { connector: 'ledger', retryAt: parked.wakeAt });
    assert.deepEqual([audit[0]!.type, audit.at(-1)!.type], ['run.started', 'run.completed']);
    const steps = (await DBOS.listWorkflowSteps(run.id))!.map((s) => s.name);
    assert.equal(steps.filter((n) => n === 'DBOS.sleep').length, parks.length, `a durable sleep per park: ${steps.join(', ')}`);
    assert.equal(await brokenAuditRow(store), undefined);
  });

  it('the same person offboarded at two engines at once (two connection pools, different idempotency keys) gives one run', async () => {
    second = await openStore({ url: storeUrl }, { migrations: 'refuse' });
    {
      const workflow: Workflow = async (ctx) => (await ctx.waitForSignal('never', 1_000), { outcome: 'done', summary: 'ok' });
      const a = track(engineOn(store, workflow));
      const b = track(engineOn(second, workflow));
      for (let round = 0; round < 5; round++) {
        const email = `cleo${round}@acme.test`;
        const results = (await Promise.all([a.start([offboarding(email, `k-cleo-a-${round}`)]), b.start([offboarding(email, `k-cleo-b-${round}`)])])).flat();
        assert.deepEqual(results.map((r) => r.created).sort(), [false, true], `round ${round}`);
        assert.equal(results[0]!.run.id, results[1]!.run.id, `round ${round}`);
        const n = await store.db.selectFrom('runs').select(sql<number>`count(*)::int`.as('n')).where('subject', '=', email).executeTakeFirstOrThrow();
        assert.equal(n.n, 1, `round ${round}`);
      }
    }
  });

  it('a signal sent twice with one dedupe key is consumed once: the second wait for it times out', async () => {
    const engine = track(engineOn(store, async (ctx) => {
      const first = await ctx.waitForSignal<number>('evidence', 10_000);
      const again = await ctx.waitForSignal<number>('evidence', 1_000);
      return { outcome: 'done', summary: JSON.stringify([first, again]) };
    }));
    const { run } = (await engine.start([offboarding('dan@acme.test', 'k-dan')]))[0]!;
    await waitingFor(engine, run.id, 'evidence');
    const sent = await Promise.all([engine.signal(run.id, 'evidence', 7, 'evidence:dan', 'a'), engine.signal(run.id, 'evidence', 7, 'evidence:dan', 'a')]);
    assert.deepEqual(sent.sort(), [false, true]);
    assert.equal(await engine.signal(run.id, 'evidence', 7, 'evidence:dan', 'a'), false);
    const done = await finished(engine, run.id);
    assert.equal((await DBOS.getResult<{ summary: string }>(run.id))?.summary, JSON.stringify([{ timedOut: false, payload: 7 }, { timedOut: true }]));
    assert.equal(done.outcome, 'done');
    const recorded = await store.db.selectFrom('signals').select('dedupe_key').where('run_id', '=', run.id).execute();
    assert.deepEqual(recorded, [{ dedupe_key: 'evidence:dan' }]);
    assert.equal(await engine.signal(run.id, 'evidence', 8, 'evidence:dan:2', 'a'), false, 'a finished run takes no signal');
  });

  it('a signal given in a transaction that rolls back never reaches the run; one given in a transaction that commits does, after the commit', async () => {
    const engine = track(engineOn(store, async (ctx) => {
      const answer = await ctx.waitForSignal<{ by: string }>('handover', 3_000);
      return { outcome: 'done', summary: answer.timedOut ? 'nobody' : answer.payload.by };
    }));
    const { run } = (await engine.start([offboarding('rae@acme.test', 'k-rae')]))[0]!;
    await waitingFor(engine, run.id, 'handover');
    // As two servers completing one task: the loser's transaction signals, then is refused and rolls back.
    await assert.rejects(engine.transaction(async () => {
      assert.equal(await engine.signal(run.id, 'handover', { by: 'loser@acme.test' }, 'handover:rae:loser', 'loser@acme.test'), true);
      throw new Error('refused: completed by someone else');
    }), /refused/);
    assert.deepEqual(await store.db.selectFrom('signals').select('id').where('run_id', '=', run.id).execute(), []);
    assert.equal((await engine.get(run.id)).status, 'waiting', 'the rolled-back signal did not wake the run');
    let ringsBeforeCommit = -1;
    await engine.transaction(async () => {
      await engine.signal(run.id, 'handover', { by: 'winner@acme.test' }, 'handover:rae:winner', 'winner@acme.test');
      // Not yet committed: the run has not been told.
      await new Promise((r) => setTimeout(r, 300));
      ringsBeforeCommit = (await DBOS.listWorkflowSteps(run.id))?.filter((step) => step.name === 'DBOS.recv' && step.output !== null && step.output !== undefined).length ?? 0;
    });
    assert.equal(ringsBeforeCommit, 0);
    await finished(engine, run.id);
    assert.equal((await DBOS.getResult<{ summary: string }>(run.id))?.summary, 'winner@acme.test');
  });

  it('drive() rings again for a committed signal whose message was never sent (its sender stopped in between)', async () => {
    const engine = track(engineOn(store, async (ctx) => {
      const answer = await ctx.waitForSignal<{ by: string }>('handover');
      return { outcome: 'done', summary: answer.timedOut ? 'nobody' : answer.payload.by };
    }));
    const { run } = (await engine.start([offboarding('sam@acme.test', 'k-sam')]))[0]!;
    const waiting = await waitingFor(engine, run.id, 'handover');
    // The row as signal() commits it, without the message that would follow the commit.
    await store.db.insertInto('signals').values({ run_id: run.id, name: 'handover', payload: JSON.stringify({ by: 'lost@acme.test' }), dedupe_key: 'handover:sam', at: waiting.updatedAt }).execute();
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal((await engine.get(run.id)).status, 'waiting', 'nothing wakes it by itself before its recheck');
    const repaired = await Promise.all([engine.drive(), engine.drive()]);
    assert.ok(repaired.reduce((n, d) => n + d.slices, 0) >= 1);
    await finished(engine, run.id);
    assert.equal((await DBOS.getResult<{ summary: string }>(run.id))?.summary, 'lost@acme.test');
  });

  it('waitForSignal with a timeout times out; while it waits the run says what for and until when', async () => {
    const engine = track(engineOn(store, async (ctx) => {
      const before = await ctx.now();
      const answer = await ctx.waitForSignal('approval', 800);
      const after = await ctx.now();
      return { outcome: answer.timedOut ? 'failed' : 'done', summary: `waited ${after - before} ms` };
    }));
    const { run } = (await engine.start([offboarding('eve@acme.test', 'k-eve')]))[0]!;
    const waiting = await waitingFor(engine, run.id, 'approval');
    assert.ok(waiting.wakeAt && waiting.wakeAt > Date.now() - 1_000 && waiting.wakeAt <= Date.now() + 800, String(waiting.wakeAt));
    const done = await finished(engine, run.id);
    assert.equal(done.outcome, 'failed');
    const summary = (await DBOS.getResult<{ summary: string }>(run.id))!.summary;
    const waited = Number(/waited (\d+) ms/.exec(summary)![1]);
    assert.ok(waited >= 750 && waited < 5_000, summary);
  });

  it('sleep is a DBOS timer: the run waits for "a timer" until its wake time, then goes on', async () => {
    const engine = track(engineOn(store, async (ctx) => {
      const before = await ctx.now();
      await ctx.sleep(600);
      return { outcome: 'done', summary: String((await ctx.now()) - before) };
    }));
    const { run } = (await engine.start([offboarding('nia@acme.test', 'k-nia')]))[0]!;
    const waiting = await waitingFor(engine, run.id, 'a timer');
    assert.ok(waiting.wakeAt && waiting.wakeAt - Date.now() <= 600, String(waiting.wakeAt));
    assert.equal((await finished(engine, run.id)).outcome, 'done');
    assert.ok(Number((await DBOS.getResult<{ summary: string }>(run.id))!.summary) >= 590);
    assert.ok((await DBOS.listWorkflowSteps(run.id))!.some((s) => s.name === 'DBOS.sleep'), 'a durable DBOS sleep, not a timer in the process');
  });

  it('a step failing with a retryable error is retried under its policy, audited, and then succeeds; a final failure fails the run with the step named', async () => {
    const attempts: number[] = [];
    const engine = track(engineOn(store, async (ctx) => {
      const value = await ctx.step('call-vendor', (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new NetworkError('deactivateUser', { cause: new Error('ECONNRESET') });
        return `ok on ${attempt}`;
      }, { retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 50 }, external: true });
      await ctx.step('refused', () => {
        throw new Error('HTTP 403 from the vendor');
      }, { retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 50 } });
      return { outcome: 'done', summary: value };
    }));
    const { run } = (await engine.start([offboarding('fay@acme.test', 'k-fay')]))[0]!;
    const done = await finished(engine, run.id);
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal(done.status, 'failed');
    const audit = await store.db.selectFrom('audit').select(['type', 'data']).where('run_id', '=', run.id).orderBy('seq').execute();
    assert.deepEqual(audit.map((a) => a.type), ['run.started', 'step.retry', 'step.retry', 'run.failed']);
    assert.match(JSON.parse(audit[1]!.data).error, /network error \(ECONNRESET\)/);
    assert.match(JSON.parse(audit[3]!.data).summary, /step refused failed: HTTP 403 from the vendor/);
    const steps = (await DBOS.listWorkflowSteps(run.id))!.map((s) => s.name);
    assert.deepEqual(steps.filter((n) => n === 'call-vendor').length, 3, steps.join(','));
  });

  it('cancel stops the DBOS workflow and closes the row; signals to it are refused', async () => {
    const engine = track(engineOn(store, async (ctx) => (await ctx.waitForSignal('handover'), await ctx.step('after', () => 1), { outcome: 'done', summary: 'ok' })));
    const { run } = (await engine.start([offboarding('gus@acme.test', 'k-gus')]))[0]!;
    await waitingFor(engine, run.id, 'handover');
    const cancelled = await engine.cancel(run.id, 'left the company after all', 'ops@acme.test');
    assert.deepEqual([cancelled.status, cancelled.outcome], ['cancelled', 'cancelled']);
    assert.equal(await engine.signal(run.id, 'handover', {}, 'handover:gus', 'a'), false);
    for (let i = 0; i < 100 && (await DBOS.getWorkflowStatus(run.id))?.status !== 'CANCELLED'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await DBOS.getWorkflowStatus(run.id))?.status, 'CANCELLED');
    assert.equal((await engine.cancel(run.id, 'again', 'ops@acme.test')).status, 'cancelled');
    const types = (await store.db.selectFrom('audit').select('type').where('run_id', '=', run.id).orderBy('seq').execute()).map((a) => a.type);
    assert.deepEqual(types, ['run.started', 'run.cancelled']);
    const [again] = await engine.start([offboarding('gus@acme.test', 'k-gus-2')]);
    assert.equal(again!.created, true, 'a cancelled run no longer holds the person');
    await engine.cancel(again!.run.id, 'cleanup', 'ops@acme.test');
  });

  it('drive() starts the workflow of a run recorded without one (a process stopped in between), once', async () => {
    const engine = track(engineOn(store, async (ctx) => (await ctx.step('only', () => 1), { outcome: 'done', summary: 'driven' })));
    const { run } = (await engine.start([offboarding('hal@acme.test', 'k-hal')]))[0]!;
    await finished(engine, run.id);
    // A run row whose workflow was never started, as a crash between the two commits leaves it.
    const orphan = { ...offboarding('ivy@acme.test', 'k-ivy') };
    await store.db.insertInto('runs').values({
      id: 'run-orphan0ivy', idempotency_key: orphan.idempotencyKey, open_key: 'acme|offboard|ledger|ivy@acme.test', batch_id: null, tenant: 'acme', playbook: 'offboard',
      app: 'ledger', subject: 'ivy@acme.test', request: JSON.stringify(orphan.request), plan: JSON.stringify(orphan.plan), profile: JSON.stringify(orphan.profile),
      status: 'running', outcome: null, waiting_for: null, wake_at: null, lease_owner: null, lease_until: null, created_at: Date.now(), updated_at: Date.now(), finished_at: null,
    }).execute();
    const drives = await Promise.all([engine.drive(), engine.drive()]);
    assert.ok(drives.reduce((n, d) => n + d.slices, 0) >= 1);
    assert.equal((await finished(engine, 'run-orphan0ivy')).outcome, 'done');
    assert.equal((await engine.drive()).slices, 0);
  });

  it('a signal to a run whose workflow was never started starts it, and the signal is delivered', async () => {
    const engine = track(engineOn(store, threeSteps));
    const orphan = offboarding('jo@acme.test', 'k-jo');
    await store.db.insertInto('runs').values({
      id: 'run-orphan00jo', idempotency_key: orphan.idempotencyKey, open_key: 'acme|offboard|ledger|jo@acme.test', batch_id: null, tenant: 'acme', playbook: 'offboard',
      app: 'ledger', subject: 'jo@acme.test', request: JSON.stringify(orphan.request), plan: JSON.stringify(orphan.plan), profile: JSON.stringify(orphan.profile),
      status: 'running', outcome: null, waiting_for: null, wake_at: null, lease_owner: null, lease_until: null, created_at: Date.now(), updated_at: Date.now(), finished_at: null,
    }).execute();
    assert.equal(await DBOS.getWorkflowStatus('run-orphan00jo'), null);
    assert.equal(await engine.signal('run-orphan00jo', 'handover', { by: 'it@acme.test' }, 'handover:jo', 'it@acme.test'), true);
    assert.equal((await finished(engine, 'run-orphan00jo')).outcome, 'done');
    assert.equal((await DBOS.getResult<{ summary: string }>('run-orphan00jo'))?.summary, 'handed over by it@acme.test');
  });

  it('refuses the embedded SQLite store with a typed error', async () => {
    const lite = await openStore({ dataDir: scratchDir() });
    try {
      assert.throws(() => new DbosRunEngine(lite), DbosEngineError);
    } finally {
      await lite.close();
    }
  });
});

const worker = path.join(packageRoot, 'dist', 'test', 'engine', 'dbos-crash-worker.js');

interface WorkerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly lines: string[];
}

/** Runs the crash worker; with `killOn`, SIGKILLs it when it prints that line. */
function runWorker(env: Record<string, string>, killOn?: string): Promise<WorkerExit> {
  const lines: string[] = [];
  const child: ChildProcess = spawn(process.execPath, [worker], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let buffered = '';
  child.stdout!.on('data', (chunk) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (killOn && line === killOn && child.exitCode === null) child.kill('SIGKILL');
    }
  });
  return new Promise((resolve, reject) =>
    child.once('exit', (code, signal) => {
      if (!killOn && code !== 0) reject(new Error(`crash worker failed (${code}): ${stderr}`));
      else resolve({ code, signal, lines });
    }),
  );
}

describe('the DBOS engine after a SIGKILL: the restarted process finishes the run, each completed step executed once', function () {
  this.timeout(120_000);

  it("killed inside the third step, then again while waiting for a signal: each step's store writes made once, the signal delivered once", async () => {
    const storeUrl = await freshDatabase();
    const env = { STORE_URL: storeUrl, SYSTEM_URL: await freshDatabase() };
    const killed = await runWorker({ ...env, MODE: 'start' }, 'in slow-step');
    assert.equal(killed.signal, 'SIGKILL', killed.lines.join('\n'));
    const runId = killed.lines.find((l) => l.startsWith('started '))!.split(' ')[1]!;

    const store = await openStore({ url: storeUrl }, { migrations: 'refuse' });
    try {
      const before = await store.db.selectFrom('runs').select('status').where('id', '=', runId).executeTakeFirstOrThrow();
      assert.equal(before.status, 'running', 'the kill left the run open');
      const waiting = await runWorker({ ...env, MODE: 'resume', RUN_ID: runId }, 'waiting for handover');
      assert.equal(waiting.signal, 'SIGKILL', waiting.lines.join('\n'));
      const restarted = await runWorker({ ...env, MODE: 'resume', RUN_ID: runId, SEND: '1' });
      assert.deepEqual(restarted.lines.filter((l) => l.startsWith('signal ')), ['signal true', 'signal false']);
      assert.ok(restarted.lines.includes(`finished ${runId} completed done`), restarted.lines.join('\n'));
      const counts = await sql<{ step: string; phase: string; n: number }>`SELECT step, phase, count(*)::int AS n FROM step_executions WHERE run_id = ${runId} GROUP BY step, phase ORDER BY step, phase`.execute(store.db);
      assert.deepEqual(counts.rows, [
        { step: 'first', phase: 'done', n: 1 },
        { step: 'second', phase: 'done', n: 1 },
        // Interrupted inside: its body entered twice (DBOS re-executes a step it had not checkpointed),
        // its store writes made once (they commit with the step's journal row, and the kill rolled back the first).
        { step: 'slow-step', phase: 'done', n: 1 },
        { step: 'slow-step', phase: 'entered', n: 2 },
        { step: 'slow-step', phase: 'wrote', n: 1 },
        { step: 'last', phase: 'done', n: 1 },
      ].sort((a, b) => (a.step + a.phase).localeCompare(b.step + b.phase)));
      const audit = (await store.db.selectFrom('audit').select('type').where('run_id', '=', runId).orderBy('seq').execute()).map((a) => a.type);
      assert.deepEqual(audit, ['run.started', 'crash.checkpoint', 'run.signalled', 'run.completed']);
      assert.equal(await brokenAuditRow(store), undefined);
    } finally {
      await store.close();
    }
  });
});

const queueWorker = path.join(packageRoot, 'dist', 'test', 'engine', 'dbos-queue-worker.js');

describe('the DBOS engine with worker processes on a queue', function () {
  this.timeout(120_000);
  const children: ChildProcess[] = [];
  let store: StoreDatabase | undefined;

  after(async () => {
    await shutdownDbos({ deregister: true });
    for (const child of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await store?.close();
  });

  let storeUrl: string | undefined;
  let systemUrl: string | undefined;

  it('a server that dequeues nothing starts 24 runs; two workers (15 at a time each) share them, each run executed once, and the server signals them to the end', async () => {
    storeUrl = await freshDatabase();
    systemUrl = await freshDatabase();
    store = await openStore({ url: storeUrl }, { migrations: 'apply' });
    await sql`CREATE TABLE executed_by (run_id TEXT NOT NULL, executor TEXT NOT NULL, at BIGINT NOT NULL)`.execute(store.db);
    for (const executor of ['worker-a', 'worker-b']) {
      const child = spawn(process.execPath, [queueWorker], { env: { ...process.env, STORE_URL: storeUrl, SYSTEM_URL: systemUrl, EXECUTOR: executor }, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`queue worker exited (${code})`)));
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      });
      child.removeAllListeners('exit');
    }
    // The server's own setting differs from the workers': a process that dequeues nothing leaves the queue's shared row as the workers set it
    // (when it wrote its 1 there, each worker held one run waiting for 'go' and the third never began).
    await launchDbos({ systemDatabaseUrl: systemUrl, executorId: 'server', applicationVersion: 'queue-test', logLevel: 'error', queues: [{ name: 'runs', workerConcurrency: 1, pollingIntervalMs: 50 }], listen: [] });
    const engine = new DbosRunEngine(store, { name: 'queue', queue: 'runs' });
    try {
      const started = await engine.start(Array.from({ length: 24 }, (_, i) => offboarding(`q${i}@acme.test`, `q-${i}`)));
      for (const { run } of started) await waitingFor(engine, run.id, 'go', 60_000);
      for (const { run } of started) assert.equal(await engine.signal(run.id, 'go', null, `go:${run.id}`, 'ops'), true);
      for (const { run } of started) assert.equal((await finished(engine, run.id, 60_000)).outcome, 'done');
      const byExecutor = await sql<{ executor: string; n: number }>`SELECT executor, count(*)::int AS n FROM executed_by GROUP BY executor ORDER BY executor`.execute(store.db);
      assert.equal(byExecutor.rows.reduce((n, r) => n + r.n, 0), 24, 'each run executed once');
      assert.deepEqual(byExecutor.rows.map((r) => r.executor), ['worker-a', 'worker-b'], 'both workers took runs; the server none');
      assert.ok(byExecutor.rows.every((r) => r.n <= 15), JSON.stringify(byExecutor.rows));
      const perRun = await sql<{ n: number }>`SELECT count(DISTINCT run_id)::int AS n FROM executed_by`.execute(store.db);
      assert.equal(perRun.rows[0]!.n, 24);
    } finally {
      engine.detach();
    }
  });

  it("a worker SIGKILLed with runs in flight: another worker's own loop (drive(), no scheduled job) takes them over, and they finish there", async () => {
    // After the test above: DBOS is launched here as the server of its system database.
    const spawnWorker = async (executor: string) => {
      const child = spawn(process.execPath, [queueWorker], { env: { ...process.env, STORE_URL: storeUrl!, SYSTEM_URL: systemUrl!, EXECUTOR: executor, QUEUE: 'takeover', TAKEOVER: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`queue worker exited (${code})`)));
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      });
      child.removeAllListeners('exit');
      return child;
    };
    const doomed = await spawnWorker('worker-c');
    const engine = new DbosRunEngine(store!, { name: 'queue', queue: 'takeover' });
    try {
      const started = await engine.start(Array.from({ length: 3 }, (_, i) => offboarding(`t${i}@acme.test`, `t-${i}`)));
      for (const { run } of started) await waitingFor(engine, run.id, 'go', 60_000);
      const exited = new Promise((resolve) => doomed.once('exit', resolve));
      doomed.kill('SIGKILL');
      await exited;
      await spawnWorker('worker-d');
      for (const { run } of started) assert.equal(await engine.signal(run.id, 'go', null, `go:${run.id}`, 'ops'), true);
      for (const { run } of started) {
        assert.equal((await finished(engine, run.id, 60_000)).outcome, 'done');
        assert.equal((await DBOS.getResult<{ summary: string }>(run.id))?.summary, 'worker-d', 'finished by the worker that took it over');
      }
      const firstSteps = await sql<{ executor: string; n: number }>`SELECT executor, count(*)::int AS n FROM executed_by WHERE executor IN ('worker-c', 'worker-d') GROUP BY executor`.execute(store!.db);
      assert.deepEqual(firstSteps.rows, [{ executor: 'worker-c', n: 3 }], 'the first step, checkpointed before the kill, is not run again');
    } finally {
      engine.detach();
    }
  });
});
