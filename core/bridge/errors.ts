import { PatchbayError } from '../errors.js';

/** The `scimType` values of RFC 7644 §3.12 the bridge answers with. */
export type ScimType = 'invalidFilter' | 'invalidPath' | 'invalidValue' | 'invalidSyntax' | 'uniqueness' | 'mutability' | 'noTarget' | 'tooMany';

/**
 * A SCIM request the bridge refuses, answered as an RFC 7644 §3.12 `Error` resource
 * (`status` as a string, `detail`, and `scimType` where the RFC names one). The bridge's side of
 * a SCIM error; `ScimError` (core/channels/scim/errors.ts) is the client's: a server that answered one.
 */
export class ScimRefusal extends PatchbayError {
  readonly code = 'scim';
  override readonly exitCode = 2;
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly scimType?: ScimType,
  ) {
    super(detail);
  }
}

export const errorSchema = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The RFC 7644 §3.12 body of an error. */
export const errorBody = (status: number, detail: string, scimType?: ScimType) => ({ schemas: [errorSchema], status: String(status), ...(scimType ? { scimType } : {}), detail });
