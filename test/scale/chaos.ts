import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { packageRoot } from '../../core/paths.js';
import { startSpendeskConsole } from '../fixtures/spendesk-console/server.js';
import { readSeed } from '../fixtures/spendesk-console/state.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';
import { consoleEnv } from '../support/spendesk-console.js';
import { cliPath, extraArgs, FleetProcess, freePort } from './fleet.js';

/**
 * The chaos test of issue 16, one body for both engines (test/scale/chaos.test.ts runs it on the
 * engine the environment names, embedded by default; test/scale/chaos-dbos.test.ts on DBOS
 * Transact): three `patchbay worker` and two `patchbay serve` processes (the real CLI) on one fresh
 * PostgreSQL database, PATCHBAY_CHAOS_RUNS offboardings (default: the caller's, 100 on the embedded
 * engine, which CI's PostgreSQL pass runs; the 1,000 is PATCHBAY_CHAOS_RUNS=1000), a mix:
 * every PATCHBAY_CHAOS_BROWSER_EVERY-th (default 2nd) from Spendesk, by browser against the console
 * simulator (read the member, remove them, verify) after a person's task (the Okta unassignment), the
 * others from 6sense, where every step is a person's task. Tasks are completed through the HTTP API
 * with a real token, alternating between the two servers. Every few seconds a random process is SIGKILLed and
 * started again (at least PATCHBAY_CHAOS_KILLS times, default the caller's, 20). Afterwards: every run the API
 * answered for exists and finished, the console saw each removal asked once, each step opened one
 * task and each task closed once, and `patchbay audit verify` holds.
 *
 * Speed: the browser steps are the work (three or four per Spendesk run, seconds each on two loaded
 * cores); every other step takes milliseconds of a driver. Measured on 2 cores: 1,000 runs with one in ten
 * by browser (PATCHBAY_CHAOS_BROWSER_EVERY=10), 32 kills, in 234 s at load 9 to 12 with the browser channel
 * on Debian's headless shell (the default when installed; about half the CPU per browser job); with the full chromium the same run had
 * 176 of 1,000 finished after 475 s and 88 after 240 s (load 14 to 18: the drivers sit in browser jobs while
 * due runs pile up). Before, at load 15 to 35, 10 to 15 runs a minute (README's "Run at scale"). On DBOS (chaos-dbos.test.ts, 30 runs, at least 20 kills), on the same shared machine:
 * 199 s at load 11 to 13, 343 s at load 11 to 20, 520 s at load 20 to 35, then 329 s at load 17 to 24 once a
 * killed worker's runs are handed back a few at a time (they had all gone to the one worker that polled
 * first, whose single browser context the Spendesk runs then waited for), 314 s at load 14 to 26, and 157 s at
 * load 8 to 10 (after one run had ended with its run open: a worker was judged gone before it held its
 * lock). Not reliably under 6 minutes and not yet reliably passing, so not in CI's PostgreSQL pass (add dist/test/scale/chaos-dbos.test.js to .mocharc.postgres.json's spec to run
 * it there); `npm run test:scale` runs it.
 *
 * Settings: PATCHBAY_CHAOS_RUNS, PATCHBAY_CHAOS_KILLS, PATCHBAY_CHAOS_KILL_EVERY_MS (the mean pause
 * between kills, default 3000; 0: no kills at all, the same load without chaos, to tell steady-state
 * speed from recovery), PATCHBAY_CHAOS_TIMEOUT_MS (default: the caller's, 30 min), PATCHBAY_CHAOS_WORKER_ARGS /
 * PATCHBAY_CHAOS_SERVER_ARGS (extra flags for every worker / server; the environment is passed through as it is).
 * The engine: `engine` (chaos-dbos.test.ts: dbos), else PATCHBAY_CHAOS_ENGINE, else PATCHBAY_ENGINE, else
 * embedded; every command of the test (migrate, which then creates DBOS's tables too, token, serve, worker,
 * audit verify) runs with PATCHBAY_ENGINE set to it. On DBOS a worker's --interval (its maintenance tick,
 * which takes over a killed worker's runs) must be a crontab's: 1 s instead of the embedded engine's 0.5 s.
 */
