import type { AccountRecord, Completeness, Snapshot, SnapshotSource } from './snapshot.js';

export type FindingKind = 'orphaned-account' | 'assigned-but-missing' | 'ambiguous-match' | 'access-drift' | 'audit-overdue';

/** One thing wrong, with what shows it and since when the evidence is. */
export interface Finding {
  readonly kind: FindingKind;
  readonly app: string;
  /** The person, as the best identifier read says. */
  readonly person: string;
  readonly detail: string;
  /** Each source that shows it, with when it was read. */
  readonly evidence: readonly { readonly source: SnapshotSource; readonly saw: string }[];
  /** How old the evidence is at reconcile time (ms): the older of the two reads it rests on. */
  readonly ageMs: number;
  /** When a reconciliation of this app first showed it (kept from one reconciliation to the next, in the store). */
  readonly firstSeenAt: number;
}

/**
 * Whether both reads of a reconciliation were sure they saw everything: complete only when both
 * were; `reasons` names the side of each fault. An incomplete reconciliation is stored as such,
 * shown first, closes no finding, is no audit, and is never remediated.
 */
export interface ReconciliationCompleteness extends Completeness {
  readonly idp: Completeness;
  readonly app: Completeness;
}

export interface Reconciliation {
  readonly app: string;
  readonly at: number;
  readonly idp: SnapshotSource;
  readonly appSource: SnapshotSource;
  /** Whether both sides were read to their end; first in every output when not. Absent (older callers): complete. */
  readonly completeness?: ReconciliationCompleteness;
  readonly counts: { readonly identities: number; readonly accounts: number; readonly matched: number };
  readonly findings: readonly Finding[];
}

/** Both sides' completeness, with each reason prefixed by the source it came from. */
export function completenessOf(idp: Snapshot, app: Snapshot): ReconciliationCompleteness {
  const reasons = [...idp.completeness.reasons.map((r) => `IdP side (${idp.source.name}): ${r}`), ...app.completeness.reasons.map((r) => `app side (${app.source.name}): ${r}`)];
  const complete = idp.completeness.complete && app.completeness.complete;
  return { complete, reasons: complete ? [] : reasons.length ? reasons : ['a read did not say why it is incomplete'], idp: idp.completeness, app: app.completeness };
}

/** The desired access of a person, when the caller knows it (a change request, a role model). */
export type DesiredAccess = ReadonlyMap<string, { readonly roles?: readonly string[]; readonly teams?: readonly string[]; readonly policy?: string }>;

/**
 * The keys an account is matched on: emails and userNames share one case-insensitive namespace (a
 * userName is usually the email), externalIds their own, compared exactly.
 */
const keysOf = (a: AccountRecord): string[] => {
  const email = a.email?.trim().toLowerCase();
  const userName = a.userName?.trim().toLowerCase();
  const keys: string[] = [];
  if (email) keys.push(email);
  if (userName && userName !== email) keys.push(userName);
  if (a.externalId) keys.push(`\u0000x:${a.externalId.trim()}`);
  return keys;
};
const nameOf = (a: AccountRecord) => a.email ?? a.userName ?? a.externalId ?? '(no identifier)';

/**
 * The identity graph for one app, and what is wrong in it: IdP identities matched to app accounts
 * on email, userName or externalId (case-insensitive, externalId exact), never guessed: an identity
 * that matches two accounts, or an account claimed by two identities, is reported as ambiguous and
 * left out of the other findings. Linear in the number of records: one pass to index the app's
 * accounts, one over the identities.
 */
