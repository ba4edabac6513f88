/**
 * Patchbay's own processes on the DBOS engine, for the end-to-end tests: `patchbay serve` and
 * `patchbay worker` started from the built CLI on one PostgreSQL database, the API called over
 * HTTP, and DBOS's record of who executed what read from its `dbos` schema in the same database.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { packageRoot } from '../../core/paths.js';
import { AccessStore } from '../../core/server/access.js';
import { openStore } from '../../core/store/sql.js';
import { consoleEnv } from '../support/spendesk-console.js';

const cli = path.join(packageRoot, 'dist', 'core', 'cli', 'main.js');

/** A Patchbay process started by a test, with what it printed so far. */
export interface PatchbayProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Waits until the output matches `pattern`; returns the match. */
  until(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

/** Starts `patchbay <args>` on the database with the dbos engine; stopped (SIGTERM, then SIGKILL) after the test file. */
export function patchbay(databaseUrl: string, dataDir: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): PatchbayProcess {
  const child = spawn(process.execPath, [cli, '--database', databaseUrl, '--engine', 'dbos', '--data-dir', dataDir, ...args], {
    env: { ...process.env, PATCHBAY_CONNECTORS: '', ...consoleEnv, ...env },
    cwd: packageRoot,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
    if (!stopped) child.kill('SIGKILL');
  });
  return {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    async until(pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = out.match(pattern);
        if (match) return match;
        if (child.exitCode !== null) assert.fail(`the process exited (${child.exitCode}) before printing ${pattern}:\n${out}`);
        if (Date.now() > deadline) assert.fail(`no ${pattern} after ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Starts `patchbay serve` on a free port; resolves with its address once it listens. */
export async function serve(databaseUrl: string, dataDir: string, profileFile: string): Promise<{ process: PatchbayProcess; url: string }> {
  const server = patchbay(databaseUrl, dataDir, ['serve', '--port', '0', '--profile', profileFile]);
  const [, url] = (await server.until(/Patchbay on (http:\/\/127\.0\.0\.1:\d+)/)) as unknown as [string, string];
  return { process: server, url };
}

/** Starts `patchbay worker` (a pass every `interval` s); resolves once it says where it works. */
export async function worker(databaseUrl: string, dataDir: string, interval = '1', more: readonly string[] = []): Promise<PatchbayProcess> {
  const started = patchbay(databaseUrl, dataDir, ['worker', '--interval', interval, ...more]);
  await started.until(/patchbay worker: on postgres:\/\/.* with the dbos engine/);
  return started;
}

/** `patchbay migrate --engine dbos` on the database (Patchbay's schema and DBOS's), and an admin API token made in its store. */
export async function migratedWithToken(databaseUrl: string): Promise<string> {
  const migrate = spawn(process.execPath, [cli, '--database', databaseUrl, '--engine', 'dbos', 'migrate'], { env: { ...process.env, PATCHBAY_CONNECTORS: '' } });
  let out = '';
  migrate.stdout.on('data', (d) => (out += d));
  migrate.stderr.on('data', (d) => (out += d));
  assert.equal(await new Promise((r) => migrate.once('exit', r)), 0, out);
  assert.match(out, /schema version \d+ \(applied [\d, ]+\); DBOS tables \(schema dbos\) up to date/);
  const store = await openStore({ url: databaseUrl }, { migrations: 'refuse' });
  try {
    return (await new AccessStore(store).createToken({ name: 'hr-tool', actor: 'it.oncall@acme.example', role: 'admin' })).token;
  } finally {
    await store.close();
  }
}

/** The console simulator's demo tenant pointed at `consoleUrl`, with `change` applied, written to a file in `dir`. */
export function tenantFile(dir: string, consoleUrl: string, change: (tenant: Record<string, any>) => void = () => {}): string {
  const tenant = JSON.parse(readFileSync(path.join(packageRoot, 'test', 'fixtures', 'spendesk-console', 'tenant.json'), 'utf8')) as Record<string, any>;
  delete tenant.$schema;
  tenant.apps.spendesk.consoleUrl = consoleUrl;
  change(tenant);
  const file = path.join(dir, 'tenant.json');
  writeFileSync(file, JSON.stringify(tenant, null, 2));
  return file;
}

/** Calls the API with the token; answers the status and the parsed body. */
export async function api(url: string, token: string, method = 'GET', body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() };
}

/** Polls `read` until `done` holds of its answer; returns that answer. */
export async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await read();
    if (done(last)) return last;
    if (Date.now() > deadline) assert.fail(`${what}: not so after ${timeoutMs} ms (last: ${JSON.stringify(last)?.slice(0, 400)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Completes the open task with the evidence its runbook requires, through the API. */
export async function completeTask(url: string, token: string, taskId: string): Promise<{ status: number; body: any }> {
  const task = (await api(`${url}/api/v1/tasks/${taskId}`, token)).body;
  const evidence = task.content.runbook.evidence.filter((e: { required: boolean }) => e.required).map((e: { label: string }) => ({ text: `seen: ${e.label}` }));
  return api(`${url}/api/v1/tasks/${taskId}/actions`, token, 'POST', { action: 'complete', evidence });
}

/** The DBOS executor that last executed a workflow (its executor ID: `<host>-<pid>-<random>`), or undefined. */
export async function executorOf(databaseUrl: string, workflowId: string): Promise<{ executor: string; status: string } | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ executor_id: string; status: string }>('SELECT executor_id, status FROM dbos.workflow_status WHERE workflow_uuid = $1', [workflowId]);
    return rows[0] && { executor: rows[0].executor_id, status: rows[0].status };
  } finally {
    await client.end();
  }
}

/** The executor ID prefix of a process of this machine. */
export const executorPrefix = (pid: number): string => `${os.hostname()}-${pid}-`;
