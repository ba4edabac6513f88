import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectorsDir, packageRoot } from '../../core/paths.js';
import { editJson, runCli, scratchDir } from '../support/fixtures.js';

/** A catalogue folder holding 'tallyboard', a copy of 6sense whose manifest breaks its schema (a long reason). */
function catalogueWithBroken(): string {
  const catalogue = scratchDir();
  cpSync(path.join(connectorsDir, '6sense'), path.join(catalogue, 'tallyboard'), { recursive: true });
  editJson(path.join(catalogue, 'tallyboard', 'manifest.json'), (m) => {
    m.id = 'tallyboard';
    m.kind = 'robot';
  });
  return catalogue;
}

/** Runs the CLI with its stdout closed by the reader before it writes (what `| head` does), and resolves its exit. */
function runWithClosedStdout(args: readonly string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [path.join(packageRoot, 'dist', 'core', 'cli', 'main.js'), ...args], {
    env: { ...process.env, PATCHBAY_CONNECTORS: '', PATCHBAY_DATA_DIR: scratchDir() },
    cwd: packageRoot,
  });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stderr })));
}

describe('connector catalogue on the command line', function () {
  this.timeout(60_000);

  it('plans the other apps of a profile that names a broken connector, and refuses the broken one with its one-line reason', () => {
    const env = { PATCHBAY_CONNECTORS: catalogueWithBroken() };
    const profile = path.join(scratchDir(), 'tenant.json');
    writeFileSync(profile, JSON.stringify({ tenant: 'acme', apps: { spendesk: {}, tallyboard: {} } }));
    const other = runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'a@acme.com', '--profile', profile], env);
    assert.equal(other.status, 0, other.stderr);
    const broken = runCli(['plan', 'offboard', '--app', 'tallyboard', '--user', 'a@acme.com', '--profile', profile], env);
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /^patchbay: connector 'tallyboard': is broken and was refused: \S*tallyboard\/manifest\.json#\/kind: must be one of/);
    assert.equal(broken.stderr.trim().split('\n').length, 1);
    // Commands that go through every app of the profile skip the broken one.
    const discover = runCli(['matrix', '--profile', profile, '--discover', '--json'], env);
    assert.equal(discover.status, 0, discover.stderr);
  });

  it('says what is wrong with PATCHBAY_CONNECTORS when a connector is unknown', () => {
    const root = scratchDir();
    writeFileSync(path.join(root, 'a-file'), '');
    const result = runCli(['plan', 'offboard', '--app', 'tallyboard', '--user', 'a@acme.com'], { PATCHBAY_CONNECTORS: [path.join(root, 'nope'), path.join(root, 'a-file')].join(path.delimiter) });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown connector 'tallyboard' \(known: [^)]*\); PATCHBAY_CONNECTORS: \S*nope: no such connector folder; PATCHBAY_CONNECTORS: \S*a-file: is a file/);
  });

  it('lists a broken connector with its reason in full below the table, and a folder with no connectors as such', () => {
    const empty = path.join(scratchDir(), 'empty');
    mkdirSync(empty);
    const result = runCli(['connectors'], { PATCHBAY_CONNECTORS: [catalogueWithBroken(), empty].join(path.delimiter) });
    assert.equal(result.status, 0, result.stderr);
    const line = result.stdout.split('\n').find((l) => l.startsWith('tallyboard: '));
    assert.ok(line, result.stdout);
    assert.match(line, /^tallyboard: \S*tallyboard\/manifest\.json#\/kind: must be one of "app", "idp"/);
    assert.match(result.stdout, /^PATCHBAY_CONNECTORS: \S*empty: no connectors in this folder/m);
    assert.match(result.stdout, /1 broken connector refused, 1 catalogue folder gave no connector; every other connector works\./);
  });

  it('ends quietly with exit 0 when the reader closes stdout early, for every command that prints', async () => {
    for (const args of [['connectors'], ['plan', 'offboard', '--app', 'spendesk', '--user', 'a@acme.com'], ['matrix']]) {
      const result = await runWithClosedStdout(args);
      assert.equal(result.stderr, '', `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.status, 0, args.join(' '));
    }
  });

  it('validate reports every error of a runbook, a lifecycle request and a tenant profile at once, each with file#pointer', () => {
    const dir = scratchDir();
    const runbook = path.join(dir, 'runbooks', 'add-user.json');
    mkdirSync(path.dirname(runbook));
    const data = JSON.parse(readFileSync(path.join(connectorsDir, '6sense', 'runbooks', 'add-user.json'), 'utf8'));
    delete data.title;
    data.slaHours = 'soon';
    writeFileSync(runbook, JSON.stringify(data));
    const request = path.join(dir, 'lifecycle-request.json');
    writeFileSync(request, JSON.stringify({ playbook: 'offboard', subject: { email: 'a@acme.com' }, access: 42 }));
    const profile = path.join(dir, 'tenant-profile.json');
    writeFileSync(profile, JSON.stringify({ tenant: 'acme', apps: { 'no-such-app': {}, spendesk: { plan: 'platinum' } } }));
    const expected: [string, RegExp[]][] = [
      [runbook, [/add-user\.json#\/title: is required/, /add-user\.json#\/slaHours: /]],
      [request, [/lifecycle-request\.json#\/app: is required/, /lifecycle-request\.json#\/access: /]],
      [profile, [/tenant-profile\.json#\/apps\/no-such-app: unknown connector/, /tenant-profile\.json#\/apps\/spendesk\/plan: unknown plan 'platinum'/]],
    ];
    for (const [file, lines] of expected) {
      const result = runCli(['validate', file]);
      assert.equal(result.status, 2, `${file}: ${result.stdout}`);
      for (const line of lines) assert.match(result.stderr, line);
      assert.match(result.stderr, /: 2 problems \(listed above\)/);
    }
  });

  it('init names the queues nobody is a member of, and --members fills them', () => {
    const dir = scratchDir();
    const out = path.join(dir, 'tenant.json');
    const bare = runCli(['init', '--apps', '6sense', '--out', out]);
    assert.equal(bare.status, 0, bare.stderr);
    assert.match(bare.stdout, /Note: queue 'it-ops' has no members, so nobody can complete its tasks: add the work emails of the operators who do them to "members"/);
    const filled = path.join(dir, 'filled.json');
    const withMembers = runCli(['init', '--apps', '6sense', '--out', filled, '--members', 'ops@acme.example, lead@acme.example']);
    assert.equal(withMembers.status, 0, withMembers.stderr);
    assert.doesNotMatch(withMembers.stdout, /no members/);
    assert.deepEqual(JSON.parse(readFileSync(filled, 'utf8')).queues[0].members, ['ops@acme.example', 'lead@acme.example']);
  });
});
