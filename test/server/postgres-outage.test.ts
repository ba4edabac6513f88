import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { createServices } from '../../core/container.js';
import { packageRoot } from '../../core/paths.js';
import { AccessStore } from '../../core/server/access.js';
import { startServer } from '../../core/server/app.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase, postgresServer } from '../support/postgres.js';

/** Closes the database to new connections and ends the open ones, as a restart or a failover does; returns how to reopen it. */
async function outage(url: string): Promise<() => Promise<void>> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: postgresServer() });
  await admin.connect();
  await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  return async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await admin.end();
  };
}

describe('PostgreSQL going away and coming back', function () {
  this.timeout(60_000);

  it('a server answers 503 with Retry-After (and /readyz 503) while the store is down, and 200 when it is back', async () => {
    const url = await freshDatabase();
    const services = createServices();
    const runtime = await services.openRuntime({ dataDir: scratchDir('patchbay-pg-'), databaseUrl: url, migrations: 'apply' });
    const server = await startServer({ services, runtime, profile: services.profiles.load(), port: 0, version: 'test', tickMs: 60_000 });
    after(async () => {
      await server.close();
      await runtime.close();
    });
    const { token } = await new AccessStore(runtime.store).createToken({ name: 'hr-tool', actor: 'it.oncall@acme.example', role: 'operator' });
    const runs = () => fetch(`${server.url}/api/v1/runs`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal((await runs()).status, 200);
    const reopen = await outage(url);
    const down = await runs();
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('retry-after'), '5');
    assert.deepEqual(((await down.json()) as { error: string }).error, 'store-unavailable');
    assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'the process itself is alive');
    await reopen();
    assert.equal((await runs()).status, 200);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  });

  it('a worker says once that the store does not answer, keeps trying, says when it answers again, and stops cleanly', async () => {
    const url = await freshDatabase();
    const migrated = await createServices().openRuntime({ dataDir: scratchDir('patchbay-pg-'), databaseUrl: url, migrations: 'apply' });
    await migrated.close();
    const worker = spawn(process.execPath, [path.join(packageRoot, 'dist', 'core', 'cli', 'main.js'), 'worker', '--interval', '0.2', '--database', url, '--data-dir', scratchDir('patchbay-worker-')], {
      env: { ...process.env, PATCHBAY_CONNECTORS: '' },
    });
    let stderr = '';
    worker.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => worker.on('exit', (code) => resolve(code)));
    const until = async (pattern: RegExp) => {
      for (let i = 0; i < 150 && !pattern.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(stderr, pattern);
    };
    await until(/patchbay worker: on postgres:\/\/.*a pass every 0\.2 s/);
    const reopen = await outage(url);
    await until(/the store does not answer \(.*\); trying again every 0\.2 s/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(stderr.match(/does not answer/g)?.length, 1, `said once: ${stderr}`);
    await reopen();
    await until(/the store answers again/);
    worker.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  });
});
