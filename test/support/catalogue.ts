import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type ScaffoldKind, scaffoldConnector } from '../../core/manifest/scaffold.js';
import { scratchDir } from './fixtures.js';

/** How a connector of a test's catalogue is broken: its manifest fails its schema, or it routes an operation to `api` that nothing implements. */
export type Breakage = 'schema' | 'unwired';

/** One connector of a test's catalogue: what `patchbay new connector` writes for `kind`, as an app or an identity provider, broken as asked. */
export interface TestConnector {
  readonly kind?: ScaffoldKind;
  /** An identity provider (kind idp) with assignApp and unassignApp: the API first, then a person's checklist in its console. */
  readonly idp?: boolean;
  readonly broken?: Breakage;
  /** createUser goes through the identity provider first (JIT on the first sign-in), then to a person. */
  readonly jit?: boolean;
}

/**
 * A catalogue folder the test builds itself (for PATCHBAY_CONNECTORS or createServices' connectorsDir),
 * from the scaffold rather than from the built-in catalogue, so that no test depends on which
 * connectors ship. Returns the folder.
 */
export function catalogueOf(connectors: Readonly<Record<string, TestConnector>>): string {
  const root = scratchDir('patchbay-catalogue-');
  for (const [id, spec] of Object.entries(connectors)) {
    const files = scaffoldConnector(id, spec.kind ?? 'manual');
    const manifest = JSON.parse(files.get('manifest.json')!);
    if (spec.idp) {
      manifest.kind = 'idp';
      for (const [name, verb] of [['assignApp', 'Assign'], ['unassignApp', 'Remove']] as const) {
        const runbook = name === 'assignApp' ? 'assign-app' : 'unassign-app';
        manifest.operations[name] = { title: `${verb} the app assignment`, access: 'write', channels: [{ channel: 'api' }, { channel: 'human', runbook }] };
        files.set(
          `runbooks/${runbook}.json`,
          JSON.stringify({ id: runbook, title: `${verb} {email}'s {app} assignment in ${manifest.name}`, queue: 'it-ops', steps: [{ text: `Open ${manifest.name}'s console, then the app's assignments.` }, { text: `${verb} the person.` }], evidence: [{ id: 'done', label: 'Done in the console', kind: 'attestation', required: true }] }),
        );
      }
      manifest.playbooks = { offboard: { idp: 'none', steps: ['deactivateUser'], verify: 'getUser', expect: 'inactive' } };
      // A working IdP needs its API for the routes above: only the 'unwired' breakage leaves it out.
      if (spec.broken !== 'unwired') for (const name of ['assignApp', 'unassignApp']) manifest.operations[name].channels.shift();
    }
    if (spec.jit) manifest.operations.createUser.channels.unshift({ channel: 'idp' });
    if (spec.broken === 'schema') manifest.kind = 'robot';
    if (spec.broken === 'unwired' && !spec.idp) manifest.operations.deactivateUser.channels.unshift({ channel: 'api' });
    files.set('manifest.json', JSON.stringify(manifest, null, 2));
    for (const [file, text] of files) {
      if (file.endsWith('.mjs')) continue;
      const target = path.join(root, id, file);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
    }
  }
  return root;
}
