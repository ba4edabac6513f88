import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { databaseFile } from '../../core/store/database.js';
import { openStore } from '../../core/store/sql.js';
import { migrations } from '../../core/store/migrations.js';
import { AccessStore } from '../../core/server/access.js';
import { copyFileSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';
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
      'note: hr.system@acme.example is in no queue of tenant acme, so GET /api/v1/tasks refuses this token (403) while no task is assigned to hr.system@acme.example; add them with patchbay queue add <queue> hr.system@acme.example --profile <file>, or give the token the tasks:all-queues scope (--role admin, or --scopes …,tasks:all-queues)',
    );
    for (const args of [['--as', 'it.oncall@acme.example'], ['--as', 'hr.system@acme.example', '--role', 'admin'], ['--as', 'hr.system@acme.example', '--scopes', 'runs:read,runs:write']]) {
      const quiet = runCli(['token', 'create', '--name', 'x', ...args], env);
      assert.equal(quiet.status, 0, quiet.stderr);
      assert.equal(quiet.stderr, '', args.join(' '));
    }
  });

  it("patchbay queue add puts people in a queue's members of a profile file, the sentence the server names; refuses a queue, an email or a profile it cannot use, writing nothing", () => {
    const dir = scratchDir('patchbay-queue-');
    const file = path.join(dir, 'tenant.json');
    copyFileSync(path.join(packageRoot, 'core', 'tenant', 'default-profile.json'), file);
    const before = readFileSync(file, 'utf8');
    const env = { PATCHBAY_DATA_DIR: dir };
    const added = runCli(['queue', 'add', 'it-ops', 'HR.System@acme.example', '--profile', file], env);
    assert.equal(added.status, 0, added.stderr);
    assert.match(added.stdout, /^added hr\.system@acme\.example to queue it-ops \(IT operations\) in .*tenant\.json \(#\/queues\/0\/members\); restart patchbay serve and the workers to use it\n$/);
    const profile = JSON.parse(readFileSync(file, 'utf8')) as { queues: { id: string; members: string[] }[] };
    assert.deepEqual(profile.queues[0]!.members, ['it.oncall@acme.example', 'hr.system@acme.example']);
    // The token's person is in a queue now: no note.
    const token = runCli(['token', 'create', '--name', 'hr', '--as', 'hr.system@acme.example', '--profile', file], env);
    assert.equal(token.status, 0, token.stderr);
    assert.equal(token.stderr, '');
    const again = runCli(['queue', 'add', 'it-ops', 'hr.system@acme.example', '--profile', file], env);
    assert.match(again.stdout, /^nothing to change in .*; 1 already a member\n$/);
    const written = readFileSync(file, 'utf8');
    for (const [args, says] of [
      [['queue', 'add', 'nosuch', 'a@acme.example', '--profile', file], /tenant\.json#\/queues: no queue 'nosuch' \(queues: it-ops, finance-admins, people-ops, it-leads\)/],
      [['queue', 'add', 'it-ops', 'not-an-email', '--profile', file], /command line#\/emails\/0: 'not-an-email' is not an email address/],
      [['queue', 'add', 'it-ops', 'a@acme.example'], /command line#\/profile: give the tenant profile to change with --profile <file>/],
    ] as const) {
      const refused = runCli([...args], env);
      assert.equal(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, says);
      assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line');
      assert.equal(readFileSync(file, 'utf8'), written, 'nothing written');
    }
    assert.notEqual(written, before);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');
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
