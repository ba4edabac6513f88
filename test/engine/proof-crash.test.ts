import { openStore } from '../../core/store/sql.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { AuditLog } from '../../core/engine/audit.js';
import { packageRoot } from '../../core/paths.js';
import { openDatabase } from '../../core/store/database.js';
import { scratchDir } from '../support/fixtures.js';
import { ScimServer } from '../support/scim-server.js';

const worker = path.join(packageRoot, 'dist', 'test', 'engine', 'proof-crash-worker.js');

/** Runs the engine process to its end, or until the test kills it; resolves with how it ended. */
function runWorker(env: Record<string, string>, onStart?: (kill: () => Promise<void>) => void): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [worker], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, stderr })));
  onStart?.(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  return exited;
}

describe('proof of removal survives a crash: the intent is journaled before the call', function () {
  this.timeout(120_000);

  it('killed after the SCIM server applied the deactivation and before the run journaled it, the replay says "done by Patchbay", not "already done"', async () => {
    const scim = new ScimServer();
    const url = await scim.listen();
    after(() => scim.close());
    const erin = scim.add('erin@acme.com');
    const dataDir = scratchDir('patchbay-proof-crash-');
    const env = { DATA_DIR: dataDir, SCIM_URL: url, PERSON: 'erin@acme.com' };
    let kill: (() => Promise<void>) | undefined;
    // The server applies the PATCH, then the process is killed before it hears the answer.
    scim.onRequest = async (method) => {
      if (method === 'PATCH' && kill) {
        erin.active = false;
        await kill();
      }
    };
    const first = await runWorker(env, (k) => (kill = k));
    assert.equal(first.signal, 'SIGKILL', `the worker was killed at the PATCH: ${first.stderr}`);
    assert.equal(erin.active, false, 'the deactivation happened before the crash');
    kill = undefined;
    const second = await runWorker(env);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(scim.log.filter((l) => l.startsWith('PATCH')).length, 1, 'no second write: the replay read the user inactive');

    const db = openDatabase(dataDir);
    try {
      const run = db.prepare('SELECT id, status, outcome FROM runs').get() as { id: string; status: string; outcome: string };
      assert.deepEqual([run.status, run.outcome], ['completed', 'done']);
      const step = db.prepare("SELECT status, detail FROM steps WHERE run_id = ? AND step_id = 'scim-deactivate-user'").get(run.id) as { status: string; detail: string };
      assert.equal(step.status, 'done');
      assert.match(step.detail, /^done by Patchbay: our scim attempt was interrupted after the call and before its result was recorded; read again: SCIM user u-1 \(erin@acme\.com\) was already inactive/);
      const store = await openStore({ dataDir });
      const audit = new AuditLog(store);
      const events = await audit.list({ runId: run.id });
      assert.ok(events.some((e) => e.type === 'step.replayed-after-interruption'));
      const summary = events.at(-1)!.data.summary as string;
      assert.match(summary, /^offboard of erin@acme\.com in Any SCIM 2\.0 app is done by Patchbay \(4 steps; verified by id\)$/);
      assert.ok(!events.some((e) => e.type === 'run.account-already-gone'));
      assert.equal((await audit.verify()).broken, undefined);
      await store.close();
    } finally {
      db.close();
    }
  });
});
