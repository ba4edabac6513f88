// The test command: the whole suite on the embedded SQLite store, then the tests that use the store
// through a harness (engine, server, bridge, store, intake, reconcile, the browser runs) again on
// PostgreSQL (.mocharc.postgres.json; test/support/postgres.ts starts a throwaway server when
// PATCHBAY_TEST_DATABASE_URL names none), with the chaos test of real processes at scale (test/scale) that
// runs there only; the graceful-stop test (test/scale/shutdown) runs in both. One closing line over both passes: "N passed, N failed",
// from the reporters' real counts; a pass that ends before reporting counts as a failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const only = process.env.PATCHBAY_TEST_PASSES?.split(',');
const passes = [
  { name: 'sqlite', args: [], env: {} },
  { name: 'postgres', args: ['--config', '.mocharc.postgres.json'], env: { PATCHBAY_TEST_STORE: 'postgres' } },
].filter((p) => !only || only.includes(p.name));

const folder = mkdtempSync(path.join(os.tmpdir(), 'patchbay-test-'));
const databases = path.join(folder, 'databases.txt');
const total = { passes: 0, failures: 0, pending: 0 };
for (const pass of passes) {
  const totals = path.join(folder, `${pass.name}.json`);
  const run = spawnSync(process.execPath, [mocha, ...pass.args, ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
    // The suite tests the package's own catalogue: a developer's exported PATCHBAY_CONNECTORS would add folders to it.
    env: { ...process.env, PATCHBAY_CONNECTORS: '', ...pass.env, PATCHBAY_TEST_PASS: pass.name, PATCHBAY_TEST_TOTALS: totals, PATCHBAY_TEST_DATABASES: databases },
  });
  let counted;
  try {
    counted = JSON.parse(readFileSync(totals, 'utf8'));
  } catch {
    process.stdout.write(`\nthe ${pass.name} pass ended before mocha reported (exit ${run.status ?? run.signal})\n`);
    counted = { passes: 0, failures: 1, pending: 0 };
  }
  for (const key of Object.keys(total)) total[key] += counted[key];
}
await dropTestDatabases();
rmSync(folder, { recursive: true, force: true });
process.stdout.write(`\n${total.passes} passed, ${total.failures} failed${total.pending ? `, ${total.pending} skipped` : ''}\n`);
process.exitCode = total.failures > 0 ? 1 : 0;

/**
 * Drops the databases this test command's tests made (test/support/postgres.ts lists them in `databases`),
 * so a cluster kept between runs does not grow by one per test. A failure here is reported, never fatal.
 */
async function dropTestDatabases() {
  if (!existsSync(databases)) return;
  const names = [...new Set(readFileSync(databases, 'utf8').split('\n').filter((n) => /^patchbay_test_[0-9a-f]+$/.test(n)))];
  if (names.length === 0) return;
  const { default: pg } = await import('pg');
  const server =
    process.env.PATCHBAY_TEST_DATABASE_URL ||
    execFileSync('bash', [path.join(root, 'test/fixtures/postgres/start.sh')], { encoding: 'utf8' }).trim();
  const client = new pg.Client({ connectionString: server });
  try {
    await client.connect();
    for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } catch (error) {
    process.stdout.write(`could not drop the test databases on ${new URL(server).host}: ${error.message}\n`);
  } finally {
    await client.end().catch(() => {});
  }
}
