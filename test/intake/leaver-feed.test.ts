import assert from 'node:assert/strict';
import { LeaverFeedError } from '../../core/intake/leaver-feed.js';
import { harness } from '../support/runtime.js';
import { OktaDouble } from '../support/vendor-doubles.js';

const minute = 60_000;

describe('the leaver feed', () => {
  let okta: OktaDouble;
  before(async () => (okta = await new OktaDouble().listen()));
  after(() => okta.close());

  const feedHarness = async () =>
    await harness({
      env: { OKTA_API_TOKEN: 'okta-token' },
      tweak: (p) => {
        p.idp = { connector: 'okta', baseUrl: okta.url, secrets: { token: 'env:OKTA_API_TOKEN' } };
        p.apps.spendesk!.idpAppId = '0oaFEED';
      },
    });

  it("turns each Okta unassignment into one offboarding, from the first read's time on, and reads back as far as asked", async () => {
    okta.seed(['alice@acme.com', 'bob@acme.com']);
    okta.assign('0oaFEED', ['alice@acme.com', 'bob@acme.com']);
    okta.unassign('0oaFEED', 'alice@acme.com', '2026-11-28T08:30:00.000Z');
    const h = await feedHarness(); // its clock reads 2026-11-28 09:00
    const first = await h.runtime.leavers.read(h.profile);
    const spendesk = first.find((r) => r.app === 'spendesk')!;
    assert.deepEqual([spendesk.since, spendesk.events, spendesk.started], [Date.parse('2026-11-28T09:00:00Z'), 0, []], 'switching the feed on does not offboard history');
    assert.match(first.find((r) => r.app === '6sense')!.skipped!, /its id in Okta is not in the tenant profile \(apps\.6sense\.idpAppId\)/);

    const event = okta.unassign('0oaFEED', 'bob@acme.com', '2026-11-28T09:10:00.000Z');
    h.clock.advance(15 * minute);
    const [second] = (await h.runtime.leavers.read(h.profile)).filter((r) => r.app === 'spendesk');
    assert.equal(second!.events, 1);
    assert.deepEqual(second!.started.map((s) => [s.email, s.event, s.created]), [['bob@acme.com', event, true]]);
    const run = await h.run(second!.started[0]!.run);
    assert.equal(run.playbook, 'offboard');
    assert.equal(run.idempotencyKey, `okta:${event}`);
    assert.equal(run.request.requestedBy, 'okta-leaver-feed');
    assert.equal(run.request.reason, `unassigned from Spendesk in Okta at 2026-11-28T09:10:00.000Z (application.user_membership.remove, event ${event})`);

    // The next read overlaps the last event: it is read again, and starts nothing new.
    const [third] = (await h.runtime.leavers.read(h.profile)).filter((r) => r.app === 'spendesk');
    assert.equal(third!.since, Date.parse('2026-11-28T09:10:00Z'));
    assert.deepEqual(third!.started.map((s) => [s.run, s.created]), [[run.id, false]]);

    // Catching up on purpose: Alice's older event too.
    const [caught] = (await h.runtime.leavers.read(h.profile, { since: Date.parse('2026-11-28T08:00:00Z') })).filter((r) => r.app === 'spendesk');
    assert.deepEqual(caught!.started.map((s) => [s.email, s.created]), [['alice@acme.com', true], ['bob@acme.com', false]]);
    assert.equal((await h.runtime.engine.list()).filter((r) => r.playbook === 'offboard').length, 2);
  });

  it('says which app could not be read and why, without the token, and refuses a tenant with no IdP feed', async () => {
    const h = await harness({
      env: { OKTA_API_TOKEN: 'wrong-token' },
      tweak: (p) => {
        p.idp = { connector: 'okta', baseUrl: `${okta.url.replace(/:\d+$/, ':1')}`, secrets: { token: 'env:OKTA_API_TOKEN' } };
        p.apps.spendesk!.idpAppId = '0oaFEED';
      },
    });
    const [spendesk] = (await h.runtime.leavers.read(h.profile)).filter((r) => r.app === 'spendesk');
    assert.equal(spendesk!.problems.length, 1);
    assert.match(spendesk!.problems[0]!, /^not read: /);
    assert.doesNotMatch(spendesk!.problems[0]!, /wrong-token/);
    const none = await harness({ tweak: (p) => delete p.idp });
    await assert.rejects(none.runtime.leavers.read(none.profile), (e: unknown) => e instanceof LeaverFeedError && e.message === 'the tenant profile names no identity provider');
  });
});
