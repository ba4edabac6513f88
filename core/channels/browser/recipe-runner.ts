import type { BrowserContext, Locator, Page } from 'playwright-core';
import type { BrowserRecipe, RecipeStep } from '../../schema/types/browser-recipe.js';

/** One run of a recipe: the recipe, where the console is, and the values of its parameters (secrets included, kept in memory only). */
export interface RecipeJob {
  readonly recipe: BrowserRecipe;
  readonly consoleUrl: string;
  readonly params: Readonly<Record<string, string | undefined>>;
  /** Default wait for each step (a step's timeoutMs wins). */
  readonly stepTimeoutMs?: number;
}

export interface Shot {
  readonly step: string;
  readonly png: Buffer;
}

/** What a recipe saw and did. `step` names the recipe step where it stopped. No secret is in here. */
export type RecipeResult =
  | {
      readonly status: 'done' | 'already-done';
      readonly detail: string;
      readonly records: Readonly<Record<string, readonly Record<string, string>[]>>;
      readonly shots: readonly Shot[];
      readonly trace: readonly string[];
    }
  | {
      /** drift: the page is not what the recipe expects. blocked: the console said no. unreachable: no console to talk to. */
      readonly status: 'drift' | 'blocked' | 'unreachable';
      readonly step: string;
      readonly stepIndex: number;
      readonly detail: string;
      readonly blockers?: readonly string[];
      readonly shots: readonly Shot[];
      readonly html?: string;
      readonly trace: readonly string[];
    };

class Stop extends Error {
  constructor(
    readonly status: 'drift' | 'blocked' | 'unreachable' | 'already-done',
    message: string,
    readonly blockers?: readonly string[],
  ) {
    super(message);
  }
}

const placeholder = /\{([A-Za-z0-9]+)\}/g;
const roleSelector = /^role=([a-z]+)(?:\[name="((?:[^"\\]|\\.)*)"\])?$/;
const labelSelector = /^label=(?:"((?:[^"\\]|\\.)*)"|(.+))$/;

/**
 * Runs a recipe in a fresh browser context, step by step, and never acts on a guess: a selector
 * that finds nothing, or more than one thing, stops the run as drift; a blocker the console shows
 * stops it as blocked. Values typed from secret parameters are masked in screenshots and scrubbed
 * from the page's HTML and from messages.
 */
export async function runRecipe(context: BrowserContext, job: RecipeJob): Promise<RecipeResult> {
  const { recipe } = job;
  const page = await context.newPage();
  const shots: Shot[] = [];
  const trace: string[] = [];
  const records: Record<string, Record<string, string>[]> = {};
  const secretValues = Object.entries(recipe.parameters)
    .filter(([name, p]) => p.type === 'secret' && job.params[name])
    .map(([name]) => job.params[name]!)
    .sort((a, b) => b.length - a.length);
  const masked: Locator[] = [];
  const scrub = (text: string) => secretValues.reduce((t, s) => t.split(s).join('[secret]'), text);
  const browserDialogs: string[] = [];
  page.on('dialog', (dialog) => {
    browserDialogs.push(`${dialog.type()} "${scrub(dialog.message())}"`);
    void dialog.dismiss().catch(() => undefined);
  });
  const screenshot = async (step: string) => {
    const png = await page.screenshot({ fullPage: true, mask: masked, maskColor: '#222' }).catch(() => undefined);
    if (png) shots.push({ step, png });
  };

  let index = 0;
  let current = recipe.steps[0]!;
  try {
    for (; index < recipe.steps.length; index++) {
      current = recipe.steps[index]!;
      const step = current;
      if (mentionsMissingOptional(step, recipe, job.params)) {
        trace.push(`${step.name}: skipped (no value given)`);
        continue;
      }
      const timeout = step.timeoutMs ?? job.stepTimeoutMs ?? 5_000;
      const started = Date.now();
      await perform(page, step, { job, timeout, masked, records, screenshot });
      if (browserDialogs.length) throw new Stop('drift', `the page opened an unexpected browser dialog: ${browserDialogs.join('; ')}`);
      trace.push(`${step.name}: ok (${Date.now() - started} ms)`);
    }
    return {
      status: 'done',
      detail: `${recipe.title}: ${recipe.steps.length} steps done`,
      records,
      shots,
      trace,
    };
  } catch (error) {
    const stop = error instanceof Stop ? error : await explain(page, error as Error, current, job);
    if (stop.status === 'already-done') {
      trace.push(`${current.name}: ${stop.message}`);
      await screenshot(current.name);
      return {
        status: 'already-done',
        detail: stop.message,
        records,
        shots,
        trace,
      };
    }
    trace.push(`${current.name}: ${stop.status}`);
    await screenshot(`${current.name} (${stop.status})`);
    const html = await page.content().then(scrub, () => undefined);
    return {
      status: stop.status,
      step: current.name,
      stepIndex: index + 1,
      detail: scrub(stop.message),
      ...(stop.blockers ? { blockers: stop.blockers.map(scrub) } : {}),
      shots,
      ...(html ? { html } : {}),
      trace,
    };
  } finally {
    await page.close().catch(() => undefined);
  }
}

