import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../core/paths.js';

/** Reports the ES modules a command loads (NODE_DEBUG=module sees CommonJS loads only; Kysely and inversify are ES modules). */
const esmProbe = path.join(packageRoot, 'test', 'support', 'esm-probe.mjs');

/** The packages a command loaded: CommonJS loads as NODE_DEBUG=module reports them, ES modules as the probe does. */
function packagesLoadedBy(args: string[]): Set<string> {
  const run = spawnSync(process.execPath, ['--import', esmProbe, path.join(packageRoot, 'dist', 'core', 'cli', 'main.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_DEBUG: 'module', PATCHBAY_CONNECTORS: '' },
  });
  assert.equal(run.status, 0, run.stderr.slice(-2000));
  return new Set([...run.stderr.matchAll(/load "[^"]*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1]!));
}

// Start-up time is measured by npm run bench:startup; this keeps the cause of a slow start out: a command
// that needs no store, server or browser loads none of their packages.
describe('what a command loads at start', () => {
  const heavy = ['pg', 'better-sqlite3', 'kysely', 'fastify', 'playwright-core', 'exceljs', 'google-auth-library', '@dbos-inc/dbos-sdk', '@inversifyjs/core'];
  for (const args of [['--help'], ['plan', 'offboard', '--app', 'spendesk', '--user', 'a@b.com']]) {
    it(`patchbay ${args.join(' ')} loads no database driver or query builder, server, browser or spreadsheet package, nor inversify's modules`, () => {
      const loaded = packagesLoadedBy(args);
      assert.ok(loaded.has('commander'), `the probe sees packages load: ${[...loaded].join(', ')}`);
      assert.deepEqual(heavy.filter((p) => loaded.has(p)), []);
    });
  }
});

describe('inversify at start', () => {
  /** Every TypeScript file under a folder of the package, recursively. */
  const sources = (folder: string): string[] =>
    readdirSync(path.join(packageRoot, folder), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => path.join(folder, f));

  it('is imported as #inversify, the one-file bundle the build writes, never as its 245 modules', () => {
    assert.ok(existsSync(path.join(packageRoot, 'dist', 'vendor', 'inversify.js')), 'npm run build writes dist/vendor/inversify.js');
    const direct = [...sources('core'), ...sources('connectors')].filter((file) => /from 'inversify'/.test(readFileSync(path.join(packageRoot, file), 'utf8')));
    assert.deepEqual(direct, [], "these files import 'inversify' instead of '#inversify'");
  });
});