export interface ChaosSettings {
  /** The run engine (default: PATCHBAY_CHAOS_ENGINE, else PATCHBAY_ENGINE, else embedded). */
  readonly engine?: string;
  /** Offboardings when PATCHBAY_CHAOS_RUNS is not set. */
  readonly runs: number;
  /** Kills at least, when PATCHBAY_CHAOS_KILLS is not set. */
  readonly kills: number;
  /** The test's limit in ms, when PATCHBAY_CHAOS_TIMEOUT_MS is not set. */
  readonly timeoutMs: number;
}

const setting = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const log = (line: string) => process.stdout.write(`  chaos ${new Date().toISOString().slice(11, 19)} ${line}\n`);

/**
 * The console's members: its own seed (people who stay, so the members list is never empty) and the
 * leavers, plain members (no owner role, no approvals, no subscription).
 */
function seedWith(leavers: readonly string[]) {
  const seed = structuredClone(readSeed()) as ReturnType<typeof readSeed> & { members: unknown[] };
  seed.members.push(
    ...leavers.map((email, i) => ({
      firstName: 'Leaver',
      lastName: `Number ${i}`,
      email,
      roles: ['Requester'],
      teams: ['Sales'],
      approvalPolicy: 'Default',
      costCenter: 'Paris HQ',
      cards: [{ kind: 'physical' as const, last4: String(1000 + (i % 9000)), status: 'active' as const }],
      subscriptions: [],
      pendingApprovals: 0,
    })),
  );
  return seed;
}

/** A transport failure or a server that is going away: the caller asks the other server. */
const retryable = (status: number | undefined) => status === undefined || status === 502 || status === 503;

