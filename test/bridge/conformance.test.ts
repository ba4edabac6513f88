import assert from 'node:assert/strict';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';
import { ScimClient, newUser, patchOp, patchbaySchema, runsWithKey } from './client.js';

/** The server on the demo tenant with a bridge token for 6sense (an app whose work is a person's task). */
async function bridge(options: { app?: string } = {}) {
  const h = await harness();
  const server = await serverFor(h);
  const app = options.app ?? '6sense';
  const { token } = (await server.access.createBridgeToken(app));
  return { h, server, scim: new ScimClient(server, app, token), token };
}

describe('SCIM bridge: RFC 7643/7644 conformance', function () {
  this.timeout(60_000);

  it('creates a User (201, active, the names given), lists it with count=1&startIndex=1 and gets it by id', async () => {
    const { scim, server } = await bridge();
    const created = await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer', { externalId: 'okta-00u1' }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.headers.get('content-type') ?? '', /^application\/scim\+json/);
    assert.equal(created.body.active, true);
    assert.equal(created.body.name.givenName, 'Alice');
    assert.equal(created.body.name.familyName, 'Archer');
    assert.equal(created.body.meta.resourceType, 'User');
    assert.equal(created.body.meta.version, 'W/"1"');
    assert.equal(created.headers.get('location'), created.body.meta.location);
    assert.equal(created.headers.get('etag'), 'W/"1"');
    // The onboarding needs a person in 6sense: the truth is "pending", with the run (answered once recorded,
    // the run driven after the answer), and once the server has driven it, what it waits for.
    const ext = created.body[patchbaySchema];
    assert.equal(ext.provisioningState, 'pending');
    assert.equal(ext.operation, 'onboard');
    assert.match(ext.runId, /^run/);
    await server.settled();
    const driven = (await scim.get(`/Users/${created.body.id}`)).body[patchbaySchema];
    assert.equal(driven.provisioningState, 'pending');
    assert.equal(driven.runId, ext.runId);
    assert.ok(driven.waitingFor, JSON.stringify(driven));

    await scim.post('/Users', newUser('bob@acme.com', 'Bob', 'Baker'));
    const list = await scim.get('/Users?count=1&startIndex=1');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    assert.equal(list.body.totalResults, 2);
    assert.equal(list.body.itemsPerPage, 1);
    assert.equal(list.body.startIndex, 1);
    const first = list.body.Resources[0];
    for (const [name, value] of [['id', first.id], ['userName', first.userName], ['name.givenName', first.name?.givenName], ['name.familyName', first.name?.familyName], ['emails[0].value', first.emails?.[0]?.value], ['active', first.active]]) {
      assert.notEqual(value, undefined, `${name} missing`);
    }
    const second = await scim.get('/Users?count=1&startIndex=2');
    assert.equal(second.body.Resources[0].userName, 'bob@acme.com');

    const got = await scim.get(`/Users/${created.body.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.userName, 'alice@acme.com');
    assert.equal(got.body.externalId, 'okta-00u1');
  });

  it('filters: unknown userName → 200 with totalResults 0; userName in another case, externalId, work email and id find the User', async () => {
    const { scim } = await bridge();
    const created = await scim.post('/Users', newUser('Alice@Acme.com', 'Alice', 'Archer', { externalId: 'ext-1' }));
    const none = await scim.filter('userName eq "nobody@acme.com"');
    assert.equal(none.status, 200);
    assert.equal(none.body.totalResults, 0);
    assert.deepEqual(none.body.Resources, []);
    for (const f of ['userName eq "alice@ACME.com"', 'USERNAME EQ "alice@acme.com"', 'externalId eq "ext-1"', 'externalId eq ext-1', 'emails[type eq "work"].value eq "alice@acme.com"', `id eq "${created.body.id}"`]) {
      const found = await scim.filter(f);
      assert.equal(found.body.totalResults, 1, f);
      assert.equal(found.body.Resources[0].id, created.body.id, f);
    }
    // externalId is case-exact.
    assert.equal((await scim.filter('externalId eq "EXT-1"')).body.totalResults, 0);
  });

  it('refuses what it cannot answer exactly, with an Error body: unsupported filters, bad paging, bad bodies', async () => {
    const { scim } = await bridge();
    for (const f of ['userName co "alice"', 'userName eq "a" and active eq true', 'title eq "x"', 'userName eq "unterminated']) {
      const answer = await scim.filter(f);
      assert.equal(answer.status, 400, f);
      assert.equal(answer.body.status, '400');
      assert.equal(answer.body.scimType, 'invalidFilter');
      assert.ok(answer.body.detail.length > 0);
    }
    assert.equal((await scim.get('/Users?count=abc')).body.scimType, 'invalidValue');
    const noName = await scim.post('/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], name: { givenName: 'X' } });
    assert.equal(noName.status, 400);
    assert.match(noName.body.detail, /userName is required/);
    const noEmail = await scim.post('/Users', { userName: 'carol', name: { givenName: 'Carol', familyName: 'C' } });
    assert.equal(noEmail.status, 400);
    assert.match(noEmail.body.detail, /no email/);
    const broken = await scim.request('POST', '/Users', '{"userName":');
    assert.equal(broken.status, 400);
    assert.equal(broken.body.scimType, 'invalidSyntax');
    const big = await scim.post('/Users', newUser('big@acme.com', 'B', 'B', { title: 'x'.repeat(70_000) }));
    assert.equal(big.status, 413);
    assert.equal(big.body.status, '413');
    assert.equal((await scim.get('/Users')).body.totalResults, 0, 'nothing was stored by the refused requests');
  });

  it('answers 404 with detail for an unknown id, 409 uniqueness for a taken userName (any case, also when two arrive at once), 401 for a wrong token', async () => {
    const { h, scim, server } = await bridge();
    const missing = await scim.get('/Users/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
    assert.equal(missing.body.status, '404');
    assert.match(missing.body.detail, /no User 00000000/);
    assert.equal((await scim.patch('/Users/nope', patchOp({ op: 'replace', path: 'active', value: false }))).status, 404);

    assert.equal((await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer'))).status, 201);
    const again = await scim.post('/Users', newUser('ALICE@acme.com', 'Alice', 'Archer'));
    assert.equal(again.status, 409);
    assert.equal(again.body.scimType, 'uniqueness');
    assert.equal(again.body.status, '409');
    // Two creations of one userName at once (an IdP's retry racing its first try): one 201, one 409, one onboarding.
    const raced = await Promise.all([scim.post('/Users', newUser('bob@acme.com', 'Bob', 'Baker')), scim.post('/Users', newUser('Bob@acme.com', 'Bob', 'Baker'))]);
    assert.deepEqual(raced.map((r) => r.status).sort(), [201, 409], JSON.stringify(raced.map((r) => r.body)));
    assert.equal(raced.find((r) => r.status === 409)!.body.scimType, 'uniqueness');
    assert.equal((await scim.filter('userName eq "bob@acme.com"')).body.totalResults, 1);
    assert.equal((await runsWithKey(h.runtime.store, 'scim:6sense:user:bob@acme.com:onboard:')).length, 1);

    const wrong = await new ScimClient(server, '6sense', `pb_${'0'.repeat(12)}_${'A'.repeat(43)}`).get('/Users');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.status, '401');
    assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer/);
    const none = await fetch(`${server.url}/scim/v2/6sense/Users`);
    assert.equal(none.status, 401);
    assert.equal(((await none.json()) as { status: string }).status, '401');
    // A token for another app, and an ordinary API token, are refused; a bridge token opens no API route.
    const other = (await server.access.createBridgeToken('alkami'));
    assert.equal((await new ScimClient(server, '6sense', other.token).get('/Users')).status, 403);
    const api = (await server.access.createToken({ name: 'ci', actor: 'ci@acme.com', role: 'admin' }));
    assert.equal((await new ScimClient(server, '6sense', api.token).get('/Users')).status, 403);
    const viaApi = await fetch(`${server.url}/api/v1/runs`, { headers: { authorization: `Bearer ${other.token}` } });
    assert.equal(viaApi.status, 403);
    // An app that is not installed.
    const ghost = (await server.access.createBridgeToken('ghost'));
    const unknownApp = await new ScimClient(server, 'ghost', ghost.token).get('/Users');
    assert.equal(unknownApp.status, 404);
    assert.match(unknownApp.body.detail, /no app ghost is installed/);
  });

  it('PATCH active false → 200 and one offboarding, however often it is sent; DELETE then → 204 and 404', async () => {
    const { scim, h } = await bridge();
    const created = await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer'));
    const id = created.body.id;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await scim.patch(`/Users/${id}`, patchOp({ op: 'replace', path: 'active', value: false })));
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(a.body.active, false);
      assert.equal(a.body[patchbaySchema].operation, 'offboard');
    }
    assert.equal(new Set(answers.map((a) => a.body[patchbaySchema].runId)).size, 1);
    assert.equal(answers[2]!.body.meta.version, 'W/"2"', 'the repeats changed nothing');
    const offboardings = (await runsWithKey(h.runtime.store, `scim:6sense:${id}:offboard:`));
    assert.equal(offboardings.length, 1);
    assert.equal((await h.runtime.engine.get(offboardings[0]!.id)).playbook, 'offboard');
    assert.equal((await h.runtime.engine.get(offboardings[0]!.id)).request.subject.email, 'alice@acme.com');

    // If-Match: a stale version is refused with 412, the current one accepted.
    const stale = await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'X' }), { 'if-match': 'W/"1"' });
    assert.equal(stale.status, 412);
    assert.equal(stale.body.status, '412');
    assert.equal((await scim.request('PATCH', `/Users/${id}`, patchOp({ op: 'replace', path: 'title', value: 'X' }), { 'if-match': 'W/"2"' })).body.meta.version, 'W/"3"');
    const deleted = await scim.delete(`/Users/${id}`);
    assert.equal(deleted.status, 204);
    assert.equal((await scim.get(`/Users/${id}`)).status, 404);
    assert.equal((await runsWithKey(h.runtime.store, `scim:6sense:${id}:offboard:`)).length, 1, 'a DELETE after a deactivation offboards nothing twice');
    // The userName is free again: a new User, whose onboarding joins the one still open for her (a person's task in 6sense).
    const recreated = await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer'));
    assert.equal(recreated.status, 201);
    assert.notEqual(recreated.body.id, id);
    assert.equal(recreated.body[patchbaySchema].runId, created.body[patchbaySchema].runId);
    assert.equal((await runsWithKey(h.runtime.store, 'scim:6sense:user:alice@acme.com:onboard:')).length, 1);
  });

  it('serves discovery: ServiceProviderConfig, ResourceTypes, Schemas', async () => {
    const { scim } = await bridge();
    const config = await scim.get('/ServiceProviderConfig');
    assert.equal(config.status, 200);
    assert.equal(config.body.patch.supported, true);
    assert.equal(config.body.filter.supported, true);
    assert.equal(config.body.bulk.supported, false);
    assert.equal(config.body.authenticationSchemes[0].type, 'oauthbearertoken');
    const types = await scim.get('/ResourceTypes');
    assert.equal(types.body.Resources[0].endpoint, '/Users');
    assert.equal((await scim.get('/ResourceTypes/User')).body.schema, 'urn:ietf:params:scim:schemas:core:2.0:User');
    const schemas = await scim.get('/Schemas');
    assert.deepEqual(schemas.body.Resources.map((s: { id: string }) => s.id), ['urn:ietf:params:scim:schemas:core:2.0:User', patchbaySchema]);
    assert.equal((await scim.get(`/Schemas/${patchbaySchema}`)).body.name, 'PatchbayUser');
    assert.equal((await scim.get('/Schemas/urn:nope')).status, 404);
    // What the bridge does not serve answers a SCIM Error, not a page.
    const groups = await scim.get('/Groups');
    assert.equal(groups.status, 404);
    assert.equal(groups.body.status, '404');
    assert.match(groups.body.detail, /6sense has no roles or teams the bridge can serve as Groups/);
    const bulk = await scim.post('/Bulk', {});
    assert.equal(bulk.status, 404);
    assert.match(bulk.body.detail, /serves no POST \/scim\/v2\/6sense\/Bulk/);
  });
});
