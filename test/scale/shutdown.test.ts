import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createServices } from '../../core/container.js';
import type { StartResult } from '../../core/engine/port.js';
import { packageRoot } from '../../core/paths.js';
import { startSpendeskConsole } from '../fixtures/spendesk-console/server.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';
import { consoleEnv } from '../support/spendesk-console.js';
import { cliPath, FleetProcess } from './fleet.js';

/**
 * A pass-through to the console simulator that holds the confirmed removal (POST …/remove) until
 * the test lets it go: the step is then in flight, at a moment the test chooses.
 */
async function holdingProxy(target: string): Promise<{ url: string; held: Promise<void>; release: () => void; close: () => Promise<void> }> {
  const upstream = new URL(target);
  let heldNow!: () => void;
  const held = new Promise<void>((resolve) => (heldNow = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method === 'POST' && /\/remove$/.test(req.url ?? '')) {
        heldNow();
        await released;
      }
      const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    release,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('a worker stopped with SIGTERM on PostgreSQL', function () {
  this.timeout(180_000);

  it('finishes the step in flight, releases the run at once (not at lease expiry), and another worker finishes it', async () => {
    const url = await freshDatabase();
    const dir = scratchDir('patchbay-stop-');
    const env = { ...process.env, ...consoleEnv, PATCHBAY_CONNECTORS: '' };
    const migrated = spawnSync(process.execPath, [cliPath, 'migrate', '--database', url, '--data-dir', path.join(dir, 'migrate')], { env, encoding: 'utf8' });
    assert.equal(migrated.status, 0, migrated.stderr);
    const sim = await startSpendeskConsole();
    const proxy = await holdingProxy(sim.url);
    after(async () => {
      proxy.release();
      await proxy.close();
      await sim.close();
    });
    const tenant = JSON.parse(readFileSync(path.join(packageRoot, 'test', 'fixtures', 'spendesk-console', 'tenant.json'), 'utf8')) as Record<string, any>;
    tenant.apps.spendesk.consoleUrl = proxy.url;
    delete tenant.$schema;
    const tenantFile = path.join(dir, 'tenant.json');
    writeFileSync(tenantFile, JSON.stringify(tenant));

    // The test's own runtime records the run and completes the person's task; it drives nothing.
    const services = createServices();
    const runtime = await services.openRuntime({ dataDir: path.join(dir, 'test'), databaseUrl: url, migrations: 'refuse' });
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const workers = ['a', 'b'].map((n) => new FleetProcess(`worker-${n}`, 'worker', ['worker', '--interval', '0.2', '--database', url, '--data-dir', path.join(dir, n)], env));
    after(async () => {
      for (const w of workers) await w.stop('SIGKILL').catch(() => undefined);
      await db.end();
      await runtime.close();
    });
    const [a, b] = workers as [FleetProcess, FleetProcess];
    const [{ run }] = (await runtime.runs.start([{ source: 'test', request: { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } } }], services.profiles.load(tenantFile), { drive: false })) as [StartResult];
    a.start();
    await a.ready();
    let task: string | undefined;
    for (let i = 0; i < 300 && !task; i++) {
      task = (await runtime.tasks.list({ status: 'open' }))[0]?.id;
      if (!task) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(task, 'worker a opened the Okta task');
    const view = await runtime.tasks.get(task);
    const evidence = view.content.runbook.evidence.filter((e) => e.required).map((e) => ({ text: `done: ${e.label}` }));
    await runtime.runs.completeTask(task, { by: 'it.oncall@acme.example', evidence }, { drive: false });

    // Worker a reads Alice's page, then asks the console to remove her: the removal is in flight.
    await proxy.held;
    b.start();
    await b.ready();
    const lease = await db.query<{ lease_owner: string }>('SELECT lease_owner FROM runs WHERE id = $1', [run.id]);
    assert.match(lease.rows[0]!.lease_owner, new RegExp(`:${a.pid}:`), 'worker a holds the run');
    const stopping = a.stop('SIGTERM', 20_000);
    await new Promise((r) => setTimeout(r, 500));
    proxy.release();
    assert.equal(await stopping, 0, a.lines.join('\n'));

    // At a's exit: the removal it had in flight is recorded, and the run is no longer a's.
    const journal = await db.query<{ value: string }>("SELECT value FROM journal WHERE run_id = $1 AND key = 'step:spendesk-deactivate-user/browser/1'", [run.id]);
    assert.equal(JSON.parse(journal.rows[0]!.value).value.status, 'done', 'the step in flight finished');
    const after_ = await db.query<{ lease_owner: string | null }>('SELECT lease_owner FROM runs WHERE id = $1', [run.id]);
    assert.doesNotMatch(after_.rows[0]!.lease_owner ?? '', new RegExp(`:${a.pid}:`), 'the lease of the stopped worker is released');
    const handedOver = await db.query<{ data: string }>("SELECT data FROM audit WHERE run_id = $1 AND type = 'run.handed-over'", [run.id]);
    assert.equal(handedOver.rows.length, 1);
    assert.match(JSON.parse(handedOver.rows[0]!.data).by, new RegExp(`:${a.pid}:`));

    // Worker b takes it at once (well within the 60 s lease) and verifies the removal itself.
    const since = Date.now();
    let status = '';
    while (status !== 'completed' && Date.now() - since < 30_000) {
      status = (await db.query<{ status: string }>('SELECT status FROM runs WHERE id = $1', [run.id])).rows[0]!.status;
      if (status !== 'completed') await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 'completed', b.lines.join('\n'));
    assert.ok(Date.now() - since < 30_000);
    const verify = await db.query<{ value: string }>("SELECT value FROM journal WHERE run_id = $1 AND key = 'step:spendesk-verify/browser/1'", [run.id]);
    assert.ok(JSON.parse(verify.rows[0]!.value).value.evidence[0].file.path.startsWith(path.join(dir, 'b')), 'worker b verified');
    assert.deepEqual((await (await fetch(`${sim.url}/__state/removals`)).json()) as Record<string, number>, { 'alice@acme.com': 1 });
    assert.equal((await runtime.engine.audit.verify()).broken, undefined);
  });
});
