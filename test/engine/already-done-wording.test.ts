import assert from 'node:assert/strict';
import path from 'node:path';
import { startStandIn } from '../../core/conformance/stand-in.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';
import { writeTallyboard } from '../connectors-as-data/tallyboard.js';
import { editJson, runCli, runCliAsync, scratchDir } from '../support/fixtures.js';

/** What an offboarding says when its check read the account: it found it inactive, not gone. */
describe('an offboarding whose check finds the account archived', function () {
  this.timeout(120_000);

  it('says the check found the account inactive, and the check step lists only the channels its reason names', async () => {
    const root = scratchDir();
    const dir = writeTallyboard(path.join(root, 'catalogue'));
    const standIn = await startStandIn(new FileManifestLoader(new AjvSchemaValidator()).load(dir));
    try {
      const env = { PATCHBAY_CONNECTORS: path.join(root, 'catalogue'), TALLYBOARD_APITOKEN: standIn.secrets.resolve('env:STANDIN_APITOKEN') };
      const profile = path.join(root, 'tenant.json');
      assert.equal(runCli(['init', '--apps', 'tallyboard', '--out', profile], env).status, 0);
      editJson(profile, (p) => (p.apps.tallyboard.baseUrl = standIn.url));

      const plan = JSON.parse(runCli(['plan', 'offboard', '--app', 'tallyboard', '--user', 'gone@acme.com', '--profile', profile, '--json'], env).stdout);
      const check = plan.steps.find((s: { role: string }) => s.role === 'check');
      assert.deepEqual(check.channels, ['api']);
      assert.doesNotMatch(check.reason, /human if that fails/);
      assert.match(check.reason, /human skipped: the check reads by machine only/);

      standIn.seed(['gone@acme.com'], false);
      const run = await runCliAsync(['--data-dir', path.join(root, 'data'), 'run', 'offboard', '--app', 'tallyboard', '--user', 'gone@acme.com', '--profile', profile, '--json'], env);
      const [started] = JSON.parse(run.stdout);
      const status = JSON.parse(runCli(['--data-dir', path.join(root, 'data'), 'run', 'status', started.id, '--json'], env).stdout);
      const deactivate = status.steps.find((s: { plan: { operation: string } }) => s.plan.operation === 'deactivateUser');
      assert.match(deactivate.detail, /^already done \(the check found the account \(id [^)]+\) inactive\): the account was already inactive when checked$/);
      assert.doesNotMatch(JSON.stringify(status), /the check found no account/);
    } finally {
      await standIn.close();
    }
  });
});
