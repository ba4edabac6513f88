import type { BrowserContext, Frame, Locator, Page } from 'playwright-core';
import { type SessionHandle, sessionKey } from './browser-host.js';
import type { BrowserRecipe, CellCleaning, ClickWait, RecipeCondition, RecipeScope, RecipeStep } from '../../schema/types/browser-recipe.js';

/** One run of a recipe: the recipe, where the console is, and the values of its parameters (secrets included, kept in memory only). */
export interface RecipeJob {
  readonly recipe: BrowserRecipe;
  readonly consoleUrl: string;
  readonly params: Readonly<Record<string, string | undefined>>;
  /** Default wait for each step (a step's timeoutMs wins). */
  readonly stepTimeoutMs?: number;
  /**
   * Called after every step that ran (for `patchbay recipe try`): its index, what it matched and a
   * screenshot (secrets masked). Nothing here is stored by the runner.
   */
  readonly observe?: (report: StepReport) => Promise<void> | void;
  /**
   * The worker's console session (BrowserHost.withContext with a session key). With a recipe that
   * declares its `session`, a carried session skips the sign-in steps, an expired one is signed in
   * again, and a fresh sign-in is kept for the next job. Without it the recipe signs in every time.
   */
  readonly session?: SessionHandle;
}

/** One step as `recipe try` shows it: what it matched (an element's outline, never a secret) and the page after it. */
export interface StepReport {
  readonly index: number;
  readonly step: string;
  readonly action: RecipeStep['action'];
  readonly outcome: 'ok' | 'skipped' | 'stopped';
  readonly matched?: string;
  readonly png?: Buffer;
  readonly ms: number;
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
      /** The values `read` steps took from the page (never a secret). */
      readonly values: Readonly<Record<string, string>>;
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

/** A failure worth one more try for a step that only reads (never for one that changes the console). */
class Transient extends Error {}

/**
 * A click was done and the page it was to lead to (its `waitFor`) did not come within `ms`: the console
 * answered with another page (a sign-in refused re-shows the form), or not at all. Keeps Playwright's error.
 */
class ClickLedElsewhere extends Error {
  constructor(at: string, wanted: string, ms: number, options: { cause: unknown }) {
    super(`the page stayed at ${at} instead of ${wanted} within ${ms} ms`, options);
  }
}

const placeholder = /\{([A-Za-z0-9]+)\}/g;
const roleSelector = /^role=([a-z]+)(?:\[name="((?:[^"\\]|\\.)*)"\])?$/;
const labelSelector = /^label=(?:"((?:[^"\\]|\\.)*)"|(.+))$/;

/** Steps that only look at the console: a transient failure (a timeout, a page still loading) is retried once. */
const readOnlyActions: ReadonlySet<RecipeStep['action']> = new Set(['goto', 'expect', 'extract', 'read', 'hover', 'screenshot', 'done-if', 'blocked-if', 'absent-if']);

/**
 * Replaces each exact secret value by [secret]: only where the value stands as a whole token (not
 * inside a longer word), and only the values of `secret` parameters. A robot's login name is a
 * `login` parameter, not a secret, so a login such as "admin" never turns "administrator" or the
 * page's "Admin" menu into "[secret]" in messages and saved HTML.
 */
export function maskSecrets(text: string, secretValues: readonly string[]): string {
  let out = text;
  for (const secret of [...secretValues].filter(Boolean).sort((a, b) => b.length - a.length)) {
    const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, 'gu'), '[secret]');
  }
  return out;
}

/**
 * The key under which a worker keeps the recipe's console session (see BrowserHost.withContext):
 * the console and the robot's sign-in values (digested), or undefined when the recipe declares no `session`.
 */
export function recipeSessionKey(recipe: BrowserRecipe, consoleUrl: string, params: RecipeJob['params']): string | undefined {
  if (!recipe.session) return undefined;
  const signIn = Object.entries(recipe.parameters).filter(([, p]) => p.type === 'secret' || p.type === 'login');
  return sessionKey(consoleUrl, signIn.map(([name]) => params[name]));
}

/** Case-insensitive, trimmed, whitespace-collapsed and Unicode-normalised (NFKC) text, for comparing a cell with a value. */
export function sameText(a: string, b: string): boolean {
  const norm = (s: string) => s.normalize('NFKC').replace(/\s+/g, ' ').trim().toLocaleLowerCase('und');
  return norm(a) === norm(b);
}