export function reconcile(idp: Snapshot, app: Snapshot, options: { now: number; desired?: DesiredAccess }): Reconciliation {
  const { now } = options;
  const index = new Map<string, number>();
  const clash = new Set<number>();
  app.accounts.forEach((account, i) => {
    for (const key of keysOf(account)) {
      const seen = index.get(key);
      if (seen === undefined) index.set(key, i);
      else if (seen !== i) {
        clash.add(seen);
        clash.add(i);
      }
    }
  });
  const claimedBy = new Int32Array(app.accounts.length).fill(-1);
  const findings: Finding[] = [];
  const add = (finding: Omit<Finding, 'firstSeenAt'>) => findings.push({ ...finding, firstSeenAt: now });
  const age = (...sources: SnapshotSource[]) => now - Math.min(...sources.map((s) => s.readAt));
  const ambiguous = (person: string, detail: string) =>
    add({ kind: 'ambiguous-match', app: app.app, person, detail, evidence: [{ source: idp.source, saw: detail }, { source: app.source, saw: detail }], ageMs: age(idp.source, app.source) });
  let matched = 0;
  const missing: number[] = [];
  idp.accounts.forEach((identity, i) => {
    const candidates: number[] = [];
    for (const key of keysOf(identity)) {
      const hit = index.get(key);
      if (hit !== undefined && !candidates.includes(hit)) candidates.push(hit);
    }
    if (candidates.length === 0) {
      // Attestations cover only the work done through Patchbay: no attestation is not no account.
      if (identity.active && app.source.kind !== 'attestation') missing.push(i);
      return;
    }
    if (candidates.length > 1 || (clash.size > 0 && clash.has(candidates[0]!))) {
      ambiguous(nameOf(identity), `${nameOf(identity)} matches ${candidates.map((c) => nameOf(app.accounts[c]!)).join(', ')} in ${app.app}; not guessed`);
      for (const c of candidates) claimedBy[c] = -2;
      return;
    }
    const c = candidates[0]!;
    if (claimedBy[c] !== -1) {
      ambiguous(nameOf(app.accounts[c]!), `${nameOf(app.accounts[c]!)} in ${app.app} is claimed by two IdP identities; not guessed`);
      claimedBy[c] = -2;
      return;
    }
    claimedBy[c] = i;
    matched++;
  });
  for (const c of clash) {
    const account = app.accounts[c]!;
    if (claimedBy[c] !== -2 && account.active) ambiguous(nameOf(account), `${nameOf(account)} shares an identifier with another account in ${app.app}; not guessed`);
  }
  app.accounts.forEach((account, c) => {
    if (!account.active || claimedBy[c] === -2 || clash.has(c)) return;
    const owner = claimedBy[c]! >= 0 ? idp.accounts[claimedBy[c]!] : undefined;
    if (owner?.active) {
      const wanted = options.desired?.get((owner.email ?? account.email ?? '').toLowerCase()) ?? wantedBy(owner);
      if (wanted) drift(add, app, idp, account, wanted, now);
      return;
    }
    const why = owner ? `deactivated in the IdP (${idp.source.name})` : `not assigned in the IdP (${idp.source.name})`;
    add({
      kind: 'orphaned-account',
      app: app.app,
      person: nameOf(account),
      detail: `${nameOf(account)} is active in ${app.app} but ${why}`,
      evidence: [
        { source: app.source, saw: account.evidence ?? `active account ${nameOf(account)}` },
        { source: idp.source, saw: owner ? `${nameOf(owner)} inactive` : `no assignment for ${nameOf(account)}` },
      ],
      ageMs: age(idp.source, app.source),
    });
  });
  for (const i of missing) {
    const identity = idp.accounts[i]!;
    add({
      kind: 'assigned-but-missing',
      app: app.app,
      person: nameOf(identity),
      detail: `${nameOf(identity)} is assigned ${app.app} in the IdP but has no account there`,
      evidence: [
        { source: idp.source, saw: `active assignment for ${nameOf(identity)}` },
        { source: app.source, saw: `no account for ${nameOf(identity)}` },
      ],
      ageMs: age(idp.source, app.source),
    });
  }
  return { app: app.app, at: now, idp: idp.source, appSource: app.source, completeness: completenessOf(idp, app), counts: { identities: idp.accounts.length, accounts: app.accounts.length, matched }, findings };
}

/** The access an IdP record asks for, when its source gives one (an export with roles, teams or policy columns). */
function wantedBy(identity: AccountRecord): ReturnType<DesiredAccess['get']> {
  if (!identity.roles?.length && !identity.teams?.length && !identity.policy) return undefined;
  return { ...(identity.roles?.length ? { roles: identity.roles } : {}), ...(identity.teams?.length ? { teams: identity.teams } : {}), ...(identity.policy ? { policy: identity.policy } : {}) };
}

function drift(add: (finding: Omit<Finding, 'firstSeenAt'>) => void, app: Snapshot, idp: Snapshot, account: AccountRecord, wanted: NonNullable<ReturnType<DesiredAccess['get']>>, now: number): void {
  const differences: string[] = [];
  const sameSet = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && a.every((x) => b.map((y) => y.toLowerCase()).includes(x.toLowerCase()));
  if (wanted.roles && !sameSet(wanted.roles, account.roles)) differences.push(`roles ${JSON.stringify(account.roles ?? [])}, wanted ${JSON.stringify(wanted.roles)}`);
  if (wanted.teams && !sameSet(wanted.teams, account.teams)) differences.push(`teams ${JSON.stringify(account.teams ?? [])}, wanted ${JSON.stringify(wanted.teams)}`);
  if (wanted.policy && wanted.policy !== account.policy) differences.push(`policy ${JSON.stringify(account.policy ?? null)}, wanted ${JSON.stringify(wanted.policy)}`);
  if (!differences.length) return;
  add({
    kind: 'access-drift',
    app: app.app,
    person: nameOf(account),
    detail: `${nameOf(account)} has ${differences.join('; ')}`,
    evidence: [{ source: app.source, saw: differences.join('; ') }],
    ageMs: now - Math.min(app.source.readAt, idp.source.readAt),
  });
}
