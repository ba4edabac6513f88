import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type RawBuilder, sql } from 'kysely';
import { createServices } from '../../core/container.js';
import type { StartResult } from '../../core/engine/port.js';
import { packageRoot } from '../../core/paths.js';
import { AccessStore } from '../../core/server/access.js';
import { startSpendeskConsole } from '../fixtures/spendesk-console/server.js';
import { scratchDir } from '../support/fixtures.js';
import { holdingProxy } from '../support/holding-proxy.js';
import { freshDatabase, onPostgres } from '../support/postgres.js';
import { consoleEnv } from '../support/spendesk-console.js';
import { cliPath, FleetProcess, freePort } from './fleet.js';

/**
 * SIGTERM to a `patchbay worker` and to a `patchbay serve` (the real CLI, the embedded engine; on
 * PostgreSQL in the PostgreSQL pass, else on one SQLite file the processes share) while the browser removal of an offboarding is in flight at the Spendesk console
 * simulator. What an SRE counts on: the step in flight finishes and is journaled once, the run is
 * released at once (lease cleared, due now, audited as run.handed-over) rather than left to its
 * lease, the process exits 0 within its grace period, another process finishes the run with the
 * console asked to remove the person once, and nothing is recorded against the stop (no failed,
 * drifted, blocked or retried step, no task for a person but the run's own). A server also answers
 * /readyz with 503 while it drains, and still answers requests.
 *
 * The removal is held at a proxy from the moment the console receives it until the stopping process
 * has said it is stopping, so the step is in flight when the signal lands; the hold stays far below
 * the browser's step timeout (10 s), or the click would end as drift whatever the shutdown does.
 */

/** What a process gets between SIGTERM and SIGKILL: Kubernetes' default terminationGracePeriodSeconds. */
const graceMs = 30_000;
/**
 * How long the test waits for a process to get on with a run (open a task, reach the removal, finish): at a
 * load average of 19 a whole browser run took up to 80 s. A bound on waiting, not what is asserted: that the run
 * was released, not left to its lease (15 s), is read from the lease itself and from the absence of a takeover.
 */
const progressMs = 150_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `check` to answer truthy (every 100 ms), or fails with `what` and `said` after `ms`. */
async function until<T>(ms: number, what: string, check: () => Promise<T | undefined> | T | undefined, said: () => string = () => ''): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) assert.fail(`${what} did not happen within ${ms} ms\n${said()}`);
    await sleep(100);
  }
}

/**
 * One offboarding's world: a fresh store (a PostgreSQL database, or a SQLite file in a data folder every
 * process shares), the console behind the holding proxy, the tenant, a runtime of the test's that drives nothing.
 */
async function stage(cleanups: (() => Promise<unknown>)[]) {
  const dir = scratchDir('patchbay-stop-');
  const url = onPostgres() ? await freshDatabase() : undefined;
  const { PATCHBAY_DATABASE_URL: _unused, ...inherited } = process.env;
  const env = { ...inherited, ...consoleEnv, PATCHBAY_CONNECTORS: '' };
  /** Where a process keeps its store: the database with a data folder of its own, or the shared SQLite file. */
  const where = (name: string) => (url ? ['--database', url, '--data-dir', path.join(dir, name)] : ['--data-dir', path.join(dir, 'shared')]);
  const migrated = spawnSync(process.execPath, [cliPath, 'migrate', ...where('migrate')], { env, encoding: 'utf8' });
  assert.equal(migrated.status, 0, migrated.stderr);
  const sim = await startSpendeskConsole();
  const proxy = await holdingProxy(sim.url);
  cleanups.push(async () => {
    await proxy.close();
    await sim.close();
  });
  const tenant = JSON.parse(readFileSync(path.join(packageRoot, 'test', 'fixtures', 'spendesk-console', 'tenant.json'), 'utf8')) as Record<string, any>;
  tenant.apps.spendesk.consoleUrl = proxy.url;
  delete tenant.$schema;
  const tenantFile = path.join(dir, 'tenant.json');
  writeFileSync(tenantFile, JSON.stringify(tenant));
  const services = createServices();
  const runtime = await services.openRuntime({ dataDir: path.join(dir, url ? 'test' : 'shared'), ...(url ? { databaseUrl: url } : {}), migrations: 'refuse' });
  cleanups.push(() => runtime.close());
  const fleet: FleetProcess[] = [];
  cleanups.push(async () => {
    for (const p of fleet) await p.stop('SIGKILL').catch(() => undefined);
  });
  const worker = (name: string) => {
    const p = new FleetProcess(name, 'worker', ['worker', '--interval', '0.2', '--concurrency', '1', ...where(name)], env);
    fleet.push(p);
    return p;
  };
  const server = async (name: string) => {
    const port = await freePort();
    const p = new FleetProcess(name, 'server', ['serve', '--port', String(port), '--profile', tenantFile, ...where(name)], env, `http://127.0.0.1:${port}`);
    fleet.push(p);
    return p;
  };
  /** The rows of a query on the store, either dialect. */
  const rows = async <R>(query: RawBuilder<R>) => (await query.execute(runtime.store.db)).rows;
  /** The open task of the run (the Okta unassignment a person does first), once it is there. */
  const openTask = (runId: string, by: FleetProcess) =>
    until(progressMs, `${by.name} opening the Okta task`, async () => (await rows(sql<{ id: string }>`SELECT t.id FROM tasks t JOIN task_items i ON i.task_id = t.id WHERE i.run_id = ${runId} AND t.status = 'open'`))[0]?.id, () => by.lines.join('\n'));
  const evidenceFor = async (task: string) => (await runtime.tasks.get(task)).content.runbook.evidence.filter((e) => e.required).map((e) => ({ text: `done: ${e.label}` }));
  return { dir, sim, proxy, tenantFile, services, runtime, rows, worker, server, openTask, evidenceFor };
}
type Stage = Awaited<ReturnType<typeof stage>>;

