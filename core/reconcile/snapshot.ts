/** An account as one source knows it; any of the three identifiers may be missing. */
export interface AccountRecord {
  /** The app's own id for the account, when the reader sees it (SCIM `id`): Patchbay keeps it to find the account again after a rename. */
  readonly id?: string;
  readonly email?: string;
  readonly userName?: string;
  readonly externalId?: string;
  readonly active: boolean;
  readonly roles?: readonly string[];
  readonly teams?: readonly string[];
  readonly policy?: string;
  /** What a source says of this record in words, when it is more than "active account" (an attestation: who said it, when, in which task). */
  readonly evidence?: string;
}

/** Where a snapshot came from and when: every finding cites it. */
export interface SnapshotSource {
  readonly kind: 'idp' | 'api' | 'scim' | 'browser' | 'file' | 'attestation';
  /** e.g. "Okta app 0oa1 assignments", "spendesk export-members recipe", "members.xlsx". */
  readonly name: string;
  readonly readAt: number;
}

/**
 * Whether a reader is sure it read everything. A reader that is not says why, one reason per
 * fault it saw ("ended at 2 of totalResults 3", "page 4 made no progress", "file line 6: no email").
 * Nothing read short becomes a finding that is stored as an audit or opens a remediation.
 */
export interface Completeness {
  readonly complete: boolean;
  /** Empty when complete; otherwise each thing that makes the read uncertain, in words. */
  readonly reasons: readonly string[];
}

/** A read that is sure it saw everything. */
export const completeRead: Completeness = Object.freeze({ complete: true, reasons: [] });

/** One read of one side: the IdP's assignments of an app, or the app's own accounts. */
export interface Snapshot {
  readonly side: 'idp' | 'app';
  readonly app: string;
  readonly source: SnapshotSource;
  readonly accounts: readonly AccountRecord[];
  /** Whether the read saw everything; an incomplete one is reported first and never remediated. */
  readonly completeness: Completeness;
}