interface StepTools {
  readonly job: RecipeJob;
  readonly timeout: number;
  readonly masked: Locator[];
  readonly records: Record<string, Record<string, string>[]>;
  readonly screenshot: (step: string) => Promise<void>;
}

async function perform(page: Page, step: RecipeStep, tools: StepTools): Promise<void> {
  const { job, timeout } = tools;
  const fill = (text: string, encode = false) =>
    text.replace(placeholder, (_, name: string) => {
      const value = job.params[name] ?? '';
      return encode ? encodeURIComponent(value) : value;
    });
  const locate = () => locator(page, fill(step.selector!));
  switch (step.action) {
    case 'goto': {
      const url = new URL(job.consoleUrl.replace(/\/$/, '') + fill(step.url!, true));
      let response;
      try {
        response = await page.goto(url.toString(), {
          timeout,
          waitUntil: 'load',
        });
      } catch (error) {
        throw new Stop('unreachable', `the console at ${new URL(job.consoleUrl).origin} did not answer: ${firstLine(error)}`);
      }
      const status = response?.status() ?? 0;
      if (status >= 500) throw new Stop('unreachable', `the console answered ${status} at ${url.pathname}`);
      if (status >= 400) throw new Stop('drift', `the console answered ${status} at ${url.pathname}`);
      return;
    }
    case 'fill': {
      const target = locate();
      await target.fill(fill(step.value!), { timeout });
      const typed = [...step.value!.matchAll(placeholder)].map((m) => job.recipe.parameters[m[1]!]?.type);
      if (typed.includes('secret')) tools.masked.push(target);
      return;
    }
    case 'click':
      await locate().click({ timeout });
      await page.waitForLoadState('load', { timeout });
      return;
    case 'check':
      await locate().check({ timeout });
      return;
    case 'select': {
      const target = locate();
      const wanted = fill(step.value!);
      await target.waitFor({ state: 'visible', timeout });
      const options = (await target.locator('option').allTextContents()).map((o) => o.trim());
      if (!options.includes(wanted)) {
        throw new Stop('blocked', `the console has no "${wanted}" to choose in ${step.selector} (it offers: ${options.filter(Boolean).join(', ')})`, [
          `"${wanted}" does not exist in the console`,
        ]);
      }
      await target.selectOption({ label: wanted }, { timeout });
      return;
    }
    case 'upload':
      await locate().setInputFiles(fill(step.value!), { timeout });
      return;
    case 'expect':
      await (step.selector ? locate() : page.getByText(fill(step.text!)).first()).waitFor({ state: 'visible', timeout });
      return;
    case 'done-if':
    case 'blocked-if': {
      const target = step.selector ? locate() : page.getByText(fill(step.text!));
      if ((await target.count()) === 0 || !(await target.first().isVisible())) return;
      if (step.action === 'done-if') throw new Stop('already-done', step.says!);
      const text = (await target.first().innerText())
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      throw new Stop('blocked', `${step.says}: ${text.join(' ')}`, text);
    }
    case 'extract': {
      const table = locate();
      await table.waitFor({ state: 'visible', timeout });
      const { headers, rows } = await table.evaluate((element) => {
        const cells = (row: Element) => [...row.querySelectorAll('th, td')].map((c) => (c as HTMLElement).innerText.trim());
        const all = [...element.querySelectorAll('tr')];
        // A key/value table (a row header, then its value, on every row) reads as one record.
        const keyed = !element.querySelector('thead') && all.length > 0 && all.every((r) => r.children.length === 2 && r.children[0]!.tagName === 'TH');
        if (keyed)
          return {
            headers: all.map((r) => cells(r)[0]!),
            rows: [all.map((r) => cells(r)[1]!)],
          };
        const head = element.querySelector('thead tr') ?? all[0];
        return {
          headers: head ? cells(head) : [],
          rows: all.filter((r) => r !== head).map(cells),
        };
      });
      const columns = Object.entries(step.columns!);
      const missing = columns.filter(([, header]) => !headers.includes(header)).map(([, header]) => header);
      if (missing.length)
        throw new Stop('drift', `the table ${step.selector} has no column ${missing.map((m) => `"${m}"`).join(', ')} (it has: ${headers.join(', ')})`);
      tools.records[step.into!] = rows.map((row) => Object.fromEntries(columns.map(([field, header]) => [field, row[headers.indexOf(header)] ?? ''])));
      return;
    }
    case 'screenshot':
      await tools.screenshot(step.name);
      return;
  }
}

