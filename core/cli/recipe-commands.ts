import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { BrowserHost } from '../channels/browser/browser-host.js';
import { type RecipeResult, type StepReport, runRecipe } from '../channels/browser/recipe-runner.js';
import type { Evidence } from '../channels/executor.js';
import type { TaskContent } from '../channels/human/task-store.js';
import { InvalidInputError } from '../errors.js';
import { queueFor } from '../planning/channels.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { BrowserRecipe } from '../schema/types/browser-recipe.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import type { SecretResolver } from '../tenant/secrets.js';
import { renderTable } from './format.js';
import type { CliContext } from './run-commands.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** --param name=value pairs; bad input names the pair. */
function paramPairs(pairs: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new InvalidInputError({ file: 'command line', pointer: '/param' }, `--param wants name=value, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

/** "6h", "30m", "90s", "2d" → milliseconds; throws InvalidInputError on anything else. */
export function parseEvery(text: string, option = '--every'): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) throw new InvalidInputError({ file: 'command line', pointer: `/${option.replace(/^-+/, '')}` }, `${option} wants a duration such as 6h, 30m or 1d, got "${text}"`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Whether a recipe only reads the console: its operation's access in the manifest says read. */
export function readOnly(connector: LoadedConnector, recipe: BrowserRecipe): boolean {
  return connector.manifest.operations[recipe.operation]?.access === 'read';
}

/**
 * A recipe's parameters for a run outside the engine: secrets and logins from the tenant's secret
 * references, settings from apps.<app>.settings, everything else from --param. Rejects with
 * InvalidInputError naming the first required parameter that has no value.
 */
export async function recipeParams(
  connector: LoadedConnector,
  recipe: BrowserRecipe,
  profile: TenantProfile,
  secrets: SecretResolver,
  given: Record<string, string>,
): Promise<Record<string, string | undefined>> {
  // The browser channel (and the engine it plugs into) is loaded by the recipe commands only, not by `patchbay --help`.
  const { recipeSecrets } = await import('../channels/browser/executor.js');
  const app = connector.manifest.id;
  const settings = profile.apps[app] ?? {};
  const params: Record<string, string | undefined> = { ...recipeSecrets(recipe, app, settings, secrets) };
  for (const [name, parameter] of Object.entries(recipe.parameters)) {
    if (parameter.type === 'secret' || parameter.type === 'login') continue;
    if (name in given && parameter.type === 'setting') {
      throw new InvalidInputError({ file: 'command line', pointer: `/param/${name}` }, `${name} is a tenant setting: set apps.${app}.settings.${name} in the profile`);
    }
    params[name] = parameter.type === 'setting' ? settings.settings?.[name] : given[name];
    if (parameter.required && !params[name]) {
      const where = parameter.type === 'setting' ? `apps.${app}.settings.${name} in the tenant profile` : `--param ${name}=…`;
      throw new InvalidInputError({ file: 'command line', pointer: `/param/${name}` }, `${recipe.id} needs ${name}: give ${where}`);
    }
  }
  const unknown = Object.keys(given).filter((n) => !recipe.parameters[n]);
  if (unknown.length) throw new InvalidInputError({ file: 'command line', pointer: `/param/${unknown[0]}` }, `${recipe.id} has no parameter ${unknown.join(', ')} (it has: ${Object.keys(recipe.parameters).join(', ')})`);
  return params;
}

function connectorAndRecipe(cli: CliContext, app: string, id?: string): { connector: LoadedConnector; recipe?: BrowserRecipe } {
  const connector = cli.services().registry.get(app);
  if (id === undefined) return { connector };
  const recipe = connector.recipes.get(id);
  if (!recipe) throw new InvalidInputError({ file: 'command line', pointer: '/recipe' }, `${app} has no recipe ${id} (it has: ${[...connector.recipes.keys()].join(', ') || 'none'})`);
  return { connector, recipe };
}

function consoleUrlOf(profile: TenantProfile, app: string, file: string): string {
  const url = profile.apps[app]?.consoleUrl;
  if (!url) throw new InvalidInputError({ file, pointer: `/apps/${app}/consoleUrl` }, `the tenant profile gives no console URL for ${app}`);
  return url;
}

const summary = (r: RecipeResult) => ('step' in r ? `${r.status} at "${r.step}": ${r.detail}` : `${r.status}: ${r.detail}`);

/**
 * `patchbay recipe try` and `patchbay recipe check`: the recipe author's tools. `try` runs one
 * recipe step by step against the live console and keeps a screenshot per step; `check` runs every
 * read-only recipe of a connector as a canary, once or every --every.
 */
export function registerRecipeCommands(program: Command, cli: CliContext): void {
  const recipe = program.command('recipe').description("browser recipes: try one against the live console, or check a connector's read-only recipes");

  recipe
    .command('try')
    .description('run one recipe step by step against the live console: a screenshot and the matched element per step (read-only recipes unless --allow-writes)')
    .argument('<connector>')
    .argument('<recipe>')
    .option('--profile <file>', 'tenant profile: the console URL, secret references, settings (default: the embedded demo tenant)')
    .option('--param <name=value>', "a recipe parameter (repeatable), e.g. --param email=kim.nguyen@acme.com", collect, [])
    .option('--allow-writes', 'allow a recipe whose operation changes the console')
    .option('--out <dir>', 'where the screenshots go (default: a new temporary folder)')
    .option('--timeout <ms>', 'how long each step may wait', '10000')
    .option('--json', 'print JSON')
    .action(async (app: string, id: string, options: { profile?: string; param: string[]; allowWrites?: boolean; out?: string; timeout: string; json?: boolean }) => {
      const { connector, recipe: chosen } = connectorAndRecipe(cli, app, id);
      const r = chosen!;
      if (!readOnly(connector, r) && !options.allowWrites) {
        throw new InvalidInputError(
          { file: 'command line', pointer: '/allow-writes' },
          `${app}/${id} carries out ${r.operation}, which changes the console: add --allow-writes to run it for real`,
        );
      }
      const loaded = cli.services().profiles.load(options.profile);
      const params = await recipeParams(connector, r, loaded.profile, cli.services().secrets, paramPairs(options.param));
      const out = options.out ?? mkdtempSync(path.join(os.tmpdir(), `patchbay-try-${id}-`));
      mkdirSync(out, { recursive: true });
      const steps: (Omit<StepReport, 'png'> & { screenshot?: string })[] = [];
      const host = new BrowserHost();
      let result: RecipeResult;
      try {
        result = await host.withContext((context) =>
          runRecipe(context, {
            recipe: r,
            consoleUrl: consoleUrlOf(loaded.profile, app, loaded.file),
            params,
            stepTimeoutMs: Number(options.timeout),
            observe: (report) => {
              const { png, ...rest } = report;
              let screenshot: string | undefined;
              if (png) {
                screenshot = path.join(out, `${String(report.index + 1).padStart(2, '0')}-${report.step.replace(/[^A-Za-z0-9]+/g, '-')}.png`);
                writeFileSync(screenshot, png);
              }
              steps.push({ ...rest, ...(screenshot ? { screenshot } : {}) });
              if (!options.json) cli.print(`${String(report.index + 1).padStart(2)} ${report.outcome.padEnd(7)} ${report.step}${report.matched ? `  → ${report.matched}` : ''} (${report.ms} ms)`);
            },
          }),
        );
      } finally {
        await host.close();
      }
      const { shots: _shots, ...rest } = result;
      if (options.json) cli.printJson({ recipe: `${app}/${id}`, result: { ...rest, html: undefined }, steps, screenshots: out });
      else cli.print(`${summary(result)}\nscreenshots: ${out}`);
      if (result.status === 'drift' || result.status === 'blocked' || result.status === 'unreachable') process.exitCode = 1;
    });

  recipe
    .command('check')
    .description("run a connector's read-only recipes as a canary; a drifted recipe opens a task in the app's queue (one while it stays open) and is recorded in the audit log; a drifted, blocked or unreachable recipe ends with exit status 1")
    .argument('<connector>')
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--param <name=value>', 'a parameter the read-only recipes need, e.g. a canary account: --param email=canary@acme.com', collect, [])
    .option('--every <duration>', 'keep checking, e.g. 6h (for the worker machine)')
    .option('--json', 'print JSON')
    .action(async (app: string, options: { profile?: string; param: string[]; every?: string; json?: boolean }) => {
      const every = options.every ? parseEvery(options.every) : undefined;
      const { connector } = connectorAndRecipe(cli, app);
      const loaded = cli.services().profiles.load(options.profile);
      const given = paramPairs(options.param);
      const recipes = [...connector.recipes.values()].filter((r) => readOnly(connector, r) && !r.bulk);
      if (!recipes.length) throw new InvalidInputError({ file: 'command line', pointer: '/connector' }, `${app} has no read-only recipe to check`);
      let stop = false;
      process.once('SIGINT', () => (stop = true));
      do {
        const rows = await checkOnce(cli, connector, recipes, loaded.profile, loaded.file, given);
        if (options.json) cli.printJson(rows);
        else cli.print(renderTable(['recipe', 'status', 'detail'], rows.map((r) => [r.recipe, r.status, r.detail])));
        // A canary fails when a recipe could not do its reading: drift, the console unreachable, or the robot
        // blocked (a refused sign-in is a canary's first thing to catch).
        if (rows.some((r) => r.status === 'drift' || r.status === 'unreachable' || r.status === 'blocked')) process.exitCode = 1;
        if (!every) break;
        await new Promise((resolve) => setTimeout(resolve, every));
      } while (!stop);
    });
}

/**
 * The worker's canary (`patchbay worker --recipe-check-every 6h`): every app of the profile that allows
 * browser automation and has a console URL gets its read-only recipes run once; recipes that need a
 * parameter the profile cannot give (a person's email) are reported as not run. Returns one line per app.
 */
export async function canaryPass(cli: CliContext, profile: TenantProfile, file: string): Promise<string[]> {
  const lines: string[] = [];
  for (const [app, settings] of Object.entries(profile.apps)) {
    if (settings.browserAutomation !== 'allowed' || !settings.consoleUrl || !cli.services().registry.list().some((c) => c.manifest.id === app)) continue;
    const connector = cli.services().registry.get(app);
    const recipes = [...connector.recipes.values()].filter((r) => readOnly(connector, r) && !r.bulk);
    if (!recipes.length) continue;
    const rows = await checkOnce(cli, connector, recipes, profile, file, {});
    lines.push(`recipe check ${app}: ${rows.map((r) => `${r.recipe} ${r.status}`).join(', ')}`);
  }
  return lines;
}

/**
 * The checklist of a canary's task: what a person does when a read-only recipe drifted on the live
 * console. Built in (not a connector's runbook): the same for every connector.
 */
function driftRunbook(app: string, recipe: string): TaskContent['runbook'] {
  return {
    id: 'recipe-drift',
    title: `The ${app} console changed: recipe ${recipe} no longer matches it`,
    slaHours: 24,
    steps: [
      { text: 'Compare the screenshot and the saved page with the recipe step that failed (in the task\'s handover)' },
      { text: `Fix the cause: update connectors/${app}/recipes/${recipe}.json, or undo the change in the console` },
      { text: `Run patchbay recipe check ${app} until it passes` },
    ],
    evidence: [{ id: 'fix', label: 'What changed in the console and what was done about it', kind: 'text', required: true }],
    watchOutFor: ['Until this is fixed, offboardings in this app that need the browser go to a person'],
  };
}

/**
 * A drifted canary's task: run-less (no person is being offboarded), in the app's queue, with the
 * screenshots, the page's HTML and the failing step. One per tenant, app and recipe while it stays
 * open (`TaskStore.openStanding`): a second check finds it and opens nothing. Returns its id and
 * whether it was opened now.
 */
async function openDriftTask(
  cli: CliContext,
  connector: LoadedConnector,
  recipe: BrowserRecipe,
  profile: TenantProfile,
  result: Extract<RecipeResult, { step: string }>,
): Promise<{ taskId: string; opened: boolean }> {
  const runtime = (await cli.runtime());
  const app = connector.manifest.id;
  const key = `canary|${profile.tenant}|${app}|${recipe.id}`;
  const open = await runtime.tasks.openStandingId(key);
  if (open) return { taskId: open, opened: false };
  const { EvidenceFiles } = await import('../channels/evidence-files.js');
  const files = new EvidenceFiles(runtime.evidenceDir);
  const at = Date.now();
  const evidence: Evidence[] = result.shots.map((shot, i) => files.keep(shot.png, { name: `${recipe.id}-canary-${i + 1}.png`, kind: 'screenshot', summary: `screenshot at "${shot.step}" (${recipe.id}, canary)`, at }));
  if (result.html) evidence.push(files.keep(Buffer.from(result.html), { name: `${recipe.id}-at-failure.html`, kind: 'file', summary: `the page's HTML where ${recipe.id} stopped`, at }));
  const detail = `recipe drift in ${recipe.id} at step ${result.stepIndex} "${result.step}": ${result.detail}`;
  const content: TaskContent = {
    runbook: driftRunbook(app, recipe.id),
    appName: connector.manifest.name ?? app,
    system: connector.manifest.name ?? app,
    stepTitle: `${recipe.title} (canary)`,
    reason: `the canary (patchbay recipe check) found the ${app} console drifted before an offboarding needed it: ${detail}`,
    watchOutFor: [{ text: 'Until this is fixed, offboardings in this app that need the browser go to a person', blocking: false }],
    handedOver: [{ channel: 'browser', detail, evidence }],
  };
  const queue = queueFor(undefined, profile.apps[app] ?? {}, profile);
  return runtime.tasks.openStanding({ key, tenant: profile.tenant, app, queue, content, profile });
}

/**
 * One canary pass: each recipe once, in its own browser context; drift is recorded as an audit event
 * `browser.canary-drift` and opens the recipe's drift task (or finds the one still open).
 */
async function checkOnce(
  cli: CliContext,
  connector: LoadedConnector,
  recipes: readonly BrowserRecipe[],
  profile: TenantProfile,
  file: string,
  given: Record<string, string>,
): Promise<{ recipe: string; status: string; detail: string; task?: string }[]> {
  const host = new BrowserHost();
  const rows: { recipe: string; status: string; detail: string; task?: string }[] = [];
  try {
    for (const r of recipes) {
      const wanted = Object.fromEntries(Object.entries(given).filter(([n]) => r.parameters[n]));
      let params: Record<string, string | undefined>;
      try {
        params = await recipeParams(connector, r, profile, cli.services().secrets, wanted);
      } catch (error) {
        rows.push({ recipe: r.id, status: 'not run', detail: (error as Error).message });
        continue;
      }
      const result = await host.withContext((context) => runRecipe(context, { recipe: r, consoleUrl: consoleUrlOf(profile, connector.manifest.id, file), params, stepTimeoutMs: 10_000 }));
      if (result.status === 'drift' && 'step' in result) {
        const runtime = (await cli.runtime());
        const task = await openDriftTask(cli, connector, r, profile, result);
        await runtime.engine.audit.append(
          { type: 'browser.canary-drift', actor: 'patchbay', taskId: task.taskId, data: { app: connector.manifest.id, recipe: r.id, at: result.step, detail: result.detail, task: task.taskId, opened: task.opened } },
          Date.now(),
        );
        rows.push({ recipe: r.id, status: result.status, detail: `${summary(result)} (task ${task.taskId}${task.opened ? ', opened' : ', still open'})`, task: task.taskId });
      } else {
        rows.push({ recipe: r.id, status: result.status, detail: summary(result) });
      }
    }
  } finally {
    await host.close();
  }
  return rows;
}
