import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { packageRoot } from '../../core/paths.js';
import { scratchDir } from '../support/fixtures.js';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';
import { ScimClient } from './client.js';
import { newUser, patchOp, patchbaySchema, runsWithKey as runsWithKeyIn } from './client.js';

const main = path.join(packageRoot, 'dist', 'core', 'cli', 'main.js');
const env = (dataDir: string) => ({ ...process.env, PATCHBAY_DATA_DIR: dataDir, PATCHBAY_CONNECTORS: '' });

/** `patchbay serve` as its own process on a free port; resolves with its URL once it listens. */
async function serve(dataDir: string): Promise<{ url: string; child: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [main, 'serve', '--port', '0'], { env: env(dataDir), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /Patchbay on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited: ${err}`)));
  });
  after(() => child.kill('SIGKILL'));
  return { url, child, exited };
}

/** The runs whose idempotency key starts with `prefix`, read from the store file as another process sees it. */
function runsWithKey(dataDir: string, prefix: string): { id: string; playbook: string }[] {
  const db = new Database(path.join(dataDir, 'patchbay.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT id, playbook FROM runs WHERE idempotency_key LIKE ?').all(`${prefix}%`) as { id: string; playbook: string }[];
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/** Sends a request and SIGKILLs the server as soon as a run with the key prefix is committed (or the answer arrives first). */
async function killDuring(server: { url: string; child: ChildProcess; exited: Promise<unknown> }, dataDir: string, keyPrefix: string, send: () => Promise<Response>): Promise<'killed-before-answer' | 'answered-first'> {
  let answered = false;
  const request = send().then(
    () => (answered = true),
    () => undefined,
  );
  for (let i = 0; i < 2000 && !answered; i++) {
    if (runsWithKey(dataDir, keyPrefix).length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  server.child.kill('SIGKILL');
  await server.exited;
  await request;
  return answered ? 'answered-first' : 'killed-before-answer';
}

describe('SCIM bridge crash safety: SIGKILL the server during a write, the IdP retries, one run', function () {
  this.timeout(120_000);

  it('during a POST and during a PATCH: after a restart the retry finds or joins the run already started', async () => {
    const dataDir = scratchDir('patchbay-bridge-crash-');
    const token = JSON.parse(execFileSync(process.execPath, [main, 'bridge', 'token', 'create', '--app', '6sense', '--json'], { env: env(dataDir) }).toString()).token as string;
    const call = (url: string, method: string, p: string, body?: unknown) =>
      fetch(`${url}/scim/v2/6sense${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const alice = newUser('alice@acme.com', 'Alice', 'Archer');

    // POST, killed as the onboarding is committed.
    let server = await serve(dataDir);
    const postCrash = await killDuring(server, dataDir, 'scim:6sense:user:alice@acme.com:onboard:', () => call(server.url, 'POST', '/Users', alice));
    server = await serve(dataDir);
    // Okta's retry: look her up, create her if not there.
    const found = (await (await call(server.url, 'GET', `/Users?filter=${encodeURIComponent('userName eq "alice@acme.com"')}`)).json()) as { totalResults: number; Resources: any[] };
    const user = found.totalResults === 1 ? found.Resources[0] : await (await call(server.url, 'POST', '/Users', alice)).json();
    const onboardings = runsWithKey(dataDir, 'scim:6sense:user:alice@acme.com:onboard:');
    assert.equal(onboardings.length, 1, `POST (${postCrash}): ${JSON.stringify(onboardings)}`);
    assert.equal(user[patchbaySchema].runId, onboardings[0]!.id);

    // PATCH active false, killed as the offboarding is committed; the retry is the same PATCH.
    const patchCrash = await killDuring(server, dataDir, `scim:6sense:${user.id}:offboard:`, () => call(server.url, 'PATCH', `/Users/${user.id}`, patchOp({ op: 'replace', path: 'active', value: false })));
    server = await serve(dataDir);
    const retried = await call(server.url, 'PATCH', `/Users/${user.id}`, patchOp({ op: 'replace', path: 'active', value: false }));
    const body = (await retried.json()) as any;
    assert.equal(retried.status, 200);
    assert.equal(body.active, false);
    const offboardings = runsWithKey(dataDir, `scim:6sense:${user.id}:offboard:`);
    assert.equal(offboardings.length, 1, `PATCH (${patchCrash}): ${JSON.stringify(offboardings)}`);
    assert.equal(body[patchbaySchema].runId, offboardings[0]!.id);
    assert.equal(runsWithKey(dataDir, 'scim:').length, 2);
  });

  it('the narrowest window, made on purpose: the run committed but the resource not (the server died between them): the retried POST joins that run', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const scim = new ScimClient(server, '6sense', (await server.access.createBridgeToken('6sense')).token);
    // What the dead server had committed: the onboarding under the key the bridge computes, nothing in scim_resources.
    const [died] = await h.runtime.runs.start([{ source: 'the server before SIGKILL', request: { playbook: 'onboard', app: '6sense', subject: { email: 'bob@acme.com' }, idempotencyKey: 'scim:6sense:user:bob@acme.com:onboard:1' } }], h.profile);
    assert.equal((await scim.filter('userName eq "bob@acme.com"')).body.totalResults, 0);
    const retried = await scim.post('/Users', newUser('Bob@acme.com', 'Bob', 'Baker'));
    assert.equal(retried.status, 201);
    assert.equal(retried.body[patchbaySchema].runId, died!.run.id);
    assert.equal((await runsWithKeyIn(h.runtime.store, 'scim:')).length, 1);
    // And for a PATCH: the offboarding committed under version 2's key, the resource still active at version 1.
    const id = retried.body.id;
    const [off] = await h.runtime.runs.start([{ source: 'the server before SIGKILL', request: { playbook: 'offboard', app: '6sense', subject: { email: 'bob@acme.com' }, idempotencyKey: `scim:6sense:${id}:offboard:2` } }], h.profile);
    const patched = await scim.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'active', value: false }));
    assert.equal(patched.body[patchbaySchema].runId, off!.run.id);
    assert.equal((await runsWithKeyIn(h.runtime.store, 'scim:')).length, 2);
  });
});
