/**
 * npm run bench:browser — remove members from the Spendesk console simulator with the
 * remove-member recipe, as a worker's browser jobs do. Contenders, in the same run and alternating
 * (BENCH_ROUNDS rounds, default 2, so that a change in the machine's load hits both):
 * - today's way: one job at a time, each signing in in its fresh context, full-page screenshots, and
 *   Chromium launched as before issue 17 (BrowserHost's `asBefore`: Debian's full chromium, its window's
 *   omnibox popup WebUI included);
 * - the same jobs in Chromium as the channel launches it now (BENCH_TODAY_LEAN=0 leaves it out: the
 *   headless shell when installed, see defaultChromium), to tell what the launch saves from what the job
 *   and the overlap save;
 * - N contexts at a time (BENCH_CONTEXTS, default what the worker would choose), each job a fresh
 *   context carrying the worker's signed-in session, element screenshots (the recipe as it is);
 * - the same one at a time (BENCH_SEQUENTIAL_NEW=0 leaves it out), to tell the saving per job from the overlap.
 * BENCH_MEMBERS members per contender per round (default 40). Prints members per minute, the ratio,
 * the machine and its load average, each job's breakdown (sign-in, other steps, screenshots, opening
 * the context), and the CPU the worker's process and its Chromium used per member (what bounds it).
 *
 * BENCH_CONSOLE=wordpress: the same against WordPress from Debian (test/fixtures/wordpress/setup.sh)
 * with the wordpress connector's remove-user recipe (content attributed to the content owner): the
 * removals run BENCH_JOBS at a time (default 4) on one browser, then one at a time, each on a fresh
 * seed. Counts false drift and false "already done" (every bench user exists, so any status but done
 * is one of them), and checks in WordPress itself that every bench user is gone and no post was lost.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { BrowserHost, defaultBrowserContexts } from '../../core/channels/browser/browser-host.js';
import { recipeSessionKey, runRecipe } from '../../core/channels/browser/recipe-runner.js';
import type { BrowserRecipe } from '../../core/schema/types/browser-recipe.js';
import { createServices } from '../../core/container.js';
import { startSpendeskConsole } from '../fixtures/spendesk-console/server.js';
import { reseedWordpress, startWordpress, wordpressState } from '../fixtures/wordpress/console.js';
import { type Seed, readSeed } from '../fixtures/spendesk-console/state.js';

const members = Number(process.env.BENCH_MEMBERS ?? 40);
const recipe = createServices().registry.get('spendesk').recipes.get('remove-member')!;
const base = readSeed();
const signInSteps = recipe.session?.signInSteps ?? 5;

function seedWith(n: number): Seed {
  const people = Array.from({ length: n }, (_, i) => ({
    firstName: 'Leaver',
    lastName: String(i).padStart(4, '0'),
    email: `leaver${String(i).padStart(4, '0')}@acme.com`,
    roles: ['Requester'],
    teams: ['Sales'],
    approvalPolicy: 'Default',
    cards: [{ kind: 'physical' as const, last4: String(1000 + (i % 9000)), status: 'active' as const }],
    subscriptions: [],
    pendingApprovals: 0,
  }));
  return { ...base, members: [...base.members, ...people] };
}

const params = (email: string) => ({ email, adminEmail: base.admin.email, adminPassword: base.admin.password });
const chromium = (() => {
  try {
    return execFileSync('/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'chromium: unknown version';
  }
})();
console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${chromium}`);
console.log(`recipe: remove-member (${recipe.steps.length} steps: ${signInSteps} to sign in, search, open, remove, acknowledge, 2 screenshots)`);

if (process.env.BENCH_CONSOLE === 'wordpress') {
  await wordpressBench();
  process.exit(0);
}

/** The WordPress mode: N removals BENCH_JOBS at a time, then N one at a time; members per minute, false drift, false "already done". */
async function wordpressBench(): Promise<void> {
  const wp = startWordpress();
  const removeUser = createServices().registry.get('wordpress').recipes.get('remove-user')!;
  const jobs = Number(process.env.BENCH_JOBS ?? 4);
  console.log(`console: WordPress from Debian at ${wp.url}; recipe: remove-user (${removeUser.steps.length} steps)`);
  const host = new BrowserHost();
  const tag = (i: number) => String(i + 1).padStart(3, '0');
  const round = async (label: string, concurrency: number) => {
    reseedWordpress(members);
    const statuses: Record<string, number> = {};
    const falseNotes: string[] = [];
    let next = 0;
    const started = process.hrtime.bigint();
    const worker = async () => {
      while (next < members) {
        const i = next++;
        const result = await host.withContext((context) =>
          runRecipe(context, {
            recipe: removeUser,
            consoleUrl: wp.url,
            params: { email: `bench.leaver${tag(i)}@acme.test`, lastName: `Leaver${tag(i)}`, adminLogin: wp.robot.login, adminPassword: wp.robot.password, contentOwner: 'Content Keeper (ckeeper)' },
            stepTimeoutMs: 20_000,
          }),
        );
        statuses[result.status] = (statuses[result.status] ?? 0) + 1;
        if (result.status !== 'done') falseNotes.push(`bench${tag(i)}: ${result.status}${'step' in result ? ` at "${result.step}": ${result.detail}` : ''}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const state = wordpressState();
    const left = state.users.filter((u) => u.login.startsWith('bench')).length;
    const orphaned = state.posts.filter((p) => p.title.startsWith('Bench post') && p.author !== 'ckeeper').length;
    const benchPosts = state.posts.filter((p) => p.title.startsWith('Bench post')).length;
    const perMinute = (members / seconds) * 60;
    console.log(
      `${label.padEnd(24)} ${members} removals in ${seconds.toFixed(1).padStart(6)} s = ${perMinute.toFixed(1).padStart(5)} members/min; ` +
        `false drift ${statuses.drift ?? 0}, false "already done" ${statuses['already-done'] ?? 0}, other ${(statuses.blocked ?? 0) + (statuses.unreachable ?? 0)}; ` +
        `bench users left ${left}, posts kept ${benchPosts}/${members} (not with the owner: ${orphaned})`,
    );
    for (const note of falseNotes.slice(0, 10)) console.log(`  ${note}`);
    return perMinute;
  };
  const together = await round(`${jobs} jobs at a time`, jobs);
  const alone = await round('one at a time', 1);
  await host.close();
  console.log(`ratio: ${jobs} concurrent jobs remove ${(together / alone).toFixed(2)}× as many members per minute as one at a time`);
}

/** How one way of running the jobs does them: how many at a time, with the worker's session or not, and its recipe. */
interface Way {
  readonly label: string;
  readonly contexts: number;
  readonly session: boolean;
  readonly recipe: BrowserRecipe;
  /** Chromium launched as before issue 17 (the baseline). */
  readonly asBefore?: boolean;
}

/** What the contenders add up over the rounds. */
interface Tally {
  members: number;
  seconds: number;
  signIn: number;
  steps: number;
  shots: number;
  context: number;
  jobs: number;
  nodeCpu: number;
  chromiumCpu: number;
  chromiumByType: Record<string, number>;
  signIns: number;
}

/**
 * CPU seconds used so far by this process's descendants (Chromium and its helpers), from /proc, in
 * all and by Chromium's process type (browser, renderer, gpu-process, utility…).
 */
function chromiumCpuSeconds(): { total: number; byType: Record<string, number> } {
  const tick = 100; // USER_HZ on Linux
  const parents = new Map<number, number>();
  const used = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
      // Its own user and system time, and that of its children it has reaped (a closed context's renderer, reaped by the zygote).
      used.set(Number(entry), (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / tick);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const byType: Record<string, number> = {};
  for (const [pid, cpu] of used) {
    for (let p = parents.get(pid); p && p > 1; p = parents.get(p)) {
      if (p === process.pid) {
        total += cpu;
        let type = 'other';
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          type = /--type=([a-z-]+)/.exec(cmdline)?.[1] ?? (/chrom/.test(cmdline) ? 'browser' : 'other');
          if (type === 'zygote') type = 'renderers (zygote)';
        } catch {
          // gone meanwhile
        }
        byType[type] = (byType[type] ?? 0) + cpu;
        break;
      }
    }
  }
  return { total, byType };
}

/** The recipe as it was before issue 17: no session to carry, every screenshot of the whole page. */
const todaysRecipe: BrowserRecipe = (() => {
  const { session: _session, ...rest } = recipe;
  return { ...rest, steps: recipe.steps.map((s) => (s.action === 'screenshot' ? { ...s, fullPage: true } : s)) as BrowserRecipe['steps'] };
})();

/** One round of one way: `members` removals on a fresh console; adds its figures to `tally`. */
async function round(way: Way, tally: Tally): Promise<void> {
  const sim = await startSpendeskConsole({ seed: seedWith(members) });
  const host = new BrowserHost({ contexts: way.contexts, asBefore: way.asBefore ?? false });
  let next = 0;
  const cpu = process.cpuUsage();
  const chromiumBefore = chromiumCpuSeconds();
  const started = process.hrtime.bigint();
  const worker = async () => {
    while (next < members) {
      const email = `leaver${String(next++).padStart(4, '0')}@acme.com`;
      const all = params(email);
      const key = way.session ? recipeSessionKey(way.recipe, sim.url, all) : undefined;
      const asked = Date.now();
      const result = await host.withContext(async (context, session) => {
        const opened = Date.now();
        const r = await runRecipe(context, { recipe: way.recipe, consoleUrl: sim.url, params: all, ...(session ? { session } : {}) });
        return { r, opened };
      }, key ? { session: key } : {});
      const { r } = result;
      if (r.status !== 'done') throw new Error(`${way.label}: ${email} ended ${r.status}: ${r.detail}`);
      // The trace says how long each step took: "name: ok (12 ms)".
      let signIn = 0;
      let steps = 0;
      let shots = 0;
      r.trace.forEach((line) => {
        const m = /^(.*): ok \((\d+) ms\)$/.exec(line);
        if (!m) return;
        const at = way.recipe.steps.findIndex((s) => s.name === m[1]);
        const ms = Number(m[2]);
        if (at >= 0 && at < signInSteps) signIn += ms;
        else if (way.recipe.steps[at]?.action === 'screenshot') shots += ms;
        else steps += ms;
      });
      tally.signIn += signIn;
      tally.steps += steps;
      tally.shots += shots;
      tally.context += Date.now() - asked - (signIn + steps + shots);
      tally.jobs++;
    }
  };
  await Promise.all(Array.from({ length: way.contexts }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  tally.nodeCpu += (used.user + used.system) / 1e6;
  const chromiumAfter = chromiumCpuSeconds();
  tally.chromiumCpu += chromiumAfter.total - chromiumBefore.total;
  for (const [type, cpu] of Object.entries(chromiumAfter.byType)) tally.chromiumByType[type] = (tally.chromiumByType[type] ?? 0) + cpu - (chromiumBefore.byType[type] ?? 0);
  await host.close();
  const removed = sim.state.events.filter((e) => e.type === 'removed').length;
  tally.signIns += sim.state.events.filter((e) => e.type === 'signed-in').length;
  await sim.close();
  if (removed !== members) throw new Error(`${way.label}: the console removed ${removed} of ${members}`);
  tally.members += members;
  tally.seconds += seconds;
  process.stderr.write(`  ${way.label}: ${members} in ${seconds.toFixed(1)} s (load average ${load()})\n`);
}

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
const machine = defaultBrowserContexts();
const contexts = Number(process.env.BENCH_CONTEXTS ?? machine.contexts);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
console.log(`contexts: ${contexts} (${process.env.BENCH_CONTEXTS ? 'BENCH_CONTEXTS' : `the worker's default: ${machine.cores} cores, ${(machine.freeBytes / 2 ** 30).toFixed(1)} GiB free`}); ${rounds} rounds of ${members} members per contender; load average at start ${load()}`);
const ways: Way[] = [
  { label: "one at a time, today's way", contexts: 1, session: false, recipe: todaysRecipe, asBefore: true },
  ...(process.env.BENCH_TODAY_LEAN === '0' ? [] : [{ label: "today's jobs, Chromium as launched now", contexts: 1, session: false, recipe: todaysRecipe }]),
  { label: `${contexts} contexts, session + element shots`, contexts, session: true, recipe },
  ...(process.env.BENCH_SEQUENTIAL_NEW === '0' ? [] : [{ label: 'one at a time, session + element shots', contexts: 1, session: true, recipe }]),
];
const tallies = ways.map((): Tally => ({ members: 0, seconds: 0, signIn: 0, steps: 0, shots: 0, context: 0, jobs: 0, nodeCpu: 0, chromiumCpu: 0, chromiumByType: {}, signIns: 0 }));
for (let r = 0; r < rounds; r++) for (const [i, way] of ways.entries()) await round(way, tallies[i]!);
console.log(`load average at the end ${load()}`);
const perMinute = (t: Tally) => (t.members / t.seconds) * 60;
for (const [i, way] of ways.entries()) {
  const t = tallies[i]!;
  const per = (ms: number) => (ms / t.jobs).toFixed(0).padStart(5);
  const wall = (t.seconds * 1000) / t.members;
  console.log(
    `${way.label.padEnd(42)} ${t.members} members in ${t.seconds.toFixed(1).padStart(6)} s = ${perMinute(t).toFixed(1).padStart(6)} members/min; ` +
      `per job: sign-in ${per(t.signIn)} ms, other steps ${per(t.steps)} ms, screenshots ${per(t.shots)} ms, context and the rest ${per(t.context)} ms; ` +
      `${t.signIns} sign-ins; CPU per member: node ${((t.nodeCpu * 1000) / t.members).toFixed(0)} ms, Chromium ${((t.chromiumCpu * 1000) / t.members).toFixed(0)} ms ` +
      `(${(((t.nodeCpu + t.chromiumCpu) * 1000) / t.members / wall).toFixed(2)} cores busy for the bench)`,
  );
  const types = Object.entries(t.chromiumByType).sort((a, b) => b[1] - a[1]);
  console.log(`  Chromium's CPU per member by process: ${types.map(([type, cpu]) => `${type} ${((cpu * 1000) / t.members).toFixed(0)} ms`).join(', ')}`);
}
const at = (label: string) => tallies[ways.findIndex((w) => w.label === label)];
const today = tallies[0]!;
const parallel = at(ways.find((w) => w.contexts === contexts && w.session)!.label)!;
const todayLean = at("today's jobs, Chromium as launched now");
const sequentialNew = at('one at a time, session + element shots');
console.log(`ratio: ${contexts} contexts with the session and element screenshots remove ${(perMinute(parallel) / perMinute(today)).toFixed(2)}× as many members per minute as one at a time today`);
const parts = [
  ...(todayLean ? [`Chromium's launch flags ${(perMinute(todayLean) / perMinute(today)).toFixed(2)}×`] : []),
  ...(sequentialNew ? [`the job itself (one at a time, session + element shots) ${(perMinute(sequentialNew) / perMinute(todayLean ?? today)).toFixed(2)}×`, `the overlap ${(perMinute(parallel) / perMinute(sequentialNew)).toFixed(2)}×`] : []),
];
if (parts.length) console.log(`  of which ${parts.join('; ')}`);
