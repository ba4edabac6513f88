import { openStore } from '../../core/store/sql.js';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { AuditLog } from '../../core/engine/audit.js';
import { packageRoot } from '../../core/paths.js';
import { openDatabase } from '../../core/store/database.js';
import { scratchDir } from '../support/fixtures.js';
import { LedgerServer } from '../support/ledger-server.js';

const people = ['ann@ledger.test', 'ben@ledger.test'];
const worker = path.join(packageRoot, 'dist', 'test', 'engine', 'crash-worker.js');
type Kind = 'started' | 'call' | 'received' | 'applied' | 'complete';

interface WorkerRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly events: Record<Kind, number>;
}

/** Runs the engine process; with `killAt`, SIGKILLs it at the k-th event of that kind (its own output, or the server seeing a request). */
function runWorker(dataDir: string, url: string, server: LedgerServer, killAt?: { kind: Kind; k: number }): Promise<WorkerRun> {
  const events: Record<Kind, number> = { started: 0, call: 0, received: 0, applied: 0, complete: 0 };
  const child: ChildProcess = spawn(process.execPath, [worker], {
    env: { ...process.env, DATA_DIR: dataDir, LEDGER_URL: url, PEOPLE: people.join(',') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<WorkerRun>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, events })));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const hit = async (kind: Kind) => {
    events[kind]++;
    if (killAt && killAt.kind === kind && killAt.k === events[kind] && child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  let buffered = '';
  child.stdout!.on('data', (chunk) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const kind = line.split(' ')[0] as Kind;
      if (kind === 'started' || kind === 'call' || kind === 'complete') void hit(kind);
    }
  });
  server.onEvent = (event) => hit(event.kind);
  return exited.then((run) => {
    if (!killAt && run.code !== 0) throw new Error(`worker failed (${run.code}): ${stderr}`);
    return run;
  });
}

/** The audit chain's first break in the data folder's store, or undefined when it holds. */
async function verifyChain(dataDir: string) {
  const store = await openStore({ dataDir });
  try {
    return (await new AuditLog(store).verify()).broken;
  } finally {
    await store.close();
  }
}

/** After the crash and a restart: every run done, each side effect once, each task once, the audit chain whole. */
async function assertCompletedExactlyOnce(dataDir: string, server: LedgerServer, label: string): Promise<void> {
  const db = openDatabase(dataDir);
  try {
    const runs = db.prepare('SELECT subject, status, outcome FROM runs ORDER BY subject').all() as { subject: string; status: string; outcome: string }[];
    assert.deepEqual(runs, people.map((subject) => ({ subject, status: 'completed', outcome: 'done' })), label);
    for (const email of people) {
      assert.equal(server.effects.get(`revokeSessions ${email}`), 1, `${label}: revokeSessions ${email}`);
      assert.equal(server.effects.get(`deactivateUser ${email}`), 1, `${label}: deactivateUser ${email}`);
      assert.deepEqual(server.users.get(email), { active: false, sessions: 0 }, label);
    }
    const items = db.prepare("SELECT i.run_id AS run, i.step_id AS step, i.status, t.status AS task FROM task_items i JOIN tasks t ON t.id = i.task_id WHERE i.step_id = 'ledger-confirm-handover'").all() as { run: string; status: string; task: string }[];
    assert.equal(items.length, people.length, `${label}: one handover section per person, none lost or doubled: ${JSON.stringify(items)}`);
    assert.ok(items.every((i) => i.status === 'done' && i.task === 'completed'), `${label}: ${JSON.stringify(items)}`);
    assert.equal(db.prepare("SELECT count(*) FROM tasks WHERE status = 'open'").pluck().get(), 0, label);
    assert.equal(await verifyChain(dataDir), undefined, label);
  } finally {
    db.close();
  }
}

describe('crash safety: SIGKILL the engine process, restart it, and nothing is lost or done twice', function () {
  this.timeout(300_000);
  let baseline: Record<Kind, number>;

  it('a run without a crash sets the baseline', async () => {
    const server = new LedgerServer(people);
    const url = await server.listen();
    const dataDir = scratchDir('patchbay-crash-');
    try {
      const run = await runWorker(dataDir, url, server);
      baseline = run.events;
      await assertCompletedExactlyOnce(dataDir, server, 'baseline');
      // check, revoke, deactivate and verify for each person; one batched handover task.
      assert.deepEqual(baseline, { started: 1, call: 8, received: 8, applied: 4, complete: 1 });
    } finally {
      await server.close();
    }
  });

  it('is killed at every boundary and inside every step, and each time completes exactly once after a restart', async () => {
    const points: { kind: Kind; k: number }[] = [];
    for (const kind of ['call', 'received', 'applied', 'complete', 'started'] as const) {
      for (let k = 1; k <= baseline[kind]; k++) points.push({ kind, k });
    }
    let killed = 0;
    let repeatedWrites = 0;
    for (const point of points) {
      const label = `killed at ${point.kind} #${point.k}`;
      const server = new LedgerServer(people);
      const url = await server.listen();
      const dataDir = scratchDir('patchbay-crash-');
      try {
        const first = await runWorker(dataDir, url, server, point);
        if (first.signal === 'SIGKILL') killed++;
        await runWorker(dataDir, url, server);
        await assertCompletedExactlyOnce(dataDir, server, label);
        repeatedWrites += [...server.requests].filter(([key, n]) => !key.startsWith('GET ') && n > 1).length;
      } finally {
        await server.close();
      }
    }
    assert.ok(killed >= points.length - 2, `${killed} of ${points.length} runs were really killed`);
    // Some crashes fell between a write and its journal entry: the restart sent the write again, with
    // the same idempotency key, and the effect still happened once.
    assert.ok(repeatedWrites > 0, 'no crash made the engine repeat a write: the test did not reach the window it exists for');
  });
});
