import { NetworkError, RateLimitedError, UpstreamError } from '../http/errors.js';

/** How a step that calls out is retried: attempts in all, and exponential backoff with full jitter between them. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 5 * 60_000 };
export const noRetry: RetryPolicy = { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

/** Whether an error is worth another attempt: rate limits, gateway errors and network failures are; the rest is final. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof RateLimitedError || error instanceof NetworkError) return true;
  return error instanceof UpstreamError && [502, 503, 504].includes(error.status);
}

/**
 * The wait before the next attempt: exactly what a rate-limit answer asked for, else a random
 * delay up to base × 2^(attempt-1), capped (full jitter spreads retries of many runs apart).
 */
export function retryDelayMs(error: unknown, attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  if (error instanceof RateLimitedError && error.retryAfterMs !== undefined) return error.retryAfterMs;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(random() * ceiling);
}
