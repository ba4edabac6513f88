import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BrowserHost } from '../../core/channels/browser/browser-host.js';
import { scratchDir } from '../support/fixtures.js';
import { harness } from '../support/runtime.js';
import { FormClient, serverFor } from '../support/server.js';

const password = 'a long demo password';
/** A real (1×1) PNG: what the pages take as a screenshot. */
const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

/** Where the page screenshots go: the test's scratch folder, and $CI_ARTIFACTS (or test-output/) when set. */
function shotFolders(): string[] {
  const folders = [path.join(scratchDir('patchbay-operator-day-'), 'screenshots')];
  const ci = process.env.CI_ARTIFACTS;
  if (ci) folders.push(path.join(ci, 'operator-day'));
  for (const f of folders) mkdirSync(f, { recursive: true });
  return folders;
}

describe("the operator's day, in Chromium", function () {
  this.timeout(120_000);

  it('takes a joiner from the Okta assignment through JIT evidence given on the run page (text and a screenshot) to the next task', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const [{ run }] = await h.start('onboard', 'bob@acme.com');
    const folders = shotFolders();
    const upload = path.join(scratchDir('patchbay-upload-'), 'bob-signed-in.png');
    writeFileSync(upload, png);
    const host = new BrowserHost();
    after(() => host.close());
    await host.withContext(async (context) => {
      const page = await context.newPage();
      const shot = async (name: string, expect: RegExp) => {
        const text = await page.locator('body').innerText();
        assert.match(text, expect, `${name}: the page says what it should`);
        for (const f of folders) await page.screenshot({ path: path.join(f, `${name}.png`), fullPage: true });
      };
      await page.goto(`${server.url}/inbox`);
      await page.getByLabel('Email').fill('it.oncall@acme.example');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await shot('01-inbox', /Open tasks[\s\S]*bob@acme\.com/);
      // A second tab on the run page: it updates by itself (server-sent events), no reload.
      const watcher = await context.newPage();
      await watcher.goto(`${server.url}/runs/${run.id}`);
      assert.match(await watcher.locator('#run-status').innerText(), /The run waits for IT operations to finish the task Assign bob@acme\.com/);
      assert.equal(await watcher.locator('#run-status a').getAttribute('href'), `/tasks/${await h.openTaskOf(run.id)}`, 'the task is linked by its title');
      await page.getByRole('link', { name: /bob@acme\.com/ }).first().click();
      await page.getByRole('heading', { level: 1 }).waitFor();
      await shot('02-assignment-task', /due \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill('Bob assigned to Spendesk in Okta');
      await page.getByRole('button', { name: 'Complete the task' }).click();
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
      await server.settled();
      assert.equal((await h.run(run.id)).waitingFor, 'evidence:spendesk-create-user');
      await watcher.locator('#run-status').filter({ hasText: 'waits for evidence' }).waitFor({ timeout: 10_000 });
      assert.match(await watcher.getByRole('table', { name: 'Steps' }).innerText(), /Assign[^\n]*\s+done/);
      await watcher.close();

      await page.goto(`${server.url}/runs/${run.id}`);
      await shot('03-run-waits-for-evidence', /waits for evidence that bob@acme\.com's Spendesk account exists[\s\S]*until \d{4}-\d\d-\d\d \d\d:\d\d UTC[\s\S]*Deadline: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      // An empty form answers in the page's words, and nothing moves.
      await page.getByRole('button', { name: 'Give the evidence' }).click();
      assert.match(await page.getByRole('alert').innerText(), /Nothing was given: describe what shows that the account exists, or attach a file/);
      assert.equal((await h.run(run.id)).waitingFor, 'evidence:spendesk-create-user');
      await page.getByLabel('What shows the account exists').fill('Bob signed in to Spendesk at 09:12 through Okta');
      await page.getByLabel(/Screenshot or export/).setInputFiles(upload);
      await page.getByRole('button', { name: 'Give the evidence' }).click();
      await page.getByText('Evidence given: the step is done and the run moves on.').waitFor();
      await server.settled();
      await page.reload();
      await shot('04-run-after-evidence', /Bob signed in to Spendesk at 09:12 through Okta/);
      const create = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === 'spendesk-create-user')!;
      assert.equal(create.status, 'done');
      assert.equal(create.evidence[0]!.by, 'it.oncall@acme.example');
      assert.equal(create.evidence[0]!.file?.name, 'bob-signed-in.png');
      // The screenshot is kept with the run's evidence and served from it.
      const image = await page.request.get(`${server.url}/evidence/${create.evidence[0]!.file!.sha256}`);
      assert.equal(image.status(), 200);
      assert.deepEqual(Buffer.from(await image.body()), png);
      assert.match(await page.locator('#run-status').innerText(), /waits for .* to finish the task/);
      assert.equal(await page.getByRole('button', { name: 'Give the evidence' }).count(), 0, 'no evidence form once the step is done');

      // Readable at 375 px: no horizontal scroll.
      await page.setViewportSize({ width: 375, height: 800 });
      await shot('05-run-at-375px', /Steps/);
      assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375), 'no horizontal scroll at 375 px');
    });
  });

  it('refuses JIT evidence that is empty, of the wrong type, or for a run no longer waiting for it, and changes nothing', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    const [{ run }] = await h.start('onboard', 'bob@acme.com');
    await h.completeNext(run.id);
    const client = new FormClient(server.url);
    await client.signIn('it.oncall@acme.example', password);
    const tokenNow = async () => FormClient.token((await client.request('GET', `/runs/${run.id}`)).body, `/runs/${run.id}/evidence`);
    const post = async (fields: Record<string, string>, file?: { name: string; bytes: Buffer }, token?: string) => {
      const form = new FormData();
      form.set('_token', token ?? (await tokenNow()));
      for (const [k, v] of Object.entries(fields)) form.set(k, v);
      if (file) form.set('file', new Blob([new Uint8Array(file.bytes)]), file.name);
      const response = await fetch(`${server.url}/runs/${run.id}/evidence`, { method: 'POST', redirect: 'manual', headers: { cookie: client.cookieHeader() }, body: form });
      return { status: response.status, body: await response.text() };
    };
    const step = 'spendesk-create-user';
    const html = await post({ step, text: 'see file' }, { name: 'shot.png', bytes: Buffer.from('<html><script>alert(1)</script></html>') });
    assert.equal(html.status, 400);
    assert.match(html.body, /shot\.png is not a PNG image, as its name says/);
    const exe = await post({ step, text: 'see file' }, { name: 'tool.exe', bytes: Buffer.from('MZ') });
    assert.equal(exe.status, 400);
    assert.match(exe.body, /only PNG or JPEG screenshots, PDFs and CSV, TXT or JSON exports are taken as evidence/);
    assert.equal((await post({ step, text: '   ' })).status, 400);
    assert.equal((await post({ step: 'spendesk-set-access', text: 'wrong step' })).status, 409);
    assert.equal((await h.run(run.id)).waitingFor, `evidence:${step}`, 'nothing was signalled');
    const spare = await tokenNow();
    const csv = await post({ step }, { name: 'users.csv', bytes: Buffer.from('email,status\nbob@acme.com,active\n') });
    assert.equal(csv.status, 303);
    await server.settled();
    const create = (await h.runtime.runs.timeline(run.id)).steps.find((s) => s.stepId === step)!;
    assert.equal(create.status, 'done');
    assert.match(create.evidence[0]!.summary, /users\.csv attached/);
    // Given twice: the run no longer waits, so the second is refused.
    const again = await post({ step, text: 'again' }, undefined, spare);
    assert.equal(again.status, 409);
    assert.match(again.body, /This run no longer waits for evidence for that step: nothing was changed/);
  });

  it('a failed task escalates with its history: the next queue sees the earlier attempt and reason, claims it, and completes it with a screenshot', async () => {
    const h = await harness();
    const server = await serverFor(h);
    for (const q of h.profile.profile.queues ?? []) for (const m of q.members) await server.access.setOperator(m, password, 'operator');
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    await h.completeNext(run.id);
    const first = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    const member = (queue: string) => h.profile.profile.queues!.find((q) => q.id === queue)!.members[0]!;
    const folders = shotFolders();
    const upload = path.join(scratchDir('patchbay-upload-'), 'members-after-removal.png');
    writeFileSync(upload, png);
    const host = new BrowserHost();
    after(() => host.close());
    const signedIn = async <T>(who: string, job: (page: import('playwright-core').Page, shot: (name: string, expect: RegExp) => Promise<void>) => Promise<T>) =>
      host.withContext(async (context) => {
        const page = await context.newPage();
        const shot = async (name: string, expect: RegExp) => {
          assert.match(await page.locator('body').innerText(), expect, `${name}: the page says what it should`);
          for (const f of folders) await page.screenshot({ path: path.join(f, `${name}.png`), fullPage: true });
        };
        await page.goto(`${server.url}/login`);
        await page.getByLabel('Email').fill(who);
        await page.getByLabel('Password').fill(password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { level: 1 }).waitFor();
        return job(page, shot);
      });
    const reason = 'The console refuses: Alice still owns the company account <b>';
    await signedIn(member(first.queue), async (page, shot) => {
      await page.goto(`${server.url}/tasks/${first.id}`);
      assert.match(await page.locator('main').innerText(), /nobody has taken it yet/);
      await page.getByRole('button', { name: 'Assign to me' }).click();
      await page.getByRole('status').filter({ hasText: 'The task is yours' }).waitFor();
      await shot('10-task-claimed', new RegExp(`assigned to ${member(first.queue).replace(/\./g, '\\.')}[\\s\\S]*due \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC`));
      assert.equal((await h.runtime.tasks.get(first.id)).assignee, member(first.queue));
      await page.getByLabel('Why').fill(reason);
      await page.getByRole('button', { name: 'Fail the task' }).click();
      await page.getByRole('status').filter({ hasText: 'Task failed' }).waitFor();
    });
    await server.settled();
    const second = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.notEqual(second.id, first.id);
    assert.equal(second.queue, 'it-leads');
    await signedIn('it.lead@acme.example', async (page, shot) => {
      await page.goto(`${server.url}/inbox`);
      // Queues by name, wherever they are shown.
      assert.match(await page.getByRole('table', { name: 'Open tasks' }).innerText(), /IT leads/);
      await page.goto(`${server.url}/tasks/${second.id}`);
      await shot('11-escalated-task-history', new RegExp(`What was tried before[\\s\\S]*An earlier task was failed by ${member(first.queue).replace(/\./g, '\\.')}, who said: “The console refuses: Alice still owns the company account <b>”`));
      const earlier = page.getByRole('link', { name: 'An earlier task' });
      assert.equal(await earlier.getAttribute('href'), `/tasks/${first.id}`);
      // An empty submit answers in the page's words.
      const required = second.content.runbook.evidence.filter((e) => e.required);
      if (required.length) {
        await page.getByRole('button', { name: 'Complete the task' }).click();
        const alert = await page.getByRole('alert').innerText();
        assert.match(alert, /evidence is required/);
        assert.doesNotMatch(alert, /--evidence/);
      }
      for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill('Ownership moved to the finance lead; removed');
      await page.getByLabel(/screenshot|Evidence file/i).first().setInputFiles(upload);
      await page.getByRole('button', { name: 'Complete the task' }).click();
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
      await shot('12-escalated-task-done', /Evidence given[\s\S]*members-after-removal\.png/);
    });
    const done = await h.runtime.tasks.get(second.id);
    assert.equal(done.status, 'completed');
    assert.ok(done.evidence.some((e) => e.file?.name === 'members-after-removal.png'), 'the screenshot is kept with the task');
  });

  it('serves the live updates only to signed-in operators, and each stream only the tasks of its queues', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await server.access.setOperator('it.oncall@acme.example', password, 'operator');
    await server.access.setOperator('finance.admin@acme.example', password, 'operator');
    const anonymous = await fetch(`${server.url}/events`, { redirect: 'manual' });
    await anonymous.text();
    assert.equal(anonymous.status, 302);
    assert.match(anonymous.headers.get('location') ?? '', /^\/login\?next=%2Fevents$/);
    // The script is same-origin and the CSP allows no other (nor inline) script.
    const page = await fetch(`${server.url}/login`);
    await page.text();
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'(;|$)/);
    const script = await fetch(`${server.url}/assets/live.js`);
    assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.match(await script.text(), /new EventSource\('\/events'\)/);
    const read = async (who: string) => {
      const client = new FormClient(server.url);
      await client.signIn(who, password);
      const controller = new AbortController();
      const response = await fetch(`${server.url}/events`, { headers: { cookie: client.cookieHeader() }, signal: controller.signal });
      assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      const reader = response.body!.getReader();
      let text = '';
      return {
        until: async (pattern: RegExp) => {
          while (!pattern.test(text)) text += new TextDecoder().decode((await reader.read()).value);
          return text;
        },
        text: () => text,
        close: () => controller.abort(),
      };
    };
    const ops = await read('it.oncall@acme.example');
    const finance = await read('finance.admin@acme.example');
    await ops.until(/retry: 5000/);
    await finance.until(/retry: 5000/);
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const taskId = (await h.openTaskOf(run.id))!;
    const seen = await ops.until(new RegExp(`event: change\\ndata: .*${taskId}`));
    assert.match(seen, new RegExp(`"runs":\\["${run.id}"\\]`));
    // Finance is not in it-ops: it hears that the run changed, not of the task.
    const other = await finance.until(/event: change/);
    assert.doesNotMatch(other, new RegExp(taskId));
    ops.close();
    finance.close();
  });
});
