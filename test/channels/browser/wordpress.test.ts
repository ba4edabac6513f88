import assert from 'node:assert/strict';
import { BrowserHost } from '../../../core/channels/browser/browser-host.js';
import { type RecipeJob, type RecipeResult, maskSecrets, runRecipe } from '../../../core/channels/browser/recipe-runner.js';
import { createServices } from '../../../core/container.js';
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
});
