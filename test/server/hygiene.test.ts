import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import LinkHeader from 'http-link-header';
import { AccessStore } from '../../core/server/access.js';
import { safeNext, startServer } from '../../core/server/app.js';
import { scratchDir } from '../support/fixtures.js';
import { harness } from '../support/runtime.js';
import { FormClient, rawRequest, serverFor } from '../support/server.js';

const password = 'a long test password';
const lead = 'it.lead@acme.example';
const deputy = 'deputy.lead@acme.example';
const third = 'third.lead@acme.example';

async function call(url: string, token: string | undefined, method = 'GET', body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (response.status === 204 ? null : await response.json()) as any, headers: response.headers };
}

describe('server hygiene: sign-in, forms, cookies, identity, paging', function () {
  this.timeout(60_000);

  it('asks sign-in for a form token bound to the pre-session cookie', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const fields = { email: 'it.oncall@acme.example', password, next: '/inbox' };
    // No cookie, no token: a cross-site post cannot sign anyone in.
    const bare = new FormClient(server.url);
    assert.equal((await bare.request('POST', '/login', fields)).status, 403);
    // A token from another browser's sign-in page, with this browser's pre-session cookie.
    const other = new FormClient(server.url);
    const otherToken = FormClient.token((await other.request('GET', '/login')).body, '/login');
    const mine = new FormClient(server.url);
    await mine.request('GET', '/login');
    assert.equal((await mine.request('POST', '/login', { ...fields, _token: otherToken })).status, 403);
    // The real form signs in once; the same token again is a replay.
    const token = FormClient.token((await mine.request('GET', '/login')).body, '/login');
    assert.equal((await mine.request('POST', '/login', { ...fields, _token: token })).status, 302);
    assert.equal((await mine.request('POST', '/login', { ...fields, _token: token })).status, 409);
  });

  it('limits sign-in attempts per account and per address, answering 429 with Retry-After and when to try again', async () => {
    const h = await harness();
    const server = await startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, tickMs: 60_000, signInLimits: { perAccount: 3, perAddress: 6, windowMs: 60_000 } });
    after(() => server.close());
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const client = new FormClient(server.url);
    for (let i = 0; i < 3; i++) assert.equal((await client.signInAttempt('it.oncall@acme.example', 'wrong password')).status, 401);
    const locked = await client.signInAttempt('it.oncall@acme.example', password);
    assert.equal(locked.status, 429, 'the right password too, once the account is locked');
    assert.ok(Number(locked.headers.get('retry-after')) > 0);
    assert.match(locked.body, /too many sign-in attempts: try again in 1 minute/);
    assert.equal(locked.headers.get('set-cookie')?.includes('pb_session=') ?? false, false);
    // Trying on while locked out makes the wait longer (exponential backoff).
    const again = await client.signInAttempt('it.oncall@acme.example', password);
    assert.equal(again.status, 429);
    assert.ok(Number(again.headers.get('retry-after')) > Number(locked.headers.get('retry-after')), `${again.headers.get('retry-after')} after ${locked.headers.get('retry-after')}`);
    // Other accounts from the same address: the address's own limit.
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await client.signInAttempt(`nobody${i}@acme.example`, 'wrong password')).status);
    assert.deepEqual(statuses, [401, 429]);
  });

  it('binds a form token to its action: a token for one task\'s form is refused by another task\'s', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const [{ run: a }] = await h.start('offboard', 'alice@acme.com');
    const [{ run: b }] = await h.start('offboard', 'bob@acme.com');
    const [taskA, taskB] = [(await h.openTaskOf(a.id))!, (await h.openTaskOf(b.id))!];
    const client = new FormClient(server.url);
    await client.signIn('it.oncall@acme.example', password);
    const pageA = (await client.request('GET', `/tasks/${taskA}`)).body;
    const completeA = FormClient.token(pageA, `/tasks/${taskA}/complete`);
    const refused = await client.request('POST', `/tasks/${taskB}/fail`, { _token: completeA, reason: 'forged' });
    assert.equal(refused.status, 403);
    assert.match(refused.body, /does not belong to this session and form/);
    assert.equal((await client.request('POST', `/tasks/${taskA}/fail`, { _token: completeA, reason: 'other form' })).status, 403);
    assert.equal((await h.runtime.tasks.get(taskB)).status, 'open');
    // The logout form's token does not tick a step either.
    assert.equal((await client.request('POST', `/tasks/${taskA}/tick`, { _token: FormClient.token(pageA, '/logout'), step: '1' })).status, 403);
    assert.equal((await client.request('POST', `/tasks/${taskA}/fail`, { _token: FormClient.token(pageA, `/tasks/${taskA}/fail`), reason: 'cannot' })).status, 303);
  });

  it('sends a signed-in operator back only to a path of its own', async () => {
    for (const next of ['/\\example.org', '//x', '/%5Cexample.org', '/%2F%2Fexample.org', 'https://example.org', '/\texample.org', 'javascript:alert(1)', '', '/%zz']) {
      assert.equal(safeNext(next), '/inbox', next);
    }
    assert.equal(safeNext('/tasks/task_1?done=x'), '/tasks/task_1?done=x');
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const client = new FormClient(server.url);
    const answer = await client.signInAttempt('it.oncall@acme.example', password, '/\\example.org');
    assert.deepEqual([answer.status, answer.location], [302, '/inbox']);
  });

  it('marks cookies Secure (and __Host-) and sends HSTS when told it is behind HTTPS', async () => {
    const h = await harness();
    const server = await startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, tickMs: 60_000, behindHttps: true });
    after(() => server.close());
    const page = await rawRequest(server.url, 'GET', '/login');
    const cookie = String(page.headers['set-cookie']);
    assert.match(cookie, /^__Host-pb_presession=/);
    assert.match(cookie, /; Secure/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Strict/);
    assert.match(String(page.headers['strict-transport-security']), /max-age=31536000/);
    const plain = await serverFor(await harness());
    const plainCookie = String((await rawRequest(plain.url, 'GET', '/login')).headers['set-cookie']);
    assert.doesNotMatch(plainCookie, /Secure/);
  });

  it('serves evidence files only to the queues of their tasks, with nosniff and a type that is never a page', async () => {
    const h = await harness();
    const server = await serverFor(h);
    for (const [who, role] of [['it.oncall@acme.example', 'operator'], ['finance.admin@acme.example', 'operator'], [lead, 'admin']] as const) await server.access.setOperator(who, password, role);
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const file = path.join(scratchDir('patchbay-evidence-'), 'page.html');
    const html = '<html><script>alert(1)</script></html>';
    writeFileSync(file, html);
    await h.runtime.tasks.complete((await h.openTaskOf(run.id))!, { by: 'it.oncall@acme.example', evidence: [{ file }] });
    const sha = createHash('sha256').update(html).digest('hex');
    const as = async (who: string) => {
      const client = new FormClient(server.url);
      await client.signIn(who, password);
      return client.request('GET', `/evidence/${sha}`);
    };
    const mine = await as('it.oncall@acme.example');
    assert.equal(mine.status, 200);
    assert.equal(mine.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(mine.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.match(mine.headers.get('content-disposition')!, /^attachment; filename="[0-9a-f]{12}\.html"$/);
    assert.match(mine.headers.get('content-security-policy')!, /sandbox/);
    assert.equal((await as('finance.admin@acme.example')).status, 404);
    assert.equal((await as(lead)).status, 200);
  });

  describe('identity comes from the credential', () => {
    const approving = async () =>
      await harness({
        tweak: (p) => {
          p.policies = { ...p.policies, approvalRequired: ['offboard'], approvers: 'it-leads' };
          p.queues!.find((q: { id: string }) => q.id === 'it-leads')!.members.push(deputy, third);
        },
      });

    it('refuses a body that names another requester, and an onBehalfOf without the permission; nothing is started', async () => {
      const h = await approving();
      const server = await serverFor(h);
      const { token } = (await server.access.createToken({ name: 'leads', actor: lead, role: 'operator' }));
      const request = { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } };
      const forged = await call(`${server.url}/api/v1/runs`, token, 'POST', { ...request, requestedBy: deputy });
      assert.equal(forged.status, 400);
      assert.equal(forged.body.pointer, '/requestedBy');
      assert.match(forged.body.message, /#\/requestedBy: is taken from the credential \(it\.lead@acme\.example\), not from the body/);
      const behalf = await call(`${server.url}/api/v1/runs`, token, 'POST', { ...request, onBehalfOf: deputy });
      assert.equal(behalf.status, 403);
      assert.match(behalf.body.message, /needs the runs:on-behalf-of permission/);
      assert.deepEqual(await h.runtime.engine.list(), []);
      // Naming oneself is no forgery.
      assert.equal((await call(`${server.url}/api/v1/runs`, token, 'POST', { ...request, requestedBy: lead })).status, 201);
    });

    it('records on-behalf-of beside the caller, and neither of them can approve the run by any route', async () => {
      const h = await approving();
      const server = await serverFor(h);
      const caller = (await server.access.createToken({ name: 'hr', actor: lead, role: 'operator', scopes: ['runs:write', 'runs:read', 'runs:on-behalf-of', 'tasks:read', 'tasks:write'] })).token;
      const created = await call(`${server.url}/api/v1/runs`, caller, 'POST', { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' }, onBehalfOf: deputy, reason: 'left' });
      assert.equal(created.status, 201);
      // The server records the run and answers; its loop drives it to the approval task.
      await server.settled();
      const run = await h.run(created.body.id);
      assert.deepEqual([run.request.requestedBy, run.request.onBehalfOf], [lead, deputy]);
      const started = (await h.runtime.runs.timeline(run.id)).audit.find((a) => a.type === 'run.started')!;
      assert.deepEqual([started.actor, started.data.onBehalfOf], [lead, deputy]);
      const taskId = (await h.openTaskOf(run.id))!;
      const approve = { action: 'complete', evidence: [{ text: 'approved' }] };
      // The caller, by the API...
      const own = await call(`${server.url}/api/v1/tasks/${taskId}/actions`, caller, 'POST', approve);
      assert.equal(own.status, 409);
      assert.match(own.body.message, /asked for this run and cannot approve it/);
      // ...the person it was asked for, by a token of their own and by the pages.
      const deputyToken = (await server.access.createToken({ name: 'deputy', actor: deputy, role: 'operator' })).token;
      const theirs = await call(`${server.url}/api/v1/tasks/${taskId}/actions`, deputyToken, 'POST', approve);
      assert.equal(theirs.status, 409);
      assert.match(theirs.body.message, /asked for on behalf of deputy\.lead@acme\.example, who cannot approve it/);
      await server.access.setOperator(deputy, password, 'operator');
      const page = new FormClient(server.url);
      await page.signIn(deputy, password);
      const form = (await page.request('GET', `/tasks/${taskId}`)).body;
      const byPage = await page.request('POST', `/tasks/${taskId}/complete`, { _token: FormClient.token(form, `/tasks/${taskId}/complete`), evidence: 'approved' });
      assert.equal(byPage.status, 409);
      assert.equal((await h.runtime.tasks.get(taskId)).status, 'open');
      // A third lead approves; the audit names the real approver.
      const thirdToken = (await server.access.createToken({ name: 'third', actor: third, role: 'operator' })).token;
      assert.equal((await call(`${server.url}/api/v1/tasks/${taskId}/actions`, thirdToken, 'POST', approve)).status, 200);
      await server.settled();
      assert.equal((await h.runtime.runs.timeline(run.id)).audit.find((a) => a.type === 'run.approved')!.actor, third);
    });
  });

  it("lists to a token only the tasks of its actor's queues, unless it holds tasks:all-queues; the inbox likewise", async () => {
    const h = await harness();
    const server = await serverFor(h);
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const taskId = (await h.openTaskOf(run.id))!;
    const list = async (token: string, q = '') => (await call(`${server.url}/api/v1/tasks${q}`, token)).body.map((t: { id: string }) => t.id);
    const ops = (await server.access.createToken({ name: 'ops', actor: 'it.oncall@acme.example', role: 'operator' })).token;
    const finance = (await server.access.createToken({ name: 'erp', actor: 'finance.admin@acme.example', role: 'operator' })).token;
    const auditor = (await server.access.createToken({ name: 'audit', actor: 'finance.admin@acme.example', role: 'operator', scopes: ['tasks:read', 'tasks:all-queues'] })).token;
    assert.deepEqual(await list(ops), [taskId]);
    assert.deepEqual(await list(finance), []);
    assert.deepEqual(await list(finance, '?queue=it-ops'), [], 'naming the queue does not open it');
    assert.deepEqual(await list(auditor, '?queue=it-ops'), [taskId]);
    await server.access.setOperator('finance.admin@acme.example', password, 'operator');
    const page = new FormClient(server.url);
    await page.signIn('finance.admin@acme.example', password);
    assert.doesNotMatch((await page.request('GET', '/inbox?queue=it-ops')).body, new RegExp(taskId));
  });

  it('refuses the task list to a caller in no queue, saying why and what an admin does, unless it sees every queue or holds a task of its own', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const taskId = (await h.openTaskOf(run.id))!;
    const stranger = 'hr.system@acme.example';
    const blind = (await server.access.createToken({ name: 'hr', actor: stranger, role: 'operator' })).token;
    const refused = await call(`${server.url}/api/v1/tasks`, blind);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'access-denied');
    const file = path.basename(h.profile.file);
    assert.equal(refused.body.message, `operator hr.system@acme.example is in no queue of tenant acme, so no task is listed to this token; an admin adds them with \`patchbay queue add <queue> hr.system@acme.example --profile ${file}\` and restarts patchbay serve, or creates the token with the tasks:all-queues scope (patchbay token create --as hr.system@acme.example --scopes tasks:read,tasks:all-queues)`);
    assert.equal((await call(`${server.url}/api/v1/tasks?queue=it-ops`, blind)).status, 403, 'naming a queue does not get round it');
    const wide = (await server.access.createToken({ name: 'audit', actor: stranger, role: 'operator', scopes: ['tasks:read', 'tasks:all-queues'] })).token;
    assert.deepEqual((await call(`${server.url}/api/v1/tasks`, wide)).body.map((t: { id: string }) => t.id), [taskId]);
    // The inbox of an operator in no queue says the same instead of an empty list; an admin is not refused.
    await server.access.setOperator(stranger, password, 'operator');
    const page = new FormClient(server.url);
    await page.signIn(stranger, password);
    const inbox = (await page.request('GET', '/inbox')).body;
    assert.ok(inbox.includes(`<p role="alert">operator hr.system@acme.example is in no queue of tenant acme, so no task is shown here; an admin adds them with \`patchbay queue add &lt;queue&gt; hr.system@acme.example --profile ${file}\` and restarts patchbay serve</p>`), inbox);
    assert.doesNotMatch(inbox, /No open task here/);
    await server.access.setOperator(stranger, password, 'admin');
    assert.doesNotMatch((await page.request('GET', '/inbox')).body, /is in no queue/, 'an admin sees every queue');
    assert.match((await page.request('GET', '/inbox?queue=it-ops')).body, new RegExp(`href="/tasks/${taskId}"`));
    // A task assigned to them is theirs to list, queue or not.
    await h.runtime.store.db.updateTable('tasks').set({ assignee: stranger }).where('id', '=', taskId).execute();
    assert.deepEqual((await call(`${server.url}/api/v1/tasks`, blind)).body.map((t: { id: string }) => t.id), [taskId]);
  });

  it('shows admins every token with its last use and lets them revoke one, with the revocation in the audit log', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { id, token } = (await server.access.createToken({ name: 'hr-tool', actor: 'people@acme.example', role: 'operator' }));
    await call(`${server.url}/api/v1/runs`, token);
    await server.access.setOperator(lead, password, 'admin');
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const oncall = new FormClient(server.url);
    await oncall.signIn('it.oncall@acme.example', password);
    assert.equal((await oncall.request('GET', '/tokens')).status, 403);
    assert.doesNotMatch((await oncall.request('GET', '/inbox')).body, /href="\/tokens"/);
    const admin = new FormClient(server.url);
    await admin.signIn(lead, password);
    const page = await admin.request('GET', '/tokens');
    assert.equal(page.status, 200);
    assert.match(page.body, new RegExp(`<td>${id}</td><td>hr-tool</td><td>people@acme\\.example</td><td>runs:read runs:write tasks:read tasks:write reconcile:read matrix:read</td><td>[^<]+</td><td>20\\d\\d-`));
    assert.equal(page.body.includes(token.slice(-43)), false);
    const revoked = await admin.request('POST', `/tokens/${id}/revoke`, { _token: FormClient.token(page.body, `/tokens/${id}/revoke`) });
    assert.deepEqual([revoked.status, revoked.location], [303, `/tokens?done=${id}`]);
    assert.equal((await call(`${server.url}/api/v1/runs`, token)).status, 401);
    const event = (await h.runtime.engine.audit.list({})).find((a) => a.type === 'token.revoked')!;
    assert.deepEqual([event.actor, event.data.token], [lead, id]);
  });

  it('pages every list with a maximum and a next link, and validates the query', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { token } = (await server.access.createToken({ name: 'reader', actor: 'it.oncall@acme.example', role: 'operator' }));
    await h.start('offboard', ['a@acme.com', 'b@acme.com', 'c@acme.com', 'd@acme.com', 'e@acme.com']);
    const seen: string[] = [];
    let url: string | undefined = `/api/v1/runs?limit=2`;
    let pages = 0;
    while (url) {
      const answer = await call(`${server.url}${url}`, token);
      assert.equal(answer.status, 200);
      assert.ok(answer.body.length <= 2);
      seen.push(...answer.body.map((r: { id: string }) => r.id));
      const link = answer.headers.get('link');
      url = link ? LinkHeader.parse(link).rel('next')[0]?.uri : undefined;
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen.slice().sort(), (await h.runtime.engine.list()).map((r) => r.id).sort());
    const tooMany = await call(`${server.url}/api/v1/runs?limit=201`, token);
    assert.deepEqual([tooMany.status, tooMany.body.pointer], [400, '/query/limit']);
    const bogus = await call(`${server.url}/api/v1/tasks?status=bogus`, token);
    assert.equal(bogus.status, 400);
    assert.match(bogus.body.message, /^#\/query\/status: must be one of "open", "completed", "failed", "cancelled", "all"$/);
    const cursor = await call(`${server.url}/api/v1/tasks?cursor=not-ours`, token);
    assert.deepEqual([cursor.status, cursor.body.pointer], [400, '/query/cursor']);
  });

  it('pages the reconciliation findings from the store', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { token } = (await server.access.createToken({ name: 'auditor', actor: lead, role: 'admin' }));
    const now = Date.now();
    await h.runtime.reconciliations.record('acme', {
      app: 'spendesk',
      at: now,
      idp: { kind: 'idp', name: 'okta', readAt: now },
      appSource: { kind: 'file', name: 'members.csv', readAt: now },
      counts: { identities: 0, accounts: 5, matched: 0 },
      findings: [1, 2, 3, 4, 5].map((i) => ({ kind: 'orphaned-account' as const, app: 'spendesk', person: `p${i}@acme.com`, detail: 'active', evidence: [], ageMs: 0, firstSeenAt: now })),
    });
    const people: string[] = [];
    let cursor: string | null = null;
    do {
      const answer = await call(`${server.url}/api/v1/reconciliation?limit=2${cursor ? `&cursor=${cursor}` : ''}`, token);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.current, undefined, 'no unpaged findings');
      assert.equal(answer.body.findings.total, 5);
      people.push(...answer.body.findings.items.map((f: { person: string }) => f.person));
      cursor = answer.body.findings.next;
    } while (cursor);
    assert.deepEqual(people, ['p1@acme.com', 'p2@acme.com', 'p3@acme.com', 'p4@acme.com', 'p5@acme.com']);
  });

  it('lets a token see itself with its last use, rotate itself and revoke itself; an expired token says so', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { id, token } = (await server.access.createToken({ name: 'hr', actor: 'people@acme.example', role: 'operator' }));
    const self = await call(`${server.url}/api/v1/token`, token);
    assert.equal(self.body.id, id);
    assert.equal(typeof self.body.lastUsedAt, 'number');
    assert.equal(self.body.secret_hash, undefined);
    assert.ok(self.body.expiresAt > Date.now() + 89 * 86_400_000);
    const rotated = await call(`${server.url}/api/v1/token/rotate`, token, 'POST');
    assert.equal(rotated.body.replaced, id);
    assert.equal((await call(`${server.url}/api/v1/runs`, token)).status, 401);
    assert.equal((await call(`${server.url}/api/v1/runs`, rotated.body.token)).status, 200);
    assert.equal((await call(`${server.url}/api/v1/token`, rotated.body.token, 'DELETE')).status, 204);
    assert.equal((await call(`${server.url}/api/v1/runs`, rotated.body.token)).status, 401);
    const old = (await new AccessStore(h.runtime.store, () => Date.now() - 91 * 86_400_000).createToken({ name: 'old', actor: 'people@acme.example', role: 'operator' }));
    const expired = await call(`${server.url}/api/v1/runs`, old.token);
    assert.equal(expired.status, 401);
    assert.match(expired.body.message, new RegExp(`the API token expired on .*: patchbay token rotate ${old.id}`));
  });
});
