import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { AccessStore, type TokenScope, tokenScopes } from '../../core/server/access.js';
import { type DeclaredRoute, enforceDeclaredAccess, publicRoute } from '../../core/server/routes.js';
import { scratchDir } from '../support/fixtures.js';
import { harness } from '../support/runtime.js';
import { FormClient, rawRequest, serverFor } from '../support/server.js';

const password = 'a long test password';
const day = 86_400_000;

/** Odd spellings of a path that a router, a proxy or a browser might treat as the same place. */
function variants(p: string): string[] {
  const segments = p.split('/').slice(1);
  const encodeFirst = (s: string) => (s ? `%${s.charCodeAt(0).toString(16).padStart(2, '0')}${s.slice(1)}` : s);
  return [
    `/${segments.map(encodeFirst).join('/')}`, // /%61pi/%761/%74asks
    `/${encodeFirst(segments[0]!)}/${segments.slice(1).join('/')}`, // /%61pi/v1/tasks
    `/${segments.map((s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('')).join('/')}`, // every byte encoded
    `/${p}`, // //api/v1/tasks
    p.replace('/', '//').replace(/\/([^/]+)$/, '//$1'), // a doubled slash inside
    `/.${p}`, // /./api/v1/tasks
    `/${segments[0]}/..${p}`, // /api/../api/v1/tasks
    `/${segments[0]}/%2e%2e${p}`, // an encoded dot segment
    p.toUpperCase(),
    `${p.slice(0, 2).toUpperCase()}${p.slice(2)}`,
    `${p}/`,
    `${p}%2F`,
    `${p.replace(/\//g, '\\')}`,
  ].filter((v, i, all) => v !== p && all.indexOf(v) === i);
}

