import { PatchbayError } from '../errors.js';

/** The vendor answered with an error status. The message names the method, URL path and status, never credentials. */
export class UpstreamError extends PatchbayError {
  readonly code: string = 'upstream-failure';
  constructor(
    readonly status: number,
    readonly operation: string,
    detail?: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: HTTP ${status}${detail ? ` (${detail})` : ''}`, options);
  }
}

/** The vendor refused the credentials (401/403). */
export class UnauthorizedError extends UpstreamError {
  override readonly code = 'unauthorized';
}

/**
 * The vendor said to slow down; `retryAfterMs` is how long it asked us to wait, when it said.
 * `status` is 429, or the status the vendor uses for it (503 with Retry-After, GitHub's 403).
 */
export class RateLimitedError extends UpstreamError {
  override readonly code = 'rate-limited';
  constructor(operation: string, readonly retryAfterMs: number | undefined, status = 429) {
    super(status, operation, retryAfterMs === undefined ? 'no delay given' : `retry in ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

/**
 * The vendor asked us to wait longer than the client is set to wait (`maxRetryWaitMs`): the call
 * fails at once rather than hanging, and says both figures. Not retryable by the engine either.
 */
export class RateLimitWaitTooLongError extends UpstreamError {
  override readonly code = 'rate-limit-wait-too-long';
  constructor(
    operation: string,
    readonly retryAfterMs: number,
    readonly maxWaitMs: number,
    status: number,
  ) {
    super(status, operation, `the server asks to wait ${Math.ceil(retryAfterMs / 1000)} s, longer than the ${Math.ceil(maxWaitMs / 1000)} s this client waits (maxRetryWaitMs); not retried, try again later`);
  }
}

/**
 * A list that cannot be read to its end with certainty: a page that made no progress, a next
 * request that repeats an earlier one, a list that ended short of the total it announced.
 * `reason` says which, in words; `items` is how many distinct items were read before it stopped.
 */
export class PaginationError extends PatchbayError {
  readonly code = 'pagination';
  constructor(
    readonly operation: string,
    readonly reason: string,
    readonly items: number,
  ) {
    super(`${operation}: ${reason}`);
  }
}

/** The vendor could not be reached at all. */
export class NetworkError extends PatchbayError {
  readonly code = 'network';
  constructor(readonly operation: string, options: { cause: unknown }) {
    super(`${operation}: network error (${(options.cause as Error)?.message ?? String(options.cause)})`, options);
  }
}

/** The vendor says the thing asked for does not exist (404). */
export class ResourceNotFoundError extends UpstreamError {
  override readonly code = 'not-found';
}

/** The vendor refused the request as malformed or conflicting (400, 409, 422): retrying will not help. */
export class InvalidRequestError extends UpstreamError {
  override readonly code = 'invalid-request';
}
