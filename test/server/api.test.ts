import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { AccessStore } from '../../core/server/access.js';
import { openApiDocument } from '../../core/server/openapi.js';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';

async function call(url: string, token: string | undefined, method = 'GET', body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe('HTTP API', () => {
  it('refuses a request without a token, with a malformed one, a wrong one and a revoked one', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { id, token } = (await server.access.createToken({ name: 'hr-tool', actor: 'it.oncall@acme.example', role: 'operator' }));
    assert.deepEqual((await call(`${server.url}/api/v1/runs`, undefined)).body, { error: 'access-denied', message: 'an API token is required (Authorization: Bearer pb_…)' });
    assert.equal((await call(`${server.url}/api/v1/runs`, 'abc')).status, 401);
    const wrong = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    assert.deepEqual((await call(`${server.url}/api/v1/runs`, wrong)).body.message, 'the API token is not valid');
    assert.equal((await call(`${server.url}/api/v1/runs`, token)).status, 200);
    (await server.access.revokeToken(id));
    assert.deepEqual((await call(`${server.url}/api/v1/runs`, token)).body.message, 'the API token was revoked');
  });

  it("keeps a token's last use to the minute, without a write to the store on every request", async () => {
    const h = await harness();
    let now = Date.UTC(2026, 10, 28, 10, 0, 0);
    const access = new AccessStore(h.runtime.store, () => now);
    const { id, token } = (await access.createToken({ name: 'hr-tool', actor: 'it.oncall@acme.example', role: 'operator' }));
    const lastUsed = async () => (await access.token(id))!.lastUsedAt;
    // A count of writes: the rows SQLite's connection changed so far, or the token row's version on PostgreSQL (xmin moves with every UPDATE).
    const writes = async () =>
      h.runtime.store.dialect === 'sqlite'
        ? (await sql<{ n: number }>`SELECT total_changes() AS n`.execute(h.runtime.store.db)).rows[0]!.n
        : (await sql<{ n: string }>`SELECT xmin::text AS n FROM api_tokens WHERE id = ${id}`.execute(h.runtime.store.db)).rows[0]!.n;
    assert.equal(await lastUsed(), null);
    await access.bearer(`Bearer ${token}`);
    assert.equal(await lastUsed(), now);
    const before = await writes();
    now += 30_000;
    for (let i = 0; i < 5; i++) await access.bearer(`Bearer ${token}`);
    assert.equal(await writes(), before, 'no write within the minute');
    assert.equal(await lastUsed(), now - 30_000);
    now += 31_000;
    await access.bearer(`Bearer ${token}`);
    assert.equal(await lastUsed(), now);
  });

  it('keeps only a hash of the token: its secret is in no row of the store', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { id, token } = (await server.access.createToken({ name: 'hr-tool', actor: 'it.oncall@acme.example', role: 'operator' }));
    // The secret may itself hold underscores: it is everything after pb_<id>_.
    const secret = token.slice(`pb_${id}_`.length);
    assert.equal(secret.length, 43);
    assert.equal(JSON.stringify(await h.runtime.store.db.selectFrom('api_tokens').selectAll().execute()).includes(secret), false);
    if (h.runtime.store.sqlite) {
      // And in no byte of the embedded store's files (the table, the write-ahead log, anything left over).
      h.runtime.store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
      const stored = readdirSync(h.dataDir).map((f) => readFileSync(path.join(h.dataDir, f)).toString('latin1')).join('');
      assert.equal(stored.includes(secret), false);
    }
  });

  it('starts a run from a lifecycle request, and returns the open run for the same request again', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { token } = (await server.access.createToken({ name: 'hr-tool', actor: 'people@acme.example', role: 'operator' }));
    const request = { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } };
    const first = await call(`${server.url}/api/v1/runs`, token, 'POST', request, { 'idempotency-key': 'hr-42' });
    assert.equal(first.status, 201);
    assert.deepEqual([first.body.playbook, first.body.subject], ['offboard', 'alice@acme.com']);
    const again = await call(`${server.url}/api/v1/runs`, token, 'POST', request, { 'idempotency-key': 'hr-42' });
    assert.deepEqual([again.status, again.body.id], [200, first.body.id]);
    const timeline = await call(`${server.url}/api/v1/runs/${first.body.id}`, token);
    assert.equal(timeline.body.run.id, first.body.id);
    assert.ok(timeline.body.audit.some((a: { type: string; actor: string }) => a.type === 'run.started'));
  });

  it('says what is wrong with a body and where, as a JSON pointer, and starts nothing', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { id, token } = (await server.access.createToken({ name: 'hr-tool', actor: 'people@acme.example', role: 'operator' }));
    const bad = await call(`${server.url}/api/v1/runs`, token, 'POST', { playbook: 'offboard', app: 'spendesk', subject: { email: 'not-an-email' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.pointer, '/subject/email');
    assert.equal(bad.body.message, `request body (API token ${id})#/subject/email: must be a valid email`);
    const broken = await call(`${server.url}/api/v1/runs`, token, 'POST', '{"playbook": ');
    assert.equal(broken.status, 400);
    const unknownApp = await call(`${server.url}/api/v1/runs`, token, 'POST', { playbook: 'offboard', app: 'nope', subject: { email: 'a@acme.com' } });
    assert.equal(unknownApp.status, 404);
    assert.deepEqual(await h.runtime.engine.list(), []);
  });

  it('completes a task as the token\'s actor, refuses an actor outside the queue, and checks the action\'s body', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const oncall = (await server.access.createToken({ name: 'ticketing', actor: 'it.oncall@acme.example', role: 'operator' })).token;
    const finance = (await server.access.createToken({ name: 'erp', actor: 'finance.admin@acme.example', role: 'operator' })).token;
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const mine = await call(`${server.url}/api/v1/tasks?mine=true`, oncall);
    assert.deepEqual(mine.body.map((t: { runbook: string }) => t.runbook), ['unassign-app']);
    const taskId = mine.body[0].id;
    const invalid = await call(`${server.url}/api/v1/tasks/${taskId}/actions`, oncall, 'POST', { action: 'complete' });
    assert.equal(invalid.status, 400);
    // A token of another queue does not see the task at all; one that sees every queue is still not a member of it.
    assert.equal((await call(`${server.url}/api/v1/tasks/${taskId}/actions`, finance, 'POST', { action: 'complete', evidence: [{ text: 'done' }] })).status, 404);
    const financeAll = (await server.access.createToken({ name: 'erp-all', actor: 'finance.admin@acme.example', role: 'admin' })).token;
    const outsider = await call(`${server.url}/api/v1/tasks/${taskId}/actions`, financeAll, 'POST', { action: 'complete', evidence: [{ text: 'done' }] });
    assert.equal(outsider.status, 409);
    assert.match(outsider.body.message, /finance\.admin@acme\.example is not a member of queue it-ops/);
    const done = await call(`${server.url}/api/v1/tasks/${taskId}/actions`, oncall, 'POST', { action: 'complete', evidence: [{ text: 'removed in Okta' }] });
    assert.equal(done.status, 200);
    assert.equal(done.body.status, 'completed');
    await server.settled();
    assert.notEqual((await h.run(run.id)).waitingFor, `task:${taskId}`);
    assert.equal((await call(`${server.url}/api/v1/tasks/${taskId}/actions`, oncall, 'POST', { action: 'complete', evidence: [{ text: 'again' }] })).status, 409);
  });

  it('serves the capability matrix for its tenant and the OpenAPI document, which docs/openapi.json matches', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { token } = (await server.access.createToken({ name: 'reader', actor: 'it.lead@acme.example', role: 'admin' }));
    const matrix = await call(`${server.url}/api/v1/matrix`, token);
    assert.ok(matrix.body.some((r: { id: string; tenant: string }) => r.id === 'spendesk' && r.tenant === 'acme'));
    const audit = await call(`${server.url}/api/v1/reconciliation`, token);
    assert.equal(audit.status, 200);
    assert.deepEqual(audit.body.overdue.map((f: { app: string }) => f.app), ['6sense', 'alkami', 'amazinghiring', 'spendesk']);
    assert.equal((await call(`${server.url}/api/v1/reconciliation`, undefined)).status, 401);
    const openapi = (await call(`${server.url}/api/v1/openapi.json`, undefined)).body;
    assert.equal(openapi.openapi, '3.1.0');
    assert.ok(openapi.components.schemas.LifecycleRequest && openapi.components.schemas.TaskAction);
    assert.equal(openapi.components.schemas.LifecycleRequest.properties.subject.properties.email.$ref, '#/components/schemas/Common/$defs/email');
    const committed = JSON.parse(readFileSync(path.join(process.cwd(), 'docs', 'openapi.json'), 'utf8'));
    assert.deepEqual(committed, openApiDocument(committed.info.version));
  });

  it('binds to 127.0.0.1 unless told otherwise', async () => {
    const server = await serverFor(await harness());
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });
});