/** role=button[name="Save"] means that whole name, in any case (Playwright's default is a substring); label=… is a form label. */
export function locator(page: Page, selector: string): Locator {
  const role = roleSelector.exec(selector);
  if (role) {
    const name = role[2]?.replace(/\\(.)/g, '$1');
    const exactly =
      name === undefined
        ? {}
        : {
            name: new RegExp(`^\\s*${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'i'),
          };
    return page.getByRole(role[1] as Parameters<Page['getByRole']>[0], exactly);
  }
  const label = labelSelector.exec(selector);
  if (label)
    return page.getByLabel((label[1] ?? label[2]!).replace(/\\(.)/g, '$1'), {
      exact: true,
    });
  return page.locator(selector);
}

function mentionsMissingOptional(step: RecipeStep, recipe: BrowserRecipe, params: RecipeJob['params']): boolean {
  const names = [...`${step.value ?? ''} ${step.selector ?? ''}`.matchAll(placeholder)].map((m) => m[1]!);
  return names.some((name) => recipe.parameters[name]?.required !== true && !params[name]);
}

/** Turns Playwright's failure into what a person needs to know: which element, and what was there instead. */
async function explain(page: Page, error: Error, step: RecipeStep, job: RecipeJob): Promise<Stop> {
  const message = error.message ?? String(error);
  const shown = (text: string) =>
    text.replace(placeholder, (whole, name: string) => (job.recipe.parameters[name]?.type === 'secret' ? whole : (job.params[name] ?? whole)));
  const what = shown(step.selector ?? (step.text ? `the text "${step.text}"` : (step.url ?? step.action)));
  const dialogs = await page
    .locator('[role=dialog]:visible, [role=alertdialog]:visible, dialog[open]')
    .allInnerTexts()
    .catch(() => [] as string[]);
  const cover = dialogs.length ? `; an unexpected dialog is open: "${dialogs[0]!.split('\n')[0]!.trim()}"` : '';
  if (/strict mode violation/i.test(message)) {
    const count = /resolved to (\d+) elements/.exec(message)?.[1] ?? 'several';
    return new Stop('drift', `${what} matches ${count} elements on the page; Patchbay does not act on a guess${cover}`);
  }
  if (error.name === 'TimeoutError' || /Timeout \d+ms exceeded/.test(message)) {
    const intercepted = /intercepts pointer events/.test(message) ? '; something else on the page covers it' : '';
    return new Stop('drift', `${what} was not there, or not usable, within ${/Timeout (\d+)ms/.exec(message)?.[1] ?? '?'} ms${intercepted}${cover}`);
  }
  if (/Target page, context or browser has been closed|Browser has been closed/i.test(message)) {
    return new Stop('unreachable', `the browser closed during the step: ${firstLine(error)}`);
  }
  return new Stop('drift', `${firstLine(error)}${cover}`);
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error)
    .split('\n')[0]!
    .replace(/^\w+\.\w+: /, '');
}
