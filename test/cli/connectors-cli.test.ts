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

/** A catalogue folder holding a copy of the built-in 6sense under its own id. */
function catalogueWith6senseCopy(): string {
  const catalogue = scratchDir();
  cpSync(path.join(connectorsDir, '6sense'), path.join(catalogue, '6sense'), { recursive: true });
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
    // Exit 1: a script or CI step that lists the catalogue notices the broken ones.
    assert.equal(result.status, 1, result.stderr);
    const line = result.stdout.split('\n').find((l) => l.startsWith('tallyboard: '));
    assert.ok(line, result.stdout);
    assert.match(line, /^tallyboard: \S*tallyboard\/manifest\.json#\/kind: must be one of "app", "idp"/);
    assert.match(result.stdout, /^PATCHBAY_CONNECTORS: \S*empty: no connectors in this folder/m);
    assert.match(result.stdout, /1 broken connector refused, 1 catalogue folder gave no connector; every other connector works\./);
  });

  it('says where each connector comes from, lets an added folder replace a built-in one, and refuses an id two added folders define', () => {
    const replacing = scratchDir();
    cpSync(path.join(connectorsDir, '6sense'), path.join(replacing, '6sense'), { recursive: true });
    const listed = runCli(['connectors', '--json'], { PATCHBAY_CONNECTORS: replacing });
    assert.equal(listed.status, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { id: string; from?: string; status: string }[];
    assert.match(rows.find((r) => r.id === '6sense')!.from!, /6sense \(replaces the built-in one\)$/);
    assert.equal(rows.find((r) => r.id === 'spendesk')!.from, 'built-in');
    // The same id in two added folders: which one ran would depend on the variable's order, so neither runs.
    const twice = runCli(['plan', 'offboard', '--app', '6sense', '--user', 'a@acme.com'], { PATCHBAY_CONNECTORS: [replacing, catalogueWith6senseCopy()].join(path.delimiter) });
    assert.equal(twice.status, 2);
    assert.match(twice.stderr, /connector '6sense': is broken and was refused: defined in 2 PATCHBAY_CONNECTORS folders \(.*\): keep one or rename the others \(the built-in 6sense is not used either while this is so\)/);
    const other = runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'a@acme.com'], { PATCHBAY_CONNECTORS: [replacing, catalogueWith6senseCopy()].join(path.delimiter) });
    assert.equal(other.status, 0, other.stderr);
  });

  it('docs write nothing when a catalogue folder is wrong, and keep the repository\'s docs/ to the built-in catalogue', () => {
    const missing = runCli(['docs', '--out', path.join(scratchDir(), 'docs')], { PATCHBAY_CONNECTORS: path.join(scratchDir(), 'nope') });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /docs not written: PATCHBAY_CONNECTORS: \S*nope: no such connector folder/);
    const added = scratchDir();
    cpSync(path.join(connectorsDir, '6sense'), path.join(added, 'tallyboard'), { recursive: true });
    editJson(path.join(added, 'tallyboard', 'manifest.json'), (m) => void (m.id = 'tallyboard'));
    const repo = runCli(['docs', '--check'], { PATCHBAY_CONNECTORS: added });
    assert.equal(repo.status, 2);
    assert.match(repo.stderr, /holds the built-in catalogue's pages, and PATCHBAY_CONNECTORS adds tallyboard: give --out <folder> for their docs, or unset PATCHBAY_CONNECTORS/);
    const own = path.join(scratchDir(), 'docs');
    const written = runCli(['docs', '--out', own], { PATCHBAY_CONNECTORS: added });
    assert.equal(written.status, 0, written.stderr);
    assert.ok(readFileSync(path.join(own, 'connectors', 'tallyboard.md'), 'utf8').length > 0);
  });

  it('refuses a secret name that looks like a pasted token, without printing it', () => {
    const catalogue = scratchDir();
    cpSync(path.join(connectorsDir, 'zoom'), path.join(catalogue, 'tallyboard'), { recursive: true });
    const token = 'pat-s3cr3t-tally-token-0001';
    let pointer = '';
    editJson(path.join(catalogue, 'tallyboard', 'manifest.json'), (m) => {
      m.id = 'tallyboard';
      const [surfaceId, surface] = Object.entries(m.surfaces as Record<string, { auth: { value: Record<string, unknown>[] } }>)[0]!;
      const [key] = Object.keys(surface.auth.value[0]!).filter((k) => k === 'secret' || k.endsWith('Secret'));
      surface.auth.value[0]![key!] = token;
      pointer = `/surfaces/${surfaceId}/auth/value/0/${key}`;
    });
    const result = runCli(['validate', path.join(catalogue, 'tallyboard', 'manifest.json')], { PATCHBAY_CONNECTORS: catalogue });
    assert.equal(result.status, 2);
    assert.ok(result.stderr.includes(`manifest.json#${pointer}: looks like a secret's value, not its name`), result.stderr);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(token), 'the value is never printed');
    const listed = runCli(['connectors', '--json'], { PATCHBAY_CONNECTORS: catalogue });
    assert.ok(!listed.stdout.includes(token));
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
