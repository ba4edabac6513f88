import assert from 'node:assert/strict';
import { AccessDeniedError, AccessStore, lastUseResolutionMs } from '../../core/server/access.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { scratchDir } from '../support/fixtures.js';
import { freshDatabase } from '../support/postgres.js';

/**
 * Two connections to one new database of each dialect: two servers sharing the store (SQLite: two
 * connections to one file; PostgreSQL: two pools to one database).
 */
async function twoServers(dialect: 'sqlite' | 'postgres'): Promise<[StoreDatabase, StoreDatabase]> {
  const target = dialect === 'sqlite' ? { dataDir: scratchDir('patchbay-access-') } : { url: await freshDatabase() };
  // Both SQLite connections live in this one process, whose thread a busy wait would block (the
  // holder could not commit meanwhile): a short busy timeout hands the waiting over to the
  // dialect's asynchronous retries instead, as two server processes would each wait on their own.
  const busy = process.env.PATCHBAY_BUSY_TIMEOUT_MS;
  process.env.PATCHBAY_BUSY_TIMEOUT_MS = '20';
  let first: StoreDatabase, second: StoreDatabase;
  try {
    first = await openStore(target, { migrations: 'apply' });
    second = await openStore(target, { migrations: 'apply' });
  } finally {
    if (busy === undefined) delete process.env.PATCHBAY_BUSY_TIMEOUT_MS;
    else process.env.PATCHBAY_BUSY_TIMEOUT_MS = busy;
  }
  after(async () => {
    await first.close();
    await second.close();
  });
  return [first, second];
}

