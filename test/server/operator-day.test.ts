import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { BrowserHost } from '../../core/channels/browser/browser-host.js';
import { readAccountsFile, readAppByBrowser } from '../../core/reconcile/readers.js';
import { recordReconciliation } from '../../core/reconcile/reconcile-app.js';
import { startServer } from '../../core/server/app.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { packageRoot } from '../../core/paths.js';
import { scratchDir } from '../support/fixtures.js';
import { type Harness, harness } from '../support/runtime.js';
import { FormClient, serverFor } from '../support/server.js';
import { consoleAdmin, consoleEnv, consoleHarness, spendeskConsole } from '../support/spendesk-console.js';

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

type Shot = (name: string, expect: RegExp) => Promise<void>;

/**
 * Runs `job` in a fresh browser context signed in to the server as `who`; `shot` checks the page
 * says what it should and keeps its screenshot in every folder of `folders`.
 */
async function signedIn<T>(host: BrowserHost, url: string, folders: readonly string[], who: string, job: (page: Page, shot: Shot) => Promise<T>): Promise<T> {
  return host.withContext(async (context) => {
    const page = await context.newPage();
    const shot: Shot = async (name, expect) => {
      assert.match(await page.locator('body').innerText(), expect, `${name}: the page says what it should`);
      for (const f of folders) await page.screenshot({ path: path.join(f, `${name}.png`), fullPage: true });
    };
    await page.goto(`${url}/login`);
    await page.getByLabel('Email').fill(who);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1 }).waitFor();
    return job(page, shot);
  });
}

/**
 * The page at 375 px and at 1280 px wide: no horizontal scroll (document.scrollingElement's
 * scrollWidth within innerWidth), and every input, select and textarea (hidden ones aside) labelled
 * by label[for], aria-label or aria-labelledby. Leaves the page at 1280 px.
 */
async function readableAndLabelled(page: Page, name: string): Promise<void> {
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    const { scroll, inner } = await page.evaluate(() => ({ scroll: document.scrollingElement!.scrollWidth, inner: window.innerWidth }));
    assert.ok(scroll <= inner, `${name} at ${width} px: no horizontal scroll (scrollWidth ${scroll}, innerWidth ${inner})`);
  }
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((e) => (e as HTMLInputElement).type !== 'hidden')
      .filter((e) => {
        const byFor = e.id !== '' && document.querySelector(`label[for="${CSS.escape(e.id)}"]`) !== null;
        const byAria = (e.getAttribute('aria-label') ?? '').trim() !== '';
        const byRef = (e.getAttribute('aria-labelledby') ?? '').split(/\s+/).some((id) => id !== '' && (document.getElementById(id)?.textContent ?? '').trim() !== '');
        return !byFor && !byAria && !byRef;
      })
      .map((e) => e.outerHTML),
  );
  assert.deepEqual(unlabelled, [], `${name}: every field has an accessible label`);
}

/**
 * Moves the focus with Tab only, from the top of the page, until the button named `name` has it
 * (its aria-label, else its text); fails when `max` presses do not reach it.
 */
async function tabTo(page: Page, name: string, max = 120): Promise<void> {
  // A click on the page's banner (not focusable) puts the start of Tab navigation at the top.
  await page.locator('header').first().click();
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const a = document.activeElement;
      return a ? `${a.tagName}:${(a.getAttribute('aria-label') ?? a.textContent ?? '').trim()}` : '';
    });
    if (focused === `BUTTON:${name}`) return;
    seen.push(focused);
  }
  assert.fail(`"${name}" is not reached with Tab (focus went through ${seen.slice(0, 40).join(' | ')})`);
}

/** Submits the form of the button named `name` from the keyboard: Tab to it, then Enter. */
async function pressByKeyboard(page: Page, name: string): Promise<void> {
  await tabTo(page, name);
  await page.keyboard.press('Enter');
}

/** Every queue member of the harness's tenant as an operator (the given ones as admins), with the test's password. */
async function operators(h: Harness, server: { access: { setOperator(email: string, password: string, role: 'operator' | 'admin'): Promise<unknown> } }, admins: readonly string[] = []) {
  for (const q of h.profile.profile.queues ?? []) for (const m of q.members) await server.access.setOperator(m, password, admins.includes(m) ? 'admin' : 'operator');
}

