import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { migrateFolder, migrateManifest } from '../../core/manifest/migrate.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';
import { caught, copyOfConnectors, editJson, readJson } from '../support/fixtures.js';

const loader = new FileManifestLoader(new AjvSchemaValidator());

/** A v1 manifest as it was before schemaVersion: no version, sources without readAt, sso.idps a list of names. */
function toV1(manifest: Record<string, any>): Record<string, any> {
  const v1 = structuredClone(manifest);
  delete v1.schemaVersion;
  const strip = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(strip);
    else if (node && typeof node === 'object') {
      const record = node as Record<string, any>;
      if (Array.isArray(record.sources)) for (const s of record.sources) delete s.readAt;
      Object.values(record).forEach(strip);
    }
  };
  strip(v1);
  const idps = v1.capabilities.sso.idps;
  if (idps) {
    const any = Object.values(idps)[0] as Record<string, any>;
    v1.capabilities.sso.idps = { ...any, value: ['Okta (OIN app)', 'OneLogin', 'Azure AD / Entra ID'] };
  }
  return v1;
}

describe('manifest v1 → v2', () => {
  it('refuses a v1 manifest in one line naming the command that migrates it', () => {
    const dir = path.join(copyOfConnectors(), 'spendesk');
    editJson(path.join(dir, 'manifest.json'), (m) => Object.assign(m, toV1(m), { schemaVersion: undefined }));
    const error = caught(InvalidInputError, () => loader.load(dir));
    assert.equal(error.where.pointer, '/schemaVersion');
    assert.match(error.message, /is a version 1 manifest; this Patchbay reads version 2: run `patchbay connectors migrate .*spendesk`$/);
    assert.doesNotMatch(error.message, /\n/);
  });

  it('migrates every v1 manifest of a folder so that it loads, dating each source and splitting SSO per IdP', () => {
    const catalogue = copyOfConnectors();
    for (const id of readdirSync(catalogue).filter((n) => existsSync(path.join(catalogue, n, 'manifest.json')))) {
      editJson(path.join(catalogue, id, 'manifest.json'), (m) => {
        const v1 = toV1(m);
        for (const key of Object.keys(m)) delete m[key];
        Object.assign(m, v1);
      });
    }
    const { migrated, current } = migrateFolder(catalogue, (d) => readdirSync(d), (f) => existsSync(f));
    assert.ok(migrated.length >= 1);
    assert.deepEqual(current, []);
    for (const file of migrated) loader.load(path.dirname(file));
    const spendesk = readJson(path.join(catalogue, 'spendesk', 'manifest.json'));
    assert.equal(spendesk.schemaVersion, 2);
    assert.deepEqual(Object.keys(spendesk).slice(0, 2), ['$schema', 'schemaVersion']);
    assert.deepEqual(Object.keys(spendesk.capabilities.sso.idps), ['okta', 'onelogin', 'entra-id']);
    assert.equal(spendesk.capabilities.sso.idps.okta.value.scim, 'unknown');
    assert.equal(spendesk.capabilities.sso.jit.sources[0].readAt, spendesk.capabilities.sso.jit.checkedAt);
    // Running it again changes nothing.
    assert.deepEqual(migrateFolder(catalogue, (d) => readdirSync(d), (f) => existsSync(f)).migrated, []);
  });

  it('does not modify its input', () => {
    const v1 = { id: 'x', capabilities: { sso: { idps: { value: ['Okta'], confidence: 'unknown', checkedAt: '2026-01-01' } } } };
    const copy = structuredClone(v1);
    migrateManifest(v1);
    assert.deepEqual(v1, copy);
  });
});
