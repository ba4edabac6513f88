import assert from 'node:assert/strict';
import { createServices, type Runtime } from '../../core/container.js';
import { AccessStore } from '../../core/server/access.js';
import { type PatchbayServer, startServer } from '../../core/server/app.js';
import { freshDatabase } from '../support/postgres.js';
import { scratchDir } from '../support/fixtures.js';

async function call(url: string, token: string, method = 'GET', body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** Two servers, each with its own runtime (its own connection pool), on one PostgreSQL database. */
async function twoServers(): Promise<{ servers: PatchbayServer[]; runtimes: Runtime[]; token: string }> {
  const url = await freshDatabase();
  const services = createServices();
  const profile = services.profiles.load();
  const runtimes: Runtime[] = [];
  const servers: PatchbayServer[] = [];
  for (const migrations of ['apply', 'refuse'] as const) {
    const runtime = await services.openRuntime({ dataDir: scratchDir('patchbay-pg-'), databaseUrl: url, migrations });
    runtimes.push(runtime);
    servers.push(await startServer({ services, runtime, profile, port: 0, version: 'test', tickMs: 200, eventStreamMs: 2000 }));
  }
  after(async () => {
    for (const server of servers) await server.close();
    for (const runtime of runtimes) await runtime.close();
  });
  const { token } = await new AccessStore(runtimes[0]!.store).createToken({ name: 'hr-tool', actor: 'it.oncall@acme.example', role: 'admin' });
  return { servers, runtimes, token };
}

describe('two servers on one PostgreSQL database', function () {
  this.timeout(60_000);

  it('are ready, and say so; a token made at one is good at the other', async () => {
    const { servers, token } = await twoServers();
    for (const server of servers) {
      assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
      assert.deepEqual(await (await fetch(`${server.url}/readyz`)).json(), { status: 'ready', database: 'postgres' });
      assert.equal((await call(`${server.url}/api/v1/runs`, token)).status, 200);
    }
  });

  it('the same offboarding asked of both at once is one run; a task completed at both at once is one completion and one refusal', async () => {
    const { servers, runtimes, token } = await twoServers();
    const request = { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } };
    for (let round = 0; round < 3; round++) {
      const email = `person${round}@acme.com`;
      const answers = await Promise.all(servers.map((s) => call(`${s.url}/api/v1/runs`, token, 'POST', { ...request, subject: { email } })));
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 201], JSON.stringify(answers.map((a) => a.body)));
      assert.equal(answers[0]!.body.id, answers[1]!.body.id);
    }
    assert.equal((await runtimes[0]!.engine.list()).length, 3);
    // The servers' loops drive the runs to their first task (the Okta assignment, a person's).
    let taskId: string | undefined;
    for (let i = 0; i < 100 && !taskId; i++) {
      taskId = (await call(`${servers[1]!.url}/api/v1/tasks`, token)).body[0]?.id;
      if (!taskId) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(taskId, 'a task was opened');
    const task = (await call(`${servers[0]!.url}/api/v1/tasks/${taskId}`, token)).body;
    const evidence = task.content.runbook.evidence.filter((e: { required: boolean }) => e.required).map((e: { label: string }) => ({ text: `seen: ${e.label}` }));
    const done = await Promise.all(servers.map((s) => call(`${s.url}/api/v1/tasks/${taskId}/actions`, token, 'POST', { action: 'complete', evidence })));
    assert.deepEqual(done.map((d) => d.status).sort(), [200, 409], JSON.stringify(done.map((d) => d.body)));
    assert.match(done.find((d) => d.status === 409)!.body.message, /already completed|changed by someone else/);
    const audit = await runtimes[1]!.engine.audit.list({ taskId });
    assert.equal(audit.filter((a) => a.type === 'task.completed').length, 1);
    assert.equal((await runtimes[0]!.engine.audit.verify()).broken, undefined);
  });
});