/** The member of a queue who works its tasks in these tests. */
const memberOf = (h: Harness, queue: string) => h.profile.profile.queues!.find((q) => q.id === queue)!.members[0]!;

/** Waits until the server has driven the run to a status other than running or waiting. */
async function finished(h: Harness, server: { settled(): Promise<void> }, runId: string) {
  for (let i = 0; i < 120; i++) {
    await server.settled();
    const run = await h.run(runId);
    if (run.status !== 'running' && run.status !== 'waiting') return run;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`run ${runId} did not finish: ${JSON.stringify(await h.run(runId))}`);
}

/** The console simulator, a server on its tenant with every queue member as an operator, a browser, and Olivia's offboarding started. */
async function oliviaOffboarding() {
  const sim = await spendeskConsole();
  const h = await consoleHarness(sim);
  const server = await serverFor(h);
  await operators(h, server);
  const folders = shotFolders();
  const host = new BrowserHost();
  after(() => host.close());
  const [{ run }] = await h.start('offboard', 'olivia@acme.com');
  return { sim, h, server, folders, host, run };
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
      await readableAndLabelled(page, 'the run page with its evidence form');
      await page.getByLabel('What shows the account exists').fill('Bob signed in to Spendesk at 09:12 through Okta');
      await page.getByLabel(/Screenshot or export/).setInputFiles(upload);
      await pressByKeyboard(page, 'Give the evidence');
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
      await page.setViewportSize({ width: 1280, height: 800 });
    });
    // The rest of the joiner's run, task by task from the run page's "what happens next", each by a member of its queue.
    await operators(h, server);
    for (let n = 0; (await h.run(run.id)).status === 'waiting'; n++) {
      assert.ok(n < 6, 'the joiner finishes within a few tasks');
      const task = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
      await signedIn(host, server.url, folders, memberOf(h, task.queue), async (page) => {
        await page.goto(`${server.url}/runs/${run.id}`);
        await page.locator('#run-status a').click();
        await page.getByRole('heading', { level: 1, name: task.title }).waitFor();
        for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill(`done in Spendesk for bob (${task.runbook})`);
        await page.getByRole('button', { name: 'Complete the task' }).click();
        await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
      });
      await server.settled();
    }
    const done = await h.run(run.id);
    assert.deepEqual([done.status, done.outcome], ['completed', 'done']);
    await signedIn(host, server.url, folders, 'it.oncall@acme.example', async (page, shot) => {
      await page.goto(`${server.url}/runs/${run.id}`);
      await shot('06-joiner-done', /This run is finished: completed \(done\); nothing more happens\./);
    });
  });

  it("takes Olivia's run through the owner transfer in the console simulator to done", async () => {
    const { sim, h, server, folders, host, run } = await oliviaOffboarding();
    const okta = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.equal(okta.runbook, 'unassign-app');
    await signedIn(host, server.url, folders, memberOf(h, okta.queue), async (page) => {
      await page.goto(`${server.url}/tasks/${okta.id}`);
      for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill('Olivia removed from the Spendesk app in Okta');
      await page.getByRole('button', { name: 'Complete the task' }).click();
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
    });
    // The browser reads her member page: she is the owner, so the transfer goes to finance.
    await server.settled();
    const transfer = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.equal(transfer.runbook, 'transfer-ownership');
    const finance = memberOf(h, transfer.queue);
    // The task's JSON carries the read as a structured field.
    const apiToken = (await server.access.createToken({ name: 'erp', actor: finance, role: 'operator' })).token;
    const json = (await (await fetch(`${server.url}/api/v1/tasks/${transfer.id}`, { headers: { authorization: `Bearer ${apiToken}` } })).json()) as { read: { email: string; runId: string; channel: string; fields: Record<string, string>; tested: { field: string; values: string[] }[]; screenshots: { sha256: string }[] }[] };
    assert.equal(json.read.length, 1);
    assert.deepEqual([json.read[0]!.email, json.read[0]!.runId, json.read[0]!.channel], ['olivia@acme.com', run.id, 'browser']);
    assert.equal(json.read[0]!.fields.roles, 'Administrator, Account Owner, Organisation Owner');
    assert.equal(json.read[0]!.fields.teams, 'Finance');
    assert.deepEqual(json.read[0]!.tested, [{ field: 'roles', values: ['Account Owner', 'Organisation Owner'] }]);
    assert.match(json.read[0]!.screenshots[0]!.sha256, /^[0-9a-f]{64}$/);
    await signedIn(host, server.url, folders, finance, async (page, shot) => {
      await page.goto(`${server.url}/runs/${run.id}`);
      assert.match(await page.locator('#run-status').innerText(), /to finish the task Transfer olivia@acme\.com's owner roles in Spendesk/);
      await page.locator('#run-status a').click();
      await shot('20-owner-transfer-task', /Transfer olivia@acme\.com's owner roles in Spendesk[\s\S]*Checklist/);
      // What the browser read of her member page is on the task, with its screenshot: nobody checks blind.
      const read = page.getByRole('region', { name: 'Read of olivia@acme.com' });
      assert.match(await read.innerText(), /The browser channel read olivia@acme\.com: Read one member's page: olivia@acme\.com is listed \(status: Active\)/);
      // What the browser read, as data: a table of the member's fields, and the checklist names the roles read.
      const table = read.getByRole('table', { name: 'What the browser read of olivia@acme.com' });
      assert.match(await table.getByRole('row').filter({ hasText: 'Roles' }).innerText(), /Roles[^\n]*\(what this task is about\)\s+Administrator, Account Owner, Organisation Owner/);
      assert.match(await table.innerText(), /Teams\s+Finance/);
      assert.match(await page.locator('ol.checklist li').first().innerText(), /^Check whether the member holds the Account Owner or Organisation Owner role[^\n]*— the browser read roles: Administrator, Account Owner, Organisation Owner \(olivia@acme\.com\)\./);
      assert.doesNotMatch(await page.locator('ol.checklist li').nth(1).innerText(), /the browser read/, 'only the item that asks about roles says what was read');
      await readableAndLabelled(page, 'the owner-transfer task with what the browser read');
      for (const action of ['Assign to me', 'Complete the task', 'Fail the task', 'Reassign']) await tabTo(page, action);
      const image = await page.request.get(`${server.url}${await read.getByRole('img').first().getAttribute('src')}`);
      assert.equal(image.status(), 200, 'the screenshot of what was read is served to the task\'s queue');
      assert.equal(image.headers()['content-type'], 'image/png');
      // In the console, as its admin: Olivia's page, "Transfer ownership", to Bob.
      const console_ = await page.context().newPage();
      await console_.goto(sim.url);
      await console_.getByLabel('Email').fill(consoleAdmin.email);
      await console_.getByLabel('Password').fill(consoleAdmin.password);
      await console_.getByRole('button', { name: 'Sign in' }).click();
      await console_.getByRole('link', { name: 'olivia@acme.com' }).click();
      await console_.getByRole('link', { name: 'Transfer ownership' }).click();
      // Refused without the identity documents: nothing moves.
      await console_.getByLabel('New owner', { exact: true }).selectOption({ label: 'Bob Durand (bob@acme.com)' });
      await console_.getByRole('button', { name: 'Transfer ownership' }).click();
      assert.match(await console_.getByRole('alert').innerText(), /Tick that the new owner has provided their identity documents/);
      assert.ok(sim.state.byEmail('olivia@acme.com')!.roles.includes('Account Owner'));
      await console_.getByLabel('New owner', { exact: true }).selectOption({ label: 'Bob Durand (bob@acme.com)' });
      await console_.getByLabel('The new owner has provided their identity documents').check();
      await console_.getByRole('button', { name: 'Transfer ownership' }).click();
      await console_.getByRole('status').filter({ hasText: 'Ownership transferred: bob@acme.com is now the Account Owner and the Organisation Owner.' }).waitFor();
      for (const f of folders) await console_.screenshot({ path: path.join(f, '21-console-ownership-transferred.png'), fullPage: true });
      await console_.close();
      for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill('Bob Durand (bob@acme.com) holds the Account Owner and Organisation Owner roles now');
      await page.getByRole('button', { name: 'Complete the task' }).click();
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
    });
    // The browser removes her (the console no longer refuses) and verifies it.
    const done = await finished(h, server, run.id);
    assert.deepEqual([done.status, done.outcome], ['completed', 'done'], JSON.stringify((await h.runtime.runs.timeline(run.id)).steps.map((s) => [s.stepId, s.status, s.detail])));
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['olivia@acme.com']);
    assert.deepEqual(sim.state.byEmail('bob@acme.com')!.roles, ['Requester', 'Controller', 'Account Owner', 'Organisation Owner']);
    assert.ok(sim.state.events.some((e) => e.type === 'ownership-transferred' && e.email === 'olivia@acme.com'));
    await signedIn(host, server.url, folders, finance, async (page, shot) => {
      await page.goto(`${server.url}/runs/${run.id}`);
      await shot('22-olivia-done', /This run is finished: completed \(done\)[\s\S]*Remove a member in the Spendesk admin console/);
    });
    const steps = Object.fromEntries((await h.runtime.runs.timeline(run.id)).steps.map((s) => [s.stepId, s]));
    assert.equal(steps['spendesk-deactivate-user']!.channel, 'browser');
    assert.match(steps['spendesk-verify']!.detail!, /verified: olivia@acme\.com has no account/);
  });

  it("reopens Olivia's owner transfer for finance when its task was completed but the console still refuses the removal, with the whole story on the new task", async () => {
    const { sim, h, server, folders, host, run } = await oliviaOffboarding();
    await h.completeNext(run.id); // the Okta unassignment
    await server.settled();
    const first = await h.runtime.tasks.get((await h.openTaskOf(run.id))!);
    assert.equal(first.runbook, 'transfer-ownership');
    const finance = memberOf(h, first.queue);
    const said = 'Bob Durand holds the owner roles now';
    await signedIn(host, server.url, folders, finance, async (page) => {
      await page.goto(`${server.url}/tasks/${first.id}`);
      for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill(said);
      await pressByKeyboard(page, 'Complete the task');
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
    });
    // Nobody transferred anything: the console refuses the removal, and the transfer comes back to finance.
    let reopened: string | undefined;
    for (let i = 0; i < 120 && !reopened; i++) {
      await server.settled();
      const open = await h.openTaskOf(run.id);
      if (open && open !== first.id) reopened = open;
      else await new Promise((r) => setTimeout(r, 250));
    }
    const again = await h.runtime.tasks.get(reopened!);
    assert.deepEqual([again.runbook, again.queue], ['transfer-ownership', first.queue]);
    await signedIn(host, server.url, folders, finance, async (page, shot) => {
      await page.goto(`${server.url}/runs/${run.id}`);
      assert.match(await page.locator('#run-status').innerText(), /waits for Finance admins to finish the task Transfer olivia@acme\.com's owner roles in Spendesk/);
      await page.locator('#run-status a').click();
      await shot('23-owner-transfer-reopened', new RegExp(`What was tried before[\\s\\S]*An earlier task was completed by ${finance.replace(/\./g, '\\.')}, who said: “${said}”; it was not effective: the console still refuses`));
      assert.equal(await page.getByRole('link', { name: 'An earlier task' }).getAttribute('href'), `/tasks/${first.id}`);
      const blocker = page.getByRole('region', { name: 'Attempt 2: browser' });
      assert.match(await blocker.innerText(), /Olivia Owner is the Account Owner\. Transfer the Account Owner role before removing them\./);
      const shotOfRefusal = await page.request.get(`${server.url}${await blocker.getByRole('img').last().getAttribute('src')}`);
      assert.equal(shotOfRefusal.headers()['content-type'], 'image/png');
      const reread = page.getByRole('region', { name: 'Attempt 3: browser' });
      assert.match(await reread.innerText(), /read again after the refusal: Read one member's page: olivia@acme\.com is listed/);
      assert.match(await reread.getByRole('table', { name: 'What the browser read of olivia@acme.com' }).innerText(), /Roles\s+Administrator, Account Owner, Organisation Owner/);
      await readableAndLabelled(page, 'the reopened owner transfer with its history');
      // Now the role really moves, and finance completes the reopened task.
      sim.state.transferOwnership(sim.state.byEmail('olivia@acme.com')!, sim.state.byEmail('bob@acme.com')!);
      for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill('Transferred in the console this time: Bob Durand is the Account Owner');
      await pressByKeyboard(page, 'Complete the task');
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
    });
    const done = await finished(h, server, run.id);
    assert.deepEqual([done.status, done.outcome], ['completed', 'done']);
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['olivia@acme.com']);
    const audit = (await h.runtime.runs.timeline(run.id)).audit;
    assert.ok(audit.some((a) => a.type === 'step.completion-not-effective' && String(a.data.earlier).includes(first.id)));
  });

  it('remediates an orphaned account from the reconcile page, sees the finding linked to its run and marked remediated, and reconciles again from the page', async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim);
    const idpExport = path.join(packageRoot, 'test/fixtures/spendesk-console/okta-assignments.csv');
    const server = await startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, version: 'test', tickMs: 60_000, eventStreamMs: 2000, reconcileIdpFrom: idpExport });
    after(() => server.close());
    await operators(h, server, ['it.lead@acme.example']);
    const folders = shotFolders();
    const host = new BrowserHost();
    after(() => host.close());
    // The first reconciliation: Okta's export no longer assigns Alice; the console still has her (on the harness's clock, as its runs are).
    const now = h.clock.now();
    const first = await recordReconciliation(
      h.runtime,
      'acme',
      await readAccountsFile(idpExport, { side: 'idp', app: 'spendesk' }),
      await readAppByBrowser(host, h.services.registry, h.profile.profile, 'spendesk', new EnvironmentSecretResolver(consoleEnv), now),
      now,
    );
    assert.deepEqual(first.findings.filter((f) => f.kind === 'orphaned-account').map((f) => f.person), ['alice@acme.com']);
    // An operator sees the finding and who can act on it; a forged post is refused, and so is an operator's.
    await signedIn(host, server.url, folders, 'it.oncall@acme.example', async (page) => {
      await page.goto(`${server.url}/reconcile`);
      assert.match(await page.getByRole('table', { name: 'Findings in Spendesk' }).innerText(), /alice@acme\.com[\s\S]*an admin can open the offboarding here/);
    });
    const operator = new FormClient(server.url);
    await operator.signIn('it.oncall@acme.example', password);
    const forged = await operator.request('POST', '/reconcile/remediate', { _token: 'forged', app: 'spendesk', kind: 'orphaned-account', person: 'alice@acme.com' });
    assert.equal(forged.status, 403);
    const lead = new FormClient(server.url);
    await lead.signIn('it.lead@acme.example', password);
    const asOperator = await operator.request('POST', '/reconcile/remediate', { _token: FormClient.token((await lead.request('GET', '/reconcile')).body, '/reconcile/remediate'), app: 'spendesk', kind: 'orphaned-account', person: 'alice@acme.com' });
    assert.equal(asOperator.status, 403, "an operator cannot use an admin's form either");
    const notFound = await lead.request('POST', '/reconcile/remediate', { _token: FormClient.token((await lead.request('GET', '/reconcile')).body, '/reconcile/remediate'), app: 'spendesk', kind: 'orphaned-account', person: 'bob@acme.com' });
    assert.equal(notFound.status, 409);
    assert.match(notFound.body, /bob@acme\.com is not an orphaned account in the last audit of Spendesk[^<]*: nothing was opened/);
    assert.equal((await h.runtime.engine.list()).length, 0, 'nothing was opened');

    await signedIn(host, server.url, folders, 'it.lead@acme.example', async (page, shot) => {
      await page.goto(`${server.url}/reconcile`);
      await shot('30-reconcile-finding', /Open findings[\s\S]*alice@acme\.com is active in spendesk but not assigned in the IdP/);
      await readableAndLabelled(page, 'the reconcile page with a finding to remediate');
      await tabTo(page, 'Offboard alice@acme.com from spendesk');
      await page.getByRole('button', { name: 'Offboard alice@acme.com from spendesk' }).click();
      await page.getByRole('status').filter({ hasText: /Offboarding run-\w+ opened/ }).waitFor();
      const runId = /Offboarding (run-\w+) opened/.exec(await page.getByRole('status').first().innerText())![1]!;
      const run = await h.run(runId);
      assert.equal(run.request.requestedBy, 'it.lead@acme.example');
      assert.ok(!run.plan.steps.some((s) => s.role === 'idp'), 'no Okta step: she has no assignment');
      assert.equal(await page.getByRole('link', { name: runId }).getAttribute('href'), `/runs/${runId}`, 'the finding links to its run');
      // The run: the browser removes Alice and verifies it, with no task for anyone.
      const done = await finished(h, server, runId);
      assert.deepEqual([done.status, done.outcome], ['completed', 'done']);
      assert.equal(sim.state.byEmail('alice@acme.com'), undefined);
      await page.goto(`${server.url}/runs/${runId}`);
      await shot('31-remediation-run', /About the plan[\s\S]*Skipped “Remove the app assignment in Okta: Spendesk”: reconciliation \d+ read [^\n]*okta-assignments\.csv and found no assignment for alice@acme\.com \(an orphaned account\)/);
      await page.goto(`${server.url}/reconcile`);
      await shot('32-finding-remediated', new RegExp(`alice@acme\\.com[\\s\\S]*Remediated: offboard ${runId} finished \\(done\\); the next reconciliation closes the finding\\.`));
      assert.equal(await page.getByRole('button', { name: 'Offboard alice@acme.com from spendesk' }).count(), 0, 'no second offboarding offered');
      // Reconcile now, from the keyboard: the console is read again, and the finding is closed.
      await readableAndLabelled(page, 'the reconcile page');
      await pressByKeyboard(page, 'Reconcile Spendesk now (browser)');
      await page.getByRole('status').filter({ hasText: /Spendesk reconciled just now: \d+ findings?\./ }).waitFor({ timeout: 60_000 });
      await shot('33-reconciled-again', /Spendesk reconciled just now/);
      assert.doesNotMatch(await page.getByRole('table', { name: 'Findings in Spendesk' }).innerText(), /alice@acme\.com/);
    });
    const history = await h.runtime.reconciliations.list('acme', { app: 'spendesk' });
    assert.equal(history.length, 2);
    assert.ok((await h.runtime.runs.timeline((await h.runtime.engine.list())[0]!.id)).run, 'the remediation run is kept');
    const audit = await h.runtime.engine.audit.list();
    assert.ok(audit.some((a) => a.type === 'reconcile.requested' && a.actor === 'it.lead@acme.example'), 'who reconciled from the page is in the audit log');
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
      await readableAndLabelled(page, 'a task with claim, reassign and evidence forms');
      await pressByKeyboard(page, 'Assign to me');
      await page.getByRole('status').filter({ hasText: 'The task is yours' }).waitFor();
      await readableAndLabelled(page, 'a claimed task');
      for (const action of ['Give it back to the queue', 'Reassign', 'Fail the task']) await tabTo(page, action);
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
      await readableAndLabelled(page, 'an escalated task with its history');
      for (const e of await page.locator('textarea[name=evidence]').all()) await e.fill('Ownership moved to the finance lead; removed');
      await page.getByLabel(/screenshot|Evidence file/i).first().setInputFiles(upload);
      await pressByKeyboard(page, 'Complete the task');
      await page.getByRole('status').filter({ hasText: 'Task completed' }).waitFor();
      await shot('12-escalated-task-done', /Evidence given[\s\S]*members-after-removal\.png/);
    });
    const done = await h.runtime.tasks.get(second.id);
    assert.equal(done.status, 'completed');
    assert.ok(done.evidence.some((e) => e.file?.name === 'members-after-removal.png'), 'the screenshot is kept with the task');
  });

  it('"Reconcile now" says why it cannot read, and reads nothing: no IdP address and no export, an app not in the tenant, a forged form', async () => {
    const h = await harness();
    const server = await serverFor(h);
    await operators(h, server);
    const client = new FormClient(server.url);
    await client.signIn('it.oncall@acme.example', password);
    const token = async () => FormClient.token((await client.request('GET', '/reconcile')).body, '/reconcile/now');
    const noIdp = await client.request('POST', '/reconcile/now', { _token: await token(), app: 'spendesk' });
    assert.equal(noIdp.status, 400);
    assert.match(noIdp.body, /role="alert">Spendesk was not reconciled: tenant profile#\/idp\/baseUrl: the IdP&#39;s assignments are read through its API, and the tenant profile gives no IdP address \(or start the server with --idp-from &lt;file&gt;\)/);
    const unknown = await client.request('POST', '/reconcile/now', { _token: await token(), app: 'nosuch' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body, /No app nosuch in this tenant: nothing was read\./);
    const forged = await client.request('POST', '/reconcile/now', { _token: 'forged', app: 'spendesk' });
    assert.equal(forged.status, 403);
    const anonymous = await new FormClient(server.url).request('POST', '/reconcile/now', { app: 'spendesk' });
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await h.runtime.reconciliations.list('acme'), [], 'nothing was recorded');
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
