import { UpstreamError } from '../../http/errors.js';

/**
 * A SCIM server answered with an error. The message carries what the server said, in its own
 * words (RFC 7644 §3.12: `status`, `scimType`, `detail`), beside the method and path:
 * "scim: PUT /scim/v2/Users/u1: HTTP 400 (scimType invalidSyntax: Extended attributes namespace … must be included)".
 */
export class ScimError extends UpstreamError {
  override readonly code: string;

  constructor(
    status: number,
    operation: string,
    readonly scimType: string | undefined,
    readonly detail: string | undefined,
    options: { cause?: unknown; code?: string; scimStatus?: string } = {},
  ) {
    super(status, operation, [scimType ? `scimType ${scimType}` : '', detail ?? ''].filter(Boolean).join(': ') || undefined, options);
    this.code = options.code ?? 'scim-error';
    this.scimStatus = options.scimStatus;
  }

  /** The `status` of the SCIM Error body, when the server sent one: a bare 404 from a route the server lacks has none. */
  readonly scimStatus: string | undefined;
}

/** Reads an error body as RFC 7644 §3.12 shapes it; tolerant of servers that send `status` as a number or text only. */
export function parseScimError(text: string | undefined): { status?: string; scimType?: string; detail?: string } {
  if (!text) return {};
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const str = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : String(v).slice(0, 500));
    const detail = str(body.detail) ?? str(body.message) ?? str((body.error as Record<string, unknown> | undefined)?.message) ?? str(body.error);
    return { ...(str(body.status) ? { status: str(body.status)! } : {}), ...(str(body.scimType) ? { scimType: str(body.scimType)! } : {}), ...(detail ? { detail } : {}) };
  } catch {
    const line = text.trim().split('\n')[0]?.slice(0, 200);
    return line ? { detail: line } : {};
  }
}