/**
 * SIGTERM to `stopping` once the removal is held at the console, the removal let go once the process
 * has said it is stopping; then what the stop must leave behind. Returns the exit's duration (ms).
 */
async function stopMidRemoval(s: Stage, runId: string, stopping: FleetProcess, said: RegExp, whileDraining: () => Promise<void> = async () => {}): Promise<number> {
  await until(progressMs, `${stopping.name} asking the console to remove the member`, () => s.proxy.held(), () => stopping.lines.join('\n'));
  const [held] = await s.rows(sql<{ lease_owner: string }>`SELECT lease_owner FROM runs WHERE id = ${runId}`);
  assert.match(held!.lease_owner, new RegExp(`:${stopping.pid}:`), `${stopping.name} holds the run`);
  const signalled = Date.now();
  const exited = stopping.stop('SIGTERM', graceMs);
  await until(graceMs, `${stopping.name} saying it is stopping`, () => stopping.lines.some((l) => said.test(l)), () => stopping.lines.join('\n'));
  await whileDraining();
  s.proxy.release();
  assert.equal(await exited, 0, stopping.lines.join('\n'));
  const exitMs = Date.now() - signalled;

  // At the exit: the removal in flight is journaled once, done; the run is released and due now, not left to its lease.
  const journal = await s.rows(sql<{ key: string; value: string }>`SELECT key, value FROM journal WHERE run_id = ${runId} AND key LIKE 'step:spendesk-deactivate-user/browser/%'`);
  assert.deepEqual(journal.filter((r) => /@\d+$/.test(r.key)).map((r) => r.key), [], 'no failed attempt of the removal');
  const entry = journal.find((r) => r.key === 'step:spendesk-deactivate-user/browser/1');
  assert.ok(entry, `the removal is journaled (${journal.map((r) => r.key).join(', ')})`);
  const removal = JSON.parse(entry.value).value as { status: string; detail: string };
  assert.equal(removal.status, 'done', `the step in flight finished: ${removal.detail}`);
  const [run] = await s.rows(sql<{ status: string; lease_owner: string | null; wake_at: string | number | null }>`SELECT status, lease_owner, wake_at FROM runs WHERE id = ${runId}`);
  assert.equal(run!.lease_owner, null, 'the lease is released, not left to expire');
  assert.equal(run!.status, 'running');
  assert.ok(run!.wake_at !== null && Number(run!.wake_at) <= Date.now(), 'the run is due at once');
  const handedOver = await s.rows(sql<{ data: string }>`SELECT data FROM audit WHERE run_id = ${runId} AND type = 'run.handed-over'`);
  assert.equal(handedOver.length, 1);
  assert.match(JSON.parse(handedOver[0]!.data).by, new RegExp(`:${stopping.pid}:`));
  assert.deepEqual(stopping.lines.filter((l) => /browser job ended: it threw|"level":"(error|fatal)"|\b(ERROR|FATAL)\b/.test(l)), [], `${stopping.name} said nothing went wrong`);
  return exitMs;
}

