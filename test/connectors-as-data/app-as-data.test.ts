import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startStandIn, type StandIn } from '../../core/conformance/stand-in.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { packageRoot } from '../../core/paths.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';
import { runCli, runCliAsync } from '../support/fixtures.js';
import { writeTallyboard } from './tallyboard.js';

/** Every file under a folder, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/**
 * The "done when": an app with a REST user API (list, deactivate), added as a manifest and
 * runbooks only, in a folder outside the repository named by PATCHBAY_CONNECTORS: conformance
 * passes against its generated stand-in; plan, run (the api channel calls a stand-in on 127.0.0.1)
 * and docs work; nothing in core/ or connectors/modules.ts knows of it.
 */
describe('an app added as data only, outside the repository', function () {
  // Several CLI processes in a row: generous on a loaded machine.
  this.timeout(120_000);
  let root: string;
  let catalogue: string;
  let standIn: StandIn;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'patchbay-app-as-data-'));
    assert.ok(!root.startsWith(packageRoot), 'the catalogue folder is outside the repository');
    catalogue = path.join(root, 'catalogue');
    const dir = writeTallyboard(catalogue);
    standIn = await startStandIn(new FileManifestLoader(new AjvSchemaValidator()).load(dir));
    env = { PATCHBAY_CONNECTORS: catalogue, TALLYBOARD_APITOKEN: standIn.secrets.resolve('env:STANDIN_APITOKEN') };
  });
  after(async () => {
    await standIn.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is listed beside the built-in connectors', () => {
    const listed = JSON.parse(runCli(['connectors', '--json'], env).stdout) as { id: string; status: string; api?: string[] }[];
    const tallyboard = listed.find((c) => c.id === 'tallyboard')!;
    assert.equal(tallyboard.status, 'ok');
    assert.deepEqual(tallyboard.api!.sort(), ['deactivateUser', 'getUser', 'listUsers']);
    assert.ok(listed.some((c) => c.id === 'okta' && c.status === 'ok'), 'the built-in catalogue is still there');
  });

  it('passes conformance against the stand-in generated from its manifest', () => {
    const result = runCli(['conformance', 'tallyboard', '--json'], env);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout) as { passed: boolean; checks: { check: string; status: string }[] };
    assert.equal(report.passed, true);
    const names = report.checks.map((c) => c.check);
    for (const expected of ['auth: a request without credentials is refused', 'paging: listUsers reads every account to the end', 'deactivateUser: done', 'deactivateUser: already done', 'deactivateUser: not found', 'getUser: not found']) {
      assert.ok(names.includes(expected), `${expected} is checked (${names.join('; ')})`);
    }
    assert.ok(report.checks.every((c) => c.status === 'pass'));
  });

  it('gets a tenant profile from init, plans over the api channel, runs against a stand-in on 127.0.0.1, and is verified', async () => {
    const profileFile = path.join(root, 'tenant.json');
    const init = runCli(['init', '--apps', 'tallyboard', '--out', profileFile], env);
    assert.equal(init.status, 0, init.stderr);
    assert.match(readFileSync(path.join(root, 'tenant.md'), 'utf8'), /`secrets\.apiToken`/);
    const profile = JSON.parse(readFileSync(profileFile, 'utf8'));
    assert.equal(profile.apps.tallyboard.secrets.apiToken, 'env:TALLYBOARD_APITOKEN');
    profile.apps.tallyboard.baseUrl = standIn.url;
    writeFileSync(profileFile, JSON.stringify(profile));

    const plan = JSON.parse(runCli(['plan', 'offboard', '--app', 'tallyboard', '--user', 'leaver@acme.com', '--profile', profileFile, '--json'], env).stdout);
    const deactivate = plan.steps.find((s: { operation: string }) => s.operation === 'deactivateUser');
    assert.equal(deactivate.chain[0].channel, 'api');
    assert.equal(deactivate.chain[0].usable, true, deactivate.chain[0].reason);

    standIn.seed(['leaver@acme.com']);
    standIn.requests.length = 0;
    const run = await runCliAsync(['--data-dir', path.join(root, 'data'), 'run', 'offboard', '--app', 'tallyboard', '--user', 'leaver@acme.com', '--profile', profileFile, '--json'], env);
    assert.equal(run.status, 0, run.stderr);
    const [started] = JSON.parse(run.stdout);
    assert.equal(started.status, 'completed');
    assert.equal(started.outcome, 'done');
    const leaver = [...standIn.accounts.values()].find((a) => a.email === 'leaver@acme.com')!;
    assert.equal(leaver.active, false, 'the stand-in deactivated the account');
    assert.ok(standIn.requests.some((r) => r.method === 'POST' && r.path === `/api/v1/users/${leaver.id}/deactivate` && r.status === 200), JSON.stringify(standIn.requests));

    // The same offboarding again is already done: the read shows an inactive account, no POST is sent.
    standIn.requests.length = 0;
    const again = await runCliAsync(['--data-dir', path.join(root, 'data2'), 'run', 'offboard', '--app', 'tallyboard', '--user', 'leaver@acme.com', '--profile', profileFile, '--json'], env);
    assert.equal(JSON.parse(again.stdout)[0].status, 'completed', again.stderr);
    assert.ok(!standIn.requests.some((r) => r.method === 'POST'), 'no second deactivation');
  });

  it('gets a docs page with its declared operations', () => {
    const out = path.join(root, 'docs');
    const result = runCli(['docs', '--out', out], env);
    assert.equal(result.status, 0, result.stderr);
    const page = readFileSync(path.join(out, 'connectors', 'tallyboard.md'), 'utf8');
    assert.match(page, /\| `deactivateUser` \| POST \| `\/users\/\{id\}\/deactivate` \|/);
    assert.match(page, /\*\*Not documented:\*\* /);
  });

  it('needed nothing in core/ or connectors/modules.ts', () => {
    assert.doesNotMatch(readFileSync(path.join(packageRoot, 'connectors', 'modules.ts'), 'utf8'), /tallyboard/i);
    const mentions = filesUnder(path.join(packageRoot, 'core')).filter((f) => existsSync(f) && readFileSync(f, 'utf8').toLowerCase().includes('tallyboard'));
    assert.deepEqual(mentions, []);
  });
});
