import assert from 'node:assert/strict';
import type { StartResult } from '../../core/engine/port.js';
import { reconcile } from '../../core/reconcile/findings.js';
import { readAttestations } from '../../core/reconcile/readers.js';
import { completeRead } from '../../core/reconcile/snapshot.js';
import { harness } from '../support/runtime.js';

describe('attestations as a reader', () => {
  it("reads each person's latest attested work in the app: an onboarding says the account is there, an offboarding that it is gone", async () => {
    // No console credentials: every Spendesk step falls to a person, who attests it.
    const h = await harness({ tweak: (p) => (p.apps.spendesk!.features!.sso = false) });
    const finish = async (playbook: string, email: string) => {
      const [{ run }] = (await h.start(playbook, email)) as [StartResult];
      while ((await h.run(run.id)).status === 'waiting') await h.completeNext(run.id);
      assert.equal((await h.run(run.id)).status, 'completed');
      return run.id;
    };
    await finish('onboard', 'nina@acme.com');
    await finish('onboard', 'alice@acme.com');
    const leaver = await finish('offboard', 'alice@acme.com');
    // A run still waiting attests nothing yet.
    await h.start('onboard', 'pending@acme.com');

    const snapshot = await readAttestations(h.runtime.store, 'acme', 'spendesk', h.clock.now());
    assert.equal(snapshot.source.kind, 'attestation');
    assert.match(snapshot.source.name, /^attestations in \d+ completed tasks$/);
    const byEmail = new Map(snapshot.accounts.map((a) => [a.email, a]));
    assert.deepEqual([...byEmail.keys()].sort(), ['alice@acme.com', 'nina@acme.com']);
    assert.equal(byEmail.get('nina@acme.com')!.active, true);
    assert.match(byEmail.get('nina@acme.com')!.evidence!, /^account attested by it\.oncall@acme\.example on \d{4}-\d\d-\d\d in task task-\S+ \(onboard run run-\S+\)$/);
    assert.equal(byEmail.get('alice@acme.com')!.active, false);
    assert.match(byEmail.get('alice@acme.com')!.evidence!, new RegExp(`^removal attested by .* \\(offboard run ${leaver}\\)$`));
    // The IdP approval and unassignment tasks are not the app's: another tenant or app reads nothing.
    assert.deepEqual((await readAttestations(h.runtime.store, 'acme', 'okta', h.clock.now())).accounts, []);
    assert.deepEqual((await readAttestations(h.runtime.store, 'globex', 'spendesk', h.clock.now())).accounts, []);

    // Against an IdP that assigns nobody, Nina's attested account is an orphan, with the attestation as its evidence.
    const idp = { side: 'idp' as const, app: 'spendesk', source: { kind: 'idp' as const, name: 'Okta assignments of spendesk', readAt: h.clock.now() }, accounts: [], completeness: completeRead };
    const result = reconcile(idp, snapshot, { now: h.clock.now() });
    assert.deepEqual(result.findings.map((f) => [f.kind, f.person]), [['orphaned-account', 'nina@acme.com']]);
    assert.match(result.findings[0]!.evidence[0]!.saw, /^account attested by it\.oncall@acme\.example/);
  });
});
