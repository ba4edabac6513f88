import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import type { Browser, BrowserContext } from 'playwright-core';
import { PatchbayError } from '../../errors.js';

/** Chromium is not where Patchbay looks for it, or would not start. */
export class BrowserUnavailableError extends PatchbayError {
  readonly code = 'browser-unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface BrowserHostOptions {
  /** Debian's Chromium by default; PATCHBAY_CHROMIUM points elsewhere. */
  readonly executablePath?: string;
  /** Recorded-video-free, headless by default; PATCHBAY_HEADED=1 shows the window for recipe authors. */
  readonly headless?: boolean;
  /**
   * How many contexts (browser jobs) may be open at once; a job asking for one more waits for a free
   * one. Unbounded by default (a command that runs one recipe); the worker sets it from
   * `--concurrency` or from `defaultBrowserContexts()`.
   */
  readonly contexts?: number;
  /**
   * Launches Chromium as before issue 17: Debian's full chromium (not the headless shell), with every
   * part of its window (see `unusedWindowFeatures`): for the browser benchmark's baseline only. Off by default.
   */
  readonly asBefore?: boolean;
}

/** What one browser context is reckoned to need (a renderer process and its pages), for `defaultBrowserContexts`. */
export const memoryPerContext = 200 * 2 ** 20;

/**
 * How many browser jobs a worker runs at once when not told: two per core (a job waits on the
 * console most of its time), as many as the free memory holds at `memoryPerContext` each after
 * keeping 512 MiB for the rest, at least 1 and at most 8. Returns the figure and what it came from.
 */
export function defaultBrowserContexts(cores = os.availableParallelism?.() ?? os.cpus().length, freeBytes = os.freemem()): { contexts: number; cores: number; freeBytes: number } {
  const byMemory = Math.floor((freeBytes - 512 * 2 ** 20) / memoryPerContext);
  return { contexts: Math.max(1, Math.min(8, cores * 2, byMemory)), cores, freeBytes };
}

/**
 * A console session a job may carry into its fresh context: the cookies and storage of the job that
 * signed in last (Playwright's storage state), kept in this process's memory only, never written or logged.
 */
export interface SessionHandle {
  /** Whether the context was opened with a session kept by an earlier job (the recipe may skip its sign-in). */
  readonly carried: boolean;
  /** Keeps the context's cookies and storage for the next job of the same console and robot. */
  keep(): Promise<void>;
  /** Forgets the kept session (it expired): the next job signs in. */
  drop(): void;
}

/**
 * The key a session is kept under: the console's origin and a digest of the robot's sign-in values
 * (the digest only: the values themselves are not kept), so that two robots never share a session.
 */
export function sessionKey(consoleUrl: string, signInValues: readonly (string | undefined)[]): string {
  const digest = createHash('sha256').update(JSON.stringify(signInValues)).digest('hex').slice(0, 16);
  return `${new URL(consoleUrl).origin}#${digest}`;
}

type StorageState = Awaited<ReturnType<BrowserContext['storageState']>>;

/**
 * Flags that keep Chromium from calling home: on a closed network its background connections fail
 * many at a time, and a robot with admin rights has no business making them anyway.
 */
const quietFlags = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
];

/**
 * The features Playwright itself turns off when it launches Chromium (playwright-core 1.64's
 * chromiumSwitches). Chromium reads only the last `--disable-features` of its command line, so a
 * list of our own must carry these too; `test/channels/browser/chromium-flags.test.ts` checks against the
 * launched browser's command line that none of Playwright's is lost after an upgrade.
 */
const playwrightDisabledFeatures = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'DialMediaRouteProvider',
  'GlobalMediaControls',
  'HttpsUpgrades',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'BlockOriginHeaderModificationOnRedirect',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'Translate',
  'AutoDeElevate',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];

/**
 * Parts of Chromium's own window that a robot never sees. Since Chromium's headless mode is the
 * whole browser, every page Playwright opens gets a window whose address bar preloads its
 * suggestion popup as WebUI pages (chrome://omnibox-popup.top-chrome/ and its AI-mode variant) in
 * a renderer process of their own: measured on Chromium 156 (docs/benchmarks.md, issue 17), that
 * renderer cost 0.6–0.9 s of CPU per job, more than the console's own pages. Without these
 * features the address bar falls back to its native popup, which is only built when it opens
 * (never, headless). Pages and what they can see are unchanged.
 */
export const unusedWindowFeatures = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'WebUIOmniboxFullPopup'];

/** Chromium's command-line flags for a host: the quiet ones, and without `asBefore` the window's unused parts left out. */
export function chromiumFlags(asBefore = false): string[] {
  return asBefore ? [...quietFlags] : [...quietFlags, `--disable-features=${[...playwrightDisabledFeatures, ...unusedWindowFeatures].join(',')}`];
}

/** Debian's chromium package: the whole browser (window, toolbar and tab strip painted even headless). */
const fullChromium = '/usr/bin/chromium';
/**
 * Debian's chromium-headless-shell package: the same Chromium built without a window, for automation. The
 * binary itself, not /usr/bin's wrapper (a shell that runs it as its child, with nothing to add).
 */
const headlessShell = '/usr/lib/chromium/chromium-headless-shell';

