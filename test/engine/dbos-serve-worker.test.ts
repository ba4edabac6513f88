/**
 * `patchbay serve` and `patchbay worker` on the DBOS engine, as separate processes on one
 * PostgreSQL database: an offboarding with a human task and a browser step end to end, the
 * periodic work once across two workers, and a worker SIGKILLed in the middle of a run.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuditLog } from '../../core/engine/audit.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { runCli, scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';
import { spendeskConsole } from '../support/spendesk-console.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OktaDouble } from '../support/vendor-doubles.js';
import { api, completeTask, eventually, executorOf, executorPrefix, migratedWithToken, patchbay, serve, tenantFile, worker } from './dbos-processes.js';

/** Okta, counting the leaver feed's reads: each read asks the System Log once for departures (user.lifecycle events). */
class CountingOkta extends OktaDouble {
  logReads = 0;
  protected override route(req: IncomingMessage, body: string, res: ServerResponse, url: URL): void {
    if (url.pathname === '/api/v1/logs' && url.searchParams.get('filter')?.includes('user.lifecycle')) this.logReads++;
    super.route(req, body, res, url);
  }
}

const alice = { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } };

/** The store, read by the test itself (no engine in this process). */
async function storeAt(url: string): Promise<StoreDatabase> {
  const store = await openStore({ url }, { migrations: 'refuse' });
  after(() => store.close());
  return store;
}

/** The open task of a run, once the run waits for one. */
async function taskOf(url: string, token: string, runId: string): Promise<string> {
  const run = await eventually(`run ${runId} waits for a task`, async () => (await api(`${url}/api/v1/runs/${runId}`, token)).body, (r) => r.run.waitingFor?.startsWith('task:'));
  return run.run.waitingFor.slice(5);
}

const finished = (url: string, token: string, runId: string) =>
  eventually(`run ${runId} ends`, async () => (await api(`${url}/api/v1/runs/${runId}`, token)).body, (t) => t.run.status !== 'running' && t.run.status !== 'waiting', 90_000);

