import { createHash, createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { PatchbayError } from '../errors.js';
import type { Database } from '../store/database.js';

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
 * its own salt, a session id as SHA-256. Comparisons are constant-time.
 */
export class AccessStore {
  private readonly formKey: Buffer;
  /** When this process last wrote each token's last use. */
  private readonly lastUseWritten = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {
    // Form tokens are HMACs bound to the session; the key lives only in this process.
    this.formKey = randomBytes(32);
  }

  /**
   * Creates an API token; the returned text is shown once and never stored. `expiresInMs` defaults
   * to 90 days; `scopes` to {@link defaultScopes} (plus `tasks:all-queues` for an admin).
   */
  createToken(args: { name: string; actor: string; role: Role; scopes?: readonly TokenScope[]; expiresInMs?: number; rotatedFrom?: string }): { id: string; token: string; expiresAt: number; scopes: readonly TokenScope[] } {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const scopes = [...new Set(args.scopes ?? [...defaultScopes, ...(args.role === 'admin' ? (['tasks:all-queues'] as const) : [])])];
    // A rotated bridge token keeps its `scim:<app>` scope (see createBridgeToken).
    for (const scope of scopes) if (!tokenScopes.includes(scope) && !(args.rotatedFrom && /^scim:[a-z0-9-]+$/.test(scope))) throw new AccessDeniedError(`unknown scope '${scope}' (scopes: ${tokenScopes.join(', ')})`, 403);
    const now = this.now();
    const expiresAt = now + (args.expiresInMs ?? defaultTokenLifetimeMs);
    this.db
      .prepare('INSERT INTO api_tokens (id, name, actor, role, secret_hash, created_at, scopes, expires_at, rotated_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, args.name, args.actor, args.role, sha256(secret), now, scopes.join(' '), expiresAt, args.rotatedFrom ?? null);
    return { id, token: `pb_${id}_${secret}`, expiresAt, scopes };
  }

  /**
   * Creates a SCIM bridge token for one app: scope `scim:<app>` only (no API route takes it), a
   * year's lifetime unless told (an IdP's provisioning settings hold it; `patchbay token rotate`
   * replaces it). The returned text is shown once and never stored.
   */
  createBridgeToken(app: string, expiresInMs = 365 * 86_400_000): { id: string; token: string; expiresAt: number } {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(app)) throw new AccessDeniedError(`'${app}' is not an app id`, 403);
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = now + expiresInMs;
    this.db
      .prepare('INSERT INTO api_tokens (id, name, actor, role, secret_hash, created_at, scopes, expires_at, rotated_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)')
      .run(id, `SCIM bridge for ${app}`, `scim-bridge:${app}`, 'operator', sha256(secret), now, `scim:${app}`, expiresAt);
    return { id, token: `pb_${id}_${secret}`, expiresAt };
  }

  listTokens(): TokenInfo[] {
    const rows = this.db
      .prepare('SELECT id, name, actor, role, scopes, created_at AS createdAt, expires_at AS expiresAt, last_used_at AS lastUsedAt, revoked_at AS revokedAt, rotated_from AS rotatedFrom FROM api_tokens ORDER BY created_at')
      .all() as (Omit<TokenInfo, 'scopes'> & { scopes: string })[];
    return rows.map((r) => ({ ...r, scopes: r.scopes.split(' ').filter(Boolean) as TokenScope[] }));
  }

  revokeToken(id: string): boolean {
    return this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.now(), id).changes === 1;
  }

  /**
   * Replaces a live token with a new one (same name, actor, role and scopes; a fresh lifetime) and
   * revokes the old one in the same transaction. Throws AccessDeniedError for a token that is
   * unknown, revoked or expired.
   */
  rotateToken(id: string, expiresInMs?: number): ReturnType<AccessStore['createToken']> {
    return this.db.transaction(() => {
      const old = this.listTokens().find((t) => t.id === id);
      if (!old || old.revokedAt !== null || (old.expiresAt !== null && old.expiresAt <= this.now())) throw new AccessDeniedError(`no live token ${id} to rotate`, 403);
      this.revokeToken(id);
      return this.createToken({ name: old.name, actor: old.actor, role: old.role, scopes: old.scopes, rotatedFrom: id, ...(expiresInMs ? { expiresInMs } : {}) });
    })();
  }

  /** The principal of an `Authorization: Bearer pb_<id>_<secret>` header. */
  bearer(header: string | undefined): Principal {
    const match = /^Bearer pb_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(header?.trim() ?? '');
    if (!match) throw new AccessDeniedError(header ? 'the Authorization header is not a Patchbay API token' : 'an API token is required (Authorization: Bearer pb_…)');
    const row = this.db.prepare('SELECT id, actor, role, scopes, secret_hash, revoked_at, expires_at FROM api_tokens WHERE id = ?').get(match[1]) as
      | { id: string; actor: string; role: Role; scopes: string; secret_hash: string; revoked_at: number | null; expires_at: number | null }
      | undefined;
    const presented = Buffer.from(sha256(match[2]!), 'hex');
    // Compare even when the id is unknown, so that timing does not tell which ids exist.
    const expected = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    if (!timingSafeEqual(presented, expected) || !row) throw new AccessDeniedError('the API token is not valid');
    if (row.revoked_at !== null) throw new AccessDeniedError('the API token was revoked');
    const now = this.now();
    if (row.expires_at !== null && row.expires_at <= now) throw new AccessDeniedError(`the API token expired on ${new Date(row.expires_at).toISOString().slice(0, 10)}: patchbay token rotate ${row.id}`);
    // "Last used" to the minute: a write per request would be an fsync per read of the API.
    if (now - (this.lastUseWritten.get(row.id) ?? 0) >= lastUseResolutionMs) {
      this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(now, row.id);
      this.lastUseWritten.set(row.id, now);
    }
    return { kind: 'token', actor: row.actor, role: row.role, tokenId: row.id, scopes: row.scopes.split(' ').filter(Boolean) as TokenScope[] };
  }

  async setOperator(email: string, password: string, role: Role): Promise<void> {
    if (password.length < 12) throw new AccessDeniedError('a password needs at least 12 characters', 403);
    const salt = randomBytes(16);
    const hash = await scrypt(password, salt, 32);
    this.db
      .prepare('INSERT INTO operators (email, role, password_hash, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (email) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash')
      .run(email.toLowerCase(), role, `scrypt:${salt.toString('hex')}:${hash.toString('hex')}`, this.now());
  }

  /** Signs an operator in; returns the session id for the cookie (stored hashed). */
  async signIn(email: string, password: string): Promise<string> {
    const row = this.db.prepare('SELECT password_hash FROM operators WHERE email = ?').get(email.trim().toLowerCase()) as { password_hash: string } | undefined;
    const [, salt, hash] = (row?.password_hash ?? `scrypt:${'00'.repeat(16)}:${'00'.repeat(32)}`).split(':');
    const presented = await scrypt(password, Buffer.from(salt!, 'hex'), 32);
    if (!timingSafeEqual(presented, Buffer.from(hash!, 'hex')) || !row) throw new AccessDeniedError('incorrect email or password');
    const session = randomBytes(32).toString('base64url');
    const now = this.now();
    this.db.prepare('DELETE FROM sessions WHERE expires_at < ?').run(now);
    this.db.prepare('INSERT INTO sessions (id_hash, email, created_at, expires_at) VALUES (?, ?, ?, ?)').run(sha256(session), email.trim().toLowerCase(), now, now + sessionHours * 3_600_000);
    return session;
  }

  session(cookie: string | undefined): Principal | undefined {
    if (!cookie) return undefined;
    const row = this.db
      .prepare('SELECT s.id_hash, s.email, o.role FROM sessions s JOIN operators o ON o.email = s.email WHERE s.id_hash = ? AND s.expires_at > ?')
      .get(sha256(cookie), this.now()) as { id_hash: string; email: string; role: Role } | undefined;
    return row ? { kind: 'operator', actor: row.email, role: row.role, sessionHash: row.id_hash } : undefined;
  }

  signOut(cookie: string | undefined): void {
    if (cookie) this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(sha256(cookie));
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
   * forged post), or already used (a replayed post). The use is recorded in the store.
   */
  useFormToken(binding: string, action: string, token: unknown): void {
    const [nonce, mac, extra] = typeof token === 'string' ? token.split('.') : [];
    if (!nonce || !mac || extra !== undefined) throw new AccessDeniedError('the form has no valid token: reload the page and submit it again', 403);
    const expected = this.formMac(binding, action, nonce);
    const presented = Buffer.from(mac, 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new AccessDeniedError('the form token does not belong to this session and form: reload the page and submit it again', 403);
    }
    const inserted = this.db.prepare('INSERT OR IGNORE INTO form_tokens (token_hash, session_hash, used_at) VALUES (?, ?, ?)').run(sha256(token as string), binding, this.now());
    if (inserted.changes === 0) throw new AccessDeniedError('this form was already submitted; nothing was done twice', 409);
  }

  private formMac(binding: string, action: string, nonce: string): Buffer {
    return createHmac('sha256', this.formKey).update(`${binding}|${action}|${nonce}`).digest();
  }
}

/** The binding of the sign-in form: the pre-session cookie, hashed. */
export const preSessionBinding = (cookie: string) => `pre:${sha256(cookie)}`;
