import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startServer } from '../../core/server/app.js';
import { harness } from '../support/runtime.js';
import { FormClient } from '../support/server.js';

const password = 'a long test password';

describe('two servers on one store: sessions and form tokens', function () {
  this.timeout(60_000);

  async function twoServers(formKey?: Buffer) {
    const h = await harness();
    const [a, b] = await Promise.all([1, 2].map(() => startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, version: 'test', tickMs: 60_000, ...(formKey ? { formKey } : {}) })));
    after(async () => {
      await a!.close();
      await b!.close();
    });
    await a!.access.setOperator('it.oncall@acme.example', password, 'operator');
    return [a!, b!] as const;
  }

  /** The sign-in page from one server, the post to the other, with the cookies of one browser. */
  async function signInAcross(from: string, to: string) {
    const browser = new FormClient(from);
    const page = await browser.request('GET', '/login');
    const cookie = browser.cookieHeader();
    const response = await fetch(`${to}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _token: FormClient.token(page.body, '/login'), email: 'it.oncall@acme.example', password, next: '/inbox' }).toString(),
    });
    return { response, session: /pb_session=([^;]+)/.exec(response.headers.get('set-cookie') ?? '')?.[1] };
  }

  it('with one form key, a form served by one server is accepted by the other, and the session works on both', async () => {
    const [a, b] = await twoServers(randomBytes(32));
    const { response, session } = await signInAcross(a.url, b.url);
    assert.equal(response.status, 302, await response.text());
    assert.ok(session);
    for (const server of [a, b]) assert.equal((await fetch(`${server.url}/inbox`, { headers: { cookie: `pb_session=${session}` }, redirect: 'manual' })).status, 200, server.url);
  });

  it('with a key per process (the default), the other server refuses the form: 403, nobody signed in', async () => {
    const [a, b] = await twoServers();
    const { response, session } = await signInAcross(a.url, b.url);
    assert.equal(response.status, 403);
    assert.match(await response.text(), /does not belong to this session and form/);
    assert.equal(session, undefined);
  });

  it('refuses a form key shorter than 32 bytes', async () => {
    const h = await harness();
    await assert.rejects(startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, formKey: Buffer.alloc(16) }), /formKey: must be at least 32 bytes \(got 16\)/);
  });
});