/** Another worker finishes the run: at once (it does not take the run over from an expired lease), once, with nothing recorded against the stop. */
async function finishedElsewhere(s: Stage, runId: string, stopped: FleetProcess, exitedAt: number): Promise<void> {
  const b = s.worker('worker-b');
  b.start();
  await b.ready();
  await until(progressMs, 'worker-b finishing the run', async () => (await s.rows(sql<{ status: string }>`SELECT status FROM runs WHERE id = ${runId}`))[0]?.status === 'completed', () => b.lines.join('\n'));
  assert.deepEqual(b.lines.filter((l) => l.includes('run taken over')), [], 'worker-b found the run released, not a lease of the stopped process');
  const finished = Date.now() - exitedAt;
  const [verify] = await s.rows(sql<{ value: string }>`SELECT value FROM journal WHERE run_id = ${runId} AND key = 'step:spendesk-verify/browser/1'`);
  assert.equal(JSON.parse(verify!.value).value.status, 'already-done', 'the verification finds her gone');
  assert.ok(b.lines.some((l) => l.includes(runId) && l.includes('browser job ended')), 'worker-b verified the removal');
  assert.deepEqual((await (await fetch(`${s.sim.url}/__state/removals`)).json()) as Record<string, number>, { 'alice@acme.com': 1 }, 'the console was asked once');
  const [run] = await s.rows(sql<{ outcome: string }>`SELECT outcome FROM runs WHERE id = ${runId}`);
  assert.equal(run!.outcome, 'done');
  // Nothing against the stop: no failed, drifted, blocked, unreachable or retried step, no replay of an interrupted step, no escalation.
  const audit = await s.rows(sql<{ type: string; data: string }>`SELECT type, data FROM audit WHERE run_id = ${runId} ORDER BY seq`);
  const against = audit.filter((e) => /fail|drift|blocked|unreachable|retr|replayed|interrupt|escalat|unproven|reopened|cancel|connector-unavailable/.test(e.type));
  assert.deepEqual(against, [], `events recorded against the stop of ${stopped.name}`);
  // One task, the person's Okta step, completed: no task opened for a person to redo what the stop cut.
  const tasks = await s.rows(sql<{ status: string; item: string }>`SELECT t.status, i.status AS item FROM tasks t JOIN task_items i ON i.task_id = t.id WHERE i.run_id = ${runId}`);
  assert.deepEqual(tasks, [{ status: 'completed', item: 'done' }]);
  assert.equal((await s.runtime.engine.audit.verify()).broken, undefined);
  process.stdout.write(`      (${stopped.name} ended ${(finished / 1000).toFixed(1)} s before worker-b finished the run)\n`);
}

describe(`SIGTERM mid-step on ${onPostgres() ? 'PostgreSQL' : 'SQLite'}: the step in flight finishes once, the run goes to another process at once, the process exits 0`, function () {
  this.timeout(480_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a worker: the removal in flight finishes, the run is released, another worker finishes it', async () => {
    const s = await stage(cleanups);
    const a = s.worker('worker-a');
    a.start();
    await a.ready();
    const [{ run }] = (await s.runtime.runs.start([{ source: 'test', request: { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } } }], s.services.profiles.load(s.tenantFile), { drive: false })) as [StartResult];
    const task = await s.openTask(run.id, a);
    await s.runtime.runs.completeTask(task, { by: 'it.oncall@acme.example', evidence: await s.evidenceFor(task) }, { drive: false });
    const exitMs = await stopMidRemoval(s, run.id, a, /patchbay worker: stopping/);
    assert.ok(exitMs < graceMs);
    await finishedElsewhere(s, run.id, a, Date.now());
  });

  it('a server: /readyz answers 503 while it drains, requests are still answered, the run is released and a worker finishes it', async () => {
    const s = await stage(cleanups);
    const server = await s.server('server');
    server.start();
    await server.ready();
    const { token } = await new AccessStore(s.runtime.store).createToken({ name: 'shutdown', actor: 'it.oncall@acme.example', role: 'admin' });
    const api = async (method: string, route: string, body?: unknown) => {
      const response = await fetch(`${server.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    // The server drives the run itself (the embedded engine): it opens the Okta task, then, once the task is done, removes Alice.
    const started = await api('POST', '/api/v1/runs', { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const runId = started.body.id as string;
    const task = await s.openTask(runId, server);
    const done = await api('POST', `/api/v1/tasks/${task}/actions`, { action: 'complete', evidence: await s.evidenceFor(task) });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const exitMs = await stopMidRemoval(s, runId, server, /patchbay serve: stopping/, async () => {
      // Draining: not ready (a load balancer sends new requests elsewhere), alive, and what reaches it is answered.
      const ready = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { status: string }).status, 'draining');
      assert.equal((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(10_000) })).status, 200);
      const read = await api('GET', `/api/v1/runs/${runId}`);
      assert.equal(read.status, 200);
    });
    assert.ok(exitMs < graceMs);
    await assert.rejects(fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(5_000) }), 'the stopped server no longer listens');
    await finishedElsewhere(s, runId, server, Date.now());
  });
});
