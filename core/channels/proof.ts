/**
 * How a channel knows what it says about an account: the read that found it, or the independent
 * read that proved it is not there. An offboarding never concludes "already done" or "verified"
 * from a read that could have missed the account (a case-sensitive filter, a search box that
 * matches prefixes, a renamed email): absence is proven by a lookup by the account's id, or by a
 * scan of a list the reader is sure is complete; anything less goes to a person with what was tried.
 */

/**
 * The read that proved something:
 * - `id`: the account read by the id the app gave it (`GET /Users/{id}`, the member page by id);
 * - `filter`: a server-side filter or search (`userName eq`, `?search=`): it can show an account, never its absence;
 * - `scan`: every account of a list the reader is sure it read in full, compared by identifier
 *   (NFKC + case folding);
 * - `lookup`: the connector's own lookup (an API's get by email);
 * - `person`: a person said so in a task;
 * - `none`: nothing could be read.
 */
export type ProofMethod = 'id' | 'filter' | 'scan' | 'lookup' | 'person' | 'none';

/** What the read showed: the account is there (active or not), or proven absent, or nothing could be proven. */
export type ProofFinding = 'present' | 'inactive' | 'absent' | 'unproven';

/**
 * One proof, as the timeline, the JSON, the audit event and the auditor's report carry it.
 * `identifiersTried` lists each identifier with its kind (`id u-12`, `userName carol@x.test`,
 * `externalId E-1`); `accountsScanned` and `complete` are set for scans; `at` is epoch ms.
 */
export interface Proof {
  readonly method: ProofMethod;
  readonly finding: ProofFinding;
  readonly identifiersTried: readonly string[];
  readonly accountsScanned?: number;
  readonly complete?: boolean;
  readonly at: number;
  /** Why nothing could be proven, or what else the read noticed (a filter that missed the account). */
  readonly notes?: readonly string[];
}

/** The identifiers Patchbay has seen for one person in one app (ids, emails, userNames, externalIds). */
export interface KnownIdentifiers {
  readonly ids: readonly string[];
  readonly emails: readonly string[];
  readonly userNames: readonly string[];
  readonly externalIds: readonly string[];
}

export const noKnownIdentifiers: KnownIdentifiers = Object.freeze({ ids: [], emails: [], userNames: [], externalIds: [] });

/**
 * An identifier as compared across sources: Unicode NFKC, then case folded (upper then lower case,
 * so that `ß` and `SS` meet), trimmed. `Carol.Case@Example.test` and `carol.case@example.test` are one.
 */
export function fold(value: string): string {
  return value.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').trim();
}

/** The union of two sets of identifiers, each list without repeats (by fold for emails and userNames). */
export function mergeKnown(a: KnownIdentifiers, b: Partial<KnownIdentifiers>): KnownIdentifiers {
  const union = (x: readonly string[], y: readonly string[] = [], key: (s: string) => string = (s) => s) => {
    const seen = new Set(x.map(key));
    return [...x, ...y.filter((v) => v && !seen.has(key(v)) && seen.add(key(v)))];
  };
  return { ids: union(a.ids, b.ids), emails: union(a.emails, b.emails, fold), userNames: union(a.userNames, b.userNames, fold), externalIds: union(a.externalIds, b.externalIds) };
}

/** Whether a proof shows the account gone (or inactive) by a read that could not have missed it. */
export function provesAbsence(proof: Proof | undefined): boolean {
  return proof?.finding === 'absent' && (proof.method === 'id' || proof.method === 'person' || (proof.method === 'scan' && proof.complete === true));
}

/** The proof in words, for the timeline and the run's summary: "proven by a complete scan of 250 accounts at 10:42". */
export function describeProof(proof: Proof): string {
  const at = new Date(proof.at).toISOString().slice(11, 16);
  const tried = proof.identifiersTried.length ? ` (tried ${proof.identifiersTried.join(', ')})` : '';
  switch (proof.method) {
    case 'id':
      return `${proof.finding === 'absent' ? 'proven gone' : proof.finding === 'inactive' ? 'read inactive' : 'read'} by its id at ${at}${tried}`;
    case 'scan':
      if (proof.finding === 'present' || proof.finding === 'inactive') return `found ${proof.finding === 'inactive' ? 'inactive ' : ''}by reading the list (${proof.accountsScanned ?? 0} accounts) at ${at}${tried}`;
      return proof.complete
        ? `proven by a complete scan of ${proof.accountsScanned ?? 0} accounts at ${at}${tried}`
        : `a scan of ${proof.accountsScanned ?? 0} accounts that was not complete at ${at}${tried}${proof.notes?.length ? `: ${proof.notes.join('; ')}` : ''}`;
    case 'filter':
      return `found${proof.finding === 'inactive' ? ' inactive' : ''} by a filter at ${at}${tried}`;
    case 'lookup':
      return `found by the app's lookup at ${at}${tried}`;
    case 'person':
      return `said by a person at ${at}`;
    default:
      return `nothing could be read at ${at}${tried}${proof.notes?.length ? `: ${proof.notes.join('; ')}` : ''}`;
  }
}

/** What was tried when absence could not be proven, for the person who takes the step over. */
export function describeUnproven(proof: Proof): string {
  const scanned = proof.accountsScanned !== undefined ? `; scanned ${proof.accountsScanned} accounts${proof.complete ? '' : ' (not a complete list)'}` : '';
  return `could not prove absence: tried ${proof.identifiersTried.join(', ') || 'nothing'}${scanned}${proof.notes?.length ? `; ${proof.notes.join('; ')}` : ''}`;
}