/**
 * Runs a recipe in a fresh browser context, step by step, and never acts on a guess: a selector
 * that finds nothing, or more than one thing (unless the step's scope picks one), stops the run as
 * drift; a blocker the console shows stops it as blocked. Values typed from secret parameters are
 * masked in screenshots and scrubbed from the page's HTML and from messages (exact values only).
 * Reads are retried once on a transient failure; clicks, fills and the rest are never retried.
 */
export async function runRecipe(context: BrowserContext, job: RecipeJob): Promise<RecipeResult> {
  const { recipe } = job;
  const page = await context.newPage();
  const shots: Shot[] = [];
  const trace: string[] = [];
  const records: Record<string, Record<string, string>[]> = {};
  const values: Record<string, string> = {};
  const secretValues = Object.entries(recipe.parameters)
    .filter(([name, p]) => p.type === 'secret' && job.params[name])
    .map(([name]) => job.params[name]!);
  const masked: Locator[] = [];
  // The fields typed into on the page now shown (checked again before a click sends them); a new page forgets them.
  const typed: Typed[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) typed.length = 0;
  });
  const scrub = (text: string) => maskSecrets(text, secretValues);
  const browserDialogs: string[] = [];
  page.on('dialog', (dialog) => {
    browserDialogs.push(`${dialog.type()} "${scrub(dialog.message())}"`);
    void dialog.dismiss().catch(() => undefined);
  });
  const capture = () => page.screenshot({ fullPage: true, mask: masked, maskColor: '#222' }).catch(() => undefined);
  /** The whole page (where a recipe stops, or a step that asks for it), or one element, with the typed secrets masked either way. */
  const screenshot = async (step: string, element?: Locator, timeout?: number) => {
    const png = element ? await element.screenshot({ mask: masked, maskColor: '#222', timeout }) : await capture();
    if (png) shots.push({ step, png });
  };
  // A session is reused only where the recipe says which steps sign in, and the step after them opens a page of its own.
  const session = recipe.session && job.session && recipe.steps[recipe.session.signInSteps]?.action === 'goto' ? recipe.session : undefined;
  let carried = session !== undefined && job.session!.carried;

  let index = carried ? session!.signInSteps : 0;
  if (carried) trace.push(`${recipe.steps.slice(0, index).map((s) => s.name).join(', ')}: skipped (signed in already: the worker's session)`);
  let current = recipe.steps[index]!;
  let matched: string | undefined;
  const report = async (outcome: StepReport['outcome'], started: number) => {
    if (!job.observe) return;
    const png = await capture();
    await job.observe({
      index,
      step: current.name,
      action: current.action,
      outcome,
      ...(matched ? { matched: scrub(matched) } : {}),
      ...(png ? { png } : {}),
      ms: Date.now() - started,
    });
  };
  try {
    for (; index < recipe.steps.length; index++) {
      // The sign-in steps have all run: the session is kept for the next job of this console and robot.
      if (session && !carried && index === session.signInSteps) await job.session!.keep().catch(() => undefined);
      current = recipe.steps[index]!;
      matched = undefined;
      const step = current;
      const started = Date.now();
      const tools: StepTools = {
        job,
        timeout: step.timeoutMs ?? job.stepTimeoutMs ?? 5_000,
        masked,
        typed,
        records,
        values,
        screenshot,
        matched: (text) => {
          matched = text;
        },
      };
      if (mentionsMissingOptional(step, recipe, job.params, values)) {
        trace.push(`${step.name}: skipped (no value given)`);
        await report('skipped', started);
        continue;
      }
      if (step.when && !(await holds(page, step.when, tools))) {
        trace.push(`${step.name}: skipped (${describeCondition(step.when)} does not hold)`);
        await report('skipped', started);
        continue;
      }
      try {
        await perform(page, step, tools);
      } catch (error) {
        // The click's page did not come: the checks the recipe makes right after it (a refused sign-in's
        // message) say why, in the console's own words, before the step is called drift.
        if (error instanceof ClickLedElsewhere) await checksAfter(page, recipe, index, tools);
        if (!(error instanceof Transient || isTimeout(error)) || !readOnlyActions.has(step.action)) throw error;
        trace.push(`${step.name}: retried once after ${firstLine(error)}`);
        await page.waitForLoadState('load', { timeout: tools.timeout }).catch(() => undefined);
        await perform(page, step, tools);
      }
      if (browserDialogs.length) throw new Stop('drift', `the page opened an unexpected browser dialog: ${browserDialogs.join('; ')}`);
      if (carried && index === session!.signInSteps) {
        carried = false;
        if (await holds(page, session!.signedOut, tools)) {
          // The console sent the carried session to its sign-in page: it expired. Sign in again, then go on from here.
          trace.push(`${step.name}: the worker's session has expired (${describeCondition(session!.signedOut)}); signing in again`);
          job.session!.drop();
          index = -1;
          continue;
        }
      }
      trace.push(`${step.name}: ok (${Date.now() - started} ms)`);
      await report('ok', started);
    }
    return {
      status: 'done',
      detail: `${recipe.title}: ${recipe.steps.length} steps done`,
      records,
      values,
      shots,
      trace,
    };
  } catch (error) {
    const stop = error instanceof Stop ? error : await explain(page, error as Error, current, job, values);
    await report('stopped', Date.now()).catch(() => undefined);
    if (stop.status === 'already-done') {
      trace.push(`${current.name}: ${stop.message}`);
      await screenshot(current.name);
      return {
        status: 'already-done',
        detail: scrub(stop.message),
        records,
        values,
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
  /** The fields filled on the page now shown, with what was typed: checked again before a click sends them. */
  readonly typed: Typed[];
  readonly records: Record<string, Record<string, string>[]>;
  readonly values: Record<string, string>;
  readonly screenshot: (step: string, element?: Locator, timeout?: number) => Promise<void>;
  readonly matched: (outline: string) => void;
}

/** A field a `fill` step typed into, and the text (a secret's too: kept in memory for the page's life only). */
interface Typed {
  readonly selector: string;
  readonly target: Locator;
  readonly wanted: string;
}

/**
 * Fills `target` with `wanted` and reads it back, up to 3 times: a page that re-renders while loading can
 * empty it. Throws Stop('drift') when the field never keeps the text.
 */
async function fillAndCheck(page: Page, typed: Typed, timeout: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await typed.target.fill(typed.wanted, { timeout });
    const now = await typed.target.inputValue({ timeout }).catch(() => typed.wanted);
    if (now === typed.wanted) return;
    if (attempt === 3) throw new Stop('drift', `${typed.selector} did not keep the value typed into it (read back ${now.length} characters, expected ${typed.wanted.length})`);
    await page.waitForLoadState('load', { timeout }).catch(() => undefined);
  }
}

/**
 * Before a click sends a form: every field filled on this page still holds what was typed, or is typed
 * again. A console's script can move the focus while a fill is under way (WordPress's sign-in page focuses
 * and selects the login field 200 ms after it loads, wp-login.php `wp_attempt_focus`), and the text typed
 * for the next field then replaces the earlier field's. Seen as an intermittent refused sign-in in CI.
 */
async function retypeChanged(page: Page, tools: StepTools): Promise<void> {
  for (const field of tools.typed) {
    // A field the page removed is not waited for: the click goes on and the page says what it lacks.
    if ((await field.target.count()) !== 1) continue;
    const now = await field.target.inputValue({ timeout: tools.timeout }).catch(() => undefined);
    if (now !== undefined && now !== field.wanted) await fillAndCheck(page, field, tools.timeout);
  }
}

function isTimeout(error: unknown): boolean {
  const e = error as Error;
  return e?.name === 'TimeoutError' || /Timeout \d+ms exceeded/.test(e?.message ?? '');
}

/** {name} replaced by a parameter's value or a value read earlier; `encode` URL-encodes each value. */
function substitute(text: string, tools: Pick<StepTools, 'job' | 'values'>, encode = false): string {
  return text.replace(placeholder, (_, name: string) => {
    const value = tools.job.params[name] ?? tools.values[name] ?? '';
    return encode ? encodeURIComponent(value) : value;
  });
}

function describeCondition(when: RecipeCondition): string {
  return when.present ? `present ${when.present}` : when.absent ? `absent ${when.absent}` : `text "${when.text}"`;
}

async function holds(page: Page, when: RecipeCondition, tools: StepTools): Promise<boolean> {
  if (when.text !== undefined) return page.getByText(substitute(when.text, tools)).first().isVisible();
  const target = locator(page, substitute((when.present ?? when.absent)!, tools));
  const visible = await target.first().isVisible();
  return when.present !== undefined ? visible : !visible;
}

/** Where a step's selector points once its scope is applied: one element, or drift naming why not. */
async function scoped(page: Page, step: RecipeStep, tools: StepTools): Promise<Locator> {
  let root: Page | Locator = page;
  const scope = step.scope;
  if (scope?.within) {
    root = await rowWhere(page, scope.within, tools);
  }
  let target = locatorIn(root, substitute(step.selector!, tools));
  if (scope?.firstVisible) {
    target = target.locator('visible=true').first();
  } else if (scope?.nth !== undefined) {
    target = target.nth(scope.nth);
  }
  return target;
}

/** The one row of a table whose cell under `column` equals the value (sameText); drift when none or several. */
async function rowWhere(page: Page, within: NonNullable<RecipeScope['within']>, tools: StepTools): Promise<Locator> {
  const table = locator(page, substitute(within.table, tools));
  await table.first().waitFor({ state: 'visible', timeout: tools.timeout });
  const wanted = substitute(within.equals, tools);
  const found = await table.first().evaluate(
    (element, column) => {
      const text = (cell: Element) => {
        const copy = cell.cloneNode(true) as HTMLElement;
        copy.querySelectorAll('.screen-reader-text, [aria-hidden=true], .visually-hidden, .sr-only').forEach((e) => e.remove());
        return (copy.textContent ?? '').replace(/\s+/g, ' ').trim();
      };
      const norm = (s: string) => s.normalize('NFKC').replace(/\s+/g, ' ').trim().toLocaleLowerCase();
      const head = element.querySelector('thead tr') ?? element.querySelector('tr');
      const headers = head ? [...head.querySelectorAll('th, td')].map(text) : [];
      const at = headers.findIndex((h) => norm(h) === norm(column));
      const body = element.querySelector('tbody') ? [...element.querySelectorAll('tbody tr')] : [...element.querySelectorAll('tr')].filter((r) => r !== head);
      return { at, headers, cells: body.map((r) => (at < 0 ? '' : text(r.querySelectorAll('th, td')[at] ?? r))) };
    },
    within.column,
  );
  if (found.at < 0) throw new Stop('drift', `the table ${within.table} has no column "${within.column}" (it has: ${found.headers.join(', ')})`);
  const hits = found.cells.map((c, i) => (sameText(c, wanted) ? i : -1)).filter((i) => i >= 0);
  if (hits.length === 0) throw new Stop('drift', `no row of ${within.table} has ${within.column} "${wanted}"`);
  if (hits.length > 1) throw new Stop('drift', `${hits.length} rows of ${within.table} have ${within.column} "${wanted}"; Patchbay does not act on a guess`);
  const rows = table.first().locator(':scope tbody tr');
  return (await rows.count()) ? rows.nth(hits[0]!) : table.first().locator('tr').nth(hits[0]! + 1);
}

async function outline(target: Locator): Promise<string> {
  return target
    .evaluate((e) => {
      const el = e as HTMLElement;
      const attrs = ['id', 'name', 'type', 'href', 'aria-label', 'role'].map((a) => (el.getAttribute(a) ? ` ${a}="${el.getAttribute(a)}"` : '')).join('');
      const text = (el.innerText ?? '').replace(/\s+/g, ' ').trim().slice(0, 60);
      return `<${el.tagName.toLowerCase()}${attrs}>${text}`;
    })
    .catch(() => '(no element)');
}

async function perform(page: Page, step: RecipeStep, tools: StepTools): Promise<void> {
  const { job, timeout } = tools;
  const fill = (text: string, encode = false) => substitute(text, tools, encode);
  const locate = async () => {
    const target = await scoped(page, step, tools);
    return target;
  };
  // What a step matched is for `recipe try` only: a job nobody observes saves the round trip to the page.
  const note = async (target: Locator) => void (job.observe && tools.matched(await outline(target)));
  switch (step.action) {
    case 'goto': {
      const url = consoleAddress(job.consoleUrl, step.url!, tools);
      let response;
      try {
        response = await page.goto(url.toString(), {
          timeout,
          waitUntil: 'load',
        });
      } catch (error) {
        if (isTimeout(error)) throw new Transient(`the console at ${url.origin} did not answer in ${timeout} ms`);
        throw new Stop('unreachable', `the console at ${new URL(job.consoleUrl).origin} did not answer: ${firstLine(error)}`);
      }
      const status = response?.status() ?? 0;
      if (status >= 500) throw new Stop('unreachable', `the console answered ${status} at ${url.pathname}`);
      if (status >= 400) throw new Stop('drift', `the console answered ${status} at ${url.pathname}`);
      return;
    }
    case 'fill': {
      const target = await locate();
      const wanted = fill(step.value!);
      const typed = [...step.value!.matchAll(placeholder)].map((m) => job.recipe.parameters[m[1]!]?.type);
      if (typed.includes('secret')) tools.masked.push(target);
      // Fill, then read the field back: a page that re-renders while loading can empty it.
      const field = { selector: step.selector!, target, wanted };
      await fillAndCheck(page, field, timeout);
      tools.typed.push(field);
      if (!typed.includes('secret')) await note(target);
      return;
    }
    case 'click': {
      const target = await locate();
      await target.waitFor({ state: 'visible', timeout });
      await note(target);
      await retypeChanged(page, tools);
      await clickAndWait(page, target, step.waitFor, timeout, (job.recipe.schemaVersion ?? 1) >= 2);
      return;
    }
    case 'hover': {
      const target = await locate();
      await target.hover({ timeout });
      await note(target);
      return;
    }
    case 'check': {
      const target = await locate();
      await target.check({ timeout });
      await note(target);
      return;
    }
    case 'select': {
      const target = await locate();
      const wanted = fill(step.value!);
      await target.waitFor({ state: 'visible', timeout });
      const options = (await target.locator('option').allTextContents()).map((o) => o.trim());
      if (!options.some((o) => sameText(o, wanted))) {
        throw new Stop('blocked', `the console has no "${wanted}" to choose in ${step.selector} (it offers: ${options.filter(Boolean).join(', ')})`, [
          `"${wanted}" does not exist in the console`,
        ]);
      }
      await target.selectOption({ label: options.find((o) => sameText(o, wanted))! }, { timeout });
      await note(target);
      return;
    }
    case 'upload':
      await (await locate()).setInputFiles(fill(step.value!), { timeout });
      return;
    case 'expect': {
      const target = step.selector ? await locate() : page.getByText(fill(step.text!)).first();
      await target.waitFor({ state: 'visible', timeout });
      await note(target);
      return;
    }
    case 'read': {
      const target = await locate();
      await target.waitFor({ state: 'attached', timeout });
      await note(target);
      const raw = step.attribute ? await target.getAttribute(step.attribute, { timeout }) : await textWithout(target, step.clean?.ignore);
      if (raw === null || raw === undefined) throw new Stop('drift', `${step.selector} has no ${step.attribute} to read`);
      // A link's address is read as the browser would follow it: absolute, against the page's URL.
      const linkish = step.attribute && ['href', 'src', 'action', 'formaction'].includes(step.attribute.toLowerCase());
      tools.values[step.into!] = linkish ? new URL(raw, page.url()).toString() : clean(raw, step.clean);
      return;
    }
    case 'done-if':
    case 'blocked-if': {
      const target = step.selector ? await locate() : page.getByText(fill(step.text!));
      if ((await target.count()) === 0 || !(await target.first().isVisible())) return;
      if (step.action === 'done-if') throw new Stop('already-done', step.says!);
      const text = (await target.first().innerText())
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
      throw new Stop('blocked', `${step.says}: ${text.join(' ')}`, text);
    }
    case 'absent-if': {
      const target = step.selector ? await locate() : page.getByText(fill(step.text!));
      if ((await target.count()) === 0 || !(await target.first().isVisible())) return;
      // Refuted by the id recorded earlier: the account is there under another name; the recipe goes on.
      if ((await confirmAbsence(page, step, tools)) === 'present') return;
      throw new Stop('already-done', step.says!);
    }
    case 'extract': {
      tools.records[step.into!] = await extract(page, step, tools);
      return;
    }
    case 'screenshot': {
      if (step.fullPage) return tools.screenshot(step.name);
      // The element that matters: the one the step names, else the page's main region when it has one.
      const target = step.selector ? await locate() : page.locator('main, [role=main]');
      if (!step.selector && (await target.count()) !== 1) return tools.screenshot(step.name);
      await target.waitFor({ state: 'visible', timeout });
      if (step.selector) await note(target);
      return tools.screenshot(step.name, target, timeout);
    }
  }
}

/** A URL on the console: a path under its address, or a value read from the page that must stay on the console's origin. */
function consoleAddress(consoleUrl: string, template: string, tools: Pick<StepTools, 'job' | 'values'>): URL {
  const base = new URL(consoleUrl);
  const whole = /^\{([A-Za-z0-9]+)\}$/.exec(template);
  if (whole && /^https?:\/\//i.test(tools.values[whole[1]!] ?? '')) {
    const url = new URL(tools.values[whole[1]!]!);
    if (url.origin !== base.origin) throw new Stop('drift', `the link read into {${whole[1]}} leaves the console (${url.origin}); Patchbay only follows links on ${base.origin}`);
    return url;
  }
  return new URL(consoleUrl.replace(/\/$/, '') + substitute(template, tools, true));
}

/**
 * Runs the `blocked-if` and `done-if` steps that directly follow step `index` (they throw their Stop when
 * they hold); what they throw otherwise is ignored: the caller reports its own failure.
 */
async function checksAfter(page: Page, recipe: BrowserRecipe, index: number, tools: StepTools): Promise<void> {
  for (const next of recipe.steps.slice(index + 1)) {
    if (next.action !== 'blocked-if' && next.action !== 'done-if') return;
    try {
      await perform(page, next, tools);
    } catch (error) {
      if (error instanceof Stop) throw error;
    }
  }
}

/**
 * Clicks and waits for what the click starts, so that the next step never races a navigation
 * (a sign-in whose cookie is not set yet). v2 recipes wait for the navigation a click starts, if one
 * starts within a short grace period; `waitFor` names the URL or response to wait for.
 */
async function clickAndWait(page: Page, target: Locator, waitFor: ClickWait | undefined, timeout: number, v2: boolean): Promise<void> {
  const waits: Promise<unknown>[] = [];
  if (waitFor?.url) waits.push(page.waitForURL(waitFor.url, { timeout, waitUntil: 'load' }));
  if (waitFor?.response) waits.push(page.waitForResponse(waitFor.response, { timeout }));
  if (waitFor?.navigation) waits.push(page.waitForNavigation({ timeout, waitUntil: 'load' }));
  let navigated = false;
  const onNav = (frame: Frame) => {
    if (frame === page.mainFrame()) navigated = true;
  };
  page.on('framenavigated', onNav);
  let clicked = false;
  try {
    await Promise.all([
      target.click({ timeout }).then(() => {
        clicked = true;
      }),
      ...waits.map((wait) =>
        wait.catch(async (error: unknown) => {
          // The click happened and its page did not come: say where the console went instead.
          if (!clicked || !isTimeout(error)) throw error;
          await page.waitForLoadState('load', { timeout: 1_000 }).catch(() => undefined);
          const at = new URL(page.url());
          throw new ClickLedElsewhere(at.pathname + at.search, waitFor?.url ?? waitFor?.response ?? 'the next page', timeout, { cause: error });
        }),
      ),
    ]);
    if (!waitFor && v2) {
      // No declared wait: give a navigation the click may start a moment to begin, then let it finish.
      const deadline = Date.now() + 300;
      while (!navigated && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    }
    await page.waitForLoadState('load', { timeout });
  } finally {
    page.off('framenavigated', onNav);
  }
}

async function textWithout(target: Locator, ignore: string | undefined): Promise<string> {
  return target.evaluate((e, ignore) => {
    const copy = e.cloneNode(true) as HTMLElement;
    if (ignore) copy.querySelectorAll(ignore).forEach((c) => c.remove());
    return (e as HTMLElement).innerText !== undefined && !ignore ? (e as HTMLElement).innerText : (copy.textContent ?? '');
  }, ignore ?? null);
}

/** Applies a cell's cleaning (see CellCleaning in the schema). */
export function clean(raw: string, how: CellCleaning | undefined): string {
  let text = raw.replace(/[ \t\u00a0]+/g, ' ').replace(/\s*\n\s*/g, '\n').trim();
  if (!how) return text;
  if (how.firstLine) text = text.split('\n')[0]!.trim();
  if (how.match !== undefined) {
    const m = new RegExp(how.match, 'u').exec(text);
    text = m ? (m[1] ?? m[0]).trim() : '';
  }
  if (how.number) {
    const m = /-?\d[\d\s,.]*/.exec(text);
    text = m ? String(Number(m[0].replace(/[\s,]/g, ''))) : '';
  }
  if (how.date) {
    const when = new Date(text);
    text = Number.isNaN(when.getTime()) ? '' : when.toISOString().slice(0, 10);
  }
  return text.replace(/\s+/g, ' ').trim();
}

/** An extract over one table, or over every page of it when `next` names the next-page link. */
async function extract(page: Page, step: RecipeStep, tools: StepTools): Promise<Record<string, string>[]> {
  const out: Record<string, string>[] = [];
  const seen = new Set<string>();
  const maxPages = step.maxPages ?? 50;
  for (let pageNo = 1; ; pageNo++) {
    const table = await scoped(page, step, tools);
    await table.waitFor({ state: 'visible', timeout: tools.timeout });
    const ignore = Object.values(step.cells ?? {})
      .map((c) => c.ignore)
      .filter(Boolean);
    const { headers, rows } = await table.evaluate(
      (element, { rowSelector, ignore }) => {
        const text = (cell: Element) => {
          if (!ignore.length) return (cell as HTMLElement).innerText.trim();
          const copy = cell.cloneNode(true) as HTMLElement;
          for (const sel of ignore) copy.querySelectorAll(sel).forEach((c) => c.remove());
          return (copy.textContent ?? '').trim();
        };
        const cells = (row: Element) => [...row.querySelectorAll('th, td')].map(text);
        const all = [...element.querySelectorAll('tr')];
        // A key/value table (a row header, then its value, on every row) reads as one record.
        const keyed = !element.querySelector('thead') && all.length > 0 && all.every((r) => r.children.length === 2 && r.children[0]!.tagName === 'TH');
        if (keyed) return { headers: all.map((r) => cells(r)[0]!), rows: [all.map((r) => cells(r)[1]!)] };
        const head = element.querySelector('thead tr') ?? all[0];
        const body = rowSelector
          ? [...element.querySelectorAll(rowSelector)]
          : element.querySelector('tbody')
            ? [...element.querySelectorAll('tbody tr')]
            : all.filter((r) => r !== head);
        return { headers: head ? cells(head) : [], rows: body.filter((r) => r !== head).map(cells) };
      },
      { rowSelector: step.rows ?? null, ignore: ignore as string[] },
    );
    const columns = Object.entries(step.columns!);
    const headerAt = (header: string) => headers.findIndex((h) => sameText(h.split('\n')[0]!, header) || sameText(h, header));
    const missing = columns.filter(([, header]) => headerAt(header) < 0).map(([, header]) => header);
    if (missing.length) throw new Stop('drift', `the table ${step.selector} has no column ${missing.map((m) => `"${m}"`).join(', ')} (it has: ${headers.join(', ')})`);
    for (const row of rows) {
      // A "No items found" row spans the table: not an account.
      if (row.length < columns.length && row.length <= 1) continue;
      const record = Object.fromEntries(columns.map(([field, header]) => [field, clean(row[headerAt(header)] ?? '', step.cells?.[field])]));
      const key = JSON.stringify(record);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(record);
    }
    if (!step.next) return out;
    const next = locator(page, substitute(step.next, tools)).first();
    if (!(await next.count())) return out;
    if (pageNo >= maxPages) throw new Stop('drift', `the table ${step.selector} still has a next page after ${maxPages} pages`);
    const href = await next.getAttribute('href');
    if (href) {
      const url = new URL(href, page.url());
      if (url.origin !== new URL(tools.job.consoleUrl).origin) throw new Stop('drift', `the next-page link leaves the console (${url.origin})`);
      const response = await page.goto(url.toString(), { timeout: tools.timeout, waitUntil: 'load' });
      if ((response?.status() ?? 0) >= 400) throw new Stop('drift', `the console answered ${response?.status()} for page ${pageNo + 1}`);
    } else {
      await clickAndWait(page, next, { navigation: true }, tools.timeout, true);
    }
  }
}

/**
 * The second ways an absence must be seen before a recipe may say "already done": each runnable
 * confirmation opens its URL and must show nothing was found there too. A confirmation that finds
 * something, or none that could run, stops the recipe as drift, so that a person decides.
 * A `byId` confirmation (the member page by the id recorded earlier) decides alone: its sign proves
 * absence by id; anything else shows the account, and the recipe goes on from that page (returns
 * 'present') instead of saying "already done".
 */
async function confirmAbsence(page: Page, step: RecipeStep, tools: StepTools): Promise<'absent' | 'present'> {
  const ran: string[] = [];
  const given = (template: string) => [...template.matchAll(placeholder)].every((m) => tools.job.params[m[1]!] || tools.values[m[1]!]);
  // The id first: it is the strongest proof either way.
  const ways = [...(step.confirm ?? [])].sort((a, b) => Number(b.byId !== undefined) - Number(a.byId !== undefined));
  for (const way of ways) {
    const template = way.byId ?? way.url!;
    if (!given(template)) continue;
    const url = consoleAddress(tools.job.consoleUrl, template, tools);
    const response = await page.goto(url.toString(), { timeout: tools.timeout, waitUntil: 'load' }).catch((error) => {
      throw new Stop('unreachable', `the console did not answer the check "${way.name}": ${firstLine(error)}`);
    });
    const status = response?.status() ?? 0;
    const sign = way.absent ? locator(page, substitute(way.absent, tools)) : page.getByText(substitute(way.text!, tools));
    if (way.byId !== undefined) {
      // A console may answer "no such user" with an error status (WordPress: 500): the sign decides, not the status.
      return (await sign.first().isVisible()) ? 'absent' : 'present';
    }
    if (status >= 400) throw new Stop('drift', `absence not proven: the check "${way.name}" answered ${status}`);
    if (!(await sign.first().isVisible())) {
      throw new Stop('drift', `absence not proven: ${step.name} found nothing, but the check "${way.name}" finds something; a person must decide whether it is the same account`);
    }
    ran.push(way.name);
  }
  if (!ran.length) throw new Stop('drift', `absence not proven: ${step.name} found nothing and no second check could run (${(step.confirm ?? []).map((w) => w.name).join(', ')})`);
  return 'absent';
}

/** role=button[name="Save"] means that whole name, in any case (Playwright's default is a substring); label=… is a form label. */
export function locator(page: Page, selector: string): Locator {
  return locatorIn(page, selector);
}

/** The same selectors, looked up inside a page or inside an element (a table row). */
export function locatorIn(root: Page | Locator, selector: string): Locator {
  const page = root as Page;
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

function mentionsMissingOptional(step: RecipeStep, recipe: BrowserRecipe, params: RecipeJob['params'], values: Record<string, string>): boolean {
  const names = [...`${step.value ?? ''} ${step.selector ?? ''} ${step.url ?? ''}`.matchAll(placeholder)].map((m) => m[1]!);
  return names.some((name) => recipe.parameters[name] && recipe.parameters[name]!.required !== true && !params[name] && !values[name]);
}

/** Turns Playwright's failure into what a person needs to know: which element, and what was there instead. */
async function explain(page: Page, error: Error, step: RecipeStep, job: RecipeJob, values: Record<string, string>): Promise<Stop> {
  const message = error.message ?? String(error);
  if (error instanceof Transient) return new Stop('unreachable', message);
  const shown = (text: string) =>
    text.replace(placeholder, (whole, name: string) => (job.recipe.parameters[name]?.type === 'secret' ? whole : (job.params[name] ?? values[name] ?? whole)));
  const what = shown(step.selector ?? (step.text ? `the text "${step.text}"` : (step.url ?? step.action)));
  const timedOut = error.name === 'TimeoutError' || /Timeout \d+ms exceeded/.test(message);
  // Playwright's call log: the click happened and the page it asked for never came. The console is slow or down,
  // not changed, and it may have acted (a removal confirmed): never "not there". Until that navigation is stopped,
  // Playwright waits for it before any look at the page (the dialogs here, the screenshot, the HTML), for ever if
  // the console never answers: it is stopped, and the page stays what the robot saw.
  const unanswered = timedOut && /click action done/.test(message) && /waiting for scheduled navigations to finish/.test(message);
  if (unanswered) await stopLoading(page);
  const dialogs = await page
    .locator('[role=dialog]:visible, [role=alertdialog]:visible, dialog[open]')
    .allInnerTexts()
    .catch(() => [] as string[]);
  const cover = dialogs.length ? `; an unexpected dialog is open: "${dialogs[0]!.split('\n')[0]!.trim()}"` : '';
  if (error instanceof ClickLedElsewhere) return new Stop('drift', `${what} was clicked, but ${message}${cover}`);
  if (/strict mode violation/i.test(message)) {
    const count = /resolved to (\d+) elements/.exec(message)?.[1] ?? 'several';
    return new Stop('drift', `${what} matches ${count} elements on the page; Patchbay does not act on a guess${cover}`);
  }
  if (timedOut) {
    const within = /Timeout (\d+)ms/.exec(message)?.[1] ?? '?';
    if (unanswered) return new Stop('unreachable', `${what} was clicked, but the console did not answer within ${within} ms: whether it acted is not known`);
    const intercepted = /intercepts pointer events/.test(message) ? '; something else on the page covers it' : '';
    return new Stop('drift', `${what} was not there, or not usable, within ${within} ms${intercepted}${cover}`);
  }
  if (/Target page, context or browser has been closed|Browser has been closed/i.test(message)) {
    return new Stop('unreachable', `the browser closed during the step: ${firstLine(error)}`);
  }
  return new Stop('drift', `${firstLine(error)}${cover}`);
}

/** Stops the page's pending navigation (Chromium's Page.stopLoading); the page stays the document it was. Never throws. */
async function stopLoading(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page).catch(() => undefined);
  await cdp?.send('Page.stopLoading').catch(() => undefined);
  await cdp?.detach().catch(() => undefined);
}

function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error)
    .split('\n')[0]!
    .replace(/^\w+\.\w+: /, '');
}
