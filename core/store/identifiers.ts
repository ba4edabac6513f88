import { inject, injectable } from '#inversify';
import { type KnownIdentifiers, fold, mergeKnown, noKnownIdentifiers } from '../channels/proof.js';
import type { AppAccount } from '../registry/connector-api.js';
import type { AccountRecord, Snapshot } from '../reconcile/snapshot.js';
import type { Insertable } from 'kysely';
import { type Params, preparedQuery } from './prepared.js';
import { StoreDatabase } from './sql.js';
import type { KnownIdentifiersTable } from './tables.js';

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

/**
 * The lookup of a person's identifiers, compiled once (core/store/prepared.ts): every run's check
 * asks it. The identifiers of the person, and of anyone recorded in the app with the person's email
 * or userName (folded).
 */
const lookupQuery = preparedQuery((db, p: Params<{ tenant: string; app: string; key: string }>) =>
  db
    .selectFrom('known_identifiers')
    .select(['kind', 'value', 'last_seen_at'])
    .where('tenant', '=', p('tenant'))
    .where('app', '=', p('app'))
    .where((eb) =>
      eb.or([
        eb('person', '=', p('key')),
        eb(
          'person',
          'in',
          eb
            .selectFrom('known_identifiers as k')
            .select('k.person')
            .where('k.tenant', '=', p('tenant'))
            .where('k.app', '=', p('app'))
            .where('k.kind', 'in', ['email', 'userName'])
            .where((sub) => sub(sub.fn('lower', ['k.value']), '=', p('key'))),
        ),
      ]),
    ),
);

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
  constructor(@inject(StoreDatabase) private readonly store: StoreDatabase) {}

  /** Records identifiers seen for `person` (an email) in `app`; `where` says where ("run run-1 step scim-check", "reconciliation of scim"). */
  async see(tenant: string, person: string, app: string, identifiers: Partial<KnownIdentifiers>, where: string, at: number): Promise<void> {
    await this.upsert(rowsOf(tenant, personKey(person), app, identifiers, where, at));
  }

  /** Records what an app said of an account (its id, email, and the userName/externalId it showed). */
  async seeAccount(tenant: string, person: string, app: string, account: AppAccount, where: string, at: number): Promise<void> {
    await this.see(tenant, person, app, identifiersOf(account), where, at);
  }

  /**
   * Every identifier known for the person in the app: those recorded under the person's email,
   * and those of anyone recorded with that email or userName in the app (folded comparison).
   * Most recently seen first (ties by kind, then value, in code-point order).
   */
  async lookup(tenant: string, person: string, app: string): Promise<KnownIdentifiers> {
    const key = personKey(person);
    const rows = await lookupQuery.execute(this.store, { tenant, app, key });
    rows.sort((a, b) => Number(b.last_seen_at) - Number(a.last_seen_at) || byCodePoint(a.kind, b.kind) || byCodePoint(a.value, b.value));
    let known: KnownIdentifiers = noKnownIdentifiers;
    for (const row of rows) {
      const field = kinds.find(([k]) => k === row.kind)![1];
      known = mergeKnown(known, { [field]: [row.value] });
    }
    return known;
  }

  /** Each identifier with when and where it was seen, for the person in the app, by kind then value (code-point order). */
  async list(tenant: string, person: string, app: string): Promise<SeenIdentifier[]> {
    const rows = await this.store.db
      .selectFrom('known_identifiers')
      .select(['kind', 'value', 'first_seen_at', 'first_seen_in', 'last_seen_at', 'last_seen_in'])
      .where('tenant', '=', tenant)
      .where('person', '=', personKey(person))
      .where('app', '=', app)
      .execute();
    return rows
      .map((r) => ({ kind: r.kind, value: r.value, firstSeenAt: Number(r.first_seen_at), firstSeenIn: r.first_seen_in, lastSeenAt: Number(r.last_seen_at), lastSeenIn: r.last_seen_in }))
      .sort((a, b) => byCodePoint(a.kind, b.kind) || byCodePoint(a.value, b.value));
  }

  /**
   * What a reconciliation read, kept: each app account's identifiers under the person the IdP
   * knows it as (matched on folded email or userName, or exact externalId), else under the account's
   * own email. Returns how many accounts were recorded. One transaction, `identifierBatch` rows a statement.
   */
  async fromReconciliation(tenant: string, idp: Snapshot, app: Snapshot, at: number): Promise<number> {
    const byKey = new Map<string, string>();
    for (const identity of idp.accounts) {
      const person = identity.email ?? identity.userName;
      if (!person) continue;
      for (const k of [identity.email, identity.userName]) if (k) byKey.set(fold(k), person);
      if (identity.externalId) byKey.set(`\u0000${identity.externalId}`, person);
    }
    const where = `reconciliation of ${app.app} (${app.source.kind}: ${app.source.name.slice(0, 120)})`;
    let recorded = 0;
    const rows: Row[] = [];
    for (const account of app.accounts) {
      const person =
        [account.email, account.userName].map((k) => (k ? byKey.get(fold(k)) : undefined)).find(Boolean) ??
        (account.externalId ? byKey.get(`\u0000${account.externalId}`) : undefined) ??
        account.email ??
        account.userName;
      if (!person) continue;
      rows.push(...rowsOf(tenant, personKey(person), app.app, recordIdentifiers(account), where, at));
      recorded++;
    }
    await this.store.transaction(() => this.upsert(rows));
    return recorded;
  }

  /**
   * Inserts identifiers, or moves an existing one's last sighting forward (never back: a sighting
   * older than the one kept changes nothing). A row appears once per statement (PostgreSQL refuses
   * to update one row twice in one INSERT … ON CONFLICT).
   */
  private async upsert(rows: readonly Row[]): Promise<void> {
    const unique = new Map<string, Row>();
    for (const row of rows) {
      const key = [row.tenant, row.person, row.app, row.kind, row.value].join('\u0000');
      const kept = unique.get(key);
      if (!kept || row.last_seen_at >= kept.last_seen_at) unique.set(key, kept ? { ...row, first_seen_at: kept.first_seen_at, first_seen_in: kept.first_seen_in } : row);
    }
    const all = [...unique.values()];
    for (let start = 0; start < all.length; start += identifierBatch) {
      await this.store.db
        .insertInto('known_identifiers')
        .values(all.slice(start, start + identifierBatch))
        .onConflict((oc) =>
          oc
            .columns(['tenant', 'person', 'app', 'kind', 'value'])
            .doUpdateSet((eb) => ({ last_seen_at: eb.ref('excluded.last_seen_at'), last_seen_in: eb.ref('excluded.last_seen_in') }))
            .where((eb) => eb('excluded.last_seen_at', '>=', eb.ref('known_identifiers.last_seen_at'))),
        )
        .execute();
    }
  }
}

type Row = Insertable<KnownIdentifiersTable> & { last_seen_at: number };

/** Identifier rows per INSERT statement: 9 bind parameters each, 4,500 a statement (PostgreSQL allows 65,535, SQLite 32,766). */
export const identifierBatch = 500;

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function rowsOf(tenant: string, person: string, app: string, identifiers: Partial<KnownIdentifiers>, where: string, at: number): Row[] {
  const rows: Row[] = [];
  for (const [kind, field] of kinds) {
    for (const value of identifiers[field] ?? []) {
      const v = value?.trim();
      if (v) rows.push({ tenant, person, app, kind, value: v, first_seen_at: at, first_seen_in: where, last_seen_at: at, last_seen_in: where });
    }
  }
  return rows;
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
