import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { StartResult } from '../../core/engine/port.js';
import { serve } from '../support/http-server.js';
import { harness } from '../support/runtime.js';

const secret = 'whsec-test-0123456789abcdef';

describe('run and task changes as signed CloudEvents', () => {
  it('tells the webhook of each change in order, each event once, signed with HMAC over the timestamp and the body', async () => {
    const hook = await serve((_req, res) => void res.writeHead(204).end());
    const h = await harness({
      env: { PATCHBAY_WEBHOOK_SECRET: secret },
      tweak: (p) => (p.notifications = { webhook: { url: `${hook.url}/hooks`, secret: 'env:PATCHBAY_WEBHOOK_SECRET' } }),
    });
    const [{ run }] = (await h.start('offboard', 'alice@acme.com')) as [StartResult];
    await h.completeNext(run.id);
    await h.runtime.runs.settle();
    const events = hook.requests.map((r) => ({ ...r, event: JSON.parse(r.body) }));
    const types = events.map((e) => e.event.type);
    assert.deepEqual(types.slice(0, 4), ['dev.patchbay.run.started', 'dev.patchbay.task.opened', 'dev.patchbay.task.completed', 'dev.patchbay.browser.blocked']);
    assert.equal(new Set(events.map((e) => e.event.id)).size, events.length, 'each event once');
    for (const { headers, body, event } of events) {
      assert.equal(headers['content-type'], 'application/cloudevents+json; charset=utf-8');
      assert.equal(event.specversion, '1.0');
      assert.equal(event.source, 'patchbay/acme');
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(headers['x-patchbay-signature']))!;
      assert.equal(v1, createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
      assert.equal(body.includes(secret), false);
    }
    const started = events[0]!.event;
    assert.deepEqual([started.subject, started.data.run, started.data.playbook], [run.id, run.id, 'offboard']);
    // A tampered body no longer matches its signature.
    const first = events[0]!;
    const [, t] = /^t=(\d+),/.exec(String(first.headers['x-patchbay-signature']))!;
    assert.notEqual(createHmac('sha256', secret).update(`${t}.${first.body.replace('offboard', 'onboard')}`).digest('hex'), /v1=(\w+)/.exec(String(first.headers['x-patchbay-signature']))![1]);
  });

  it('keeps an event for later when the webhook is down, and sends it once it answers', async () => {
    let up = false;
    const hook = await serve((_req, res) => void res.writeHead(up ? 204 : 503).end());
    const h = await harness({ tweak: (p) => (p.notifications = { webhook: { url: `${hook.url}/hooks` } }) });
    await h.start('offboard', 'alice@acme.com');
    const pending = async () => Number((await h.runtime.store.db.selectFrom('outbox').select((eb) => eb.fn.countAll().as('n')).where('delivered_at', 'is', null).executeTakeFirstOrThrow()).n);
    assert.ok((await pending()) >= 2, 'run.started and task.opened wait in the outbox');
    up = true;
    h.clock.advance(60_000);
    await h.runtime.runs.settle();
    assert.equal(await pending(), 0);
    const delivered = hook.requests.filter((r) => r.method === 'POST').map((r) => JSON.parse(r.body).type);
    assert.ok(delivered.includes('dev.patchbay.run.started') && delivered.includes('dev.patchbay.task.opened'));
  });
});
