import assert from 'node:assert/strict';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';
import { consoleHarness, spendeskConsole } from '../support/spendesk-console.js';
import { ScimClient, newUser, patchOp, patchbaySchema, runsWithKey, userSchema } from './client.js';

const enterprise = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

// Request sequences written from the IdPs' documentation: Okta's SCIM 2.0 provisioning guide (test
// connection with startIndex=1&count=2, a userName filter before creating, POST, PUT of the whole
// profile on a push, PATCH active false to deactivate) and Microsoft Entra ID's "Develop and plan
// provisioning for a SCIM endpoint" (a userName/externalId filter, POST with the enterprise
// extension, PATCH with capitalised ops, value objects without a path, filtered email paths,
// "False" strings, soft delete by PATCH and a DELETE later).

describe('SCIM bridge: the Okta and Entra ID request sequences', function () {
  this.timeout(120_000);

  it("Okta: test connection, userName filter, POST, PUT profile push, PATCH active false: one onboarding, an honest failure for the change 6sense cannot make, one offboarding", async () => {
    const h = await harness();
    const server = await serverFor(h);
    const okta = new ScimClient(server, '6sense', (await server.access.createBridgeToken('6sense')).token);
    const probe = await okta.get('/Users?startIndex=1&count=2');
    assert.equal(probe.status, 200);
    assert.equal(probe.body.totalResults, 0);
    assert.equal((await okta.filter('userName eq "dana@acme.com"')).body.totalResults, 0);
    const created = await okta.post('/Users', {
      schemas: [userSchema],
      userName: 'dana@acme.com',
      name: { givenName: 'Dana', familyName: 'Doe' },
      emails: [{ primary: true, value: 'dana@acme.com', type: 'work' }],
      displayName: 'Dana Doe',
      locale: 'en-US',
      externalId: '00ujl29u0le5T6Aj10h7',
      groups: [],
      password: { value: 'never-kept' } as unknown,
      active: true,
    });
    assert.equal(created.status, 201);
    const id = created.body.id;
    // The filter Okta sends before each later push finds her, in whatever case.
    assert.equal((await okta.filter('userName eq "DANA@acme.com"')).body.Resources[0].id, id);
    // A profile push: the whole User again with a new family name.
    const pushed = await okta.put(`/Users/${id}`, { ...created.body, name: { givenName: 'Dana', familyName: 'Dunn' }, active: true });
    assert.equal(pushed.status, 200);
    assert.equal(pushed.body.name.familyName, 'Dunn');
    assert.equal(pushed.body.meta.version, 'W/"2"');
    // The same push again changes nothing and starts nothing.
    const again = await okta.put(`/Users/${id}`, { ...pushed.body });
    assert.equal(again.body.meta.version, 'W/"2"');
    const deactivated = await okta.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } }));
    assert.equal(deactivated.status, 200);
    assert.equal(deactivated.body.active, false);
    const runs = await Promise.all((await runsWithKey(h.runtime.store, 'scim:6sense:')).map((r) => h.runtime.engine.get(r.id)));
    assert.equal(runs.filter((r) => r.playbook === 'onboard').length, 1);
    assert.equal(runs.filter((r) => r.playbook === 'offboard').length, 1);
    assert.equal(runs.find((r) => r.playbook === 'offboard')!.request.subject.email, 'dana@acme.com');
    // 6sense has no change playbook: the push is kept, and the answer says honestly that Patchbay could not carry it out.
    assert.equal(runs.filter((r) => r.playbook === 'change').length, 0);
    assert.equal(pushed.body[patchbaySchema].provisioningState, 'failed');
    assert.equal(pushed.body[patchbaySchema].operation, 'change');
    assert.match(pushed.body[patchbaySchema].reason, /could not start the change of dana@acme\.com in 6sense: unknown playbook for 6sense 'change'/);
    // The password Okta may send is a write-only attribute: never stored, never answered.
    assert.equal(deactivated.body.password, undefined);
    // Okta's reactivation: active true again starts a new onboarding.
    const reactivated = await okta.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: true } }));
    assert.equal(reactivated.body.active, true);
    assert.equal(reactivated.body[patchbaySchema].operation, 'onboard');
  });

  it('Entra ID: filters quoted and unquoted, POST with the enterprise extension, capitalised ops, path-less values, filtered paths, "False", soft then hard delete', async () => {
    const h = await harness();
    const server = await serverFor(h);
    const entra = new ScimClient(server, '6sense', (await server.access.createBridgeToken('6sense')).token);
    // Entra's connection test: a filter on a random userName that matches nothing.
    assert.equal((await entra.filter('userName eq "non-existent user 51ab9c1e"')).body.totalResults, 0);
    const created = await entra.post('/Users', {
      schemas: [userSchema, enterprise],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@acme.com',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'erin@acme.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Erin Eve', familyName: 'Eve', givenName: 'Erin' },
      roles: [],
      [enterprise]: { employeeNumber: '701984', department: 'Sales' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    assert.deepEqual(created.body.schemas, [userSchema, enterprise, patchbaySchema]);
    assert.equal(created.body[enterprise].department, 'Sales');
    // The onboarding is for the work email, not the userName.
    const onboarding = await h.runtime.engine.get(created.body[patchbaySchema].runId);
    assert.equal(onboarding.request.subject.email, 'erin@acme.com');
    for (const f of ['externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"', 'externalId eq 0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef', 'userName eq "test_user_ab6490ee-1e48-479e-a20b-2d77186b5dd1@acme.com"']) {
      assert.equal((await entra.filter(f)).body.Resources[0]?.id, id, f);
    }
    // Attribute updates as Entra sends them.
    const updated = await entra.patch(
      `/Users/${id}`,
      patchOp(
        { op: 'Replace', path: 'title', value: 'Account Executive' },
        { op: 'Add', path: 'emails[type eq "work"].value', value: 'erin@acme.com' },
        { op: 'Replace', value: { 'name.familyName': 'Evans', displayName: 'Erin Evans' } },
        { op: 'Add', path: `${enterprise}:manager`, value: 'mgr-1' },
        { op: 'Remove', path: `${enterprise}:employeeNumber` },
      ),
    );
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.title, 'Account Executive');
    assert.equal(updated.body.name.familyName, 'Evans');
    assert.equal(updated.body.name.givenName, 'Erin');
    assert.equal(updated.body.displayName, 'Erin Evans');
    assert.deepEqual(updated.body.emails, [{ primary: true, type: 'work', value: 'erin@acme.com' }]);
    assert.equal(updated.body[enterprise].manager, 'mgr-1');
    assert.equal(updated.body[enterprise].employeeNumber, undefined);
    assert.equal(updated.body[enterprise].department, 'Sales');
    // A bad operation refuses the whole PatchOp: nothing of it is applied.
    const refused = await entra.patch(`/Users/${id}`, patchOp({ op: 'Replace', path: 'title', value: 'X' }, { op: 'Frobnicate', path: 'title', value: 'Y' }));
    assert.equal(refused.status, 400);
    assert.match(refused.body.detail, /Operations\/1/);
    assert.equal((await entra.get(`/Users/${id}`)).body.title, 'Account Executive');
    // Soft delete: "False" as a string, twice (Entra retries), one offboarding.
    for (let i = 0; i < 2; i++) {
      const off = await entra.patch(`/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'False' }));
      assert.equal(off.status, 200);
      assert.equal(off.body.active, false);
    }
    assert.equal((await runsWithKey(h.runtime.store, `scim:6sense:${id}:offboard:`)).length, 1);
    assert.equal((await entra.patch(`/Users/${id}`, patchOp({ op: 'Replace', path: 'active', value: 'maybe' }))).body.scimType, 'invalidValue');
    // Hard delete later: 204, then gone; no second offboarding.
    assert.equal((await entra.delete(`/Users/${id}`)).status, 204);
    assert.equal((await entra.get(`/Users/${id}`)).status, 404);
    assert.equal((await entra.delete(`/Users/${id}`)).status, 404);
    assert.equal((await runsWithKey(h.runtime.store, `scim:6sense:${id}:offboard:`)).length, 1);
  });

  it('end to end: Okta deactivates Alice → the Spendesk offboarding runs → the browser removes her in the console → GET shows her inactive and done', async () => {
    const sim = await spendeskConsole();
    const h = await consoleHarness(sim);
    const server = await serverFor(h);
    const okta = new ScimClient(server, 'spendesk', (await server.access.createBridgeToken('spendesk')).token);
    const created = await okta.post('/Users', newUser('alice@acme.com', 'Alice', 'Martin', { externalId: '00u-alice' }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const off = await okta.patch(`/Users/${id}`, patchOp({ op: 'replace', value: { active: false } }));
    assert.equal(off.status, 200);
    assert.equal(off.body.active, false);
    const ext = off.body[patchbaySchema];
    assert.equal(ext.operation, 'offboard');
    // Answered once the offboarding is recorded: not done yet. Driven after the answer, the run waits (first on a
    // person unassigning her in Okta, as the demo tenant has no Okta API).
    assert.equal(ext.provisioningState, 'pending', JSON.stringify(ext));
    await server.settled();
    const waiting = (await okta.get(`/Users/${id}`)).body[patchbaySchema];
    assert.equal(waiting.provisioningState, 'pending', JSON.stringify(waiting));
    assert.ok(waiting.waitingFor, JSON.stringify(waiting));
    assert.equal(sim.state.removed.length, 0);
    await h.completeNext(ext.runId);
    await server.settled();
    assert.deepEqual(sim.state.removed.map((m) => m.email), ['alice@acme.com']);
    const after = await okta.get(`/Users/${id}`);
    assert.equal(after.body.active, false);
    assert.equal(after.body[patchbaySchema].provisioningState, 'done', JSON.stringify(after.body[patchbaySchema]));
    assert.equal(after.body[patchbaySchema].runId, ext.runId);
    assert.equal((await h.runtime.engine.get(ext.runId)).status, 'completed');
  });
});
