import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BrowserHost } from '../../../core/channels/browser/browser-host.js';
import { type RecipeJob, type RecipeResult, maskSecrets, runRecipe } from '../../../core/channels/browser/recipe-runner.js';
import { createServices } from '../../../core/container.js';
import { defaultProfileFile } from '../../../core/tenant/profile.js';
import { readJson, scratchDir } from '../../support/fixtures.js';
import { type WordpressConsole, reseedWordpress, startWordpress, withMuPlugin, wordpressState } from '../../fixtures/wordpress/console.js';

const recipes = createServices().registry.get('wordpress').recipes;
const host = new BrowserHost();
after(() => host.close());

let wp: WordpressConsole;
const contentOwner = 'Content Keeper (ckeeper)';

function run(id: string, params: Record<string, string | undefined> = {}, stepTimeoutMs = 8_000): Promise<RecipeResult> {
  const job: RecipeJob = {
    recipe: recipes.get(id)!,
    consoleUrl: wp.url,
    params: { adminLogin: wp.robot.login, adminPassword: wp.robot.password, contentOwner, ...params },
    stepTimeoutMs,
  };
  return host.withContext((context) => runRecipe(context, job));
}

const logins = () => wordpressState().users.map((u) => u.login);

describe('WordPress from Debian: the wordpress connector\'s recipes in Chromium', function () {
  this.timeout(120_000);

  before(() => {
    wp = startWordpress();
  });
  beforeEach(() => reseedWordpress());

  it('a WordPress that cannot start fails the test with the setup script\'s own message, never a skip', () => {
    const script = path.join(scratchDir('patchbay-wp-broken-'), 'setup.sh');
    writeFileSync(script, 'echo "wordpress setup: MariaDB did not start (service mariadb start)" >&2; exit 1\n');
    assert.throws(() => startWordpress({ script }), /WordPress could not start for the browser tests .*MariaDB did not start/);
  });

  it('deletes a leaver found by email in any case, and attributes her posts to the tenant\'s content owner', async () => {
    const result = await run('remove-user', { email: 'Lena.LEAVER@acme.test', lastName: 'Leaver' });
    assert.equal(result.status, 'done', JSON.stringify({ ...result, shots: undefined, html: undefined }));
    const state = wordpressState();
    assert.ok(!state.users.some((u) => u.login === 'lleaver'));
    assert.deepEqual(
      state.posts.filter((p) => p.title.startsWith("Lena's")).map((p) => p.author),
      ['ckeeper', 'ckeeper', 'ckeeper'],
    );
    assert.ok(result.shots.length >= 2);
    // Run again: the email finds no one and the last name confirms it: already deleted.
    const again = await run('remove-user', { email: 'lena.leaver@acme.test', lastName: 'Leaver' });
    assert.equal(again.status, 'already-done', JSON.stringify({ ...again, shots: undefined, html: undefined }));
    assert.match(again.detail, /search on the last name finds no one/);
  });

  it('lists every user across the list pages (12 a page), and no header or footer row is read as an account', async () => {
    const result = await run('list-users');
    assert.equal(result.status, 'done', JSON.stringify({ ...result, shots: undefined, html: undefined }));
    const users = result.status === 'done' ? result.records.users! : [];
    const expected = wordpressState().users;
    assert.equal(expected.length, 40);
    assert.deepEqual(users.map((u) => u.email).sort(), expected.map((u) => u.email).sort());
    assert.ok(!users.some((u) => u.email === 'Email' || u.login === 'Username'));
    const lena = users.find((u) => u.login === 'lleaver')!;
    assert.equal(lena.posts, '3', 'the Posts cell is cleaned of its screen-reader text');
    assert.equal(lena.name, 'Lena Leaver');
  });

  it('never says "already done" for an account under another email: kim.nguyen@ (IdP) is knguyen@ in WordPress', async () => {
    const result = await run('remove-user', { email: 'kim.nguyen@acme.test', lastName: 'Nguyen' });
    assert.equal(result.status, 'drift');
    assert.match(result.status === 'drift' ? result.detail : '', /absence not proven: .* the check "search the last name" finds something/);
    assert.ok(logins().includes('knguyen'), 'knguyen is untouched');
    // Without a last name, no second check can run: still not "already done".
    const blind = await run('remove-user', { email: 'kim.nguyen@acme.test' });
    assert.equal(blind.status, 'drift');
    assert.match(blind.status === 'drift' ? blind.detail : '', /no second check could run/);
    // The read used by the check and the verification says the same.
    const read = await run('read-user', { email: 'kim.nguyen@acme.test', lastName: 'Nguyen' });
    assert.equal(read.status, 'drift');
  });

  it('stops before clicking when a must-use plugin relabels the confirmation button, with a screenshot and the page', async () => {
    const plugin = withMuPlugin(
      'patchbay-relabel',
      `<?php add_filter('gettext', function ($t, $text) { return $text === 'Confirm Deletion' ? 'Yes, delete for good' : $t; }, 10, 2);`,
    );
    try {
      const result = await run('remove-user', { email: 'lena.leaver@acme.test', lastName: 'Leaver' }, 4_000);
      assert.equal(result.status, 'drift');
      if (result.status !== 'drift') return;
      assert.equal(result.step, 'confirm', result.detail);
      assert.match(result.detail, /Confirm Deletion.*not there/);
      assert.ok(result.shots.some((s) => s.step.includes('(drift)')));
      assert.match(result.html ?? '', /Yes, delete for good/);
      assert.ok(logins().includes('lleaver'), 'nothing was deleted');
    } finally {
      plugin.remove();
    }
  });

  it('stops at the delete screen when the site speaks another language', async () => {
    const plugin = withMuPlugin(
      'patchbay-locale',
      `<?php add_filter('gettext', function ($t, $text) { $fr = ['Delete Users' => 'Supprimer des utilisateurs', 'Delete' => 'Supprimer', 'Confirm Deletion' => 'Confirmer la suppression']; return $fr[$text] ?? $t; }, 10, 2);`,
    );
    try {
      const result = await run('remove-user', { email: 'lena.leaver@acme.test', lastName: 'Leaver' }, 4_000);
      assert.equal(result.status, 'drift');
      assert.ok(logins().includes('lleaver'));
    } finally {
      plugin.remove();
    }
  });

  it('masks the password only: the robot\'s login "admin" is a common word and stays readable in messages and saved HTML', async () => {
    const plugin = withMuPlugin('patchbay-relabel', `<?php add_filter('gettext', fn ($t, $text) => $text === 'Confirm Deletion' ? 'Go' : $t, 10, 2);`);
    try {
      const result = await run('remove-user', { email: 'lena.leaver@acme.test', lastName: 'Leaver' }, 4_000);
      assert.equal(result.status, 'drift');
      if (result.status !== 'drift') return;
      assert.ok(!(result.html ?? '').includes('[secret]'), 'nothing in the page was masked by the login');
      assert.match(result.html ?? '', /Administrator|admin/);
      assert.ok(!JSON.stringify({ ...result, shots: undefined }).includes(wp.robot.password));
    } finally {
      plugin.remove();
    }
    assert.equal(maskSecrets('administrator admin Admin', ['admin']), 'administrator [secret] Admin');
    assert.equal(maskSecrets('p4ss-word in p4ss-word2', ['p4ss-word']), '[secret] in p4ss-word2');
  });

  it('a refused sign-in is blocked with WordPress\'s own message, not drift at the sign-in button, and the password appears nowhere', async () => {
    const wrong = `wrong-${wp.robot.password.slice(0, 4)}-p4ss`;
    const result = await run('list-users', { adminPassword: wrong }, 4_000);
    assert.equal(result.status, 'blocked', JSON.stringify({ ...result, shots: undefined, html: undefined }));
    if (result.status !== 'blocked') return;
    assert.equal(result.step, 'sign in');
    assert.match(result.detail, /^WordPress refused the robot's sign-in: .*password you entered for the username admin is incorrect/);
    assert.ok(result.blockers?.some((b) => /incorrect/.test(b)));
    assert.ok(!JSON.stringify({ ...result, shots: undefined }).includes(wrong));
  });
});

describe('patchbay recipe try / recipe check against WordPress', function () {
  this.timeout(180_000);
  let profileFile: string;
  let dataDir: string;
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['dist/core/cli/main.js', '--data-dir', dataDir, ...args], {
      encoding: 'utf8',
      env: { ...process.env, WP_ROBOT_LOGIN: wp.robot.login, WP_ROBOT_PASSWORD: wp.robot.password },
    });

  before(() => {
    wp = startWordpress();
    reseedWordpress();
    dataDir = scratchDir('patchbay-recipe-cli-');
    const profile = readJson<Record<string, any>>(defaultProfileFile);
    profile.apps.wordpress = {
      queue: 'it-ops',
      browserAutomation: 'allowed',
      consoleUrl: wp.url,
      secrets: { adminLogin: 'env:WP_ROBOT_LOGIN', adminPassword: 'env:WP_ROBOT_PASSWORD' },
      settings: { contentOwner },
    };
    profileFile = path.join(dataDir, 'tenant.json');
    writeFileSync(profileFile, JSON.stringify(profile));
  });

  it('try: every step with what it matched and a screenshot; the password in no output', () => {
    const out = cli('recipe', 'try', 'wordpress', 'read-user', '--profile', profileFile, '--param', 'email=alice.martin@acme.test', '--param', 'lastName=Martin', '--json');
    assert.equal(out.status, 0, out.stderr);
    const report = JSON.parse(out.stdout) as { result: { status: string }; steps: { step: string; matched?: string; screenshot?: string }[] };
    assert.equal(report.result.status, 'done');
    assert.equal(report.steps.length, recipes.get('read-user')!.steps.length);
    assert.match(report.steps.find((s) => s.step === 'sign in')!.matched!, /wp-submit/);
    assert.ok(report.steps.every((s) => s.screenshot && existsSync(s.screenshot)));
    assert.ok(!out.stdout.includes(wp.robot.password));
  });

  it('try: a recipe that changes the console needs --allow-writes (exit 2, nothing done)', () => {
    const out = cli('recipe', 'try', 'wordpress', 'remove-user', '--profile', profileFile, '--param', 'email=lena.leaver@acme.test');
    assert.equal(out.status, 2);
    assert.match(out.stderr, /--allow-writes/);
    assert.ok(wordpressState().users.some((u) => u.login === 'lleaver'));
  });

  it('check: the read-only recipes pass on the console, and a relabelled column is drift (exit 1, audit event)', async () => {
    const ok = cli('recipe', 'check', 'wordpress', '--profile', profileFile, '--param', 'email=alice.martin@acme.test', '--param', 'lastName=Martin', '--json');
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.deepEqual((JSON.parse(ok.stdout) as { recipe: string; status: string }[]).map((r) => [r.recipe, r.status]), [
      ['list-users', 'done'],
      ['read-user', 'done'],
    ]);
    const plugin = withMuPlugin('patchbay-column', `<?php add_filter('manage_users_columns', function ($c) { $c['email'] = 'E-mail address'; return $c; });`);
    try {
      const drift = cli('recipe', 'check', 'wordpress', '--profile', profileFile, '--param', 'email=alice.martin@acme.test', '--param', 'lastName=Martin', '--json');
      assert.equal(drift.status, 1, drift.stdout + drift.stderr);
      const rows = JSON.parse(drift.stdout) as { recipe: string; status: string; detail: string }[];
      assert.ok(rows.every((r) => r.status === 'drift'));
      assert.match(rows[0]!.detail, /no column "Email"/);
      const runtime = await createServices().openRuntime({ dataDir });
      try {
        const events = (await runtime.engine.audit.list()).filter((e) => e.type === 'browser.canary-drift');
        assert.deepEqual(
          events.map((e) => (e.data as { recipe: string }).recipe),
          ['list-users', 'read-user'],
        );
      } finally {
        await runtime.close();
      }
    } finally {
      plugin.remove();
    }
  });

  it('check: a robot that cannot sign in is blocked and fails the canary (exit 1), the password in no output', () => {
    const wrong = `wrong-${wp.robot.password.slice(0, 4)}-p4ss`;
    const refused = spawnSync(process.execPath, ['dist/core/cli/main.js', '--data-dir', scratchDir('patchbay-recipe-cli-'), 'recipe', 'check', 'wordpress', '--profile', profileFile, '--param', 'email=alice.martin@acme.test', '--param', 'lastName=Martin', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, WP_ROBOT_LOGIN: wp.robot.login, WP_ROBOT_PASSWORD: wrong },
    });
    assert.equal(refused.status, 1, refused.stdout + refused.stderr);
    const rows = JSON.parse(refused.stdout) as { recipe: string; status: string; detail: string }[];
    assert.deepEqual(rows.map((r) => r.status), ['blocked', 'blocked']);
    assert.match(rows[0]!.detail, /WordPress refused the robot's sign-in/);
    assert.ok(!(refused.stdout + refused.stderr).includes(wrong));
  });

  it('check: a drifted recipe opens one task in the app\'s queue with the screenshot, the page and the failing step; checks while it is open open no other', async () => {
    const shared = dataDir;
    dataDir = scratchDir('patchbay-canary-task-');
    const plugin = withMuPlugin('patchbay-column', `<?php add_filter('manage_users_columns', function ($c) { $c['email'] = 'E-mail address'; return $c; });`);
    const drifted = () => {
      const out = cli('recipe', 'check', 'wordpress', '--profile', profileFile, '--param', 'email=alice.martin@acme.test', '--param', 'lastName=Martin', '--json');
      assert.equal(out.status, 1, out.stdout + out.stderr);
      return JSON.parse(out.stdout) as { recipe: string; status: string; detail: string; task?: string }[];
    };
    const tasks = async () => {
      const runtime = await createServices().openRuntime({ dataDir });
      try {
        return await runtime.tasks.list({ status: 'all' });
      } finally {
        await runtime.close();
      }
    };
    try {
      const first = drifted();
      const opened = await tasks();
      assert.deepEqual(opened.map((t) => [t.app, t.runbook, t.queue, t.status]), [
        ['wordpress', 'recipe-drift', 'it-ops', 'open'],
        ['wordpress', 'recipe-drift', 'it-ops', 'open'],
      ]);
      assert.deepEqual(new Set(first.map((r) => r.task)), new Set(opened.map((t) => t.id)));
      const list = opened.find((t) => t.id === first.find((r) => r.recipe === 'list-users')!.task)!;
      assert.equal(list.items.length, 0, 'no run, no person being offboarded');
      const handover = list.content.handedOver![0]!;
      assert.equal(handover.channel, 'browser');
      assert.match(handover.detail, /list-users at step \d+ "[^"]+": .*no column "Email"/);
      assert.ok(handover.evidence.some((e) => e.kind === 'screenshot' && e.file && existsSync(e.file.path)), JSON.stringify(handover.evidence));
      const page = handover.evidence.find((e) => e.summary.startsWith("the page's HTML"))!;
      assert.match(readFileSync(page.file!.path, 'utf8'), /E-mail address/);
      assert.ok(!JSON.stringify(list).includes(wp.robot.password));

      // The next schedule tick, while the tasks are open: the same tasks, no new one.
      const second = drifted();
      assert.deepEqual(second.map((r) => r.task), first.map((r) => r.task));
      assert.ok(second.every((r) => /still open/.test(r.detail)));
      assert.equal((await tasks()).length, 2);
      // The worker's canary takes the same path: list-users drifts, its open task is found again.
      const worker = cli('worker', '--once', '--recipe-check-every', '6h', '--profile', profileFile);
      assert.equal(worker.status, 0, worker.stderr);
      assert.match(worker.stderr, /list-users drift/);
      assert.equal((await tasks()).length, 2);

      // Once a person closed it, the next drift is news again: a new task.
      const runtime = await createServices().openRuntime({ dataDir });
      try {
        await assert.rejects(async () => runtime.tasks.complete(list.id, { by: 'someone.else@acme.example', evidence: [{ text: 'fixed' }] }), /not a member of queue it-ops/);
        await runtime.tasks.complete(list.id, { by: 'it.oncall@acme.example', evidence: [{ text: 'a plugin renamed the Email column; removed it' }] });
        assert.equal((await runtime.tasks.get(list.id)).status, 'completed');
      } finally {
        await runtime.close();
      }
      const third = drifted();
      const again = third.find((r) => r.recipe === 'list-users')!;
      assert.notEqual(again.task, list.id);
      assert.match(again.detail, /opened\)/);
      assert.equal((await tasks()).length, 3);
    } finally {
      plugin.remove();
      dataDir = shared;
    }
  });

  it('worker --recipe-check-every runs the canary on its first pass; a recipe needing a person\'s email is reported as not run', () => {
    const out = cli('worker', '--once', '--recipe-check-every', '6h', '--profile', profileFile);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stderr, /recipe check wordpress: list-users done, read-user not run/);
    const bad = cli('worker', '--once', '--recipe-check-every', 'often', '--profile', profileFile);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--recipe-check-every wants a duration such as 6h/);
  });
});
