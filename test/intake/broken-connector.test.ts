import assert from 'node:assert/strict';
import { connectorsDir } from '../../core/paths.js';
import type { FeedRead } from '../../core/intake/leaver-feed.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { catalogueOf } from '../support/catalogue.js';
import { harness } from '../support/runtime.js';
import { OktaDouble } from '../support/vendor-doubles.js';

const minute = 60_000;
const of = (reads: FeedRead[], key: string) => reads.find((r) => r.app === key)!;

describe('the leaver feed with a broken connector in the tenant', () => {
  let okta: OktaDouble;
  before(async () => (okta = await new OktaDouble().listen()));
  after(() => okta.close());

  // One app that works and two broken ones: a manifest that fails its schema, and one routing to api with nothing behind it.
  const catalogue = catalogueOf({ tally: {}, tallyboard: { broken: 'schema' }, unwired: { broken: 'unwired' } });
  const feedHarness = () =>
    harness({
      // The built-in catalogue for Okta's module, and the test's own connectors.
      connectorsDir: [connectorsDir, catalogue],
      env: { OKTA_API_TOKEN: 'okta-token' },
      profile: {
        tenant: 'acme',
        idp: { connector: 'okta', baseUrl: okta.url, secrets: { token: 'env:OKTA_API_TOKEN' } },
        apps: { tally: {}, tallyboard: { idpAppId: '0oaBOARD', queue: 'finance' }, unwired: {} },
        queues: [{ id: 'it-ops', members: ['it@acme.com'] }, { id: 'finance', members: ['fin@acme.com'] }],
      } as TenantProfile,
    });

  it('offboards a leaver from every other app, and gives each broken app a task for a person, once however often it is read', async () => {
    okta.seed(['dana@acme.com', 'eve@acme.com']);
    const h = await feedHarness(); // its clock reads 2026-11-28 09:00
    await h.runtime.leavers.read(h.profile); // switches the feed on
    const event = okta.lifecycle('dana@acme.com', 'user.lifecycle.deactivate', '2026-11-28T09:05:00.000Z');
    const removal = okta.unassign('0oaBOARD', 'eve@acme.com', '2026-11-28T09:06:00.000Z');
    h.clock.advance(10 * minute);

    const reads = await h.runtime.leavers.read(h.profile);
    const person = of(reads, 'okta');
    assert.deepEqual(person.started.map((s) => [s.email, s.app, s.created]), [['dana@acme.com', 'tally', true]]);
    const run = await h.run(person.started[0]!.run);
    assert.equal(run.idempotencyKey, `okta:${event}:tally`);
    assert.equal(person.problems.length, 2, person.problems.join('\n'));
    assert.match(person.problems[0]!, new RegExp(`^event ${event} \\(dana@acme\\.com, tallyboard\\): not offboarded by Patchbay: connector tallyboard is broken: \\S*tallyboard[/\\\\]manifest\\.json#/kind: must be one of "app", "idp"; task \\S+ opened for a person$`));
    assert.match(person.problems[1]!, /^event \S+ \(dana@acme\.com, unwired\): not offboarded by Patchbay: connector unwired is broken: the manifest routes 'deactivateUser' to the api channel .*; task \S+ opened for a person$/);

    // The refusal is recorded as a run-less task in the app's queue, with the built-in checklist and why.
    const taskId = /task (\S+) opened/.exec(person.problems[0]!)![1]!;
    const task = await h.runtime.tasks.get(taskId);
    assert.deepEqual([task.app, task.queue, task.runbook, task.status], ['tallyboard', 'finance', 'offboard-by-hand', 'open']);
    assert.equal(task.title, 'Offboard dana@acme.com from tallyboard by hand: its connector is broken');
    assert.match(task.content.reason, /^dana@acme\.com left Okta at 2026-11-28T09:05:00\.000Z .*; connector tallyboard is broken \(.*manifest\.json#\/kind: .*\), so no run could be planned for tallyboard$/);

    // The broken app's own window is read too: an unassignment there becomes a task as well.
    const board = of(reads, 'tallyboard');
    assert.equal(board.events, 1);
    assert.deepEqual(board.started, []);
    assert.match(board.problems[0]!, new RegExp(`^event ${removal} \\(eve@acme\\.com, tallyboard\\): not offboarded by Patchbay: .*; task \\S+ opened for a person$`));
    assert.equal(of(reads, 'tally').skipped, "its id in Okta is not in the tenant profile (apps.tally.idpAppId)");

    // Read again within the overlap, after a person closed the task: nothing new is opened or started.
    await h.runtime.tasks.complete(taskId, { by: 'fin@acme.com', evidence: [{ text: 'deactivated in the console' }] });
    const again = await h.runtime.leavers.read(h.profile);
    assert.deepEqual(of(again, 'okta').started.map((s) => s.created), [false]);
    assert.match(of(again, 'okta').problems[0]!, new RegExp(`; task ${taskId} has it$`));
    const open = await h.runtime.tasks.list({ status: 'open' });
    assert.equal(open.filter((t) => t.runbook === 'offboard-by-hand').length, 2, 'unwired and the unassignment from tallyboard; the closed one is not opened again');
  });

  it('refuses the feed in one line when the identity provider connector itself is broken', async () => {
    const broken = catalogueOf({ tally: {}, badidp: { idp: true, broken: 'schema' } });
    const h = await harness({ connectorsDir: [broken], profile: { tenant: 'acme', idp: { connector: 'badidp' }, apps: { tally: {} }, queues: [{ id: 'it-ops', members: ['it@acme.com'] }] } });
    await assert.rejects(h.runtime.leavers.read(h.profile), (e: Error) => /^identity provider connector badidp is broken: \S*badidp[/\\]manifest\.json#\/kind: must be one of/.test(e.message) && !e.message.includes('\n'));
  });
});
