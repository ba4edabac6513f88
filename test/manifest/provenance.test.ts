import assert from 'node:assert/strict';
import path from 'node:path';
import { checkProvenance } from '../../core/manifest/provenance.js';
import { connectorsDir } from '../../core/paths.js';
import type { ConnectorManifest } from '../../core/schema/types/connector-manifest.js';
import { readJson } from '../support/fixtures.js';

const load = (id: string) => readJson<any>(path.join(connectorsDir, id, 'manifest.json')) as ConnectorManifest & Record<string, any>;

describe('provenance rules beyond the schema', () => {
  for (const id of ['spendesk', 'okta', 'scim', '6sense', 'alkami', 'amazinghiring']) {
    it(`hold for the committed ${id} manifest`, () => assert.deepEqual(checkProvenance(load(id)), []));
  }

  it('a documented fact must cite the vendor', () => {
    const manifest = load('spendesk') as any;
    manifest.capabilities.userApi.write.sources = manifest.capabilities.userApi.write.sources.filter((s: any) => s.kind !== 'vendor');
    assert.deepEqual(checkProvenance(manifest), [
      { pointer: '/capabilities/userApi/write/sources', reason: 'a documented fact must cite at least one vendor source (else it is third-party)' },
    ]);
  });

  it('each source of a disputed fact says what it claims', () => {
    const manifest = load('spendesk') as any;
    delete manifest.capabilities.sso.jit.sources[1].claims;
    assert.deepEqual(checkProvenance(manifest).map((p) => p.pointer), ['/capabilities/sso/jit/sources/1/claims']);
  });

  it('a disputed fact needs sources that disagree', () => {
    const manifest = load('spendesk') as any;
    manifest.capabilities.sso.jit.sources[1].claims = 'supported';
    assert.deepEqual(checkProvenance(manifest), [{ pointer: '/capabilities/sso/jit/sources', reason: 'a disputed fact needs sources that claim different values' }]);
  });

  it('a source contradicting an undisputed fact makes it disputed', () => {
    const manifest = load('spendesk') as any;
    manifest.capabilities.scim.available.sources[1].claims = 'supported';
    const [problem] = checkProvenance(manifest);
    assert.equal(problem?.pointer, '/capabilities/scim/available/sources/1/claims');
    assert.match(problem!.reason, /mark the fact disputed/);
  });

  it('looks inside lists of facts (lifecycle sources)', () => {
    const manifest = load('spendesk') as any;
    manifest.capabilities.lifecycleSources[0].available.sources[0].kind = 'third-party';
    assert.deepEqual(checkProvenance(manifest).map((p) => p.pointer), ['/capabilities/lifecycleSources/0/available/sources']);
  });
});
