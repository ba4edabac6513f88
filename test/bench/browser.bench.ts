/**
 * npm run bench:browser — remove members from the Spendesk console simulator with the
 * remove-member recipe: one browser reused for every job (a fresh context each, as the channel
 * runs) against launching a browser per job. Prints members per minute for both and the ratio.
 * BENCH_MEMBERS sets how many (default 200) for each contender.
 *
 * BENCH_CONSOLE=wordpress: the same against WordPress from Debian (test/fixtures/wordpress/setup.sh)
 * with the wordpress connector's remove-user recipe (content attributed to the content owner): the
 * removals run BENCH_JOBS at a time (default 4) on one browser, then one at a time, each on a fresh
 * seed. Counts false drift and false "already done" (every bench user exists, so any status but done
 * is one of them), and checks in WordPress itself that every bench user is gone and no post was lost.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { BrowserHost } from '../../core/channels/browser/browser-host.js';
import { runRecipe } from '../../core/channels/browser/recipe-runner.js';
import { createServices } from '../../core/container.js';
import { startSpendeskConsole } from '../fixtures/spendesk-console/server.js';
import { reseedWordpress, startWordpress, wordpressState } from '../fixtures/wordpress/console.js';
import { type Seed, readSeed } from '../fixtures/spendesk-console/state.js';

const members = Number(process.env.BENCH_MEMBERS ?? 200);
const recipe = createServices().registry.get('spendesk').recipes.get('remove-member')!;
const base = readSeed();

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

async function contender(label: string, removeOne: (url: string, email: string) => Promise<string>): Promise<number> {
  const sim = await startSpendeskConsole({ seed: seedWith(members) });
  const started = process.hrtime.bigint();
  let last = started;
  for (let i = 0; i < members; i++) {
    const status = await removeOne(sim.url, `leaver${String(i).padStart(4, '0')}@acme.com`);
    if (status !== 'done') throw new Error(`${label}: member ${i} ended ${status}`);
    if ((i + 1) % 25 === 0 || i + 1 === members) {
      const now = process.hrtime.bigint();
      process.stderr.write(`  ${label}: ${i + 1}/${members} (${(Number(now - last) / 1e9).toFixed(1)} s for the last batch)\n`);
      last = now;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const removed = sim.state.events.filter((e) => e.type === 'removed').length;
  await sim.close();
  if (removed !== members) throw new Error(`${label}: the console removed ${removed} of ${members}`);
  const perMinute = (members / seconds) * 60;
  console.log(`${label.padEnd(40)} ${members} members in ${seconds.toFixed(1).padStart(6)} s = ${perMinute.toFixed(1).padStart(6)} members/min`);
  return perMinute;
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
console.log(`recipe: remove-member (${recipe.steps.length} steps: sign in, search, open, remove, acknowledge, 2 screenshots)`);

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

const shared = new BrowserHost();
const reused = await contender('one browser, a fresh context per job', async (url, email) => {
  return (await shared.withContext((context) => runRecipe(context, { recipe, consoleUrl: url, params: params(email) }))).status;
});
await shared.close();

const launched = await contender('a new browser per job', async (url, email) => {
  const host = new BrowserHost();
  try {
    return (await host.withContext((context) => runRecipe(context, { recipe, consoleUrl: url, params: params(email) }))).status;
  } finally {
    await host.close();
  }
});
console.log(`ratio: reusing the browser removes ${(reused / launched).toFixed(2)}× as many members per minute`);