/**
 * The Chromium a host launches when not told (PATCHBAY_CHROMIUM, `executablePath`): headless, Debian's
 * chromium-headless-shell when it is installed, else its chromium. The shell runs pages as the browser
 * does, without the window a headless chromium still opens and paints per context: 0.74 against 1.34 s
 * of Chromium CPU per member removed, 120 against 73 members a minute with four contexts (bench:browser,
 * docs/benchmarks.md). A headed browser (PATCHBAY_HEADED=1, `recipe try` watching) needs the chromium package.
 */
export function defaultChromium(headless: boolean, exists: (file: string) => boolean = existsSync): string {
  return headless && exists(headlessShell) ? headlessShell : fullChromium;
}

/**
 * One browser per worker process, launched on first use and shared; every job gets a fresh context
 * (its own cookies and storage), so nothing of one job leaks into another's except, when the job asks
 * for it by a session key, the console session the last job of the same console and robot signed in
 * with. At most `contexts` jobs run at once; the others wait their turn in order.
 */
export class BrowserHost {
  private launching?: Promise<Browser>;
  private readonly executablePath: string;
  private readonly headless: boolean;
  private readonly flags: string[];
  private limit: number;
  private open = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly sessions = new Map<string, StorageState>();

  constructor(options: BrowserHostOptions = {}) {
    this.headless = options.headless ?? process.env.PATCHBAY_HEADED !== '1';
    this.executablePath = options.executablePath ?? process.env.PATCHBAY_CHROMIUM ?? (options.asBefore ? fullChromium : defaultChromium(this.headless));
    this.limit = options.contexts ?? Number.POSITIVE_INFINITY;
    this.flags = chromiumFlags(options.asBefore);
  }

  /** How many contexts may be open at once (Infinity: unbounded). */
  get contexts(): number {
    return this.limit;
  }

  /** Bounds the contexts open at once from now on (the worker's `--concurrency`). @throws RangeError below 1. */
  set contexts(n: number) {
    if (!(n >= 1)) throw new RangeError(`a browser host needs at least one context, not ${n}`);
    this.limit = n;
    // A slot is counted when it is handed over, not when its job resumes: counting after the await let
    // this loop wake every waiter at once.
    while (this.open < this.limit && this.waiting.length) {
      this.open++;
      this.waiting.shift()!();
    }
  }

  /** Contexts open right now. */
  get busy(): number {
    return this.open;
  }

  private async acquire(): Promise<void> {
    if (this.open < this.limit) {
      this.open++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    this.open--;
    if (this.open < this.limit && this.waiting.length) {
      this.open++;
      this.waiting.shift()!();
    }
  }

  private browser(): Promise<Browser> {
    if (!this.launching) {
      if (!existsSync(this.executablePath)) {
        return Promise.reject(
          new BrowserUnavailableError(
            `Chromium is not at ${this.executablePath}: install Debian's chromium-headless-shell and chromium packages (apt-get install chromium-headless-shell chromium) or set PATCHBAY_CHROMIUM`,
          ),
        );
      }
      // Loaded on first use: commands that never drive a browser do not pay for playwright-core.
      this.launching = import('playwright-core')
        .then(({ chromium }) =>
          chromium.launch({
            executablePath: this.executablePath,
            headless: this.headless,
            args: this.flags,
            // Playwright closes the browser on these signals by default: a worker told to stop (SIGTERM)
            // would lose the page of the step in flight. The process closes the browser when it has finished.
            handleSIGINT: false,
            handleSIGTERM: false,
            handleSIGHUP: false,
          }),
        )
        .catch((error: unknown) => {
          this.launching = undefined;
          throw new BrowserUnavailableError(`Chromium at ${this.executablePath} did not start: ${(error as Error).message.split('\n')[0]}`, { cause: error });
        });
    }
    return this.launching;
  }

  /**
   * Runs `job` in a fresh context, closed afterwards whatever happens, once one of the host's
   * contexts is free. With `options.session` (see `sessionKey`), the context starts with the cookies
   * and storage kept under that key, and `job` gets the handle to keep or drop them.
   */
  async withContext<T>(job: (context: BrowserContext, session?: SessionHandle) => Promise<T>, options: { session?: string } = {}): Promise<T> {
    await this.acquire();
    try {
      return await this.inContext(job, options.session);
    } finally {
      this.release();
    }
  }

  private async inContext<T>(job: (context: BrowserContext, session?: SessionHandle) => Promise<T>, key: string | undefined): Promise<T> {
    const browser = await this.browser();
    if (!browser.isConnected()) {
      this.launching = undefined;
      return this.inContext(job, key);
    }
    const kept = key === undefined ? undefined : this.sessions.get(key);
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
      locale: 'en-GB',
      ...(kept ? { storageState: kept } : {}),
    });
    const session: SessionHandle | undefined =
      key === undefined
        ? undefined
        : {
            carried: kept !== undefined,
            keep: async () => void this.sessions.set(key, await context.storageState()),
            // Only the session this job carried: another job may have kept a fresh one meanwhile.
            drop: () => void (this.sessions.get(key) === kept && this.sessions.delete(key)),
          };
    try {
      return await job(context, session);
    } finally {
      await context.close().catch(() => undefined);
    }
  }

  get launched(): boolean {
    return this.launching !== undefined;
  }

  async close(): Promise<void> {
    this.sessions.clear();
    const launching = this.launching;
    this.launching = undefined;
    if (launching) await (await launching.catch(() => undefined))?.close();
  }
}
