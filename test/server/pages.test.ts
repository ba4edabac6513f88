import assert from 'node:assert/strict';
import { BrowserHost } from '../../core/channels/browser/browser-host.js';
import { harness } from '../support/runtime.js';
import { FormClient, serverFor } from '../support/server.js';
import { consoleHarness, spendeskConsole } from '../support/spendesk-console.js';

const password = 'a long demo password';

describe('task inbox pages', function () {
  this.timeout(90_000);

  it('in Chromium: an operator signs in, completes the Okta task with evidence, and the run goes on to done by browser', async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim);
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const host = new BrowserHost();
    after(() => host.close());
    await host.withContext(async (context) => {
      const page = await context.newPage();
      await page.goto(`${server.url}/inbox`);
      assert.match(page.url(), /\/login\?next=%2Finbox$/);
      await page.getByLabel('Email').fill('it.oncall@acme.example');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const link = page.getByRole('link', { name: "Remove alice@acme.com's Spendesk assignment in Okta" });
      await link.click();
      await page.getByRole('heading', { level: 1 }).waitFor();
      const ticks = await page.getByRole('button', { name: /^Tick step/ }).count();
      assert.ok(ticks > 0);
      for (let i = 0; i < ticks; i++) await page.getByRole('button', { name: /^Tick step/ }).first().click();
      assert.equal(await page.getByRole('button', { name: /^Tick step/ }).count(), 0, 'every step ticked');
      await page.locator('textarea[name=evidence]').first().fill('Alice no longer appears under Spendesk assignments <script>alert(1)</script>');
      await page.getByRole('button', { name: 'Complete the task' }).click();
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
      // The evidence is shown as text, never as markup.
      assert.equal(await page.locator('script:not([src="/assets/live.js"])').count(), 0, 'no script but the same-origin live-update file');
      assert.match(await page.content(), /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
      await server.settled();
      await page.goto(`${server.url}/runs/${run.id}`);
      assert.match(await page.getByRole('status').innerText(), /Status: completed \(done\)/);
      assert.match(await page.getByRole('table', { name: 'Steps' }).innerText(), /Remove the member\s+done\s+browser/);
    });
    assert.equal((await h.runtime.tasks.get((await h.runtime.tasks.list({ status: 'all' }))[0]!.id)).stepsDone.length > 0, true);
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['alice@acme.com']);
  });

  it('refuses an operator from another queue, and keeps the task open', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('finance.admin@acme.example', password, 'operator');
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const taskId = (await h.openTaskOf(run.id))!;
    const finance = new FormClient(server.url);
    await finance.signIn('finance.admin@acme.example', password);
    // Not in it-ops: the inbox does not list the task, its page is not found...
    assert.doesNotMatch((await finance.request('GET', '/inbox')).body, new RegExp(taskId));
    assert.equal((await finance.request('GET', `/tasks/${taskId}`)).status, 404);
    // ...and completing it anyway is refused, with a token of the operator's own session.
    const inbox = await finance.request('GET', '/inbox');
    const refused = await finance.request('POST', `/tasks/${taskId}/complete`, { _token: FormClient.token(inbox.body), evidence: 'done' });
    assert.equal(refused.status, 404);
    assert.doesNotMatch(refused.body, /alice/);
    assert.equal((await h.runtime.tasks.get(taskId)).status, 'open');
    // An admin sees every queue, but is still refused a task of a queue they are not a member of.
    await server.access.setOperator('it.lead@acme.example', password, 'admin');
    const lead = new FormClient(server.url);
    await lead.signIn('it.lead@acme.example', password);
    const page = await lead.request('GET', `/tasks/${taskId}`);
    assert.equal(page.status, 200);
    const byLead = await lead.request('POST', `/tasks/${taskId}/complete`, { _token: FormClient.token(page.body, `/tasks/${taskId}/complete`), evidence: 'done' });
    assert.equal(byLead.status, 409);
    assert.match(byLead.body, /it\.lead@acme\.example is not a member of queue it-ops/);
    assert.equal((await h.runtime.tasks.get(taskId)).status, 'open');
  });

  it('refuses forged and replayed form posts, and a wrong password', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const taskId = (await h.openTaskOf(run.id))!;
    const wrong = new FormClient(server.url);
    assert.equal((await wrong.signInAttempt('it.oncall@acme.example', 'not the password')).status, 401);
    const operator = new FormClient(server.url);
    await operator.signIn('it.oncall@acme.example', password);
    const other = new FormClient(server.url);
    await other.signIn('it.oncall@acme.example', password);
    const token = FormClient.token((await operator.request('GET', `/tasks/${taskId}`)).body, `/tasks/${taskId}/tick`);
    const otherToken = FormClient.token((await other.request('GET', `/tasks/${taskId}`)).body, `/tasks/${taskId}/tick`);
    // No token (a cross-site post carries none), a token from another session, a made-up one: refused, nothing changes.
    assert.equal((await operator.request('POST', `/tasks/${taskId}/tick`, { step: '1' })).status, 403);
    assert.equal((await operator.request('POST', `/tasks/${taskId}/tick`, { step: '1', _token: otherToken })).status, 403);
    assert.equal((await operator.request('POST', `/tasks/${taskId}/tick`, { step: '1', _token: `${token.split('.')[0]}.AAAA` })).status, 403);
    assert.deepEqual((await h.runtime.tasks.get(taskId)).stepsDone, []);
    // The real post goes through once; the same post again is refused.
    assert.equal((await operator.request('POST', `/tasks/${taskId}/tick`, { step: '1', _token: token })).status, 303);
    const replay = await operator.request('POST', `/tasks/${taskId}/tick`, { step: '2', _token: token });
    assert.equal(replay.status, 409);
    assert.match(replay.body, /this form was already submitted; nothing was done twice/);
    assert.deepEqual((await h.runtime.tasks.get(taskId)).stepsDone, [1]);
    // Signed out, the session's pages are gone.
    const logoutToken = FormClient.token((await operator.request('GET', '/inbox')).body);
    assert.equal((await operator.request('POST', '/logout', { _token: logoutToken })).status, 302);
    assert.equal((await operator.request('GET', '/inbox')).status, 302);
  });

  it('escapes what it shows and serves the matrix and reconciliation pages to a signed-in operator', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.lead@acme.example', password, 'admin');
    const client = new FormClient(server.url);
    await client.signIn('it.lead@acme.example', password);
    const matrix = await client.request('GET', '/matrix');
    assert.equal(matrix.status, 200);
    assert.match(matrix.body, /Capability matrix — tenant acme/);
    assert.match(matrix.body, /Manual only, JIT via SAML|manual-only/);
    // The reconciliation report: what the store holds, for the lead who signs in.
    await h.runtime.reconciliations.record('acme', {
      app: 'spendesk',
      at: Date.now(),
      idp: { kind: 'idp', name: 'Okta assignments of spendesk', readAt: Date.now() },
      appSource: { kind: 'file', name: 'members <b>.csv', readAt: Date.now() },
      counts: { identities: 1, accounts: 2, matched: 1 },
      findings: [{ kind: 'orphaned-account', app: 'spendesk', person: 'alice@acme.com', detail: 'alice@acme.com is active', evidence: [], ageMs: 0, firstSeenAt: Date.now() }],
    });
    const report = await client.request('GET', '/reconcile');
    assert.equal(report.status, 200);
    assert.match(report.body, /<h1>Reconciliation report: acme<\/h1>/);
    assert.match(report.body, /6sense <strong>\(gap node\)<\/strong>/);
    assert.match(report.body, /<polyline /);
    assert.match(report.body, /members &lt;b&gt;\.csv/);
    const next = await client.request('GET', '/login?next=//evil.example');
    assert.doesNotMatch(next.body, /evil\.example"/);
  });
});