describe('every route declares its access, and the server enforces it on the matched route', function () {
  this.timeout(120_000);

  it('refuses to register a route that declares no access', async () => {
    const app = Fastify();
    enforceDeclaredAccess(app, { store: {} as AccessStore, sessionOf: () => undefined, canSeeTask: async () => false, canSeeEvidence: async () => false });
    assert.throws(() => app.get('/undeclared', async () => 'open'), /route GET \/undeclared declares no access/);
    app.get('/declared', { config: { access: publicRoute } }, async () => 'fine');
    await app.ready();
    assert.equal((await app.inject({ url: '/declared' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/undeclared' })).statusCode, 404);
    await app.close();
  });

  it('for each registered route: no credentials, wrong, revoked and expired tokens, a missing scope, the wrong queue, and odd spellings of its path are refused without leaking', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const { access } = server;
    const routes: readonly DeclaredRoute[] = server.routes;
    // The routes come from fastify's onRoute as registered; the API and the pages are both there.
    assert.ok(routes.some((r) => r.access.kind === 'token') && routes.some((r) => r.access.kind === 'operator') && routes.some((r) => r.access.kind === 'public'));
    for (const r of routes.filter((r) => r.url.startsWith('/api/'))) {
      if (r.url !== '/api/v1/openapi.json') assert.equal(r.access.kind, 'token', `${r.method} ${r.url} is under /api/ and must take a token`);
    }

    // Data to find: a run with an open task in it-ops, and an evidence file of an it-ops task.
    const [{ run }] = await h.start('offboard', 'alice@acme.com');
    const taskId = (await h.openTaskOf(run.id))!;
    const [{ run: bob }] = await h.start('offboard', 'bob@acme.com');
    const evidenceFile = path.join(scratchDir('patchbay-evidence-'), 'okta.txt');
    writeFileSync(evidenceFile, 'secret-ish evidence of bob');
    await h.runtime.tasks.complete((await h.openTaskOf(bob.id))!, { by: 'it.oncall@acme.example', evidence: [{ file: evidenceFile }] });
    const sha = createHash('sha256').update('secret-ish evidence of bob').digest('hex');

    // Credentials: an all-scopes token of it-ops, one lacking each scope, one of another queue, a revoked and an expired one.
    const everything = tokenScopes.filter((s) => s !== 'tasks:all-queues');
    const good = (await access.createToken({ name: 'good', actor: 'it.oncall@acme.example', role: 'operator', scopes: everything })).token;
    const lacking = new Map<TokenScope, string>();
    for (const s of tokenScopes) lacking.set(s, (await access.createToken({ name: `no-${s}`, actor: 'it.oncall@acme.example', role: 'operator', scopes: everything.filter((x) => x !== s) })).token);
    const otherQueue = (await access.createToken({ name: 'finance', actor: 'finance.admin@acme.example', role: 'operator', scopes: everything })).token;
    const revoked = (await access.createToken({ name: 'revoked', actor: 'it.oncall@acme.example', role: 'operator', scopes: everything }));
    (await access.revokeToken(revoked.id));
    const expired = (await new AccessStore(h.runtime.store, () => Date.now() - 200 * day).createToken({ name: 'old', actor: 'it.oncall@acme.example', role: 'operator', scopes: everything })).token;
    const wrong = `pb_${'0'.repeat(12)}_${'A'.repeat(43)}`;
    await access.setOperator('it.oncall@acme.example', password, 'operator');
    await access.setOperator('finance.admin@acme.example', password, 'operator');
    await access.setOperator('it.lead@acme.example', password, 'admin');
    const sessions: Record<string, FormClient> = {};
    for (const who of ['it.oncall', 'finance.admin', 'it.lead']) {
      sessions[who] = new FormClient(server.url);
      await sessions[who]!.signIn(`${who}@acme.example`, password);
    }

    const pathOf = (r: DeclaredRoute) =>
      r.url.replace(':sha', sha).replace(':id', r.url.startsWith('/api/v1/runs') || r.url.startsWith('/runs') ? run.id : taskId);
    const send = (r: DeclaredRoute, p: string, headers: Record<string, string> = {}) =>
      rawRequest(server.url, r.method, p, { ...headers, ...(r.method === 'POST' ? { 'content-type': 'application/json' } : {}) }, r.method === 'POST' ? '{}' : undefined);
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const leaks = (body: string) => /alice@acme\.com|bob@acme\.com|secret-ish|unassign-app|"runbook"/.test(body);
    // The token's own routes, tried with the right token, rotate and revoke it (and audit that): the rest must not change.
    const db = h.runtime.store.db;
    const count = async (q: { executeTakeFirstOrThrow(): Promise<{ n: number | string | bigint }> }) => Number((await q.executeTakeFirstOrThrow()).n);
    const counts = async () => [
      await count(db.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n'))),
      await count(db.selectFrom('tasks').select((eb) => eb.fn.countAll<number>().as('n'))),
      await count(db.selectFrom('task_items').select((eb) => eb.fn.countAll<number>().as('n'))),
      await count(db.selectFrom('audit').select((eb) => eb.fn.countAll<number>().as('n')).where('type', 'not in', ['token.rotated', 'token.revoked'])),
    ];
    const before = await counts();
    let tried = 0;

    for (const r of routes) {
      const p = pathOf(r);
      const label = `${r.method} ${r.url}`;
      const refused = async (headers: Record<string, string>, expected: number[], why: string) => {
        const answer = await send(r, p, headers);
        tried++;
        assert.ok(expected.includes(answer.status), `${label} ${why}: ${answer.status} ${answer.body.slice(0, 200)}`);
        assert.equal(leaks(answer.body), false, `${label} ${why} leaked: ${answer.body.slice(0, 200)}`);
        return answer;
      };
      if (r.access.kind === 'token') {
        const none = await refused({}, [401], 'without a token');
        if (r.method !== 'HEAD') assert.equal(JSON.parse(none.body).error, 'access-denied');
        await refused(bearer(wrong), [401], 'with a wrong token');
        await refused(bearer(revoked.token), [401], 'with a revoked token');
        await refused(bearer(expired), [401], 'with an expired token');
        await refused({ authorization: 'Basic aXQ6cGFzcw==' }, [401], 'with another scheme');
        // An operator's session is no API credential.
        await refused({ cookie: sessions['it.lead']!.cookieHeader() }, [401], 'with a session instead of a token');
        if (r.access.scope) await refused(bearer(lacking.get(r.access.scope)!), [403], `without the ${r.access.scope} scope`);
        if (r.access.queue) await refused(bearer(otherQueue), [404], 'from another queue');
        // The right token passes the gate (what the handler then says is its own business); a token's own
        // routes (rotate, revoke) get a token of their own so that the others keep theirs.
        const right = r.access.scope ? good : (await access.createToken({ name: 'self', actor: 'it.oncall@acme.example', role: 'operator', scopes: ['runs:read'] })).token;
        const ok = await send(r, p, bearer(right));
        assert.ok(![401, 403].includes(ok.status), `${label} refused the right token: ${ok.status} ${ok.body.slice(0, 200)}`);
      }
      if (r.access.kind === 'operator') {
        await refused({}, r.method === 'GET' || r.method === 'HEAD' ? [302] : [401], 'signed out');
        await refused(bearer(good), r.method === 'GET' || r.method === 'HEAD' ? [302] : [401], 'with an API token instead of a session');
        await refused({ cookie: 'pb_session=forged-session-id' }, r.method === 'GET' || r.method === 'HEAD' ? [302] : [401], 'with a forged session');
        if (r.access.queue) await refused({ cookie: sessions['finance.admin']!.cookieHeader() }, [404], 'as an operator of another queue');
        if (r.access.role === 'admin') await refused({ cookie: sessions['it.oncall']!.cookieHeader() }, [403], 'as an operator who is not an admin');
        const ok = await send(r, p, { cookie: sessions[r.access.role === 'admin' ? 'it.lead' : 'it.oncall']!.cookieHeader() });
        // A form post without its form token is refused; a page opens.
        assert.equal(ok.status, r.access.form ? 403 : r.method === 'GET' && r.url === '/' ? 302 : ok.status, label);
        if (!r.access.form && r.method === 'GET') assert.equal(ok.status, 200, `${label} as a member of the queue: ${ok.body.slice(0, 200)}`);
        if (r.access.queue) assert.equal((await send(r, p, { cookie: sessions['it.lead']!.cookieHeader() })).status, r.access.form ? 403 : 200, `${label} as an admin`);
      }
      // Odd spellings: never an answer without credentials, never a server error.
      for (const v of variants(p)) {
        const answer = await send(r, v);
        tried++;
        assert.ok(answer.status < 500, `${r.method} ${v}: ${answer.status} ${answer.body.slice(0, 200)}`);
        if (r.access.kind !== 'public') {
          assert.ok([301, 302, 400, 401, 404].includes(answer.status), `${r.method} ${v} answered ${answer.status} without credentials`);
          assert.equal(leaks(answer.body), false, `${r.method} ${v} leaked: ${answer.body.slice(0, 200)}`);
        }
        // With credentials, a spelling that reaches the route meets the same rule (the token's queue here).
        if (r.access.kind === 'token' && r.access.queue) {
          const other = await send(r, v, bearer(otherQueue));
          assert.ok([400, 404].includes(other.status), `${r.method} ${v} with a token of another queue: ${other.status}`);
        }
      }
    }
    assert.deepEqual(await counts(), before, 'no refused request changed the store');
    assert.equal((await h.runtime.tasks.get(taskId)).status, 'open');
    assert.ok(tried > routes.length * 8, `tried ${tried} requests`);
  });

  it('sends the security headers on pages, API answers, errors and 404s', async () => {
    const h = await harness();
    const server = await serverFor(h);
    for (const [p, status] of [['/login', 200], ['/api/v1/runs', 401], ['/nothing-here', 404], ['/api/v1/nothing', 404], ['/inbox', 302], ['/%61pi/v1/tasks', 401]] as const) {
      const answer = await rawRequest(server.url, 'GET', p);
      assert.equal(answer.status, status, p);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff', p);
      assert.equal(answer.headers['x-frame-options'], 'DENY', p);
      assert.equal(answer.headers['referrer-policy'], 'no-referrer', p);
      assert.match(String(answer.headers['content-security-policy']), /frame-ancestors 'none'/, p);
      assert.equal(answer.headers['strict-transport-security'], undefined, `${p}: no HSTS over plain HTTP`);
    }
  });
});