const denied = (status: number, message: RegExp) => (error: unknown) => error instanceof AccessDeniedError && error.status === status && message.test(error.message);

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`access store on ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: tokens, operators, sessions, form tokens`, function () {
    this.timeout(60_000);

    it('keeps a token hashed, refuses a wrong secret, a revoked and an expired token, and keeps its last use to the minute', async () => {
      const [store] = await twoServers(dialect);
      let now = Date.UTC(2026, 10, 30, 9, 0, 0);
      const access = new AccessStore(store, () => now);
      const made = await access.createToken({ name: 'hr-tool', actor: 'people@acme.example', role: 'operator', expiresInMs: 3_600_000 });
      const row = await store.db.selectFrom('api_tokens').selectAll().where('id', '=', made.id).executeTakeFirstOrThrow();
      assert.ok(!JSON.stringify(row).includes(made.token.slice(-43)), 'the secret is not stored');
      const who = await access.bearer(`Bearer ${made.token}`);
      assert.deepEqual([who.kind, who.actor, who.role, who.tokenId], ['token', 'people@acme.example', 'operator', made.id]);
      assert.deepEqual(who.scopes, ['runs:read', 'runs:write', 'tasks:read', 'tasks:write', 'reconcile:read', 'matrix:read']);
      assert.equal((await access.token(made.id))!.lastUsedAt, now);
      // Within the minute the last use is not written again; past it, it is.
      now += lastUseResolutionMs - 1;
      await access.bearer(`Bearer ${made.token}`);
      assert.equal((await access.token(made.id))!.lastUsedAt, now - lastUseResolutionMs + 1);
      now += 1;
      await access.bearer(`Bearer ${made.token}`);
      assert.equal((await access.token(made.id))!.lastUsedAt, now);

      const forged = `pb_${made.id}_${'A'.repeat(43)}`;
      await assert.rejects(access.bearer(`Bearer ${forged}`), denied(401, /is not valid/));
      await assert.rejects(access.bearer('Bearer nonsense'), denied(401, /not a Patchbay API token/));
      await assert.rejects(access.bearer(undefined), denied(401, /an API token is required/));
      now += 3_600_000;
      await assert.rejects(access.bearer(`Bearer ${made.token}`), denied(401, /expired on 2026-11-30: patchbay token rotate/));

      const other = await access.createToken({ name: 'erp', actor: 'finance@acme.example', role: 'admin' });
      assert.ok((await access.bearer(`Bearer ${other.token}`)).scopes!.includes('tasks:all-queues'), 'an admin token sees every queue');
      assert.equal(await access.revokeToken(other.id), true);
      assert.equal(await access.revokeToken(other.id), false, 'a second revocation changes nothing');
      await assert.rejects(access.bearer(`Bearer ${other.token}`), denied(401, /was revoked/));
      await assert.rejects(access.createToken({ name: 'x', actor: 'a@acme.example', role: 'operator', scopes: ['root' as never] }), denied(403, /unknown scope 'root'/));
      assert.deepEqual((await access.listTokens()).map((t) => t.id), [made.id, other.id]);
    });

    it('rotates a live token (same name, actor and scopes) and refuses the old one; two rotations of one token at two servers: one wins', async () => {
      const [a, b] = await twoServers(dialect);
      const first = new AccessStore(a);
      const second = new AccessStore(b);
      const bridge = await first.createBridgeToken('spendesk');
      const rotated = await first.rotateToken(bridge.id);
      assert.deepEqual((await first.bearer(`Bearer ${rotated.token}`)).scopes, ['scim:spendesk'], 'a rotated bridge token keeps its scope');
      await assert.rejects(first.bearer(`Bearer ${bridge.token}`), denied(401, /was revoked/));
      await assert.rejects(second.rotateToken(bridge.id), denied(403, /no live token/));
      assert.equal((await second.token(rotated.id))!.rotatedFrom, bridge.id);

      const made = await first.createToken({ name: 'hr-tool', actor: 'people@acme.example', role: 'operator', scopes: ['runs:read'] });
      for (let round = 0; round < 5; round++) {
        const live = round === 0 ? made.id : (await first.listTokens()).find((t) => t.revokedAt === null && t.name === 'hr-tool')!.id;
        const outcomes = await Promise.allSettled([first.rotateToken(live), second.rotateToken(live)]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        assert.equal(won.length, 1, `round ${round}: one rotation wins (${lost.map((l) => String(l.reason)).join('; ')})`);
        assert.ok(denied(403, /no live token/)(lost[0]!.reason), String(lost[0]!.reason));
        const heirs = (await first.listTokens()).filter((t) => t.rotatedFrom === live);
        assert.equal(heirs.length, 1, 'one replacement, never two live heirs of one token');
        assert.deepEqual(heirs[0]!.scopes, ['runs:read']);
      }
      assert.equal((await first.listTokens()).filter((t) => t.name === 'hr-tool' && t.revokedAt === null).length, 1);
    });

    it('signs an operator in to a session that expires and ends at sign-out; a wrong password is refused alike for an unknown account', async () => {
      const [store, other] = await twoServers(dialect);
      let now = Date.UTC(2026, 10, 30, 9, 0, 0);
      const access = new AccessStore(store, () => now);
      await access.setOperator('It.Oncall@acme.example', 'a long test password', 'operator');
      await access.setOperator('it.oncall@acme.example', 'a longer test password', 'admin');
      await assert.rejects(access.setOperator('x@acme.example', 'short', 'operator'), denied(403, /at least 12 characters/));
      await assert.rejects(access.signIn('it.oncall@acme.example', 'a long test password'), denied(401, /incorrect email or password/));
      await assert.rejects(access.signIn('nobody@acme.example', 'a longer test password'), denied(401, /incorrect email or password/));
      const cookie = await access.signIn(' IT.ONCALL@acme.example ', 'a longer test password');
      const who = await new AccessStore(other, () => now).session(cookie);
      assert.deepEqual([who?.kind, who?.actor, who?.role], ['operator', 'it.oncall@acme.example', 'admin'], 'another server sees the session');
      assert.ok(!JSON.stringify(await store.db.selectFrom('sessions').selectAll().execute()).includes(cookie), 'the session id is stored hashed');
      assert.equal(await access.session('not-a-session'), undefined);
      now += 12 * 3_600_000;
      assert.equal(await access.session(cookie), undefined, 'a session ends after 12 hours');
      now += 1;
      const again = await access.signIn('it.oncall@acme.example', 'a longer test password');
      assert.deepEqual((await store.db.selectFrom('sessions').select('email').execute()).length, 1, 'signing in clears the expired sessions');
      await access.signOut(again);
      assert.equal(await access.session(again), undefined);
    });

    it('accepts a form token once for its session and form; two posts of one form at two servers: one accepted, one 409', async () => {
      const [a, b] = await twoServers(dialect);
      const key = Buffer.alloc(32, 7);
      const access = new AccessStore(a, Date.now, key);
      const token = access.formToken('session-1', '/tasks/t1/complete');
      await assert.rejects(access.useFormToken('session-2', '/tasks/t1/complete', token), denied(403, /does not belong to this session and form/));
      await assert.rejects(access.useFormToken('session-1', '/tasks/t2/complete', token), denied(403, /does not belong/));
      await assert.rejects(access.useFormToken('session-1', '/tasks/t1/complete', undefined), denied(403, /no valid token/));
      await assert.rejects(access.useFormToken('session-1', '/tasks/t1/complete', `${token}.extra`), denied(403, /no valid token/));
      await access.useFormToken('session-1', '/tasks/t1/complete', token);
      await assert.rejects(access.useFormToken('session-1', '/tasks/t1/complete', token), denied(409, /already submitted/));

      // The use is recorded in the shared store: the same form posted to two servers with one form key counts once.
      const shared = new AccessStore(b, Date.now, key);
      for (let round = 0; round < 5; round++) {
        const form = access.formToken('session-1', '/logout');
        const outcomes = await Promise.allSettled([access.useFormToken('session-1', '/logout', form), shared.useFormToken('session-1', '/logout', form)]);
        assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, `round ${round}`);
        const lost = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
        assert.ok(denied(409, /already submitted/)(lost.reason), String(lost.reason));
      }
    });
  });
}
