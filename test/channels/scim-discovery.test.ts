import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson, runCli, runCliAsync, scratchDir } from '../support/fixtures.js';
import { ScimServer } from '../support/scim-server.js';

describe('SCIM discovery in the effective matrix', () => {
  it('matrix --discover states what the server says it supports, sourced to its /ServiceProviderConfig', async () => {
    const server = new ScimServer({ patch: false, maxResults: 75 });
    const url = await server.listen();
    after(() => server.close());
    const profile = readJson(defaultProfileFile);
    delete profile.$schema;
    profile.apps.scim = { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' } };
    const file = path.join(scratchDir(), 'tenant.json');
    writeFileSync(file, JSON.stringify(profile));
    const cli = await runCliAsync(['matrix', '--profile', file, '--discover', '--json'], { SCIM_TOKEN: 'scim-token' });
    assert.equal(cli.status, 0, cli.stderr);
    const { discovered } = JSON.parse(cli.stdout);
    assert.equal(discovered.length, 1);
    assert.equal(discovered[0].app, 'scim');
    assert.deepEqual(
      Object.fromEntries(Object.entries(discovered[0].facts as Record<string, { value: unknown; confidence: string }>).map(([k, f]) => [k, [f.value, f.confidence]])),
      { patch: ['notSupported', 'documented'], filter: ['supported', 'documented'], bulk: ['notSupported', 'documented'], maxResults: [75, 'documented'] },
    );
    assert.equal(discovered[0].facts.patch.sources[0].url, `${url}/ServiceProviderConfig`);
  });

  it('a server without /ServiceProviderConfig leaves its features unknown, saying why, instead of "not supported"', async () => {
    const server = new ScimServer({ quirks: { noServiceProviderConfig: true } });
    const url = await server.listen();
    after(() => server.close());
    const profile = readJson(defaultProfileFile);
    delete profile.$schema;
    profile.apps.scim = { baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' } };
    const file = path.join(scratchDir(), 'tenant.json');
    writeFileSync(file, JSON.stringify(profile));
    const cli = await runCliAsync(['matrix', '--profile', file, '--discover', '--json'], { SCIM_TOKEN: 'scim-token' });
    assert.equal(cli.status, 0, cli.stderr);
    const facts = JSON.parse(cli.stdout).discovered[0].facts as Record<string, { value: unknown; confidence: string }>;
    assert.deepEqual(Object.fromEntries(Object.entries(facts).map(([k, f]) => [k, [f.value, f.confidence]])), { patch: ['unknown', 'unknown'], filter: ['unknown', 'unknown'], bulk: ['unknown', 'unknown'], maxResults: ['unknown', 'unknown'] });
  });

  it('--discover without a profile is refused', () => {
    const result = runCli(['matrix', '--discover']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--discover needs --profile/);
  });
});
