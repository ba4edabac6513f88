import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startServer } from '../../core/server/app.js';
import { harness } from '../support/runtime.js';
import { ScimClient, newUser } from './client.js';

describe('SCIM bridge security: per-token rate limit, tokens hashed at rest, a revoked token refused', function () {
  this.timeout(60_000);

  it('answers 429 with Retry-After and an Error body past the per-token limit, counting each token apart', async () => {
    const h = await harness();
    const server = await startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, tickMs: 60_000, scimRequestsPerMinute: 3 });
    after(() => server.close());
    const first = new ScimClient(server, '6sense', (await server.access.createBridgeToken('6sense')).token);
    const second = new ScimClient(server, '6sense', (await server.access.createBridgeToken('6sense')).token);
    for (let i = 0; i < 3; i++) assert.equal((await first.get('/Users')).status, 200);
    const limited = await first.get('/Users');
    assert.equal(limited.status, 429);
    assert.equal(limited.body.status, '429');
    assert.deepEqual(limited.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
    assert.ok(Number(limited.headers.get('retry-after')) > 0, `retry-after: ${limited.headers.get('retry-after')}`);
    assert.equal((await second.get('/Users')).status, 200, 'another token has its own allowance');
  });

  it('keeps only a hash of a bridge token, and refuses it once revoked', async () => {
    const h = await harness();
    const server = await startServer({ services: h.services, runtime: h.runtime, profile: h.profile, port: 0, tickMs: 60_000 });
    after(() => server.close());
    const created = (await server.access.createBridgeToken('6sense'));
    const scim = new ScimClient(server, '6sense', created.token);
    assert.equal((await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer'))).status, 201);
    const secret = created.token.split('_').slice(2).join('_');
    const stored = Buffer.concat(readdirSync(h.dataDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => readFileSync(path.join(f.parentPath, f.name))));
    assert.equal(stored.indexOf(secret), -1, 'the token secret is stored');
    assert.ok((await server.access.revokeToken(created.id)));
    const refused = await scim.get('/Users');
    assert.equal(refused.status, 401);
    assert.match(refused.body.detail, /revoked/);
  });
});
