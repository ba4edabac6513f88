import { InvalidInputError, PatchbayError } from '../errors.js';

/** A request names someone else as its requester without the permission to. */
export class OnBehalfRefusedError extends PatchbayError {
  readonly code = 'on-behalf-of-refused';
  override readonly exitCode = 2;
}

/**
 * Sets who asked for a run from the caller's credential, never from the body: `requestedBy` is the
 * caller; a body's `requestedBy` naming someone else is refused (pointer /requestedBy), and a body's
 * `onBehalfOf` (someone other than the caller) is kept beside the caller only when the caller may
 * act on behalf of others. Without a caller (a trusted in-process start), the request is returned as is.
 * Throws InvalidInputError or OnBehalfRefusedError; a request that is not an object is returned for
 * the schema to refuse.
 */
export function withRequester(request: unknown, caller: { requestedBy?: string; mayActOnBehalf?: boolean }, source: string): unknown {
  const by = caller.requestedBy;
  if (!by || !request || typeof request !== 'object' || Array.isArray(request)) return request;
  const { requestedBy, onBehalfOf, ...rest } = request as Record<string, unknown>;
  if (requestedBy !== undefined && (typeof requestedBy !== 'string' || requestedBy.toLowerCase() !== by.toLowerCase())) {
    throw new InvalidInputError({ file: source, pointer: '/requestedBy' }, `is taken from the credential (${by}), not from the body; to ask for someone else, name them in onBehalfOf`);
  }
  const other = typeof onBehalfOf === 'string' && onBehalfOf.toLowerCase() !== by.toLowerCase();
  if (other && !caller.mayActOnBehalf) throw new OnBehalfRefusedError(`${by} may not ask on behalf of ${onBehalfOf}: that needs the runs:on-behalf-of permission`);
  // Anything else in onBehalfOf (not a string) stays for the schema to refuse with its pointer.
  return { ...rest, requestedBy: by, ...(other || (onBehalfOf !== undefined && typeof onBehalfOf !== 'string') ? { onBehalfOf } : {}) };
}
