import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { createServices } from '../../core/container.js';
import type { Logger } from '../../core/logging/logger.js';
import { createLogger, prettyLine } from '../../core/logging/pino-logger.js';
import { packageRoot } from '../../core/paths.js';
import { runCli, runCliAsync, scratchDir } from '../support/fixtures.js';
import { freshDatabase, onPostgres } from '../support/postgres.js';

const cli = path.join(packageRoot, 'dist', 'core', 'cli', 'main.js');

/** A port nobody listens on (taken, then given back). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every line of a process's stderr, parsed: a line that is not JSON fails the test, naming it. */
function jsonLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new assert.AssertionError({ message: `a log line is not JSON: ${line}` });
      }
    });
}

/** A `patchbay serve` process whose stderr (not a terminal: JSON lines) is kept. */
class ServeProcess {
  stderr = '';
  private constructor(readonly child: ChildProcessWithoutNullStreams, readonly url: string) {}

  static async start(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [cli, ...args, 'serve', '--port', String(port)], { cwd: packageRoot, env: { ...process.env, PATCHBAY_CONNECTORS: '', ...env } });
    const server = new ServeProcess(child, `http://127.0.0.1:${port}`);
    child.stderr.on('data', (chunk: Buffer) => (server.stderr += chunk.toString('utf8')));
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null) throw new Error(`serve ended while starting: ${server.stderr}`);
      if (await fetch(`${server.url}/readyz`).then((r) => r.ok, () => false)) return server;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    throw new Error(`serve was not ready within 30 s: ${server.stderr}`);
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGTERM');
    return exited;
  }
}

