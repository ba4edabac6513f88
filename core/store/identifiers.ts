import { inject, injectable } from 'inversify';
import { type KnownIdentifiers, fold, mergeKnown, noKnownIdentifiers } from '../channels/proof.js';
import type { AppAccount } from '../registry/connector-api.js';
import type { AccountRecord, Snapshot } from '../reconcile/snapshot.js';
import { type Database, StatementCache, SqliteConnection } from './database.js';

export type IdentifierKind = 'id' | 'email' | 'userName' | 'externalId';

/** One identifier as the store keeps it: the value as seen (its case kept: a case-sensitive server may need it), and when and where it was seen first and last. */
export interface SeenIdentifier {
  readonly kind: IdentifierKind;
  readonly value: string;
  readonly firstSeenAt: number;
  readonly firstSeenIn: string;
  readonly lastSeenAt: number;
  readonly lastSeenIn: string;
}

const kinds: readonly [IdentifierKind, keyof KnownIdentifiers][] = [
  ['id', 'ids'],
  ['email', 'emails'],
  ['userName', 'userNames'],
  ['externalId', 'externalIds'],
];

/** The person's key: their email (the IdP's, or the app's for an account no IdP identity claims), folded. */
export const personKey = (email: string): string => fold(email);

/**
 * Every identifier Patchbay has seen for a person in an app (the account's id, its emails,
 * userNames and externalIds), per tenant, with when and where: a run's check and actions, and each
 * reconciliation, feed it; lookups use all of them, so an account renamed since (a married name, a
 * moved domain) is still found by the id recorded before.
 */
@injectable()
export class IdentifierStore {
  private readonly statements: StatementCache;

  constructor(@inject(SqliteConnection) private readonly db: Database) {
    this.statements = new StatementCache(db);
  }

  /** Records identifiers seen for `person` (an email) in `app`; `where` says where ("run run-1 step scim-check", "reconciliation of scim"). */
  see(tenant: string, person: string, app: string, identifiers: Partial<KnownIdentifiers>, where: string, at: number): void {
    const upsert = this.statements.get(
      `INSERT INTO known_identifiers (tenant, person, app, kind, value, first_seen_at, first_seen_in, last_seen_at, last_seen_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, person, app, kind, value) DO UPDATE SET last_seen_at = excluded.last_seen_at, last_seen_in = excluded.last_seen_in WHERE excluded.last_seen_at >= last_seen_at`,
    );
    const key = personKey(person);
    for (const [kind, field] of kinds) {
      for (const value of identifiers[field] ?? []) {
        const v = value?.trim();
        if (v) upsert.run(tenant, key, app, kind, v, at, where, at, where);
      }
    }
  }

  /** Records what an app said of an account (its id, email, and the userName/externalId it showed). */
  seeAccount(tenant: string, person: string, app: string, account: AppAccount, where: string, at: number): void {
    this.see(tenant, person, app, identifiersOf(account), where, at);
  }

  /**
   * Every identifier known for the person in the app: those recorded under the person's email,
   * and those of anyone recorded with that email or userName in the app (folded comparison).
   */
  lookup(tenant: string, person: string, app: string): KnownIdentifiers {
    const key = personKey(person);
    const rows = this.statements
      .get(
        `SELECT kind, value FROM known_identifiers WHERE tenant = ? AND app = ? AND person IN (
           SELECT ? UNION SELECT person FROM known_identifiers WHERE tenant = ? AND app = ? AND kind IN ('email', 'userName') AND lower(value) = ?)
         ORDER BY last_seen_at DESC, kind, value`,
      )
      .all(tenant, app, key, tenant, app, key) as { kind: IdentifierKind; value: string }[];
    let known: KnownIdentifiers = noKnownIdentifiers;
    for (const row of rows) {
      const field = kinds.find(([k]) => k === row.kind)![1];
      known = mergeKnown(known, { [field]: [row.value] });
    }
    return known;
  }

  /** Each identifier with when and where it was seen, for the person in the app. */
  list(tenant: string, person: string, app: string): SeenIdentifier[] {
    return this.statements
      .get(
        `SELECT kind, value, first_seen_at AS firstSeenAt, first_seen_in AS firstSeenIn, last_seen_at AS lastSeenAt, last_seen_in AS lastSeenIn
           FROM known_identifiers WHERE tenant = ? AND person = ? AND app = ? ORDER BY kind, value`,
      )
      .all(tenant, personKey(person), app) as SeenIdentifier[];
  }

  /**
   * What a reconciliation read, kept: each app account's identifiers under the person the IdP
   * knows it as (matched on folded email or userName, or exact externalId), else under the account's
   * own email. Returns how many accounts were recorded. One transaction.
   */
  fromReconciliation(tenant: string, idp: Snapshot, app: Snapshot, at: number): number {
    const byKey = new Map<string, string>();
    for (const identity of idp.accounts) {
      const person = identity.email ?? identity.userName;
      if (!person) continue;
      for (const k of [identity.email, identity.userName]) if (k) byKey.set(fold(k), person);
      if (identity.externalId) byKey.set(`\u0000${identity.externalId}`, person);
    }
    const where = `reconciliation of ${app.app} (${app.source.kind}: ${app.source.name.slice(0, 120)})`;
    let recorded = 0;
    this.db.transaction(() => {
      for (const account of app.accounts) {
        const person =
          [account.email, account.userName].map((k) => (k ? byKey.get(fold(k)) : undefined)).find(Boolean) ??
          (account.externalId ? byKey.get(`\u0000${account.externalId}`) : undefined) ??
          account.email ??
          account.userName;
        if (!person) continue;
        this.see(tenant, person, app.app, recordIdentifiers(account), where, at);
        recorded++;
      }
    })();
    return recorded;
  }
}

function recordIdentifiers(account: AccountRecord): Partial<KnownIdentifiers> {
  return {
    ...(account.id ? { ids: [account.id] } : {}),
    ...(account.email ? { emails: [account.email] } : {}),
    ...(account.userName ? { userNames: [account.userName] } : {}),
    ...(account.externalId ? { externalIds: [account.externalId] } : {}),
  };
}

/** The identifiers an app's account shows: its id, email, and the userName and externalId (and other emails) among its attributes. */
export function identifiersOf(account: AppAccount): Partial<KnownIdentifiers> {
  const attrs = account.attributes ?? {};
  const emails = [account.email, ...(attrs.emails ? attrs.emails.split(',').map((e) => e.trim()) : [])].filter((e) => e && e.includes('@'));
  return {
    ...(account.id && account.id !== account.email ? { ids: [account.id] } : {}),
    emails,
    ...(attrs.userName ? { userNames: [attrs.userName] } : {}),
    ...(attrs.externalId ? { externalIds: [attrs.externalId] } : {}),
  };
}
