import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const startScript = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/postgres/start.sh');
let server: string | undefined;

/**
 * The address of a PostgreSQL server for tests: PATCHBAY_TEST_DATABASE_URL, else a throwaway
 * cluster started on 127.0.0.1 by test/fixtures/postgres/start.sh (installed from Debian if need be).
 */
export function postgresServer(): string {
  server ??= process.env.PATCHBAY_TEST_DATABASE_URL || execFileSync('bash', [startScript], { encoding: 'utf8' }).trim();
  return server;
}

/**
 * A new, empty database on the test server (one per test that wants one); returns its address. Its name is
 * appended to the file PATCHBAY_TEST_DATABASES names (set by test/support/run-passes.mjs), which drops them
 * all when the test command ends: a developer's cluster kept between runs does not grow a database per test.
 */
export async function freshDatabase(): Promise<string> {
  const admin = postgresServer();
  const name = `patchbay_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
    if (process.env.PATCHBAY_TEST_DATABASES) appendFileSync(process.env.PATCHBAY_TEST_DATABASES, `${name}\n`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Whether this test pass runs the store on PostgreSQL (PATCHBAY_TEST_STORE=postgres), as CI's second pass does. */
export const onPostgres = (): boolean => process.env.PATCHBAY_TEST_STORE === 'postgres';
