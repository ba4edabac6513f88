import { createHash, createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { PatchbayError } from '../errors.js';
import type { Database } from '../store/database.js';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

export type Role = 'operator' | 'admin';

/** Who is asking: a machine with an API token, or an operator signed in to the pages. */
export interface Principal {
  readonly kind: 'token' | 'operator';
  /** The email the actions are taken as (queue membership is checked against it). */
  readonly actor: string;
  readonly role: Role;
  /** For tokens: the token's id (never its secret). */
  readonly tokenId?: string;
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

  /** Creates an API token; the returned text is shown once and never stored. */
  createToken(args: { name: string; actor: string; role: Role }): { id: string; token: string } {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    this.db
      .prepare('INSERT INTO api_tokens (id, name, actor, role, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, args.name, args.actor, args.role, sha256(secret), this.now());
    return { id, token: `pb_${id}_${secret}` };
  }

  listTokens(): { id: string; name: string; actor: string; role: Role; createdAt: number; lastUsedAt: number | null; revokedAt: number | null }[] {
    return this.db
      .prepare('SELECT id, name, actor, role, created_at AS createdAt, last_used_at AS lastUsedAt, revoked_at AS revokedAt FROM api_tokens ORDER BY created_at')
      .all() as ReturnType<AccessStore['listTokens']>;
  }

  revokeToken(id: string): boolean {
    return this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.now(), id).changes === 1;
  }

  /** The principal of an `Authorization: Bearer pb_<id>_<secret>` header. */
  bearer(header: string | undefined): Principal {
    const match = /^Bearer pb_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(header?.trim() ?? '');
    if (!match) throw new AccessDeniedError(header ? 'the Authorization header is not a Patchbay API token' : 'an API token is required (Authorization: Bearer pb_…)');
    const row = this.db.prepare('SELECT id, actor, role, secret_hash, revoked_at FROM api_tokens WHERE id = ?').get(match[1]) as
      | { id: string; actor: string; role: Role; secret_hash: string; revoked_at: number | null }
      | undefined;
    const presented = Buffer.from(sha256(match[2]!), 'hex');
    // Compare even when the id is unknown, so that timing does not tell which ids exist.
    const expected = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    if (!timingSafeEqual(presented, expected) || !row) throw new AccessDeniedError('the API token is not valid');
    if (row.revoked_at !== null) throw new AccessDeniedError('the API token was revoked');
    // "Last used" to the minute: a write per request would be an fsync per read of the API.
    const now = this.now();
    if (now - (this.lastUseWritten.get(row.id) ?? 0) >= lastUseResolutionMs) {
      this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(now, row.id);
      this.lastUseWritten.set(row.id, now);
    }
    return { kind: 'token', actor: row.actor, role: row.role, tokenId: row.id };
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

  /** A token for one form, bound to the operator's session: `<nonce>.<hmac(session, nonce)>`. */
  formToken(principal: Principal): string {
    const nonce = randomBytes(16).toString('base64url');
    return `${nonce}.${createHmac('sha256', this.formKey).update(`${principal.sessionHash}|${nonce}`).digest('base64url')}`;
  }

  /**
   * Accepts a form post once: refuses a token missing, made for another session (a forged post),
   * or already used (a replayed post). The use is recorded in the same store as the change.
   */
  useFormToken(principal: Principal, token: unknown): void {
    const [nonce, mac] = typeof token === 'string' ? token.split('.') : [];
    if (!nonce || !mac) throw new AccessDeniedError('the form has no valid token: reload the page and submit it again', 403);
    const expected = createHmac('sha256', this.formKey).update(`${principal.sessionHash}|${nonce}`).digest();
    const presented = Buffer.from(mac, 'base64url');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      throw new AccessDeniedError('the form token does not belong to this session: reload the page and submit it again', 403);
    }
    const inserted = this.db.prepare('INSERT OR IGNORE INTO form_tokens (token_hash, session_hash, used_at) VALUES (?, ?, ?)').run(sha256(token as string), principal.sessionHash!, this.now());
    if (inserted.changes === 0) throw new AccessDeniedError('this form was already submitted; nothing was done twice', 409);
  }
}
