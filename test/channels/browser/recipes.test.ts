import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { BrowserHost } from '../../../core/channels/browser/browser-host.js';
import { fillImportTemplate } from '../../../core/channels/browser/import-template.js';
import { type RecipeJob, type RecipeResult, clean, runRecipe, sameText } from '../../../core/channels/browser/recipe-runner.js';
import { checkRecipe } from '../../../core/manifest/recipe-checks.js';
import { createServices } from '../../../core/container.js';
import type { BrowserRecipe } from '../../../core/schema/types/browser-recipe.js';
import { scratchDir } from '../../support/fixtures.js';
import { holdingProxy } from '../../support/holding-proxy.js';
import { consoleAdmin, spendeskConsole } from '../../support/spendesk-console.js';

const recipes = createServices().registry.get('spendesk').recipes;
const host = new BrowserHost();
after(() => host.close());

/** Steps wait up to 5 s (a loaded CI machine is slow); the drift tests, which wait for what never comes, set 1.5 s. */
let stepTimeoutMs = 5_000;
afterEach(() => (stepTimeoutMs = 5_000));

function run(url: string, id: string, params: Record<string, string | undefined> = {}, recipe?: BrowserRecipe): Promise<RecipeResult> {
  const job: RecipeJob = {
    recipe: recipe ?? recipes.get(id)!,
    consoleUrl: url,
    params: {
      adminEmail: consoleAdmin.email,
      adminPassword: consoleAdmin.password,
      ...params,
    },
    stepTimeoutMs,
  };
  return host.withContext((context) => runRecipe(context, job));
}

const pngs = (r: RecipeResult) => r.shots.filter((s) => s.png.subarray(1, 4).toString() === 'PNG').length;

