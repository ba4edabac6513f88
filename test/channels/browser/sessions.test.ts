import assert from 'node:assert/strict';
import { BrowserHost, defaultBrowserContexts, sessionKey } from '../../../core/channels/browser/browser-host.js';
import { type RecipeResult, recipeSessionKey, runRecipe } from '../../../core/channels/browser/recipe-runner.js';
import { createServices } from '../../../core/container.js';
import { checkRecipe } from '../../../core/manifest/recipe-checks.js';
import type { BrowserRecipe } from '../../../core/schema/types/browser-recipe.js';
import type { SpendeskConsole } from '../../fixtures/spendesk-console/server.js';
import { consoleAdmin, spendeskConsole } from '../../support/spendesk-console.js';

const recipes = createServices().registry.get('spendesk').recipes;
const removeMember = recipes.get('remove-member')!;
const host = new BrowserHost();
after(() => host.close());

const robot = { adminEmail: consoleAdmin.email, adminPassword: consoleAdmin.password };

/** One job as the browser channel runs it: a fresh context, carrying the worker's session for this console and robot. */
function job(sim: SpendeskConsole, params: Record<string, string>, options: { recipe?: BrowserRecipe; session?: boolean; stepTimeoutMs?: number } = {}): Promise<RecipeResult> {
  const recipe = options.recipe ?? removeMember;
  const all = { ...robot, ...params };
  const key = options.session === false ? undefined : recipeSessionKey(recipe, sim.url, all);
  return host.withContext(
    (context, session) => runRecipe(context, { recipe, consoleUrl: sim.url, params: all, stepTimeoutMs: options.stepTimeoutMs ?? 5_000, ...(session ? { session } : {}) }),
    key ? { session: key } : {},
  );
}

const signIns = (sim: SpendeskConsole) => sim.state.events.filter((e) => e.type === 'signed-in').length;
/** A PNG's size in pixels, from its IHDR chunk. */
const size = (png: Buffer) => ({ width: png.readUInt32BE(16), height: png.readUInt32BE(20) });

/** Members with nothing that blocks their removal. */
async function consoleWith(n: number): Promise<SpendeskConsole> {
  return spendeskConsole({
    change: (seed) => {
      for (let i = 0; i < n; i++) {
        (seed as Record<string, any>).members.push({ firstName: 'Leaver', lastName: String(i), email: `leaver${i}@acme.com`, roles: ['Requester'], teams: ['Sales'], approvalPolicy: 'Default', cards: [], subscriptions: [], pendingApprovals: 0 });
      }
    },
  });
}

