import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { databaseFile } from '../../core/store/database.js';
import { openStore } from '../../core/store/sql.js';
import { migrations } from '../../core/store/migrations.js';
import { AccessStore } from '../../core/server/access.js';
import { runCli, scratchDir } from '../support/fixtures.js';

const day = 86_400_000;

describe('patchbay token: scopes, expiry, rotation, last use, revocation', function () {
  this.timeout(90_000);

  it("says when a token's person is in no queue, so that its empty task list is not a mystery; not when a queue or every queue is visible to it", () => {
    const env = { PATCHBAY_DATA_DIR: scratchDir('patchbay-tokens-') };
    const blind = runCli(['token', 'create', '--name', 'hr-tool', '--as', 'hr.system@acme.example'], env);
    assert.equal(blind.status, 0, blind.stderr);
    assert.equal(
      blind.stderr.trim(),
      'note: hr.system@acme.example is in no queue of tenant acme, so GET /api/v1/tasks refuses this token (403) while no task is assigned to hr.system@acme.example; add them to a queue\'s members in the profile, or give the token the tasks:all-queues scope (--role admin, or --scopes …,tasks:all-queues)',
    );
    for (const args of [['--as', 'it.oncall@acme.example'], ['--as', 'hr.system@acme.example', '--role', 'admin'], ['--as', 'hr.system@acme.example', '--scopes', 'runs:read,runs:write']]) {
      const quiet = runCli(['token', 'create', '--name', 'x', ...args], env);
      assert.equal(quiet.status, 0, quiet.stderr);
      assert.equal(quiet.stderr, '', args.join(' '));
    }
  });

  it('creates a token with a lifetime and scopes, lists it without its secret, rotates it and refuses the old one', async () => {
    const dataDir = scratchDir('patchbay-tokens-');
    const env = { PATCHBAY_DATA_DIR: dataDir };
    const created = runCli(['token', 'create', '--name', 'hr-tool', '--as', 'people@acme.example', '--scopes', 'runs:write,runs:read', '--expires-in', '30d', '--json'], env);
    assert.equal(created.status, 0, created.stderr);
    const token = JSON.parse(created.stdout) as { id: string; token: string; expiresAt: string; scopes: string[] };
    assert.match(token.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'a time in --json is ISO 8601');
    assert.deepEqual(token.scopes, ['runs:write', 'runs:read']);
    assert.ok(Math.abs(Date.parse(token.expiresAt) - (Date.now() + 30 * day)) < 60_000);
    const db = await openStore({ dataDir });
    after(() => db.close());
    const access = new AccessStore(db);
    assert.equal((await access.bearer(`Bearer ${token.token}`)).actor, 'people@acme.example');
    const listed = runCli(['token', 'list'], env);
    assert.match(listed.stdout, new RegExp(`${token.id}  hr-tool  as people@acme\\.example \\(operator\\)  scopes runs:write,runs:read  last used 20\\d\\d-\\d\\d-\\d\\d \\d\\d:\\d\\d  expires 20`));
    assert.equal(listed.stdout.includes(token.token.slice(-43)), false);
    const rotated = runCli(['token', 'rotate', token.id, '--json'], env);
    assert.equal(rotated.status, 0, rotated.stderr);
    const next = JSON.parse(rotated.stdout) as { id: string; token: string; replaced: string };
    assert.equal(next.replaced, token.id);
    await assert.rejects(access.bearer(`Bearer ${token.token}`), /the API token was revoked/);
    assert.deepEqual((await access.bearer(`Bearer ${next.token}`)).scopes, ['runs:write', 'runs:read']);
    assert.match(runCli(['token', 'list'], env).stdout, new RegExp(`${token.id} .* REVOKED\\n${next.id} .*\\(rotated from ${token.id}\\)`));
    // Rotating a revoked token, or a lifetime or scope that is not one: bad input, nothing made.
    for (const [args, says] of [
      [['token', 'rotate', token.id], /command line#\/id: no live token/],
      [['token', 'create', '--name', 'x', '--as', 'a@acme.example', '--expires-in', 'forever'], /command line#\/expires-in: --expires-in must be a lifetime/],
      [['token', 'create', '--name', 'x', '--as', 'a@acme.example', '--scopes', 'runs:read,root'], /command line#\/scopes: --scopes takes a comma-separated list/],
      [['serve', '--public-url', 'javascript:alert(1)'], /command line#\/public-url: --public-url must be an http or https address/],
    ] as const) {
      const result = runCli(args, env);
      assert.equal(result.status, 2, args.join(' '));
      assert.match(result.stderr, says);
    }
    assert.equal((await access.listTokens()).length, 2);
    assert.equal(runCli(['token', 'revoke', next.id], env).status, 0);
    await assert.rejects(access.bearer(`Bearer ${next.token}`), /revoked/);
  });

  it('gives tokens made before scopes the default scopes (an admin also every queue) and a 90-day expiry', async () => {
    const dataDir = scratchDir('patchbay-tokens-');
    // A store as Patchbay left it before migration v6, with a token of each role.
    const old = new BetterSqlite3(databaseFile(dataDir));
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of migrations.filter((m) => m.version < 6)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const secret = 'B'.repeat(43);
    const hash = createHash('sha256').update(secret).digest('hex');
    old.prepare("INSERT INTO api_tokens (id, name, actor, role, secret_hash, created_at) VALUES ('aaaaaaaaaaaa', 'ops', 'it.oncall@acme.example', 'operator', ?, 0), ('bbbbbbbbbbbb', 'lead', 'it.lead@acme.example', 'admin', ?, 0)").run(hash, hash);
    old.close();
    const db = await openStore({ dataDir });
    after(() => db.close());
    const access = new AccessStore(db);
    const ops = await access.bearer(`Bearer pb_aaaaaaaaaaaa_${secret}`);
    assert.deepEqual(ops.scopes, ['runs:read', 'runs:write', 'tasks:read', 'tasks:write', 'reconcile:read', 'matrix:read']);
    assert.ok((await access.bearer(`Bearer pb_bbbbbbbbbbbb_${secret}`)).scopes!.includes('tasks:all-queues'));
    for (const t of (await access.listTokens())) assert.ok(Math.abs(t.expiresAt! - (Date.now() + 90 * day)) < 60_000, t.id);
    const later = new AccessStore(db, () => Date.now() + 91 * day);
    await assert.rejects(later.bearer(`Bearer pb_aaaaaaaaaaaa_${secret}`), /the API token expired on/);
  });
});