/** Declares the chaos test (a mocha `describe`) with `defaults` for what the environment does not set. */
export function describeChaos(defaults: ChaosSettings): void {
  const runs = setting('PATCHBAY_CHAOS_RUNS', defaults.runs);
  const engine = defaults.engine ?? (process.env.PATCHBAY_CHAOS_ENGINE || process.env.PATCHBAY_ENGINE || 'embedded');
  /**
   * The workers' flags: one browser job at a time unless PATCHBAY_CHAOS_WORKER_ARGS says otherwise. The
   * default --concurrency (two per core) is for one worker per machine; three workers on this machine's two
   * cores at four jobs each ran twelve Chromium contexts side by side (load 29 in CI, about 9 runs finished a
   * minute, past the test's limit at 150 runs).
   */
  const workerArgs = process.env.PATCHBAY_CHAOS_WORKER_ARGS !== undefined ? extraArgs('PATCHBAY_CHAOS_WORKER_ARGS') : ['--concurrency', '1'];
  const minKills = setting('PATCHBAY_CHAOS_KILLS', defaults.kills);
  const killEveryMs = setting('PATCHBAY_CHAOS_KILL_EVERY_MS', 3000);
  const browserEvery = setting('PATCHBAY_CHAOS_BROWSER_EVERY', 2);

describe(`chaos on the ${engine} engine: three workers and two servers on one PostgreSQL database, SIGKILLed at random`, function () {
  this.timeout(setting('PATCHBAY_CHAOS_TIMEOUT_MS', defaults.timeoutMs));

  it(`${runs} offboardings (people's tasks by API, browser steps in the console): none lost, none done twice, every run finished, the audit chain holds`, async () => {
    const started = Date.now();
    const url = await freshDatabase();
    const people = Array.from({ length: runs }, (_, i) => ({ email: `leaver${String(i).padStart(4, '0')}@acme.com`, app: i % browserEvery === 0 ? 'spendesk' : '6sense' }));
    const emails = people.map((p) => p.email);
    const byBrowser = people.filter((p) => p.app === 'spendesk').map((p) => p.email);
    const sim = await startSpendeskConsole({ seed: seedWith(byBrowser) });
    const stayers = sim.state.members.size - byBrowser.length;
    after(() => sim.close());
    const dir = scratchDir('patchbay-chaos-');
    const tenant = JSON.parse(readFileSync(path.join(packageRoot, 'test', 'fixtures', 'spendesk-console', 'tenant.json'), 'utf8')) as Record<string, any>;
    tenant.apps.spendesk.consoleUrl = sim.url;
    delete tenant.$schema;
    const tenantFile = path.join(dir, 'tenant.json');
    writeFileSync(tenantFile, JSON.stringify(tenant));

    const env = { ...process.env, ...consoleEnv, PATCHBAY_CONNECTORS: '', PATCHBAY_FORM_KEY: randomBytes(32).toString('base64'), PATCHBAY_ENGINE: engine };
    const cli = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args, '--database', url], { cwd: packageRoot, env, encoding: 'utf8' });
    const migrated = cli(['migrate', '--data-dir', path.join(dir, 'migrate')]);
    assert.equal(migrated.status, 0, migrated.stderr);
    const created = cli(['token', 'create', '--name', 'chaos', '--as', 'it.oncall@acme.example', '--role', 'admin', '--json', '--data-dir', path.join(dir, 'token')]);
    assert.equal(created.status, 0, created.stderr);
    const token = (JSON.parse(created.stdout) as { token: string }).token;

    const fleet: FleetProcess[] = [];
    for (let i = 1; i <= 2; i++) {
      const port = await freePort();
      fleet.push(new FleetProcess(`server${i}`, 'server', ['serve', '--port', String(port), '--profile', tenantFile, '--database', url, '--data-dir', path.join(dir, `server${i}`), ...extraArgs('PATCHBAY_CHAOS_SERVER_ARGS')], env, `http://127.0.0.1:${port}`));
    }
    for (let i = 1; i <= 3; i++) {
      fleet.push(new FleetProcess(`worker${i}`, 'worker', ['worker', '--interval', engine === 'dbos' ? '1' : '0.5', '--profile', tenantFile, '--database', url, '--data-dir', path.join(dir, `worker${i}`), ...workerArgs], env));
    }
    after(async () => {
      for (const p of fleet) await p.stop('SIGKILL').catch(() => undefined);
    });
    for (const p of fleet) p.start();
    for (const p of fleet) await p.ready();
    const servers = fleet.filter((p) => p.kind === 'server');
    log(`${fleet.length} processes up on ${new URL(url).pathname.slice(1)} (load ${load()})`);

    // The API, asked of the servers in turn; a server that is down (killed, starting) is skipped for the other.
    let turn = 0;
    let retries = 0;
    const api = async (method: string, route: string, body?: unknown): Promise<{ status: number; body: any; retried: boolean }> => {
      let retried = false;
      for (let attempt = 0; ; attempt++) {
        const server = servers[turn++ % servers.length]!;
        let status: number | undefined;
        let answer: unknown;
        try {
          const response = await fetch(`${server.url}${route}`, {
            method,
            headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
            signal: AbortSignal.timeout(30_000),
          });
          status = response.status;
          answer = await response.json();
        } catch {
          status = undefined;
        }
        if (!retryable(status)) return { status: status!, body: answer, retried };
        if (attempt > 200) throw new Error(`${method} ${route}: no server answered after ${attempt} tries`);
        retried = true;
        retries++;
        await sleep(100 + Math.random() * 200);
      }
    };

    // The chaos loop: a random process SIGKILLed every few seconds, started again at once.
    const kills = { server: 0, worker: 0 };
    let chaos = true;
    const chaosLoop = (async () => {
      // PATCHBAY_CHAOS_KILL_EVERY_MS=0: no kills at all (the same load without chaos, to tell steady-state speed from recovery).
      while (killEveryMs > 0 && (chaos || kills.server + kills.worker < minKills)) {
        await sleep(killEveryMs * (0.5 + Math.random()));
        const victim = fleet[Math.floor(Math.random() * fleet.length)]!;
        await victim.stop('SIGKILL');
        kills[victim.kind]++;
        await sleep(Math.random() * 300);
        victim.start();
        await victim.ready(180_000);
      }
    })();

    // The runs, started through the API (four at a time); each answer's run id is what must exist at the end.
    const runOf = new Map<string, string>();
    const starting = (async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < people.length) {
            const { email, app } = people[next++]!;
            const answer = await api('POST', '/api/v1/runs', { playbook: 'offboard', app, subject: { email } });
            assert.ok(answer.status === 201 || (answer.status === 200 && answer.retried), `start ${email}: ${answer.status} ${JSON.stringify(answer.body)}`);
            runOf.set(email, answer.body.id);
          }
        }),
      );
    })();

    // A person at the inbox: every open task completed through the API, with the evidence its runbook asks for.
    const completed = new Set<string>();
    let peopleDone = false;
    const person = (async () => {
      while (!peopleDone) {
        const open = await api('GET', '/api/v1/tasks?status=open&limit=100');
        assert.equal(open.status, 200, JSON.stringify(open.body));
        const fresh = (open.body as any[]).filter((t) => !completed.has(t.id));
        let next = 0;
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            while (next < fresh.length) {
              const task = fresh[next++];
              const evidence = task.content.runbook.evidence.filter((e: { required: boolean }) => e.required).map((e: { label: string }) => ({ text: `done: ${e.label}` }));
              const done = await api('POST', `/api/v1/tasks/${task.id}/actions`, { action: 'complete', evidence });
              // A 409 only when our own first try went through before its server died.
              assert.ok(done.status === 200 || (done.status === 409 && done.retried), `complete ${task.id}: ${done.status} ${JSON.stringify(done.body)}`);
              completed.add(task.id);
            }
          }),
        );
        if (!fresh.length) await sleep(300);
      }
    })();

    // A loop that fails (a process that does not come back, a refused request) stops the test now, not at the end.
    let failure: unknown;
    for (const loop of [chaosLoop, starting, person]) loop.catch((error: unknown) => (failure ??= error));

    // Progress, from the database, until every run has finished.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    after(() => db.end());
    let lastFinished = -1;
    let lastChange = Date.now();
    for (;;) {
      const counts = Object.fromEntries((await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM runs GROUP BY status')).rows.map((r) => [r.status, Number(r.n)]));
      const finished = (counts.completed ?? 0) + (counts.failed ?? 0) + (counts.cancelled ?? 0);
      log(`${runOf.size}/${runs} started, ${finished} finished (${JSON.stringify(counts)}), ${completed.size} tasks completed, ${kills.server + kills.worker} kills (${kills.worker} workers, ${kills.server} servers), ${retries} requests retried; ${Math.round((Date.now() - started) / 1000)} s, load ${load()}`);
      if (failure) {
        // What the processes said last: a 500 from a server, a worker's stack.
        process.stdout.write(`${fleet.map((p) => p.lines.slice(-30).join('\n')).join('\n')}\n`);
        throw failure;
      }
      const unexpected = fleet.flatMap((p) => p.unexpectedExits);
      assert.deepEqual(unexpected, [], 'a process ended that was not killed');
      if (finished >= runs && runOf.size === runs) break;
      if (finished !== lastFinished) [lastFinished, lastChange] = [finished, Date.now()];
      else if (Date.now() - lastChange > 300_000) {
        throw new Error(`no run finished in 5 minutes; what the processes said last:\n${fleet.map((p) => p.lines.slice(-8).join('\n')).join('\n')}`);
      }
      await sleep(5000);
    }
    await starting;
    chaos = false;
    await chaosLoop;
    peopleDone = true;
    await person;
    const elapsed = (Date.now() - started) / 1000;
    log(`${runs} runs in ${elapsed.toFixed(0)} s (${((elapsed * 100) / runs).toFixed(1)} s per 100 runs), ${kills.server + kills.worker} kills, load ${load()}`);

    // Graceful ends for every process: each exits 0 on SIGTERM.
    for (const p of fleet) assert.equal(await p.stop('SIGTERM'), 0, `${p.name} on SIGTERM:\n${p.lines.slice(-10).join('\n')}`);

    if (killEveryMs > 0) {
      assert.ok(kills.server + kills.worker >= minKills, `${kills.server + kills.worker} kills`);
      assert.ok(kills.server > 0 && kills.worker > 0, `both kinds killed: ${JSON.stringify(kills)}`);
    }

    // 0 runs lost: one run per person, the one the API answered with, finished.
    const rows = (await db.query<{ id: string; subject: string; status: string; outcome: string }>('SELECT id, subject, status, outcome FROM runs')).rows;
    assert.equal(rows.length, runs, 'one run per person');
    const byId = new Map(rows.map((r) => [r.id, r]));
    const lost = emails.filter((e) => byId.get(runOf.get(e)!)?.subject !== e);
    assert.deepEqual(lost, [], 'runs the API answered for and the store does not have');
    const unfinished = rows.filter((r) => r.status !== 'completed');
    assert.deepEqual(unfinished.slice(0, 5), [], `${unfinished.length} runs did not complete`);
    const outcomes = rows.reduce<Record<string, number>>((o, r) => ({ ...o, [r.outcome]: (o[r.outcome] ?? 0) + 1 }), {});
    assert.ok(Object.keys(outcomes).every((o) => o === 'done' || o === 'already-done'), JSON.stringify(outcomes));

    // 0 steps done twice: the console was asked once per leaver, and only the people who stay are left.
    const removals = (await (await fetch(`${sim.url}/__state/removals`)).json()) as Record<string, number>;
    const notOnce = byBrowser.filter((e) => removals[e] !== 1).map((e) => `${e}: ${removals[e] ?? 0}`);
    assert.deepEqual(notOnce, [], 'removal requests per member');
    assert.equal(Object.keys(removals).length, byBrowser.length, 'nobody else was asked for');
    assert.equal(sim.state.members.size, stayers, 'every leaver removed, the others kept');
    // The browser did the Spendesk steps: the only person's step in those runs is the Okta unassignment.
    const byPeople = await db.query<{ subject: string; step_id: string; detail: string }>(
      "SELECT r.subject, s.step_id, s.detail FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.app = 'spendesk' AND s.channel = 'human' AND s.step_id <> 'okta-unassign-app'",
    );
    assert.deepEqual(byPeople.rows.slice(0, 5), [], `${byPeople.rows.length} Spendesk steps went to a person`);
    // One task per person's step, closed once: 1 per Spendesk run (Okta), 3 per 6sense run.
    const items = await db.query<{ n: string }>('SELECT count(*) AS n FROM task_items GROUP BY run_id, step_id HAVING count(*) > 1');
    assert.equal(items.rows.length, 0, 'a step opened more than one task');
    const expectedTasks = byBrowser.length + 3 * (runs - byBrowser.length);
    const perStep = await db.query<{ n: string }>('SELECT count(*) AS n FROM task_items');
    assert.equal(Number(perStep.rows[0]!.n), expectedTasks, 'tasks opened');
    const closes = await db.query<{ task_id: string; n: string }>("SELECT task_id, count(*) AS n FROM audit WHERE type = 'task.completed' GROUP BY task_id");
    assert.equal(closes.rows.length, expectedTasks, 'tasks completed');
    assert.deepEqual(closes.rows.filter((r) => Number(r.n) !== 1), [], 'a task completed more than once');

    const verified = cli(['audit', 'verify', '--json', '--data-dir', path.join(dir, 'verify')]);
    assert.equal(verified.status, 0, verified.stdout + verified.stderr);
    assert.equal((JSON.parse(verified.stdout) as { ok: boolean }).ok, true);
    log(`outcomes ${JSON.stringify(outcomes)}; audit ${verified.stdout.trim().replace(/\s+/g, ' ')}`);
  });
});
}
