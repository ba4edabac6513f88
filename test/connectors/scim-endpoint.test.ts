import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServices } from '../../core/container.js';
import type { StartResult } from '../../core/engine/port.js';
import { InvalidInputError } from '../../core/errors.js';
import { scaffoldConnector } from '../../core/manifest/scaffold.js';
import { connectorsDir } from '../../core/paths.js';
import { readAppByScim } from '../../core/reconcile/readers.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { defaultProfileFile } from '../../core/tenant/profile.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { readJson, scratchDir } from '../support/fixtures.js';
import { harness } from '../support/runtime.js';
import { ScimmyServer } from '../support/scimmy-server.js';

/**
 * A SCIM connector whose manifest builds its SCIM address from the tenant's host
 * (`{baseUrl}/scim/v2`), in a folder of its own beside the built-in catalogue: the scim channel,
 * the planner and the reconciliation reader all reach the address the template gives.
 */
function templatedConnector(): string {
  const folder = scratchDir('patchbay-scim-endpoint-');
  const files = scaffoldConnector('tallyscim', 'scim', 'Tally SCIM');
  const manifest = JSON.parse(files.get('manifest.json')!);
  const source = [{ url: 'https://example.com/tally/scim', kind: 'vendor', says: 'The SCIM service is under /scim/v2 on the tenant host.', readAt: '2026-11-30' }];
  manifest.surfaces = {
    scim: {
      kind: 'scim',
      baseUrl: { value: '{baseUrl}/scim/v2', confidence: 'documented', checkedAt: '2026-11-30', sources: source },
      auth: { value: [{ type: 'bearer', secret: 'token' }], confidence: 'documented', checkedAt: '2026-11-30', sources: source },
    },
  };
  files.set('manifest.json', JSON.stringify(manifest));
  for (const [file, text] of files) {
    mkdirSync(path.dirname(path.join(folder, 'tallyscim', file)), { recursive: true });
    writeFileSync(path.join(folder, 'tallyscim', file), text);
  }
  return folder;
}

describe("a SCIM connector's address from its manifest", function () {
  this.timeout(30_000);

  it('is filled from the tenant host for the planner, the scim channel and a reconciliation', async () => {
    const server = new ScimmyServer();
    const leaver = server.add('lee@acme.com');
    const root = (await server.listen()).replace(/\/scim\/v2$/, '');
    after(() => server.close());
    const folder = templatedConnector();
    const h = await harness({ connectorsDir: [connectorsDir, folder], env: { SCIM_TOKEN: 'scim-token' }, tweak: (p) => (p.apps.tallyscim = { baseUrl: root, secrets: { token: 'env:SCIM_TOKEN' }, queue: 'it-ops' }) });

    const [{ run }] = (await h.start('offboard', 'lee@acme.com', { app: 'tallyscim' })) as [StartResult];
    const step = run.plan.steps.find((s) => s.operation === 'deactivateUser')!;
    assert.equal(step.channels[0], 'scim');
    assert.equal(step.chain.find((c) => c.channel === 'scim')!.reason, `SCIM endpoint ${root}/scim/v2 (the manifest's address for this tenant)`);
    for (let i = 0; i < 3 && (await h.run(run.id)).status === 'waiting'; i++) await h.completeNext(run.id);
    assert.equal((await h.run(run.id)).outcome, 'done');
    assert.equal(server.users.get(leaver.id)!.active, false);
    assert.ok(server.log.includes(`PATCH /scim/v2/Users/${leaver.id}`), server.log.join('\n'));

    const snapshot = await readAppByScim(h.services.registry, h.profile.profile, 'tallyscim', new EnvironmentSecretResolver({ SCIM_TOKEN: 'scim-token' }), 0);
    assert.deepEqual(snapshot.accounts.map((a) => [a.email, a.active]), [['lee@acme.com', false]]);
    assert.match(snapshot.source.name, new RegExp(`^SCIM Users at ${root.replace(/[.]/g, '\\.')}/scim/v2`));
  });

  it('refuses a reconciliation with the setting its template needs, named, when the profile lacks it', async () => {
    const { registry } = createServices();
    const app = registry.list().find((c) => Object.values(c.manifest.surfaces ?? {}).some((s) => s.kind === 'scim' && /\{settings\./.test(s.baseUrl.value)));
    assert.ok(app, 'a catalogue connector whose SCIM address needs a setting');
    const id = app.manifest.id;
    const needed = /\{settings\.([A-Za-z0-9_]+)\}/.exec(Object.values(app.manifest.surfaces!).find((s) => s.kind === 'scim')!.baseUrl.value)![1];
    const profile = readJson<TenantProfile>(defaultProfileFile);
    profile.apps[id] = { secrets: { token: 'env:SCIM_TOKEN' } };
    await assert.rejects(
      readAppByScim(registry, profile, id, new EnvironmentSecretResolver({ SCIM_TOKEN: 't' }), 0),
      (error: unknown) => error instanceof InvalidInputError && error.message.includes(`apps.${id}.settings.${needed}`) && /use --via api/.test(error.message),
    );
  });
});
