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

/** The vendor said to slow down; `retryAfterMs` is how long it asked us to wait, when it said. */
export class RateLimitedError extends UpstreamError {
  override readonly code = 'rate-limited';
  constructor(operation: string, readonly retryAfterMs: number | undefined) {
    super(429, operation, retryAfterMs === undefined ? 'no delay given' : `retry in ${Math.ceil(retryAfterMs / 1000)} s`);
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
