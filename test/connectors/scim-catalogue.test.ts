import assert from 'node:assert/strict';
import path from 'node:path';
import { initProfile } from '../../core/cli/connector-commands.js';
import { createServices } from '../../core/container.js';
import type { StartResult } from '../../core/engine/port.js';
import type { LoadedConnector } from '../../core/manifest/loader.js';
import type { AppSettings, TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { readJson } from '../support/fixtures.js';
import { harness, type Harness } from '../support/runtime.js';
import { ScimmyServer } from '../support/scimmy-server.js';

/**
 * Every connector of the loaded catalogue whose offboarding removes the account over SCIM, run
 * against a real SCIM 2.0 server (SCIMMY on Express, 127.0.0.1). The list is read from the
 * catalogue when the file loads: a new SCIM connector is tested without touching this file.
 */
const { registry, planner } = createServices();

type ScimApp = { connector: LoadedConnector; removal: string; expect: 'inactive' | 'absent' };

const scimApps: ScimApp[] = registry.list().flatMap((connector) => {
  const offboard = connector.manifest.playbooks?.offboard;
  const removal = offboard?.steps.find((op) => connector.manifest.operations[op]?.channels[0]?.channel === 'scim');
  if (!offboard || !removal) return [];
  return [{ connector, removal, expect: offboard.expect === 'absent' ? 'absent' : 'inactive' }];
});

/** What a tenant needs for the manifest's SCIM fact to hold: its first listed plan, its features on. */
function entitled(connector: LoadedConnector): Pick<AppSettings, 'plan' | 'features'> {
  const requires = connector.manifest.capabilities.scim.available.requires;
  return {
    ...(requires?.plans ? { plan: requires.plans[0]! } : {}),
    ...(requires?.features ? { features: Object.fromEntries(requires.features.map((f) => [f, true])) } : {}),
  };
}

/** Completes the people's tasks (the IdP unassignment) until the run is no longer waiting. */
async function finish(h: Harness, runId: string): Promise<void> {
  for (let i = 0; i < 4 && (await h.run(runId)).status === 'waiting' && h.openTaskOf(runId); i++) await h.completeNext(runId);
}

describe('SCIM connectors of the catalogue against a real SCIM server', function () {
  this.timeout(60_000);

  it('finds the SCIM connectors in the catalogue, each removing over SCIM first', () => {
    assert.ok(scimApps.length >= 1, 'at least the generic SCIM connector');
    for (const { connector, removal } of scimApps) {
      assert.ok(['deactivateUser', 'deleteUser'].includes(removal), `${connector.manifest.id}: ${removal} is a SCIM operation`);
      assert.equal(connector.manifest.capabilities.scim.available.value, 'supported', connector.manifest.id);
    }
  });

  for (const { connector, removal, expect } of scimApps) {
    const id = connector.manifest.id;

    it(`${id}: offboarding ${removal === 'deleteUser' ? 'deletes' : 'deactivates'} the user over SCIM, verifies it, and a second run is already done`, async () => {
      const server = new ScimmyServer();
      const leaver = server.add('Lee.Ver@Acme.com', { name: { givenName: 'Lee', familyName: 'Ver' } });
      const stays = server.add('stays@acme.com');
      const url = await server.listen();
      after(() => server.close());
      const h = await harness({ env: { SCIM_TOKEN: 'scim-token' }, tweak: (p) => (p.apps[id] = { ...entitled(connector), baseUrl: url, secrets: { token: 'env:SCIM_TOKEN' }, queue: 'it-ops' }) });

      const [first] = (await h.start('offboard', 'lee.ver@acme.com', { app: id })) as [StartResult];
      const step = first.run.plan.steps.find((s) => s.app === id && s.operation === removal)!;
      assert.equal(step.channels[0], 'scim', `${id}: the planner chose SCIM (${JSON.stringify(step.chain)})`);
      await finish(h, first.run.id);
      const steps = Object.fromEntries((await h.runtime.runs.timeline(first.run.id)).steps.map((s) => [s.stepId, s]));
      assert.equal((await h.run(first.run.id)).outcome, 'done', JSON.stringify(Object.values(steps).map((s) => [s.stepId, s.channel, s.status, s.detail])));
      assert.deepEqual([steps[step.id]!.channel, steps[step.id]!.status], ['scim', 'done']);
      if (expect === 'absent') assert.equal(server.users.has(leaver.id), false, `${id}: the user is deleted`);
      else assert.equal(server.users.get(leaver.id)!.active, false, `${id}: the user is inactive`);
      assert.equal(server.users.get(stays.id)!.active, true, 'nobody else is touched');
      assert.ok(server.log.some((l) => l.startsWith(`${removal === 'deleteUser' ? 'DELETE' : 'PATCH'} /scim/v2/Users/${leaver.id}`)), server.log.join('\n'));

      const [second] = (await h.start('offboard', 'lee.ver@acme.com', { app: id, idempotencyKey: `${id}-again` })) as [StartResult];
      assert.notEqual(second.run.id, first.run.id);
      const writes = server.log.filter((l) => /^(PATCH|PUT|DELETE) /.test(l)).length;
      await finish(h, second.run.id);
      const again = Object.fromEntries((await h.runtime.runs.timeline(second.run.id)).steps.map((s) => [s.stepId, s]));
      assert.equal((await h.run(second.run.id)).outcome, 'already-done', JSON.stringify(Object.values(again).map((s) => [s.stepId, s.channel, s.status, s.detail])));
      assert.equal(again[step.id]!.status, 'already-done');
      assert.equal(server.log.filter((l) => /^(PATCH|PUT|DELETE) /.test(l)).length, writes, 'the second run wrote nothing');
    });
  }

  it('init writes each SCIM connector a token reference, and says the manifest gives the SCIM address where it does', () => {
    const { profile, explained } = initProfile('t', scimApps.map((a) => a.connector), undefined, () => undefined);
    for (const { connector } of scimApps) {
      const m = connector.manifest;
      assert.match(profile.apps[m.id]!.secrets!.token!, /^env:[A-Z0-9_]+_TOKEN$/, m.id);
      const section = explained.slice(explained.indexOf(`(\`apps.${m.id}\`)`)).split('\n## ')[0]!;
      const template = Object.values(m.surfaces ?? {}).find((s) => s.kind === 'scim')?.baseUrl.value;
      if (template && !template.includes('{baseUrl}')) assert.ok(section.includes(`\`baseUrl\`: optional; the manifest's SCIM address is ${template}`), section);
      else assert.match(section, /`baseUrl`: your .* address\. Not set: add it/, section);
    }
  });

  for (const { connector } of scimApps.filter(({ connector }) => Object.values(connector.manifest.surfaces ?? {}).some((s) => s.kind === 'scim'))) {
    const m = connector.manifest;
    const template = Object.values(m.surfaces!).find((s) => s.kind === 'scim')!.baseUrl.value;
    const named = [...template.matchAll(/\{settings\.([A-Za-z0-9_]+)\}/g)].map((x) => x[1]!);

    it(`${m.id}: without a baseUrl in the profile, the planner builds the SCIM address from the manifest's template ${template}`, () => {
      const plan = (settings: AppSettings) => {
        const profile = readJson<TenantProfile>(defaultProfileFile);
        profile.apps[m.id] = { ...entitled(connector), secrets: { token: 'env:SCIM_TOKEN' }, queue: 'it-ops', ...settings };
        const file = path.join(path.dirname(defaultProfileFile), 'tenant.json');
        return planner.plan({ playbook: 'offboard', app: m.id, subject: { email: 'lee.ver@acme.com' } }, { profile, file });
      };
      const removal = (p: ReturnType<typeof plan>) => p.steps.find((s) => s.app === m.id && s.role === 'action')!;
      const given = Object.fromEntries(named.map((n) => [n, `t-${n}`]));
      const withSettings = removal(plan({ ...(template.includes('{baseUrl}') ? { baseUrl: 'https://tenant.example' } : {}), settings: given }));
      const expected = template.replace('{baseUrl}', 'https://tenant.example').replace(/\{settings\.([A-Za-z0-9_]+)\}/g, (_, n: string) => `t-${n}`);
      assert.equal(withSettings.channels[0], 'scim', JSON.stringify(withSettings.chain));
      assert.match(withSettings.chain.find((c) => c.channel === 'scim')!.reason, new RegExp(`SCIM endpoint ${expected.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
      if (named.length) {
        const without = removal(plan({}));
        const scim = without.chain.find((c) => c.channel === 'scim')!;
        assert.equal(scim.usable, false);
        assert.match(scim.reason, new RegExp(`apps\\.${m.id}\\.settings\\.${named[0]}`));
        assert.notEqual(without.channels[0], 'scim');
      }
    });
  }
});
