import { createHash, createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { PatchbayError } from '../errors.js';
import type { StoreDatabase } from '../store/sql.js';
import type { Selectable } from 'kysely';
import type { ApiTokensTable } from '../store/tables.js';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export type Role = 'operator' | 'admin';

/**
 * What an API token may do. `tasks:all-queues` lifts the queue scoping of task reads (without it a
 * token sees only the tasks of its actor's queues); `runs:on-behalf-of` lets it start a run for
 * someone else (recorded beside the caller).
 */
export const tokenScopes = ['runs:read', 'runs:write', 'runs:on-behalf-of', 'tasks:read', 'tasks:write', 'tasks:all-queues', 'reconcile:read', 'matrix:read'] as const;
export type TokenScope = (typeof tokenScopes)[number];

/** The scopes a token gets when none are named: what tokens could do before scopes existed. */
export const defaultScopes: readonly TokenScope[] = ['runs:read', 'runs:write', 'tasks:read', 'tasks:write', 'reconcile:read', 'matrix:read'];

/** How long a token lives when not told: 90 days. */
export const defaultTokenLifetimeMs = 90 * 86_400_000;

/** A token as listed (never its secret). Times in ms since the epoch. */
export interface TokenInfo {
  readonly id: string;
  readonly name: string;
  readonly actor: string;
  readonly role: Role;
  readonly scopes: readonly TokenScope[];
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
  /** The token this one replaced by rotation. */
  readonly rotatedFrom: string | null;
}

/** Who is asking: a machine with an API token, or an operator signed in to the pages. */
export interface Principal {
  readonly kind: 'token' | 'operator';
  /** The email the actions are taken as (queue membership is checked against it). */
  readonly actor: string;
  readonly role: Role;
  /** For tokens: the token's id (never its secret). */
  readonly tokenId?: string;
  /** For tokens: what it may do. */
  readonly scopes?: readonly TokenScope[];
  /** For operators: the session, hashed, to which form tokens are bound. */
  readonly sessionHash?: string;
}

/** A request that is not authenticated, or not allowed. */
export class AccessDeniedError extends PatchbayError {
  readonly code = 'access-denied';
  override readonly exitCode = 2;
  constructor(
    message: string,
    readonly status: 401 | 403 | 409 = 401,
  ) {
    super(message);
  }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const sessionHours = 12;

/** How finely a token's last use is kept. */
export const lastUseResolutionMs = 60_000;

/**
 * API tokens, operator accounts, sessions and one-time form tokens, in the store. Secrets are kept
 * as hashes only: a token's secret as SHA-256 (it is 32 random bytes), a password with scrypt and
 * its own salt, a session id as SHA-256. Comparisons are constant-time. On either database
 * (core/store/sql.ts): every change that must happen once (a rotation, a form token's use) is one
 * conditional write whose row count says who won, so two servers on one PostgreSQL agree.
 */
export class AccessStore {
  /** When this process last wrote each token's last use. */
  private readonly lastUseWritten = new Map<string, number>();

  /**
   * `formKey`: the HMAC key of form tokens, random per process unless given: a form is then
   * accepted only by the process that served it, so servers behind a load balancer without sticky
   * sessions must be given one key.
   */
  constructor(
    private readonly store: StoreDatabase,
    private readonly now: () => number = Date.now,
    private readonly formKey: Buffer = randomBytes(32),
  ) {}

  /**
   * Creates an API token; the returned text is shown once and never stored. `expiresInMs` defaults
   * to 90 days; `scopes` to {@link defaultScopes} (plus `tasks:all-queues` for an admin).
   */
  async createToken(args: { name: string; actor: string; role: Role; scopes?: readonly TokenScope[]; expiresInMs?: number; rotatedFrom?: string }): Promise<{ id: string; token: string; expiresAt: number; scopes: readonly TokenScope[] }> {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const scopes = [...new Set(args.scopes ?? [...defaultScopes, ...(args.role === 'admin' ? (['tasks:all-queues'] as const) : [])])];
    // A rotated bridge token keeps its `scim:<app>` scope (see createBridgeToken).
    for (const scope of scopes) if (!tokenScopes.includes(scope) && !(args.rotatedFrom && /^scim:[a-z0-9-]+$/.test(scope))) throw new AccessDeniedError(`unknown scope '${scope}' (scopes: ${tokenScopes.join(', ')})`, 403);
    const now = this.now();
    const expiresAt = now + (args.expiresInMs ?? defaultTokenLifetimeMs);
    await this.store.db
      .insertInto('api_tokens')
      .values({ id, name: args.name, actor: args.actor, role: args.role, secret_hash: sha256(secret), created_at: now, scopes: scopes.join(' '), expires_at: expiresAt, rotated_from: args.rotatedFrom ?? null })
      .execute();
    return { id, token: `pb_${id}_${secret}`, expiresAt, scopes };
  }

  /**
   * Creates a SCIM bridge token for one app: scope `scim:<app>` only (no API route takes it), a
   * year's lifetime unless told (an IdP's provisioning settings hold it; `patchbay token rotate`
   * replaces it). The returned text is shown once and never stored.
   */
  async createBridgeToken(app: string, expiresInMs = 365 * 86_400_000): Promise<{ id: string; token: string; expiresAt: number }> {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(app)) throw new AccessDeniedError(`'${app}' is not an app id`, 403);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = now + expiresInMs;
    await this.store.db
      .insertInto('api_tokens')
      .values({ id, name: `SCIM bridge for ${app}`, actor: `scim-bridge:${app}`, role: 'operator', secret_hash: sha256(secret), created_at: now, scopes: `scim:${app}`, expires_at: expiresAt, rotated_from: null })
      .execute();
    return { id, token: `pb_${id}_${secret}`, expiresAt };
  }

  /** Every token, oldest first (ties by id, so the order is the same on both databases). */
  async listTokens(): Promise<TokenInfo[]> {
    const rows = await this.store.db.selectFrom('api_tokens').select(tokenColumns).orderBy('created_at').orderBy('id').execute();
    return rows.map(tokenInfo);
  }

  /** One token by id (never its secret), or undefined. */
  async token(id: string): Promise<TokenInfo | undefined> {
    const row = await this.store.db.selectFrom('api_tokens').select(tokenColumns).where('id', '=', id).executeTakeFirst();
    return row ? tokenInfo(row) : undefined;
  }

  /** Revokes a token not yet revoked; false when it is unknown or already revoked. */
  async revokeToken(id: string): Promise<boolean> {
    const result = await this.store.db.updateTable('api_tokens').set({ revoked_at: this.now() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Replaces a live token with a new one (same name, actor, role and scopes; a fresh lifetime) and
   * revokes the old one in the same transaction. The revocation is the claim: one conditional
   * update of a live token, so of two rotations at once (two servers) one replaces it and the other
   * is refused. Throws AccessDeniedError for a token that is unknown, revoked or expired.
   */
  async rotateToken(id: string, expiresInMs?: number): Promise<Awaited<ReturnType<AccessStore['createToken']>>> {
    return this.store.transaction(async () => {
      const now = this.now();
      const claimed = await this.store.db
        .updateTable('api_tokens')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) throw new AccessDeniedError(`no live token ${id} to rotate`, 403);
      const old = (await this.token(id))!;
      return this.createToken({ name: old.name, actor: old.actor, role: old.role, scopes: old.scopes, rotatedFrom: id, ...(expiresInMs ? { expiresInMs } : {}) });
    });
  }

  /** The principal of an `Authorization: Bearer pb_<id>_<secret>` header. */
  async bearer(header: string | undefined): Promise<Principal> {
    const match = /^Bearer pb_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(header?.trim() ?? '');
    if (!match) throw new AccessDeniedError(header ? 'the Authorization header is not a Patchbay API token' : 'an API token is required (Authorization: Bearer pb_…)');
    const row = await this.store.db.selectFrom('api_tokens').select(['id', 'actor', 'role', 'scopes', 'secret_hash', 'revoked_at', 'expires_at']).where('id', '=', match[1]!).executeTakeFirst();
    const presented = Buffer.from(sha256(match[2]!), 'hex');
    // Compare even when the id is unknown, so that timing does not tell which ids exist.
    const expected = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    if (!timingSafeEqual(presented, expected) || !row) throw new AccessDeniedError('the API token is not valid');
    if (row.revoked_at !== null) throw new AccessDeniedError('the API token was revoked');
    const now = this.now();
    if (row.expires_at !== null && row.expires_at <= now) throw new AccessDeniedError(`the API token expired on ${new Date(row.expires_at).toISOString().slice(0, 10)}: patchbay token rotate ${row.id}`);
    // "Last used" to the minute: a write per request would be an fsync per read of the API.
    if (now - (this.lastUseWritten.get(row.id) ?? 0) >= lastUseResolutionMs) {
      this.lastUseWritten.set(row.id, now);
      await this.store.db.updateTable('api_tokens').set({ last_used_at: now }).where('id', '=', row.id).execute();
    }
    return { kind: 'token', actor: row.actor, role: row.role, tokenId: row.id, scopes: row.scopes.split(' ').filter(Boolean) as TokenScope[] };
  }

  async setOperator(email: string, password: string, role: Role): Promise<void> {
    if (password.length < 12) throw new AccessDeniedError('a password needs at least 12 characters', 403);
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt, 32);
    await this.store.db
      .insertInto('operators')
      .values({ email: email.toLowerCase(), role, password_hash: `scrypt:${salt.toString('hex')}:${hash.toString('hex')}`, created_at: this.now() })
      .onConflict((oc) => oc.column('email').doUpdateSet((eb) => ({ role: eb.ref('excluded.role'), password_hash: eb.ref('excluded.password_hash') })))
      .execute();
  }

  /** Signs an operator in; returns the session id for the cookie (stored hashed). */
  async signIn(email: string, password: string): Promise<string> {
    const row = await this.store.db.selectFrom('operators').select('password_hash').where('email', '=', email.trim().toLowerCase()).executeTakeFirst();
    const [, salt, hash] = (row?.password_hash ?? `scrypt:${'00'.repeat(16)}:${'00'.repeat(32)}`).split(':');
    const presented = await scrypt(password, Buffer.from(salt!, 'hex'), 32);
    if (!timingSafeEqual(presented, Buffer.from(hash!, 'hex')) || !row) throw new AccessDeniedError('incorrect email or password');
    const session = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.store.transaction(async () => {
      await this.store.db.deleteFrom('sessions').where('expires_at', '<', now).execute();
      await this.store.db.insertInto('sessions').values({ id_hash: sha256(session), email: email.trim().toLowerCase(), created_at: now, expires_at: now + sessionHours * 3_600_000 }).execute();
    });
    return session;
  }

  /** The operator signed in with this session cookie, while the session has not expired. */
  async session(cookie: string | undefined): Promise<Principal | undefined> {
    if (!cookie) return undefined;
    const row = await this.store.db
      .selectFrom('sessions as s')
      .innerJoin('operators as o', 'o.email', 's.email')
      .select(['s.id_hash', 's.email', 'o.role'])
      .where('s.id_hash', '=', sha256(cookie))
      .where('s.expires_at', '>', this.now())
      .executeTakeFirst();
    return row ? { kind: 'operator', actor: row.email, role: row.role, sessionHash: row.id_hash } : undefined;
  }

  async signOut(cookie: string | undefined): Promise<void> {
    if (cookie) await this.store.db.deleteFrom('sessions').where('id_hash', '=', sha256(cookie)).execute();
  }

  /**
   * A token for one form, bound to a binding (the operator's session, or the pre-session cookie of
   * the sign-in page) and to the form's action (its path): `<nonce>.<hmac(binding, action, nonce)>`.
   */
  formToken(binding: string, action: string): string {
    const nonce = randomBytes(16).toString('base64url');
    return `${nonce}.${this.formMac(binding, action, nonce).toString('base64url')}`;
  }

  /**
   * Accepts a form post once: refuses a token missing, made for another session or another form (a
   * forged post), or already used (a replayed post). The use is recorded in the store: one insert
   * on the token's hash, so of two posts at once (two servers) one is accepted.
   */
  async useFormToken(binding: string, action: string, token: unknown): Promise<void> {
    const [nonce, mac, extra] = typeof token === 'string' ? token.split('.') : [];
    if (!nonce || !mac || extra !== undefined) throw new AccessDeniedError('the form has no valid token: reload the page and submit it again', 403);
    const expected = this.formMac(binding, action, nonce);
    const presented = Buffer.from(mac, 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new AccessDeniedError('the form token does not belong to this session and form: reload the page and submit it again', 403);
    }
    const inserted = await this.store.db
      .insertInto('form_tokens')
      .values({ token_hash: sha256(token as string), session_hash: binding, used_at: this.now() })
      .onConflict((oc) => oc.column('token_hash').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) throw new AccessDeniedError('this form was already submitted; nothing was done twice', 409);
  }

  private formMac(binding: string, action: string, nonce: string): Buffer {
    return createHmac('sha256', this.formKey).update(`${binding}|${action}|${nonce}`).digest();
  }
}

const tokenColumns = ['id', 'name', 'actor', 'role', 'scopes', 'created_at', 'expires_at', 'last_used_at', 'revoked_at', 'rotated_from'] as const;

function tokenInfo(r: Pick<Selectable<ApiTokensTable>, (typeof tokenColumns)[number]>): TokenInfo {
  return {
    id: r.id,
    name: r.name,
    actor: r.actor,
    role: r.role,
    scopes: r.scopes.split(' ').filter(Boolean) as TokenScope[],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
    rotatedFrom: r.rotated_from,
  };
}

/** The binding of the sign-in form: the pre-session cookie, hashed. */
export const preSessionBinding = (cookie: string) => `pre:${sha256(cookie)}`;