describe('Spendesk recipes in Chromium against the console simulator', function () {
  this.timeout(60_000);

  it('removes a member: cards deactivated, screenshots before and after', async () => {
    const sim = await spendeskConsole();
    const result = await run(sim.url, 'remove-member', {
      email: 'Alice@Acme.com',
    });
    assert.equal(result.status, 'done', JSON.stringify(result));
    assert.equal(sim.state.byEmail('alice@acme.com'), undefined);
    assert.deepEqual(
      sim.state.removed.map((m) => [m.email, m.cards.map((c) => c.status)]),
      [['alice@acme.com', ['deactivated']]],
    );
    assert.equal(pngs(result), 2);
  });

  it('removing twice is "already removed", and the console sees one removal', async () => {
    const sim = await spendeskConsole();
    assert.equal((await run(sim.url, 'remove-member', { email: 'alice@acme.com' })).status, 'done');
    const again = await run(sim.url, 'remove-member', {
      email: 'alice@acme.com',
    });
    assert.equal(again.status, 'already-done');
    assert.match(again.detail, /already removed/);
    assert.equal(sim.state.events.filter((e) => e.type === 'removed').length, 1);
  });

  it('stops at the owner-role blocker and says what the console said, without removing', async () => {
    const sim = await spendeskConsole();
    const result = await run(sim.url, 'remove-member', {
      email: 'olivia@acme.com',
    });
    assert.equal(result.status, 'blocked');
    assert.ok('step' in result && result.step === 'blockers?');
    assert.match(result.detail, /Olivia Owner is the Account Owner\. Transfer the Account Owner role before removing them\./);
    assert.ok(sim.state.byEmail('olivia@acme.com'));
  });

  it('stops at the UK subscription-card blocker for a UK company', async () => {
    const sim = await spendeskConsole({
      change: (s) => ((s as Record<string, any>).company.country = 'GB'),
    });
    const result = await run(sim.url, 'remove-member', {
      email: 'bob@acme.com',
    });
    assert.equal(result.status, 'blocked');
    assert.match(result.detail, /UK companies cannot remove a member with active subscription cards: cancel •••• 7710 first/);
    assert.ok(sim.state.byEmail('bob@acme.com'));
  });

  it('invites a member with name and role, and a second run finds them already there', async () => {
    const sim = await spendeskConsole();
    const first = await run(sim.url, 'invite-member', {
      email: 'zoe@acme.com',
      firstName: 'Zoé',
      lastName: 'Roux',
      role: 'Controller',
    });
    assert.equal(first.status, 'done', JSON.stringify(first));
    const zoe = sim.state.byEmail('zoe@acme.com')!;
    assert.deepEqual([zoe.firstName, zoe.lastName, zoe.roles, zoe.status], ['Zoé', 'Roux', ['Controller'], 'invited']);
    assert.equal((await run(sim.url, 'invite-member', { email: 'zoe@acme.com' })).status, 'already-done');
    assert.equal(sim.state.events.filter((e) => e.type === 'invited').length, 1);
  });

  it('sets the role, adds to a team and sets the approval policy, each with its own recipe, and all at once', async () => {
    const sim = await spendeskConsole();
    const each: [string, Record<string, string>][] = [
      ['set-role', { email: 'alice@acme.com', role: 'Administrator' }],
      ['add-to-team', { email: 'alice@acme.com', team: 'Finance' }],
      ['set-approval-policy', { email: 'alice@acme.com', policy: 'Always' }],
    ];
    for (const [recipe, params] of each) assert.equal((await run(sim.url, recipe, params)).status, 'done', recipe);
    const alice = sim.state.byEmail('alice@acme.com')!;
    assert.deepEqual([alice.roles, alice.teams, alice.approvalPolicy], [['Administrator'], ['Sales', 'Finance'], 'Always']);
    const all = await run(sim.url, 'set-access', {
      email: 'chloe@acme.com',
      role: 'Controller',
      policy: 'Never',
    });
    assert.equal(all.status, 'done');
    assert.ok(all.trace.includes('choose add to team: skipped (no value given)'));
    const chloe = sim.state.byEmail('chloe@acme.com')!;
    assert.deepEqual([chloe.roles, chloe.teams, chloe.approvalPolicy], [['Controller'], ['Engineering', 'People'], 'Never']);
  });

  it('refuses a team the console does not have, naming what it offers, and changes nothing', async () => {
    const sim = await spendeskConsole();
    const result = await run(sim.url, 'add-to-team', {
      email: 'alice@acme.com',
      team: 'Marketing',
    });
    assert.equal(result.status, 'blocked');
    assert.match(result.detail, /the console has no "Marketing" to choose in label=Add to team \(it offers: —, Finance, Engineering, Sales, People\)/);
    assert.deepEqual(sim.state.byEmail('alice@acme.com')!.teams, ['Sales']);
  });

  it('exports the members list as records, and reads one member page with its blockers in figures', async () => {
    const sim = await spendeskConsole();
    const list = await run(sim.url, 'export-members');
    assert.equal(list.status, 'done');
    assert.ok(list.status === 'done');
    assert.deepEqual(
      list.records.members!.map((m) => m.email),
      [...sim.state.members.values()].map((m) => m.email).sort(),
    );
    assert.deepEqual(
      list.records.members!.find((m) => m.email === 'bob@acme.com'),
      {
        name: 'Bob Durand',
        email: 'bob@acme.com',
        roles: 'Requester, Controller',
        teams: 'Finance',
        status: 'Active',
      },
    );
    const bob = await run(sim.url, 'read-member', { email: 'bob@acme.com' });
    assert.ok(bob.status === 'done');
    assert.deepEqual(bob.records.member, [
      {
        email: 'bob@acme.com',
        status: 'Active',
        roles: 'Requester, Controller',
        teams: 'Finance',
        policy: 'Always',
        pendingApprovals: '2',
        teamsManaged: '1',
        subscriptions: '1',
        subscriptionCards: '1',
        cards: '2',
      },
    ]);
    assert.equal((await run(sim.url, 'read-member', { email: 'nobody@acme.com' })).status, 'already-done');
  });

  it("uploads a filled xlsx import template and reads the console's result per row", async () => {
    const sim = await spendeskConsole();
    const bulk = recipes.get('import-members')!.bulk!;
    const xlsx = await fillImportTemplate(bulk, [
      {
        playbook: 'onboard',
        app: 'spendesk',
        subject: {
          email: 'new.one@acme.com',
          firstName: 'New',
          lastName: 'One',
        },
        access: { roles: ['Controller'], policy: 'Always' },
      },
      {
        playbook: 'onboard',
        app: 'spendesk',
        subject: {
          email: 'alice@acme.com',
          firstName: 'Alice',
          lastName: 'Martin',
        },
      },
      {
        playbook: 'onboard',
        app: 'spendesk',
        subject: {
          email: 'new.two@acme.com',
          firstName: 'New',
          lastName: 'Two',
        },
        access: { policy: 'Sometimes: above 9000 EUR' },
      },
    ]);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(xlsx as unknown as ArrayBuffer);
    assert.deepEqual((book.getWorksheet('Members')!.getRow(1).values as unknown[]).slice(1), [
      'First name',
      'Last name',
      'Email',
      'Roles',
      'Cost center',
      'Approval policy',
      'IBAN',
      'BIC',
    ]);
    const file = path.join(scratchDir('patchbay-xlsx-'), 'joiners.xlsx');
    writeFileSync(file, xlsx);
    const result = await run(sim.url, 'import-members', { file });
    assert.ok(result.status === 'done', JSON.stringify(result));
    assert.deepEqual(
      result.records.results!.map((r) => [r.email, r.result]),
      [
        ['new.one@acme.com', 'Invited'],
        ['alice@acme.com', 'User exists'],
        ['new.two@acme.com', 'Approval policy not found: Sometimes: above 9000 EUR'],
      ],
    );
    assert.deepEqual(sim.state.byEmail('new.one@acme.com')!.roles, ['Controller']);
    assert.equal(sim.state.byEmail('new.two@acme.com'), undefined);
  });

  it('a file that is not xlsx is refused by the console and reported as blocked', async () => {
    const sim = await spendeskConsole();
    const file = path.join(scratchDir('patchbay-xlsx-'), 'joiners.xlsx');
    writeFileSync(file, 'first,last,email\n');
    const result = await run(sim.url, 'import-members', { file });
    assert.equal(result.status, 'blocked');
    assert.match(result.detail, /the console refused the file: The file is not a valid xlsx file/);
  });

  describe('drift', () => {
    it('a renamed button is drift at the named step, with a screenshot and the page, and nothing clicked', async () => {
      stepTimeoutMs = 1_500;
      const sim = await spendeskConsole({
        variant: { removeButtonLabel: 'Delete member' },
      });
      const result = await run(sim.url, 'remove-member', {
        email: 'alice@acme.com',
      });
      assert.equal(result.status, 'drift');
      assert.ok('step' in result);
      assert.equal(result.step, 'start removal');
      assert.equal(result.stepIndex, 11);
      assert.match(result.detail, /role=button\[name="Remove the member from your company"\] was not there, or not usable, within 1500 ms/);
      assert.ok(pngs(result) >= 2, 'the page before, and where it stopped');
      assert.match(result.html!, /Delete member/);
      assert.ok(sim.state.byEmail('alice@acme.com'));
      assert.equal(sim.state.events.filter((e) => e.type === 'removed' || e.type === 'removal-refused').length, 0);
    });

    it('a confirm click the console never answers is not drift: "clicked, no answer", and the console may still act', async () => {
      stepTimeoutMs = 1_500;
      const sim = await spendeskConsole();
      const proxy = await holdingProxy(sim.url);
      after(() => proxy.close());
      const result = await run(proxy.url, 'remove-member', { email: 'alice@acme.com' });
      assert.equal(result.status, 'unreachable', JSON.stringify(result));
      assert.ok('step' in result);
      assert.equal(result.step, 'confirm');
      assert.match(result.detail, /^role=button\[name="Remove member"\] was clicked, but the console did not answer within 1500 ms: whether it acted is not known$/);
      assert.ok(proxy.held());
      // The answer comes late: the console removed her after all, which is why the step may not say "not there".
      proxy.release();
      for (let i = 0; i < 50 && sim.state.byEmail('alice@acme.com'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(sim.state.byEmail('alice@acme.com'), undefined);
    });

    it('an unexpected dialog over the page is drift that names the dialog', async () => {
      stepTimeoutMs = 1_500;
      const sim = await spendeskConsole({ variant: { whatsNew: true } });
      const result = await run(sim.url, 'remove-member', {
        email: 'alice@acme.com',
      });
      assert.equal(result.status, 'drift');
      assert.match(result.detail, /role=link\[name="alice@acme\.com"\] .*an unexpected dialog is open: "What's new"/);
      assert.ok(sim.state.byEmail('alice@acme.com'));
    });

    it('a selector matching two elements is drift: Patchbay does not act on a guess', async () => {
      stepTimeoutMs = 1_500;
      const sim = await spendeskConsole();
      const signIn = recipes.get('export-members')!.steps.slice(0, 5);
      const guess: BrowserRecipe = {
        ...recipes.get('export-members')!,
        id: 'guess',
        steps: [
          signIn[0]!,
          ...signIn.slice(1),
          {
            name: 'open a member',
            action: 'click',
            selector: 'role=link[name="@acme.com"]',
          },
        ],
      };
      // The role selector wants the whole name: a partial one finds nothing rather than the first of several.
      assert.equal((await run(sim.url, 'guess', {}, guess)).status, 'drift');
      const css: BrowserRecipe = {
        ...guess,
        steps: [signIn[0]!, ...signIn.slice(1), { name: 'open a member', action: 'click', selector: 'css=table a' }],
      };
      const result = await run(sim.url, 'guess', {}, css);
      assert.equal(result.status, 'drift');
      assert.match(result.detail, /css=table a matches \d+ elements on the page; Patchbay does not act on a guess/);
    });

    it('a wrong password is the console refusing the sign-in, and the password appears nowhere', async () => {
      const sim = await spendeskConsole();
      const secret = 'wrong-but-secret-p4ss';
      const result = await run(sim.url, 'remove-member', {
        email: 'alice@acme.com',
        adminPassword: secret,
      });
      assert.equal(result.status, 'blocked');
      assert.match(result.detail, /the console refused the robot's sign-in/);
      assert.ok(!JSON.stringify({ ...result, shots: undefined }).includes(secret));
    });

    it('a click whose page never comes says where the console went; a refused sign-in behind it is blocked, not drift', async () => {
      stepTimeoutMs = 1_500;
      const sim = await spendeskConsole();
      const exportMembers = recipes.get('export-members')!;
      // The sign-in click waits for a page the console never shows (a recipe's waitFor).
      const elsewhere: BrowserRecipe = {
        ...exportMembers,
        id: 'elsewhere',
        steps: exportMembers.steps.map((s) => (s.name === 'sign in' ? { ...s, waitFor: { url: '**/never-shown/**' } } : s)) as BrowserRecipe['steps'],
      };
      const lost = await run(sim.url, 'elsewhere', {}, elsewhere);
      assert.equal(lost.status, 'drift');
      assert.equal(lost.status === 'drift' && lost.step, 'sign in');
      assert.match(lost.detail, /^role=button\[name="Sign in"\] was clicked, but the page stayed at \/\S* instead of \*\*\/never-shown\/\*\* within 1500 ms/);
      // With a wrong password the console re-shows its form: the check after the click names the refusal.
      const secret = 'wrong-but-secret-p4ss';
      const refused = await run(sim.url, 'elsewhere', { adminPassword: secret }, elsewhere);
      assert.equal(refused.status, 'blocked', refused.detail);
      assert.match(refused.detail, /^the console refused the robot's sign-in/);
      assert.ok(!JSON.stringify({ ...refused, shots: undefined }).includes(secret));
    });

    it('a console that does not answer is unreachable, not drift', async () => {
      const result = await run('http://127.0.0.1:9', 'remove-member', {
        email: 'alice@acme.com',
      });
      assert.equal(result.status, 'unreachable');
      assert.match(result.detail, /the console at http:\/\/127\.0\.0\.1:9 did not answer/);
    });
  });
});

describe('recipe language v2: the loader\'s checks and the cell cleaning', () => {
  const base = (steps: BrowserRecipe['steps'], extra: Partial<BrowserRecipe> = {}): BrowserRecipe => ({
    id: 'x',
    title: 'x',
    operation: 'getUser',
    parameters: { email: { type: 'email', required: true }, adminLogin: { type: 'login', required: true } },
    steps,
    ...extra,
  });

  it('refuses v2 words in a v1 recipe, a value used before a read step takes it, a login outside a fill, a bad regular expression', () => {
    const v1 = checkRecipe(base([{ name: 'h', action: 'hover', selector: 'a', scope: { nth: 0 } }]));
    assert.deepEqual(v1.map((p) => p.pointer), ['/steps/0/scope', '/steps/0/action']);
    const order = checkRecipe(
      base(
        [
          { name: 'go', action: 'goto', url: '{link}' },
          { name: 'read', action: 'read', selector: 'a', attribute: 'href', into: 'link' },
          { name: 'again', action: 'goto', url: '{link}' },
          { name: 'login in url', action: 'goto', url: '/u/{adminLogin}' },
          { name: 'bad', action: 'read', selector: 'td', into: 'n', clean: { match: '(' } },
        ],
        { schemaVersion: 2 },
      ),
    );
    assert.deepEqual(order.map((p) => p.pointer), ['/steps/0/url', '/steps/3/url', '/steps/4/clean/match']);
    assert.match(order[1]!.reason, /login \{adminLogin\} may only be typed/);
  });

  it('cleans cells: screen-reader text by a regular expression, numbers, dates; compares text case- and Unicode-insensitively', () => {
    assert.equal(clean('3\n3 posts by this author', { match: '^(\\d+)' }), '3');
    assert.equal(clean('  1 234 posts ', { number: true }), '1234');
    assert.equal(clean('2026/11/30', { date: true }), '2026-11-30');
    assert.equal(clean('lleaver\nEdit | Delete', { firstLine: true }), 'lleaver');
    assert.ok(sameText(' Kim.Nguyen@ACME.test ', 'kim.nguyen@acme.test'));
    assert.ok(sameText('ｋｉｍ', 'kim'), 'full-width letters (NFKC)');
    assert.ok(sameText('Ame\u0301lie', 'AMÉLIE'), 'a decomposed accent');
    assert.ok(!sameText('kim', 'kimberly'));
  });
});
