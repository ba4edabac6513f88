import assert from 'node:assert/strict';
import type { FeedRead } from '../../core/intake/leaver-feed.js';
import { harness } from '../support/runtime.js';
import { EntraDouble, GoogleDouble, serviceAccountKey } from '../support/idp-doubles.js';
import { OktaDouble } from '../support/vendor-doubles.js';

const minute = 60_000;
/** Every installed app that is not an identity provider: what a person who left the IdP is offboarded from. */
const appsOf = (h: Awaited<ReturnType<typeof harness>>) => Object.keys(h.profile.profile.apps).filter((id) => h.services.registry.get(id).manifest.kind !== 'idp').sort();
const startedBy = (reads: FeedRead[], key: string) => reads.find((r) => r.app === key)!.started;

describe('the leaver feed: every way a person leaves', () => {
  it('Okta: a deactivated user is offboarded from every installed app, once, however often the feed is read', async () => {
    const okta = await new OktaDouble().listen();
    after(() => okta.close());
    okta.seed(['dana@acme.com', 'eve@acme.com']);
    const h = await harness({
      env: { OKTA_API_TOKEN: 'okta-token' },
      tweak: (p) => {
        p.idp = { connector: 'okta', baseUrl: okta.url, secrets: { token: 'env:OKTA_API_TOKEN' } };
        p.apps.spendesk!.idpAppId = '0oaEVERY';
      },
    });
    const first = await h.runtime.leavers.read(h.profile); // switches the feed on at 09:00
    assert.deepEqual(startedBy(first, 'okta'), []);

    const event = okta.lifecycle('dana@acme.com', 'user.lifecycle.deactivate', '2026-11-28T09:05:00.000Z');
    okta.lifecycle('eve@acme.com', 'user.lifecycle.suspend', '2026-11-28T09:06:00.000Z');
    h.clock.advance(10 * minute);
    const second = await h.runtime.leavers.read(h.profile);
    const dana = startedBy(second, 'okta').filter((s) => s.email === 'dana@acme.com');
    assert.deepEqual(dana.map((s) => s.app).sort(), appsOf(h), 'one offboarding per installed app');
    assert.ok(dana.every((s) => s.created && s.event === event));
    assert.deepEqual(startedBy(second, 'okta').filter((s) => s.email === 'eve@acme.com').map((s) => s.app).sort(), appsOf(h), 'a suspension is a departure too');
    const run = await h.run(dana.find((s) => s.app === 'spendesk')!.run);
    assert.equal(run.idempotencyKey, `okta:${event}:spendesk`);
    assert.equal(run.request.requestedBy, 'okta-leaver-feed');
    assert.equal(run.request.reason, `left Okta at 2026-11-28T09:05:00.000Z (user.lifecycle.deactivate, event ${event}): offboarded from every app`);
    assert.deepEqual(startedBy(second, 'spendesk'), [], "the app's own window reads only removals from the app");

    const third = await h.runtime.leavers.read(h.profile);
    assert.ok(startedBy(third, 'okta').length > 0 && startedBy(third, 'okta').every((s) => !s.created), 'read again: nothing new');
    assert.equal((await h.runtime.engine.list()).filter((r) => r.playbook === 'offboard').length, 2 * appsOf(h).length);
  });

  it('Entra ID: a disabled account offboards every app, a removed app role assignment only that app, another user change nothing', async () => {
    const graph = await new EntraDouble().app('sp-spendesk', 'Spendesk').listen();
    after(() => graph.close());
    graph.seed(['frank@acme.com', 'gina@acme.com', 'hal@acme.com']);
    graph.assign('sp-spendesk', ['gina@acme.com']);
    const h = await harness({
      env: { T: graph.tenant, C: graph.clientId, S: graph.clientSecret },
      tweak: (p) => {
        p.idp = { connector: 'entra-id', baseUrl: `${graph.url}/v1.0`, secrets: { tenantId: 'env:T', clientId: 'env:C', clientSecret: 'env:S' } };
        p.apps.spendesk!.idpAppId = 'sp-spendesk';
      },
    });
    const since = Date.parse('2026-11-28T08:00:00Z');
    const disabled = graph.disableByAdmin('frank@acme.com', '2026-11-28T08:10:00.000Z');
    const removed = graph.unassignByAdmin('sp-spendesk', 'gina@acme.com', '2026-11-28T08:20:00.000Z');
    graph.renameByAdmin('hal@acme.com', '2026-11-28T08:30:00.000Z');
    const reads = await h.runtime.leavers.read(h.profile, { since });
    assert.deepEqual(startedBy(reads, 'entra-id').map((s) => [s.email, s.event, s.app]).sort(), appsOf(h).map((app) => ['frank@acme.com', disabled, app]));
    assert.deepEqual(startedBy(reads, 'spendesk').map((s) => [s.email, s.event]), [['gina@acme.com', removed]]);
    const run = await h.run(startedBy(reads, 'spendesk')[0]!.run);
    assert.equal(run.request.reason, `unassigned from Spendesk in Microsoft Entra ID at 2026-11-28T08:20:00.000Z (Remove app role assignment from user, event ${removed})`);
    assert.ok(!(await h.runtime.engine.list()).some((r) => r.request.subject.email === 'hal@acme.com'), 'a rename is not a departure');
  });

  it('Google Workspace: a suspended user offboards every app, a removal from the app\'s group only that app', async () => {
    const google = await new GoogleDouble().listen();
    after(() => google.close());
    const key = serviceAccountKey(`${google.url}/token`);
    google.trust(key.publicKey, 'it.admin@acme.com');
    google.seed(['ivan@acme.com', 'jo@acme.com']);
    google.group('spendesk-users@acme.com', ['jo@acme.com']);
    const h = await harness({
      env: { KEY: key.json, ADMIN: 'it.admin@acme.com' },
      tweak: (p) => {
        p.idp = { connector: 'google-workspace', baseUrl: google.url, secrets: { serviceAccountKey: 'env:KEY', adminEmail: 'env:ADMIN' } };
        p.apps.spendesk!.idpAppId = 'spendesk-users@acme.com';
      },
    });
    const suspended = google.suspendByAdmin('ivan@acme.com', '2026-11-28T08:10:00.000Z');
    const removed = google.removeFromGroupByAdmin('spendesk-users@acme.com', 'jo@acme.com', '2026-11-28T08:20:00.000Z');
    const reads = await h.runtime.leavers.read(h.profile, { since: Date.parse('2026-11-28T08:00:00Z') });
    assert.deepEqual(startedBy(reads, 'google-workspace').map((s) => [s.email, s.event, s.app]).sort(), appsOf(h).map((app) => ['ivan@acme.com', suspended, app]));
    assert.deepEqual(startedBy(reads, 'spendesk').map((s) => [s.email, s.event]), [['jo@acme.com', removed]]);
    assert.deepEqual(reads.flatMap((r) => r.problems), []);
  });
});
