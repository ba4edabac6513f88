import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { copyOfConnectors, editJson, readJson, runCli, scratchDir } from '../support/fixtures.js';

/** A failed command prints exactly one line on stderr, no stack trace, and exits 2. */
function assertBadInput(result: ReturnType<typeof runCli>, pattern: RegExp): void {
  assert.equal(result.status, 2, `exit code; stderr: ${result.stderr}`);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
  assert.equal(result.stdout, '');
}

describe('patchbay CLI', function () {
  this.timeout(60_000);

  describe('plan', () => {
    it('prints the Spendesk offboarding with a reason for every step', () => {
      const { status, stdout } = runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com']);
      assert.equal(status, 0);
      assert.match(stdout, /^Plan: offboard alice@acme.com — Spendesk \(tenant acme\)/);
      for (const title of ['Remove the app assignment in Okta: Spendesk', 'Check whether the account still exists in Spendesk', 'Transfer owner roles', 'Reassign pending approvals', 'Transfer or cancel subscriptions', 'Remove the member', 'Verify: read the member']) {
        assert.match(stdout, new RegExp(`\\d\\. ${title}`));
      }
      assert.match(stdout, /channels: browser → human/);
      assert.equal((stdout.match(/ {3}why: /g) ?? []).length, 7);
    });

    it('prints JSON with app, operation, channels and reason on every step', () => {
      const { status, stdout } = runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com', '--json']);
      assert.equal(status, 0);
      const plan = JSON.parse(stdout);
      assert.equal(plan.steps.length, 7);
      for (const step of plan.steps) {
        assert.equal(typeof step.app, 'string');
        assert.equal(typeof step.operation, 'string');
        assert.ok(Array.isArray(step.channels) && step.channels.length > 0);
        assert.ok(step.reason.length > 20);
      }
    });

    it('follows a profile file', () => {
      const profile = path.join(scratchDir(), 'hr.json');
      const data = readJson(defaultProfileFile);
      data.apps.spendesk.features['hr-sync'] = true;
      data.$schema = undefined;
      writeFileSync(profile, JSON.stringify(data));
      const plan = JSON.parse(runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'alice@acme.com', '--profile', profile, '--json']).stdout);
      assert.equal(plan.steps.find((s: any) => s.operation === 'deactivateUser').role, 'handover');
    });

    it('refuses a malformed email with the pointer', () => {
      assertBadInput(runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'alice.acme.com']), /^patchbay: command line#\/subject\/email: must be a valid email$/);
    });

    it('refuses an unknown playbook', () => {
      assertBadInput(runCli(['plan', 'fire', '--app', 'spendesk', '--user', 'alice@acme.com']), /^patchbay: command line#\/playbook: must be one of "onboard", "change", "offboard"$/);
    });

    it('refuses an unknown app, naming the known ones', () => {
      assertBadInput(runCli(['plan', 'offboard', '--app', 'no-such-app', '--user', 'alice@acme.com']), /^patchbay: unknown connector 'no-such-app' \(known: 6sense, alkami/);
    });

    it('refuses a profile that does not parse, naming line and column', () => {
      const profile = path.join(scratchDir(), 'tenant.json');
      writeFileSync(profile, '{\n  "tenant": "acme",\n  "apps": {\n}');
      assertBadInput(runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'a@acme.com', '--profile', profile]), /tenant\.json: invalid JSON at line 4, column 2/);
    });

    it('refuses a missing profile file', () => {
      assertBadInput(runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'a@acme.com', '--profile', 'nope.json']), /^patchbay: nope\.json: no such file$/);
    });

    it('refuses a missing flag', () => {
      const result = runCli(['plan', 'offboard', '--app', 'spendesk']);
      assert.equal(result.status, 2);
      assert.match(result.stderr, /required option '--user <email>' not specified/);
    });
  });

  describe('validate', () => {
    it('accepts a connector manifest with its runbooks and recipes', () => {
      const { status, stdout } = runCli(['validate', 'connectors/spendesk/manifest.json']);
      assert.equal(status, 0);
      assert.equal(stdout, 'ok: connectors/spendesk/manifest.json is a valid connector-manifest (8 operations, 9 runbooks, 9 recipes)\n');
    });

    it('tells a runbook and a recipe by their folder', () => {
      assert.match(runCli(['validate', 'connectors/spendesk/runbooks/remove-member.json']).stdout, /valid runbook/);
      assert.match(runCli(['validate', 'connectors/spendesk/recipes/remove-member.json']).stdout, /valid browser-recipe/);
    });

    it('refuses a broken manifest with the file and pointer', () => {
      const dir = path.join(copyOfConnectors(), 'spendesk');
      editJson(path.join(dir, 'manifest.json'), (m) => (m.capabilities.sso.jit.confidence = 'sure'));
      assertBadInput(runCli(['validate', path.join(dir, 'manifest.json')]), /spendesk\/manifest\.json#\/capabilities\/sso\/jit\/confidence: must be one of/);
    });

    it('refuses a profile whose feature the plan does not have', () => {
      const file = path.join(scratchDir(), 'tenant-profile.json');
      const data = readJson(defaultProfileFile);
      delete data.$schema;
      data.apps.spendesk.plan = 'scale';
      data.apps.spendesk.features['api-access'] = true;
      writeFileSync(file, JSON.stringify(data));
      assertBadInput(runCli(['validate', file]), /tenant-profile\.json#\/apps\/spendesk\/features\/api-access: "Public API access granted" is only available on Premium or Enterprise/);
    });

    it('asks what a file is when it cannot tell', () => {
      const file = path.join(scratchDir(), 'thing.json');
      writeFileSync(file, '{}');
      assertBadInput(runCli(['validate', file]), /cannot tell what this file is: add "\$schema" or pass --kind/);
      // With one problem left, one line (a file with several lists them all: test/cli/connectors-cli.test.ts).
      writeFileSync(file, JSON.stringify({ app: 'spendesk', subject: { email: 'a@acme.com' } }));
      assertBadInput(runCli(['validate', file, '--kind', 'lifecycle-request']), /thing\.json#\/playbook: is required/);
    });
  });

  describe('matrix and connectors', () => {
    it('prints the matrix as JSON with provenance on every fact', () => {
      const rows = JSON.parse(runCli(['matrix', '--json']).stdout);
      const spendesk = rows.find((r: any) => r.id === 'spendesk');
      assert.equal(spendesk.facts.jit.confidence, 'disputed');
      assert.ok(spendesk.facts.jit.sources.length >= 2);
      assert.equal(spendesk.facts.userApiWrite.value, 'notSupported');
    });

    it('narrows the matrix to a tenant with --profile', () => {
      const rows = JSON.parse(runCli(['matrix', '--json', '--profile', defaultProfileFile]).stdout);
      assert.deepEqual(rows.map((r: any) => r.id), ['6sense', 'alkami', 'amazinghiring', 'okta', 'spendesk']);
      const read = rows.find((r: any) => r.id === 'spendesk').facts.userApiRead;
      assert.deepEqual(read.effective, { value: 'notSupported', applies: false, reason: 'needs "Public API access granted" switched on' });
    });

    it('lists the connectors and which have code', () => {
      const rows = JSON.parse(runCli(['connectors', '--json']).stdout);
      assert.deepEqual(rows.find((r: any) => r.id === 'spendesk').api, ['getUser', 'listUsers']);
      const table = runCli(['connectors']).stdout;
      // Fits 100 columns: long text wraps inside its cell, and every connector id is shown whole.
      assert.ok(Math.max(...table.split('\n').map((l) => l.length)) <= 100, table);
      assert.match(table, /│ spendesk\s+│ Spendesk\s+│ app\s+│ Manual\s/);
      for (const r of rows) assert.match(table, new RegExp(`│ ${r.id}\\s`), `${r.id} shown whole`);
    });
  });

  describe('docs', () => {
    it('--check passes on the committed docs', () => {
      const result = runCli(['docs', '--check']);
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /docs are up to date/);
    });

    it('writes nothing when a connector is broken', () => {
      const connectors = copyOfConnectors();
      editJson(path.join(connectors, 'okta', 'manifest.json'), (m) => delete m.capabilities);
      const out = scratchDir();
      assertBadInput(runCli(['docs', '--out', out], { PATCHBAY_CONNECTORS: connectors }), /okta\/manifest\.json#\/capabilities: is required/);
      assert.deepEqual(readdirSync(out), []);
    });

    it('lists a manifest that routes to api with neither a declared call nor a module as broken, and refuses docs', () => {
      const connectors = copyOfConnectors();
      editJson(path.join(connectors, 'alkami', 'manifest.json'), (m) => m.operations.deactivateUser.channels.unshift({ channel: 'api' }));
      const listed = runCli(['connectors', '--json'], { PATCHBAY_CONNECTORS: connectors });
      assert.equal(listed.status, 1, 'a broken connector fails the listing');
      assert.match(JSON.parse(listed.stdout).find((c: any) => c.id === 'alkami').reason, /^connector 'alkami': the manifest routes 'deactivateUser' to the api channel but neither a declared call nor an API module implements it/);
      assertBadInput(runCli(['docs', '--out', scratchDir()], { PATCHBAY_CONNECTORS: connectors }), /^patchbay: docs not written: connector 'alkami'/);
    });
  });

  it('prints help without loading connectors', () => {
    const result = runCli(['--help'], { PATCHBAY_CONNECTORS: '/nonexistent' });
    assert.equal(result.status, 0);
    assert.match(result.stdout, /Usage: patchbay/);
  });
});