describe('serve and worker on the DBOS engine (separate processes, one PostgreSQL database)', function () {
  // Each test starts three or four Node processes and Chromium: minutes on a loaded machine.
  this.timeout(400_000);

  it('offboards a member end to end: the server starts the run, a worker executes it, a person completes the Okta task through the API, the browser removes her', async () => {
    const sim = await spendeskConsole();
    const url = await freshDatabase();
    const token = await migratedWithToken(url);
    const dataDir = scratchDir('patchbay-dbos-');
    const server = await serve(url, dataDir, tenantFile(dataDir, sim.url));
    const work = await worker(url, dataDir);
    assert.match(server.process.output(), /Engine dbos: runs are executed by the patchbay worker processes/);

    const started = await api(`${server.url}/api/v1/runs`, token, 'POST', alice);
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const runId = started.body.id as string;
    const again = await api(`${server.url}/api/v1/runs`, token, 'POST', alice);
    assert.deepEqual([again.status, again.body.id], [200, runId], 'the same person asked again is the same run');

    const taskId = await taskOf(server.url, token, runId);
    const done = await completeTask(server.url, token, taskId);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const twice = await completeTask(server.url, token, taskId);
    assert.equal(twice.status, 409, 'a task is completed once');

    const timeline = await finished(server.url, token, runId);
    assert.equal(timeline.run.status, 'completed', JSON.stringify(timeline.run));
    assert.equal(timeline.run.outcome, 'done');
    const steps = Object.fromEntries(timeline.steps.map((s: { stepId: string }) => [s.stepId, s]));
    assert.equal(steps['spendesk-deactivate-user'].status, 'done');
    assert.equal(steps['spendesk-deactivate-user'].channel, 'browser');
    assert.match(steps['spendesk-verify'].detail, /verified: alice@acme\.com has no account/);
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['alice@acme.com']);
    assert.deepEqual(timeline.tasks.map((t: { taskId: string; status: string }) => [t.taskId, t.status]), [[taskId, 'done']]);

    // DBOS ran the run as a workflow under the run id, in the worker (the server dequeues nothing).
    const wf = await executorOf(url, runId);
    assert.equal(wf?.status, 'SUCCESS');
    assert.ok(wf!.executor.startsWith(executorPrefix(work.pid)), `executed by ${wf!.executor}, the worker is pid ${work.pid}`);
    const store = await storeAt(url);
    const types = (await store.db.selectFrom('audit').select('type').where('run_id', '=', runId).execute()).map((a) => a.type);
    assert.equal(types.filter((t) => t === 'task.opened').length, 1);
    assert.equal(types.filter((t) => t === 'run.signalled').length, 1, 'the completion reached the run once');
    assert.equal(types.at(-1), 'run.completed');
    assert.equal((await new AuditLog(store).verify()).broken, undefined);

    // SIGTERM: the worker stops after its pass, shuts DBOS down and exits 0.
    work.child.kill('SIGTERM');
    assert.equal(await work.exited, 0, work.output());
  });

  it('refuses dbos without PostgreSQL, an unknown engine, and an interval a schedule cannot keep, each in one line with exit 2', () => {
    const noDatabase = runCli(['--engine', 'dbos', 'worker', '--once'], { PATCHBAY_DATABASE_URL: '' });
    assert.equal(noDatabase.status, 2, noDatabase.stderr);
    assert.equal(noDatabase.stderr.trim().split('\n').length, 1, noDatabase.stderr);
    assert.match(noDatabase.stderr, /--engine.*dbos runs on PostgreSQL: give --database postgres:/);
    const fromEnv = runCli(['runs'], { PATCHBAY_ENGINE: 'dbos', PATCHBAY_DATABASE_URL: '' });
    assert.equal(fromEnv.status, 2);
    assert.match(fromEnv.stderr, /PATCHBAY_ENGINE.*dbos runs on PostgreSQL/);
    const unknown = runCli(['--engine', 'temporal', 'runs']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /--engine.*must be embedded or dbos \(got temporal\)/);
    const interval = runCli(['--engine', 'dbos', '--database', 'postgres://nobody@127.0.0.1:1/none', 'worker', '--interval', '7']);
    assert.equal(interval.status, 2, interval.stderr);
    assert.match(interval.stderr, /--interval: an interval of 7 s cannot be scheduled on DBOS/);
  });

  it('two workers: each overdue task is escalated once and each notification is delivered once, by the scheduled maintenance job', async () => {
    const received: { id: string; type: string }[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const event = JSON.parse(body) as { id: string; type: string };
        received.push({ id: event.id, type: event.type });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => hook.close(() => r())));
    const sim = await spendeskConsole();
    const url = await freshDatabase();
    const token = await migratedWithToken(url);
    const dataDir = scratchDir('patchbay-dbos-');
    const profile = tenantFile(dataDir, sim.url, (t) => (t.notifications = { webhook: { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/events` } }));
    const server = await serve(url, dataDir, profile);
    const workers = [await worker(url, dataDir), await worker(url, dataDir)];
    const people = ['alice@acme.com', 'bob@acme.com', 'olivia@acme.com'];
    const runIds: string[] = [];
    for (const email of people) runIds.push((await api(`${server.url}/api/v1/runs`, token, 'POST', { ...alice, subject: { email } })).body.id);
    const taskIds = await Promise.all(runIds.map((id) => taskOf(server.url, token, id)));
    const store = await storeAt(url);
    // Past due: the next maintenance tick (every second) escalates them.
    await store.db.updateTable('tasks').set({ due_at: Date.now() - 60_000 }).where('id', 'in', taskIds).execute();
    const escalated = () => store.db.selectFrom('audit').select(['task_id', 'type']).where('type', '=', 'task.escalated').execute();
    await eventually('three escalations', escalated, (rows) => rows.length >= 3);
    // Several more ticks, on two workers: nothing is escalated again (the tasks are due a day later now).
    await new Promise((r) => setTimeout(r, 4000));
    const rows = await escalated();
    assert.deepEqual(rows.map((r) => r.task_id).sort(), [...taskIds].sort());
    const queues = await store.db.selectFrom('tasks').select(['queue', 'escalations']).where('id', 'in', taskIds).execute();
    assert.deepEqual(queues.map((q) => [q.queue, q.escalations]), taskIds.map(() => ['it-leads', 1]));
    // Every notification is delivered, each once.
    const pending = () => store.db.selectFrom('outbox').select('id').where('delivered_at', 'is', null).execute();
    await eventually('the outbox is empty', pending, (p) => p.length === 0);
    const outboxRows = Number((await store.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    assert.ok(outboxRows >= 9, `run.started, task.opened and task.escalated for three runs (${outboxRows})`);
    assert.equal(received.length, outboxRows, 'each notification POSTed once');
    assert.equal(new Set(received.map((e) => e.id)).size, received.length);
    assert.equal(received.filter((e) => e.type === 'dev.patchbay.task.escalated').length, 3);
    // The ticks were DBOS workflows of the maintenance schedule, executed by the workers (never the server).
    const ticks = await store.db
      .selectFrom('dbos.workflow_status' as any)
      .select(['workflow_uuid', 'executor_id', 'status'] as any)
      .where('name' as any, '=', 'patchbay.job')
      .execute() as unknown as { workflow_uuid: string; executor_id: string; status: string }[];
    assert.ok(ticks.every((t) => t.workflow_uuid.startsWith('sched-patchbay.maintenance-')));
    // A tick waiting on the queue is recorded under the process that enqueued it (any process's scheduler may); one that ran, under its worker.
    const ran = ticks.filter((t) => t.status === 'SUCCESS');
    assert.ok(ran.length >= 4, `ticks ran (${ran.length})`);
    const by = (pid: number) => ran.filter((t) => t.executor_id.startsWith(executorPrefix(pid))).length;
    assert.equal(by(workers[0]!.pid) + by(workers[1]!.pid), ran.length, `only workers run the ticks: ${JSON.stringify(ran.map((t) => t.executor_id))}`);
    assert.equal(by(server.process.pid), 0);
  });

  it('a worker SIGKILLed in the middle of a browser step: the other worker takes the run over and finishes it; the member is removed once, the task opened once', async () => {
    const sim = await spendeskConsole();
    // In front of the console: holds the removal of a member until the test lets it through (or drops it).
    let held: (() => void) | undefined;
    let removalSeen!: () => void;
    const removalAsked = new Promise<void>((r) => (removalSeen = r));
    let removals = 0;
    const proxy = http.createServer((req, res) => {
      const forward = () => {
        const upstream = http.request(new URL(req.url!, sim.url), { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode!, answer.headers);
          answer.pipe(res);
        });
        req.pipe(upstream);
      };
      if (req.method === 'POST' && /\/remove$/.test(req.url!) && removals++ === 0) {
        // The first removal: never reaches the console; the worker that asked is killed meanwhile.
        held = () => res.destroy();
        removalSeen();
        return;
      }
      forward();
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => (proxy.closeAllConnections(), proxy.close(() => r()))));
    const url = await freshDatabase();
    const token = await migratedWithToken(url);
    const dataDir = scratchDir('patchbay-dbos-');
    const server = await serve(url, dataDir, tenantFile(dataDir, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`));
    const workers = [await worker(url, dataDir), await worker(url, dataDir)];
    const runId = (await api(`${server.url}/api/v1/runs`, token, 'POST', alice)).body.id as string;
    const taskId = await taskOf(server.url, token, runId);
    assert.equal((await completeTask(server.url, token, taskId)).status, 200);
    await removalAsked;
    const executing = (await executorOf(url, runId))!.executor;
    const victim = workers.find((w) => executing.startsWith(executorPrefix(w.pid)))!;
    assert.ok(victim, `the run is executed by a worker (${executing})`);
    victim.child.kill('SIGKILL');
    assert.equal(await victim.exited, null, 'killed');
    held!();
    const survivor = workers.find((w) => w !== victim)!;

    const timeline = await finished(server.url, token, runId);
    assert.equal(timeline.run.status, 'completed', JSON.stringify(timeline.run));
    assert.equal(timeline.run.outcome, 'done');
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['alice@acme.com'], 'removed once');
    assert.equal(removals, 2, 'asked twice: the killed attempt (dropped) and the one after the takeover');
    const wf = await executorOf(url, runId);
    assert.equal(wf?.status, 'SUCCESS');
    assert.ok(wf!.executor.startsWith(executorPrefix(survivor.pid)), `finished by ${wf!.executor}`);
    const store = await storeAt(url);
    assert.equal((await store.db.selectFrom('tasks').select('id').execute()).length, 1, 'the Okta task was opened once');
    const types = (await store.db.selectFrom('audit').select('type').where('run_id', '=', runId).execute()).map((a) => a.type);
    assert.equal(types.filter((t) => t === 'task.opened').length, 1);
    assert.equal(types.filter((t) => t === 'run.completed').length, 1);
    const steps = Object.fromEntries(timeline.steps.map((s: { stepId: string }) => [s.stepId, s]));
    assert.deepEqual([steps['spendesk-deactivate-user'].status, steps['spendesk-deactivate-user'].channel], ['done', 'browser']);
    assert.equal((await new AuditLog(store).verify()).broken, undefined);
  });

  it('two workers watching the IdP: the leaver feed is read once per tick across both, and the leaver is offboarded once', async () => {
    const okta = await new CountingOkta().listen();
    after(() => okta.close());
    const url = await freshDatabase();
    await migratedWithToken(url);
    const dataDir = scratchDir('patchbay-dbos-');
    // The console tenant with Okta as its IdP; its console address is closed: this test looks at the runs the feed starts, not at how far they get.
    const profile = tenantFile(dataDir, 'http://127.0.0.1:9', (t) => {
      t.idp = { connector: 'okta', baseUrl: okta.url, secrets: { token: 'env:OKTA_API_TOKEN' } };
      t.apps.spendesk.idpAppId = '0oaDBOS';
    });
    const watch = ['--watch-idp', '--idp-interval', '1', '--profile', profile];
    const workers = [patchbay(url, dataDir, ['worker', '--interval', '5', ...watch], { OKTA_API_TOKEN: 'okta-token' }), patchbay(url, dataDir, ['worker', '--interval', '5', ...watch], { OKTA_API_TOKEN: 'okta-token' })];
    for (const w of workers) await w.until(/with the dbos engine/);
    const store = await storeAt(url);
    // Once the feed's first read is over (it starts each window's cursor at that moment), the next ticks see the event.
    await eventually('the feed was read twice', async () => okta.logReads, (n) => n >= 2);
    okta.unassign('0oaDBOS', 'alice@acme.com', new Date().toISOString());
    const ticks = () => store.db.selectFrom('dbos.workflow_status' as any).select(['status'] as any).where('workflow_uuid' as any, 'like', 'sched-patchbay.leavers-%').execute() as unknown as Promise<{ status: string }[]>;
    await eventually('six leaver ticks ran', ticks, (t) => t.filter((x) => x.status === 'SUCCESS').length >= 6);
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) assert.equal(await w.exited, 0, w.output());
    const all = await ticks();
    const ran = all.filter((t) => t.status === 'SUCCESS').length;
    const begun = all.filter((t) => t.status === 'SUCCESS' || t.status === 'PENDING').length;
    // Read once per tick: one worker's read per tick, not one per worker (which would be twice as many).
    assert.ok(okta.logReads >= ran && okta.logReads <= begun, `${okta.logReads} reads for ${ran} ticks run (${begun} begun)`);
    const runs = await store.db.selectFrom('runs').select(['playbook', 'subject']).execute();
    assert.deepEqual(runs.map((r) => [r.playbook, r.subject]), [['offboard', 'alice@acme.com']], workers.map((w) => w.output()).join('\n'));
  });
});
