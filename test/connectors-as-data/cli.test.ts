import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectorsDir } from '../../core/paths.js';
import { editJson, runCli, scratchDir } from '../support/fixtures.js';

/** The connector author's commands, run as a user would, each in its own process. */
describe('connector author commands', function () {
  this.timeout(120_000);

  it('connectors lists a broken connector with its one-line reason, and every other command keeps working', () => {
    const catalogue = scratchDir();
    cpSync(path.join(connectorsDir, '6sense'), path.join(catalogue, 'broken-app'), { recursive: true });
    editJson(path.join(catalogue, 'broken-app', 'manifest.json'), (m) => {
      m.id = 'broken-app';
      m.operations.getUser.channels = [{ channel: 'api' }];
    });
    const env = { PATCHBAY_CONNECTORS: catalogue };
    const listed = JSON.parse(runCli(['connectors', '--json'], env).stdout) as { id: string; status: string; reason?: string }[];
    const broken = listed.find((c) => c.id === 'broken-app')!;
    assert.equal(broken.status, 'broken');
    assert.match(broken.reason!, /^connector 'broken-app': the manifest routes 'getUser' to the api channel but neither a declared call nor an API module implements it/);
    assert.ok(listed.some((c) => c.id === '6sense' && c.status === 'ok'));
    const table = runCli(['connectors'], env);
    assert.equal(table.status, 1, 'a broken connector fails the listing');
    assert.match(table.stdout, /1 broken connector refused; every other connector works\./);
    assert.equal(runCli(['plan', 'offboard', '--app', 'spendesk', '--user', 'a@acme.com'], env).status, 0);
    const refused = runCli(['plan', 'offboard', '--app', 'broken-app', '--user', 'a@acme.com'], env);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /^patchbay: connector 'broken-app': is broken and was refused: the manifest routes 'getUser'/);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
  });

  it('validate reports every problem of a manifest at once, each with file#pointer, and exits 2', () => {
    const catalogue = scratchDir();
    cpSync(path.join(connectorsDir, '6sense'), path.join(catalogue, '6sense'), { recursive: true });
    const file = path.join(catalogue, '6sense', 'manifest.json');
    editJson(file, (m) => {
      delete m.name;
      m.kind = 'robot';
      m.operations.getUser.channels[0].runbook = 'nope';
    });
    const schemaErrors = runCli(['validate', file]);
    assert.equal(schemaErrors.status, 2);
    assert.match(schemaErrors.stderr, /manifest\.json#\/name: is required/);
    assert.match(schemaErrors.stderr, /manifest\.json#\/kind: must be one of "app", "idp"/);
    assert.match(schemaErrors.stderr, /2 problems \(listed above\)/);
    editJson(file, (m) => {
      m.name = '6sense';
      m.kind = 'app';
      m.operations.createUser.channels[0].runbook = 'nada';
    });
    const references = runCli(['validate', file]);
    assert.match(references.stderr, /#\/operations\/getUser\/channels\/0\/runbook: no runbook 'nope'/);
    assert.match(references.stderr, /#\/operations\/createUser\/channels\/0\/runbook: no runbook 'nada'/);
  });

  it("validate takes the README's names for --kind", () => {
    const profile = path.join(scratchDir(), 'anything.json');
    writeFileSync(profile, JSON.stringify({ tenant: 'acme', apps: { '6sense': {} } }));
    const result = runCli(['validate', profile, '--kind', 'profile']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /is a valid tenant-profile/);
  });

  it('new connector writes a skeleton per kind that validates, and an api skeleton passes conformance', () => {
    const catalogue = scratchDir();
    const env = { PATCHBAY_CONNECTORS: catalogue };
    for (const kind of ['manual', 'api', 'scim']) {
      const made = runCli(['new', 'connector', `acme-${kind}`, '--kind', kind], env);
      assert.equal(made.status, 0, made.stderr);
      const dir = path.join(catalogue, `acme-${kind}`);
      for (const file of ['manifest.json', 'runbooks/remove-user.json', `acme-${kind}.test.mjs`]) assert.ok(existsSync(path.join(dir, file)), `${kind}: ${file}`);
      const valid = runCli(['validate', path.join(dir, 'manifest.json')], env);
      assert.equal(valid.status, 0, valid.stderr);
    }
    assert.match(readFileSync(path.join(catalogue, 'acme-api', 'acme-api.test.mjs'), 'utf8'), /'conformance', 'acme-api'/);
    const conformance = runCli(['conformance', 'acme-api', '--json'], env);
    assert.equal(conformance.status, 0, conformance.stdout);
    assert.equal(runCli(['new', 'connector', 'acme-api', '--kind', 'api'], env).status, 2, 'an existing folder is not overwritten');
  });

  it('init writes a valid profile for the named apps and a companion that explains each setting', () => {
    const out = path.join(scratchDir(), 'tenant.json');
    const result = runCli(['init', '--apps', 'spendesk,6sense', '--idp', 'okta', '--out', out]);
    assert.equal(result.status, 0, result.stderr);
    const profile = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(Object.keys(profile.apps), ['spendesk', '6sense']);
    assert.equal(profile.idp.connector, 'okta');
    assert.equal(profile.apps.spendesk.features['api-access'], false);
    const notes = readFileSync(out.replace(/\.json$/, '.md'), 'utf8');
    for (const setting of ['`features.api-access`', '`plan`: not set', '`secrets.apiClientId`', '`idp.secrets.token`']) assert.ok(notes.includes(setting), setting);
    assert.equal(runCli(['validate', out]).status, 0);
    assert.equal(runCli(['init', '--apps', 'spendesk', '--out', out]).status, 2, 'an existing profile is not overwritten without --force');
    assert.match(runCli(['init', '--apps', 'nosuchapp', '--out', `${out}.2.json`]).stderr, /unknown connector 'nosuchapp'/);
  });
});