describe('structured logs (patchbay serve and worker)', function () {
  this.timeout(90_000);

  it('a real server logs JSON lines with their context, and never the token, the session cookie or the database password', async () => {
    const dataDir = scratchDir('patchbay-logs-');
    const password = `pw-${randomBytes(8).toString('hex')}`;
    // On PostgreSQL (CI's second pass) the store's address carries a password (the test cluster trusts 127.0.0.1, so any password is taken).
    let database: string[] = [];
    if (onPostgres()) {
      const url = new URL(await freshDatabase());
      url.username = 'postgres';
      url.password = password;
      database = ['--database', url.toString()];
      assert.equal(runCli([...database, 'migrate']).status, 0);
    }
    const base = ['--data-dir', dataDir, ...database];
    const created = runCli([...base, 'token', 'create', '--name', 'hr-tool', '--as', 'it.lead@acme.example', '--role', 'admin', '--json']);
    assert.equal(created.status, 0, created.stderr);
    const token = (JSON.parse(created.stdout) as { token: string }).token;
    const cookie = `session-${randomBytes(12).toString('hex')}`;
    const server = await ServeProcess.start(base, {});
    let code: number | null;
    try {
      const auth = { authorization: `Bearer ${token}` };
      const started = await fetch(`${server.url}/api/v1/runs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', cookie: `pb_session=${cookie}` }, body: JSON.stringify({ playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } }) });
      assert.equal(started.status, 201, await started.clone().text());
      const runId = ((await started.json()) as { id: string }).id;
      // A token in a query string (a client that puts it there) and a session cookie on a page.
      assert.equal((await fetch(`${server.url}/api/v1/runs?access_token=${token}`, { headers: auth })).status, 400);
      await fetch(`${server.url}/inbox`, { headers: { cookie: `pb_session=${cookie}` }, redirect: 'manual' });
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      // The server's loop drives the run (every request asks it to catch up): wait for its first engine line.
      for (let i = 0; i < 200 && !/"msg":"run started"/.test(server.stderr); i++) await new Promise((r) => setTimeout(r, 100));
      code = await server.stop();
      const lines = jsonLines(server.stderr);
      for (const line of lines) {
        assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `ISO time: ${JSON.stringify(line)}`);
        assert.ok(['debug', 'info', 'warn', 'error', 'fatal'].includes(String(line.level)), `level by name: ${JSON.stringify(line)}`);
        assert.equal(line.role, 'server');
        assert.equal(line.pid, server.child.pid);
        assert.equal(typeof line.msg, 'string');
        // The server's own lines name the tenant it serves; the engine's (run started…) name the run.
        if (line.msg === 'request' || String(line.msg).startsWith('patchbay serve')) assert.equal(line.tenant, 'acme');
      }
      const ready = lines.find((l) => String(l.msg).startsWith('patchbay serve: ready'));
      assert.ok(ready, `a ready line: ${server.stderr}`);
      assert.equal(ready.address, server.url);
      assert.equal(ready.engine, 'embedded');
      assert.equal(ready.databaseKind, onPostgres() ? 'postgres' : 'sqlite');
      if (onPostgres()) assert.match(String(ready.database), /^postgres:\/\/postgres:\*\*\*@/);
      const requests = lines.filter((l) => l.msg === 'request');
      const post = requests.find((l) => l.method === 'POST' && l.route === '/api/v1/runs');
      assert.ok(post, `the POST is logged: ${server.stderr}`);
      assert.equal(post.path, '/api/v1/runs');
      assert.equal(typeof post.status, 'number');
      assert.ok(typeof post.durationMs === 'number' && post.durationMs >= 0);
      assert.match(String(post.reqId), /^req-/);
      const queried = requests.find((l) => l.method === 'GET' && l.route === '/api/v1/runs');
      assert.deepEqual([queried?.path, queried?.status], ['/api/v1/runs', 400], 'the path without its query string');
      assert.ok(requests.some((l) => l.route === '/inbox' && l.status === 302));
      assert.ok(!requests.some((l) => l.route === '/healthz'), 'health probes are said at debug, below the default level');
      const run = lines.find((l) => l.msg === 'run started');
      assert.ok(run, `the engine's events are logged: ${server.stderr}`);
      assert.equal(run.runId, runId);
      assert.equal(run.app, 'spendesk');
      assert.ok(lines.some((l) => String(l.msg).startsWith('patchbay serve: stopping') && l.signal === 'SIGTERM'));
      assert.ok(lines.some((l) => l.msg === 'patchbay serve: stopped' && typeof l.durationMs === 'number'));
      // No secret, anywhere: not the token (nor its secret part), the cookie's value, the password, nor the person run for.
      for (const secret of [token, token.slice(-16), cookie, password, 'alice@acme.com']) assert.ok(!server.stderr.includes(secret), `${secret.slice(0, 6)}… is in the log`);
      assert.doesNotMatch(server.stderr, /authorization|cookie/i, 'no header is logged at all');
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
    assert.equal(code, 0, server.stderr);
  });

  it("a server that cannot reach its database says where it is without the address's password", async () => {
    const port = await freePort();
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const result = await runCliAsync(['--data-dir', scratchDir('patchbay-logs-'), '--database', `postgres://patchbay:${password}@127.0.0.1:${port}/patchbay?sslmode=disable&password=${password}`, 'serve', '--port', String(await freePort())]);
    assert.equal(result.status, 2, result.stderr);
    assert.ok(!result.stderr.includes(password), result.stderr);
    const [starting] = jsonLines(result.stderr.split('\n')[0]!);
    assert.equal(starting!.msg, 'patchbay serve: starting');
    assert.equal(starting!.databaseKind, 'postgres');
    assert.equal(starting!.database, `postgres://patchbay:***@127.0.0.1:${port}/patchbay`);
    // The fatal line stays the CLI's one line, after the log's.
    assert.match(result.stderr.trim().split('\n').at(-1)!, /^patchbay: .*cannot connect/);
  });

  it('--log-format pretty writes short lines for a person; a level or format that does not exist is refused in one line, exit 2', async () => {
    const data = ['--data-dir', path.join(scratchDir('patchbay-logs-'), 'data')];
    const pretty = await runCliAsync([...data, '--log-format', 'pretty', 'worker', '--once', '--concurrency', '2']);
    assert.equal(pretty.status, 0, pretty.stderr);
    assert.match(pretty.stderr, /^\d\d:\d\d:\d\d\.\d{3} INFO  patchbay worker: on .*, one pass; .*engine=embedded databaseKind=sqlite/m);
    assert.match(pretty.stderr, /^\d\d:\d\d:\d\d\.\d{3} INFO  patchbay worker: up to 2 browser jobs at a time, each in its own context \(--concurrency\)  concurrency=2$/m);
    const quiet = await runCliAsync([...data, 'worker', '--once'], { PATCHBAY_LOG_LEVEL: 'warn' });
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.equal(quiet.stderr, '', 'nothing below warn');
    for (const [args, env, says] of [
      [['--log-level', 'loud'], {}, /^patchbay: --log-level: must be one of fatal, error, warn, info, debug, trace, silent \(got loud\)\n$/],
      [[], { PATCHBAY_LOG_FORMAT: 'xml' }, /^patchbay: PATCHBAY_LOG_FORMAT: must be json or pretty \(got xml\)\n$/],
    ] as const) {
      const refused = await runCliAsync([...data, ...args, 'worker', '--once'], env);
      assert.equal(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, says);
    }
  });

  it("a real worker logs the runs it drives, each line naming the run, the task and the step", async () => {
    const dataDir = scratchDir('patchbay-logs-');
    // A run recorded and not driven (as a server records it), for the worker to drive.
    const services = createServices();
    const runtime = await services.openRuntime({ dataDir });
    let runId: string;
    try {
      const [started] = await runtime.runs.start([{ request: { playbook: 'offboard', app: 'spendesk', subject: { email: 'bob@acme.com' } }, source: 'test' }], services.profiles.load(), { drive: false });
      runId = started!.run.id;
    } finally {
      await runtime.close();
    }
    const worker = await runCliAsync(['--data-dir', dataDir, 'worker', '--once', '--concurrency', '1']);
    assert.equal(worker.status, 0, worker.stderr);
    const lines = jsonLines(worker.stderr);
    assert.ok(lines.every((l) => l.role === 'worker' && typeof l.pid === 'number'), worker.stderr);
    const opened = lines.find((l) => l.msg === 'task opened');
    assert.ok(opened, `the worker drove the run to its first task: ${worker.stderr}`);
    assert.equal(opened.runId, runId);
    assert.match(String(opened.taskId), /^task-/);
    assert.equal(typeof opened.stepId, 'string');
    assert.ok(!worker.stderr.includes('bob@acme.com'), 'the person a run is for stays out of the log');
  });

  it("says an engine event once its transaction commits, and never one that was rolled back", async () => {
    const said: string[] = [];
    const logger = createLogger({ role: 'worker', format: 'json', destination: { write: (line: string) => said.push(line) } });
    const runtime = await createServices({ logger }).openRuntime({ dataDir: scratchDir('patchbay-logs-') });
    try {
      await assert.rejects(
        runtime.store.transaction(async () => {
          await runtime.engine.audit.append({ type: 'run.started', actor: 'test', runId: 'run-rolled-back', data: { app: 'spendesk' } }, Date.now());
          assert.deepEqual(said, [], 'not said before the commit');
          throw new Error('rolled back');
        }),
        /rolled back/,
      );
      await runtime.store.transaction(async () => {
        await runtime.engine.audit.append({ type: 'step.retry', actor: 'test', runId: 'run-kept', data: { step: 'remove-access', attempt: 2, delayMs: 4000, error: '503 from the vendor' } }, Date.now());
        assert.deepEqual(said, []);
      });
    } finally {
      await runtime.close();
    }
    assert.equal(said.length, 1, said.join(''));
    const line = JSON.parse(said[0]!) as Record<string, unknown>;
    assert.deepEqual(
      { msg: line.msg, level: line.level, role: line.role, runId: line.runId, stepId: line.stepId, attempt: line.attempt, delayMs: line.delayMs },
      { msg: 'retry scheduled', level: 'warn', role: 'worker', runId: 'run-kept', stepId: 'remove-access', attempt: 2, delayMs: 4000 },
    );
  });

  it('redacts credentials that reach a line by another way, and the pretty format keeps one line per event', () => {
    const said: string[] = [];
    const log: Logger = createLogger({ role: 'server', format: 'json', destination: { write: (line: string) => said.push(line) } });
    log.info({ req: { method: 'GET', url: '/api/v1/runs?token=abc', headers: { authorization: 'Bearer pb_secret', cookie: 'pb_session=xyz' } }, password: 'hunter2', vendor: { token: 'tok_123' } }, 'an object with secrets');
    const line = JSON.parse(said[0]!) as Record<string, any>;
    assert.deepEqual(line.req, { method: 'GET', path: '/api/v1/runs' });
    assert.equal(line.password, '[redacted]');
    assert.equal(line.vendor.token, '[redacted]');
    for (const secret of ['abc', 'pb_secret', 'xyz', 'hunter2', 'tok_123']) assert.ok(!said[0]!.includes(secret), secret);
    assert.equal(prettyLine('{"level":"warn","time":"2026-01-02T03:04:05.678Z","role":"worker","pid":1,"runId":"run-1","detail":"two\\nlines","msg":"step failed"}'), '03:04:05.678 WARN  step failed  runId=run-1 detail="two\\nlines"\n');
  });
});
