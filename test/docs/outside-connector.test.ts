import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeTallyboard } from '../connectors-as-data/tallyboard.js';
import { editJson, runCli, scratchDir } from '../support/fixtures.js';

/** The page of a connector from a PATCHBAY_CONNECTORS folder: its real source, and every part of its declared requests. */
describe('the docs page of a connector outside the repository', function () {
  this.timeout(60_000);

  it('names its manifest file and `patchbay docs`, and shows headers, body template and the tenant settings it needs', () => {
    const catalogue = path.join(scratchDir(), 'catalogue');
    const dir = writeTallyboard(catalogue);
    editJson(path.join(dir, 'manifest.json'), (m) => {
      const call = m.operations.deactivateUser.channels[0].call;
      call.headers = { 'Account-Id': '{accountId}' };
      call.params.accountId = { from: 'settings', pointer: '/settings/accountId' };
      call.body = { reason: 'offboarding' };
    });
    const out = path.join(scratchDir(), 'docs');
    const result = runCli(['docs', '--out', out], { PATCHBAY_CONNECTORS: catalogue });
    assert.equal(result.status, 0, result.stderr);
    const page = readFileSync(path.join(out, 'connectors', 'tallyboard.md'), 'utf8');
    assert.equal(page.split('\n')[0], `<!-- Generated from ${path.join(dir, 'manifest.json')} by \`patchbay docs\`. Do not edit: change the source and regenerate. -->`);
    assert.doesNotMatch(page, /connectors\/tallyboard\/manifest\.json|npm run docs/);
    assert.match(page, /^\| `deactivateUser` \| — \| Account-Id: \{accountId\} \| `\{"reason":"offboarding"\}` \| \{id\} ← account \/id, \{accountId\} ← settings \/settings\/accountId \| `getUser` \|$/m);
    assert.match(page, /\*\*Tenant settings\*\* the declared calls need, in the profile's `apps\.tallyboard` entry: `baseUrl` \(the API address\); `settings\.accountId` \(\{accountId\} for `deactivateUser`\)\./);
    // The repository's own pages keep their repository path.
    assert.match(readFileSync(path.join(out, 'connectors', 'okta.md'), 'utf8').split('\n')[0]!, /^<!-- Generated from connectors\/okta\/manifest\.json by `npm run docs`/);
  });
});
