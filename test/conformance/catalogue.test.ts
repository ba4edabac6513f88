import assert from 'node:assert/strict';
import { runConformance } from '../../core/conformance/kit.js';
import { FileManifestLoader, type LoadedConnector } from '../../core/manifest/loader.js';
import { connectorFolders } from '../../core/paths.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';

/**
 * Every connector of the built-in catalogue that declares API calls passes the conformance kit
 * against the stand-in generated from its manifest. The catalogue is read with the project's
 * loader when the file loads, so a connector added as data is checked here without editing this file.
 */
const catalogue = new FileManifestLoader(new AjvSchemaValidator()).loadCatalogue(connectorFolders({}));
const declaresCalls = (c: LoadedConnector) => Object.values(c.manifest.operations).some((op) => op.channels.some((r) => r.channel === 'api' && r.call));
const declared = catalogue.connectors.filter(declaresCalls);

describe('conformance: every catalogue connector with declared API calls', function () {
  this.timeout(60_000);

  it('the built-in catalogue loads whole, and some of it is declared as data', () => {
    assert.deepEqual(catalogue.broken.map((b) => `${b.id}: ${b.reason}`), [], 'connectors refused by the loader');
    assert.ok(declared.length > 0, 'no connector in the catalogue declares an API call');
  });

  for (const connector of declared) {
    it(`${connector.manifest.id}: every check passes against its generated stand-in`, async () => {
      const checks = await runConformance(connector);
      assert.deepEqual(checks.filter((c) => c.status === 'fail').map((c) => `${c.check}: ${c.detail}`), []);
      const names = checks.map((c) => c.check);
      const operations = Object.keys(connector.manifest.operations).filter((op) => connector.manifest.operations[op]!.channels.some((r) => r.channel === 'api' && r.call));
      // The kit chose its checks from the declaration: paging for a list, the three paths for each write.
      if (operations.includes('listUsers')) assert.ok(names.some((n) => n.startsWith('paging:')), 'no paging check');
      for (const op of operations.filter((o) => ['deactivateUser', 'deleteUser'].includes(o))) {
        assert.deepEqual(['done', 'already done', 'not found'].map((path) => names.includes(`${op}: ${path}`)), [true, true, true], `${op} lacks a check`);
      }
      assert.ok(checks.some((c) => c.check.startsWith('rate limits') && c.status === 'pass'), 'the 429 check did not run');
    });
  }
});
