import { existsSync } from 'node:fs';
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
}

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
 * One browser per worker process, launched on first use and shared; every job gets a fresh context
 * (its own cookies and storage), so one job's sign-in never leaks into another's.
 */
export class BrowserHost {
  private launching?: Promise<Browser>;
  private readonly executablePath: string;
  private readonly headless: boolean;

  constructor(options: BrowserHostOptions = {}) {
    this.executablePath = options.executablePath ?? process.env.PATCHBAY_CHROMIUM ?? '/usr/bin/chromium';
    this.headless = options.headless ?? process.env.PATCHBAY_HEADED !== '1';
  }

  private browser(): Promise<Browser> {
    if (!this.launching) {
      if (!existsSync(this.executablePath)) {
        return Promise.reject(
          new BrowserUnavailableError(
            `Chromium is not at ${this.executablePath}: install Debian's chromium package (apt-get install chromium) or set PATCHBAY_CHROMIUM`,
          ),
        );
      }
      // Loaded on first use: commands that never drive a browser do not pay for playwright-core.
      this.launching = import('playwright-core')
        .then(({ chromium }) =>
          chromium.launch({
            executablePath: this.executablePath,
            headless: this.headless,
            args: quietFlags,
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

  /** Runs `job` in a fresh context, closed afterwards whatever happens. */
  async withContext<T>(job: (context: BrowserContext) => Promise<T>): Promise<T> {
    const browser = await this.browser();
    if (!browser.isConnected()) {
      this.launching = undefined;
      return this.withContext(job);
    }
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
      locale: 'en-GB',
    });
    try {
      return await job(context);
    } finally {
      await context.close().catch(() => undefined);
    }
  }

  get launched(): boolean {
    return this.launching !== undefined;
  }

  async close(): Promise<void> {
    const launching = this.launching;
    this.launching = undefined;
    if (launching) await (await launching.catch(() => undefined))?.close();
  }
}
