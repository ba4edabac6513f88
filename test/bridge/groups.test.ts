import assert from 'node:assert/strict';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';
import { ScimClient, newUser, patchOp, runsWithKey } from './client.js';

const groupExtension = 'urn:ietf:params:scim:schemas:extension:patchbay:2.0:Group';

async function bridge(app: string) {
  const h = await harness();
  const server = await serverFor(h);
  return { h, scim: new ScimClient(server, app, (await server.access.createBridgeToken(app)).token) };
}

/** The desired access a run was started with. */
const accessOf = async (h: Awaited<ReturnType<typeof harness>>, runId: string) => ((await h.run(runId)).request as { access?: { roles?: string[] } }).access;

/** Does every task of a run until it is no longer at work. */
async function finish(h: Awaited<ReturnType<typeof harness>>, runId: string) {
  for (let i = 0; i < 6 && ['running', 'waiting'].includes((await h.run(runId)).status); i++) await h.completeNext(runId);
  assert.equal((await h.run(runId)).status, 'completed', JSON.stringify((await h.run(runId)).waitingFor));
}

describe('SCIM bridge: Groups for apps with entitlements', function () {
  this.timeout(60_000);

  it('lists the app\'s assignable roles as Groups, filters on displayName, and advertises Group in discovery', async () => {
    const { scim } = await bridge('spendesk');
    const list = await scim.get('/Groups');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    const names = list.body.Resources.map((g: any) => g.displayName);
    assert.ok(names.includes('Controller') && names.includes('Administrator'), names.join(', '));
    assert.ok(!names.includes('Account Owner'), 'a role the manifest marks not assignable is no Group');
    const one = await scim.get(`/Groups?filter=${encodeURIComponent('displayName eq "controller"')}`);
    assert.equal(one.body.totalResults, 1);
    assert.equal(one.body.Resources[0].id, 'controller');
    assert.equal((await scim.get(`/Groups?filter=${encodeURIComponent('displayName eq "Nobody"')}`)).body.totalResults, 0);
    const bad = await scim.get(`/Groups?filter=${encodeURIComponent('displayName co "x"')}`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.scimType, 'invalidFilter');
    const types = await scim.get('/ResourceTypes');
    assert.deepEqual(types.body.Resources.map((t: any) => t.id), ['User', 'Group']);
    const schemas = await scim.get('/Schemas');
    assert.ok(schemas.body.Resources.some((s: any) => s.id === 'urn:ietf:params:scim:schemas:core:2.0:Group'));
    assert.equal((await scim.get('/Groups/nope')).status, 404);
  });

  it('an app without entitlements advertises no Group and answers its Groups with a 404 Error', async () => {
    const { scim } = await bridge('6sense');
    assert.deepEqual((await scim.get('/ResourceTypes')).body.Resources.map((t: any) => t.id), ['User']);
    assert.ok(!(await scim.get('/Schemas')).body.Resources.some((s: any) => s.id === 'urn:ietf:params:scim:schemas:core:2.0:Group'));
    const groups = await scim.get('/Groups');
    assert.equal(groups.status, 404);
    assert.equal(groups.body.status, '404');
    assert.match(groups.body.detail, /no roles or teams/);
  });

  it('adding a member starts one change run that grants the role, a retry joins it, removing starts one that revokes', async () => {
    const { h, scim } = await bridge('spendesk');
    const alice = await scim.post('/Users', newUser('alice@acme.com', 'Alice', 'Archer'));
    assert.equal(alice.status, 201, JSON.stringify(alice.body));
    // Entra's dialect: capitalised op, members as a value list.
    const add = patchOp({ op: 'Add', path: 'members', value: [{ value: alice.body.id }] });
    const added = await scim.patch('/Groups/controller', add);
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(added.body.members.map((m: any) => [m.value, m.display]), [[alice.body.id, 'alice@acme.com']]);
    const runId = added.body[groupExtension].members[0].runId;
    assert.equal((await h.run(runId)).playbook, 'change');
    assert.deepEqual(await accessOf(h, runId), { roles: ['Controller'] });
    // The IdP's retry: nothing new.
    assert.equal((await scim.patch('/Groups/controller', add)).status, 200);
    assert.equal((await runsWithKey(h.runtime.store, `scim:spendesk:group:controller:${alice.body.id}:add`)).length, 1);
    // A second role while the first change is open: the open change does not carry it, so 409 and nothing recorded.
    const adminAdd = patchOp({ op: 'add', path: 'members', value: [{ value: alice.body.id }] });
    const busy = await scim.patch('/Groups/administrator', adminAdd);
    assert.equal(busy.status, 409, JSON.stringify(busy.body));
    assert.match(busy.body.detail, new RegExp(`already open \\(run ${runId}\\)`));
    assert.deepEqual((await scim.get('/Groups/administrator')).body.members, []);
    // Once it has finished, the second role keeps the first in the desired access.
    await finish(h, runId);
    const admin = await scim.patch('/Groups/administrator', adminAdd);
    assert.equal(admin.status, 200, JSON.stringify(admin.body));
    const adminRun = admin.body[groupExtension].members[0].runId;
    assert.deepEqual(await accessOf(h, adminRun), { roles: ['Controller', 'Administrator'] });
    await finish(h, adminRun);
    // Okta's removal: a filtered path.
    const removed = await scim.patch('/Groups/controller', patchOp({ op: 'remove', path: `members[value eq "${alice.body.id}"]` }));
    assert.equal(removed.status, 200);
    assert.deepEqual(removed.body.members, []);
    const revoke = (await runsWithKey(h.runtime.store, `scim:spendesk:group:controller:${alice.body.id}:remove`));
    assert.equal(revoke.length, 1);
    assert.deepEqual(await accessOf(h, revoke[0]!.id), { roles: ['Administrator'] });
    await finish(h, revoke[0]!.id);
    // Re-adding later is a new change, with a run of its own.
    await scim.patch('/Groups/controller', add);
    assert.equal((await runsWithKey(h.runtime.store, `scim:spendesk:group:controller:${alice.body.id}:add`)).length, 2);
  });

  it('refuses what it cannot do honestly: unknown members, renames, other paths, and creating, replacing or deleting a role', async () => {
    const { h, scim } = await bridge('spendesk');
    const unknown = await scim.patch('/Groups/controller', patchOp({ op: 'add', path: 'members', value: [{ value: 'no-such-user' }] }));
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.detail, /no User no-such-user/);
    const rename = await scim.patch('/Groups/controller', patchOp({ op: 'replace', value: { displayName: 'Boss' } }));
    assert.equal(rename.status, 400);
    assert.equal(rename.body.scimType, 'mutability');
    // Okta pushes the name it already has: accepted, nothing changes.
    assert.equal((await scim.patch('/Groups/controller', patchOp({ op: 'replace', value: { displayName: 'Controller' } }))).status, 200);
    const path = await scim.patch('/Groups/controller', patchOp({ op: 'add', path: 'externalId', value: 'x' }));
    assert.equal(path.status, 400);
    assert.equal(path.body.scimType, 'invalidPath');
    for (const [method, where] of [['POST', '/Groups'], ['PUT', '/Groups/controller'], ['DELETE', '/Groups/controller']] as const) {
      const answer = await scim.request(method, where, method === 'DELETE' ? undefined : { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Controller' });
      assert.equal(answer.status, 501, `${method} ${where}`);
      assert.equal(answer.body.schemas[0], 'urn:ietf:params:scim:api:messages:2.0:Error');
      assert.match(answer.body.detail, /fixed by the vendor/);
    }
    assert.equal((await runsWithKey(h.runtime.store, 'scim:spendesk:group:')).length, 0);
  });
});
