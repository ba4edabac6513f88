import assert from 'node:assert/strict';
import path from 'node:path';
import { declarativeApi } from '../../core/channels/api/declarative.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';
import { writeTallyboard } from '../connectors-as-data/tallyboard.js';
import { editJson, runCli, scratchDir } from '../support/fixtures.js';

/**
 * Tallyboard declared as Harvest is: every call names the account in a header bound from the tenant's
 * settings ({accountId} from /settings/accountId). A profile without it is said at plan time.
 */
function accountHeaderApp() {
  const root = scratchDir();
  const catalogue = path.join(root, 'catalogue');
  const dir = writeTallyboard(catalogue);
  editJson(path.join(dir, 'manifest.json'), (m) => {
    for (const op of ['listUsers', 'getUser', 'deactivateUser']) {
      const call = m.operations[op].channels[0].call;
      call.headers = { 'Account-Id': '{accountId}' };
      call.params = { ...call.params, accountId: { from: 'settings', pointer: '/settings/accountId' } };
    }
  });
  return { root, catalogue, dir };
}

describe('tenant settings a declared call needs', function () {
  this.timeout(60_000);

  it('plan names the profile file, the pointer and the manifest file, and routes those steps past api', () => {
    const { root, catalogue, dir } = accountHeaderApp();
    const env = { PATCHBAY_CONNECTORS: catalogue, TALLYBOARD_APITOKEN: 't' };
    const profile = path.join(root, 'tenant.json');
    assert.equal(runCli(['init', '--apps', 'tallyboard', '--out', profile], env).status, 0);
    editJson(profile, (p) => (p.apps.tallyboard.baseUrl = 'http://127.0.0.1:9'));
    const result = runCli(['plan', 'offboard', '--app', 'tallyboard', '--user', 'a@acme.com', '--profile', profile, '--json'], env);
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.equal(lines[0], `${profile}#/apps/tallyboard/settings/accountId: not set; ${path.join(dir, 'manifest.json')} needs it for getUser, deactivateUser ({accountId}), so those steps go past api`);
    const deactivate = JSON.parse(result.stdout).steps.find((s: { operation: string }) => s.operation === 'deactivateUser');
    assert.deepEqual(deactivate.channels, ['human']);
    assert.match(deactivate.chain[0].reason, /^the tenant profile has nothing at \/apps\/tallyboard\/settings\/accountId \(\{accountId\}\), which the manifest's deactivateUser call needs$/);

    const validated = runCli(['validate', profile, '--kind', 'profile'], env);
    assert.equal(validated.status, 0, validated.stderr);
    assert.equal(validated.stderr, `${profile}#/apps/tallyboard/settings/accountId: not set; ${path.join(dir, 'manifest.json')} needs it for listUsers, getUser, deactivateUser ({accountId}), so those steps go past api\n`);

    editJson(profile, (p) => (p.apps.tallyboard.settings = { accountId: '1234567' }));
    const fixed = runCli(['plan', 'offboard', '--app', 'tallyboard', '--user', 'a@acme.com', '--profile', profile, '--json'], env);
    assert.equal(fixed.stderr, '');
    assert.equal(JSON.parse(fixed.stdout).steps.find((s: { operation: string }) => s.operation === 'deactivateUser').channels[0], 'api');
  });

  it('at run time names the place in the profile once (no doubled settings/settings)', async () => {
    const { dir } = accountHeaderApp();
    const api = declarativeApi(new FileManifestLoader(new AjvSchemaValidator()).load(dir))!;
    await assert.rejects(
      api.operations.getUser!({ subject: { email: 'a@acme.com' }, settings: { baseUrl: 'http://127.0.0.1:9', secrets: { apiToken: 'env:X' } }, secrets: { resolve: () => 'x' } as never, idempotencyKey: 'k' }),
      (error: Error) => error.message === "tallyboard: getUser.params.accountId: nothing in the tenant profile's apps.tallyboard entry (/apps/tallyboard/settings/accountId) to bind {accountId} to",
    );
  });
});
