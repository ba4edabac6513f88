/** Time as the engine sees it: real in production, moved by hand in tests. */
export const Clock = Symbol('Clock');
export interface Clock {
  now(): number;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}

/** A clock tests move forward explicitly, so that SLAs, JIT waits and backoff run in no time. */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2026, 10, 28, 9, 0, 0)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
