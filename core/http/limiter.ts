import type { RateLimitInfo } from './rate-limit.js';

/** Time for the HTTP toolkit: real by default; tests move it by hand. */
export interface HttpClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: HttpClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface DocumentedLimit {
  readonly requests: number;
  readonly perSeconds: number;
}

/**
 * Keeps a client under its rate limits before the server has to say so: at most `requests` sends
 * in any window of `perSeconds` for each documented limit, no more than `concurrency` in flight,
 * and nothing at all while the server's headers say the window is spent.
 */
export class RateLimiter {
  private readonly windows: { readonly limit: DocumentedLimit; readonly sent: number[] }[];
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private blockedUntil = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    limits: readonly DocumentedLimit[],
    private readonly concurrency: number,
    private readonly clock: HttpClock,
  ) {
    this.windows = limits.map((limit) => ({ limit, sent: [] }));
  }

  /**
   * Waits for a slot; call the returned function when the response is in (calling it twice releases once).
   * A slot is handed straight to the next waiter on release, so `concurrency` holds even when new callers
   * arrive between a release and the waiter's turn.
   * @throws whatever the clock's sleep throws while waiting for a window; the slot is released first.
   */
  async acquire(): Promise<() => void> {
    await this.concurrencySlot();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    };
    // Sends are ordered through one queue so that the windows are counted exactly.
    const turn = this.queue.then(() => this.waitForWindows());
    this.queue = turn.catch(() => {});
    try {
      await turn;
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /** Learns from a response's headers: a spent window blocks until its reset. */
  observe(info: RateLimitInfo): void {
    if (info.remaining !== undefined && info.remaining <= 0 && info.resetAt !== undefined) {
      this.blockedUntil = Math.max(this.blockedUntil, info.resetAt);
    }
  }

  /** After a 429: nothing goes out until `ms` from now. */
  pause(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + ms);
  }

  /** Takes a slot now if one is free, else waits for one handed over by `release` (already counted). */
  private async concurrencySlot(): Promise<void> {
    if (this.inFlight < this.concurrency) {
      this.inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private async waitForWindows(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      let wait = Math.max(0, this.blockedUntil - now);
      for (const { limit, sent } of this.windows) {
        const span = limit.perSeconds * 1000;
        while (sent.length && sent[0]! <= now - span) sent.shift();
        if (sent.length >= limit.requests) wait = Math.max(wait, sent[0]! + span - now);
      }
      if (wait <= 0) break;
      await this.clock.sleep(wait);
    }
    const now = this.clock.now();
    for (const { sent } of this.windows) sent.push(now);
  }
}