describe('browser jobs of one worker: the signed-in session carried from job to job, element screenshots, a bound on contexts', function () {
  this.timeout(120_000);

  it('signs in once for a run of removals: each later job starts in a fresh context with the session and skips the sign-in', async () => {
    const sim = await consoleWith(3);
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await job(sim, { email: `leaver${i}@acme.com` }));
    assert.deepEqual(results.map((r) => r.status), ['done', 'done', 'done']);
    assert.equal(signIns(sim), 1);
    assert.ok(!results[0]!.trace.some((t) => /signed in already/.test(t)), 'the first job signs in');
    for (const later of results.slice(1)) assert.match(later.trace[0]!, /^open sign-in, type admin email, type admin password, sign in, signed in\?: skipped \(signed in already: the worker's session\)$/);
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['leaver0@acme.com', 'leaver1@acme.com', 'leaver2@acme.com']);
  });

  it('signs in again when the console expired the session mid-batch, and keeps the new one', async () => {
    const sim = await consoleWith(4);
    assert.equal((await job(sim, { email: 'leaver0@acme.com' })).status, 'done');
    assert.equal((await job(sim, { email: 'leaver1@acme.com' })).status, 'done');
    sim.expireSessions();
    const afterExpiry = await job(sim, { email: 'leaver2@acme.com' });
    assert.equal(afterExpiry.status, 'done', JSON.stringify(afterExpiry.trace));
    assert.ok(afterExpiry.trace.some((t) => /^search the member: the worker's session has expired \(present role=button\[name="Sign in"\]\); signing in again$/.test(t)), afterExpiry.trace.join('\n'));
    assert.ok(afterExpiry.trace.some((t) => t.startsWith('sign in: ok')), 'it signed in');
    const next = await job(sim, { email: 'leaver3@acme.com' });
    assert.equal(next.status, 'done');
    assert.match(next.trace[0]!, /skipped \(signed in already/);
    assert.equal(signIns(sim), 2, 'once at the start, once after the expiry');
    assert.equal(sim.state.events.filter((e) => e.type === 'removed').length, 4);
  });

  it('keeps jobs apart: a job without a session key, or with another robot, carries nothing and signs in', async () => {
    const sim = await consoleWith(3);
    await job(sim, { email: 'leaver0@acme.com' });
    assert.equal(signIns(sim), 1);
    const alone = await job(sim, { email: 'leaver1@acme.com' }, { session: false });
    assert.equal(alone.status, 'done');
    assert.equal(signIns(sim), 2, 'no key, no session');
    assert.notEqual(sessionKey(sim.url, ['a@acme.com', 'p']), sessionKey(sim.url, ['b@acme.com', 'p']));
    assert.ok(!sessionKey(sim.url, [consoleAdmin.email, consoleAdmin.password]).includes(consoleAdmin.password), 'the key holds a digest, not the secret');
  });

  it('a refused sign-in keeps no session: the next job signs in from the start', async () => {
    const sim = await consoleWith(1);
    const refused = await job(sim, { email: 'leaver0@acme.com', adminPassword: 'wrong-p4ss' });
    assert.equal(refused.status, 'blocked');
    const next = await job(sim, { email: 'leaver0@acme.com' });
    assert.equal(next.status, 'done');
    assert.ok(!next.trace.some((t) => /signed in already/.test(t)));
  });

  it('drift with a carried session is drift at the same step, with the whole page and its HTML where it stopped', async () => {
    const sim = await consoleWith(1);
    sim.variant = { removeButtonLabel: 'Delete member' };
    assert.equal((await job(sim, { email: 'alice@acme.com' }, { stepTimeoutMs: 2_500 })).status, 'drift', 'the first job signs in, then drifts');
    const result = await job(sim, { email: 'leaver0@acme.com' }, { stepTimeoutMs: 2_500 });
    assert.equal(result.status, 'drift');
    assert.ok('step' in result);
    assert.match(result.trace[0]!, /signed in already/);
    assert.equal(result.step, 'start removal');
    assert.equal(result.stepIndex, 11);
    assert.match(result.html!, /Delete member/);
    const [before, stopped] = result.shots;
    assert.equal(before!.step, 'evidence before');
    assert.equal(stopped!.step, 'start removal (drift)');
    assert.ok(size(stopped!.png).height >= 900, 'where it stopped: the whole page (at least the viewport)');
    assert.ok(size(before!.png).height < size(stopped!.png).height, 'the evidence step: the main region only');
    assert.ok(sim.state.byEmail('leaver0@acme.com'));
  });

  it('screenshots the element that matters: the main region by default, the named element, or the whole page when the recipe asks', async () => {
    const sim = await consoleWith(0);
    const list = recipes.get('export-members')!;
    const shots = (steps: BrowserRecipe['steps']): BrowserRecipe => ({ ...list, id: 'shots', steps: [list.steps[0], ...list.steps.slice(1, 7), ...steps] });
    const result = await job(sim, {}, {
      recipe: shots([
        { name: 'main', action: 'screenshot' },
        { name: 'table', action: 'screenshot', selector: 'role=table[name="Members"]' },
        { name: 'page', action: 'screenshot', fullPage: true },
      ]),
    });
    assert.equal(result.status, 'done', JSON.stringify(result));
    const [main, table, page] = result.shots.map((s) => size(s.png));
    assert.equal(page!.width, 1280);
    assert.ok(page!.height >= 900);
    assert.ok(main!.height < 900 && main!.width === 1280, JSON.stringify(main));
    assert.ok(table!.width < main!.width && table!.height < main!.height, JSON.stringify({ table, main }));
    // An element that is not there is drift, as for any step.
    const missing = await job(sim, {}, { recipe: shots([{ name: 'gone', action: 'screenshot', selector: 'role=table[name="Cards"]', timeoutMs: 1_000 }]) });
    assert.equal(missing.status, 'drift', JSON.stringify({ ...missing, shots: undefined, html: undefined }));
    assert.ok('step' in missing && missing.step === 'gone');
  });

  it("masks a typed secret in an element screenshot: two robots' sign-in forms look the same, and the test would see an unmasked one", async () => {
    const sim = await consoleWith(0);
    const form = (emailType: 'secret' | 'string'): BrowserRecipe => ({
      id: 'form-shot',
      title: 'The sign-in form, filled',
      operation: 'getUser',
      parameters: { adminEmail: { type: emailType, required: true }, adminPassword: { type: 'secret', required: true } },
      steps: [
        { name: 'open sign-in', action: 'goto', url: '/login' },
        { name: 'type admin email', action: 'fill', selector: 'label=Email', value: '{adminEmail}' },
        { name: 'type admin password', action: 'fill', selector: 'label=Password', value: '{adminPassword}' },
        { name: 'the form', action: 'screenshot', selector: 'css=form' },
      ],
    });
    const shot = async (recipe: BrowserRecipe, email: string, password: string) => {
      const result = await job(sim, { adminEmail: email, adminPassword: password }, { recipe, session: false });
      assert.equal(result.status, 'done', JSON.stringify(result));
      assert.equal(result.shots.length, 1);
      return result.shots[0]!.png;
    };
    const one = await shot(form('secret'), 'robot@acme.com', 'short');
    const other = await shot(form('secret'), 'another.much.longer.robot@acme.com', 'a-much-longer-password');
    assert.ok(one.equals(other), 'the masked fields show nothing of either robot');
    const plainOne = await shot(form('string'), 'robot@acme.com', 'short');
    const plainOther = await shot(form('string'), 'another.much.longer.robot@acme.com', 'short');
    assert.ok(!plainOne.equals(plainOther), 'an unmasked email field shows what was typed');
  });

  it('runs at most `contexts` jobs at once; the others wait their turn', async () => {
    const sim = await consoleWith(0);
    const bounded = new BrowserHost({ contexts: 2 });
    after(() => bounded.close());
    let most = 0;
    const jobs = Array.from({ length: 5 }, () =>
      bounded.withContext(async (context) => {
        most = Math.max(most, bounded.busy);
        const page = await context.newPage();
        await page.goto(`${sim.url}/login`);
        await new Promise((r) => setTimeout(r, 150));
        return page.title();
      }),
    );
    assert.deepEqual(new Set(await Promise.all(jobs)).size, 1);
    assert.equal(most, 2);
    assert.equal(bounded.busy, 0);
    assert.throws(() => (bounded.contexts = 0), /at least one context/);
  });

  it('the default number of contexts comes from the cores and the free memory', () => {
    const gib = 2 ** 30;
    assert.equal(defaultBrowserContexts(2, 8 * gib).contexts, 4, 'two per core');
    assert.equal(defaultBrowserContexts(16, 64 * gib).contexts, 8, 'at most 8');
    assert.equal(defaultBrowserContexts(4, 1 * gib).contexts, 2, '(1 GiB - 512 MiB) / 200 MiB');
    assert.equal(defaultBrowserContexts(4, 256 * 2 ** 20).contexts, 1, 'at least one');
  });

  it("the loader refuses a session whose next step is not a goto, and fullPage with a selector or off a screenshot step", () => {
    const base = removeMember;
    assert.deepEqual(checkRecipe(base), []);
    const problems = checkRecipe({
      ...base,
      session: { signInSteps: 4, signedOut: { present: 'role=button[name="Sign in"]' } },
      steps: [base.steps[0], ...base.steps.slice(1, 9), { name: 'shot', action: 'screenshot', selector: 'main', fullPage: true }, { name: 'go', action: 'goto', url: '/', fullPage: false }],
    });
    assert.deepEqual(problems.map((p) => p.pointer), ['/steps/9/fullPage', '/steps/10/fullPage', '/session/signInSteps']);
  });
});
