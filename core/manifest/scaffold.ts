import { manifestSchemaVersion } from './migrate.js';

/** The kinds of connector `patchbay new connector` writes. */
export type ScaffoldKind = 'manual' | 'api' | 'scim';
export const scaffoldKinds: readonly ScaffoldKind[] = ['manual', 'api', 'scim'];

/** The files of a new connector folder, by path relative to it, as text. */
export type ScaffoldFiles = Map<string, string>;

const today = () => new Date().toISOString().slice(0, 10);
const todoUrl = 'https://example.com/replace-with-the-vendor-page';

/**
 * A connector skeleton that validates as it is and says what to replace: every capability starts
 * "unknown" (nobody has read the vendor's pages yet), and every fact the declared calls need
 * (surface, auth) cites a placeholder source with a TODO note. manual: runbooks only; api: a REST
 * surface with listUsers, getUser and deactivateUser declared as calls, each with a human fallback;
 * scim: the SCIM channel with human fallbacks.
 */
export function scaffoldConnector(id: string, kind: ScaffoldKind, name = titleOf(id)): ScaffoldFiles {
  const checkedAt = today();
  const unknown = { value: 'unknown', confidence: 'unknown', checkedAt };
  const todo = (value: unknown, says: string) => ({ value, confidence: 'documented', checkedAt, sources: [{ url: todoUrl, kind: 'vendor', says, readAt: checkedAt }], note: 'TODO: cite the vendor page this comes from' });
  const runbook = (rid: string, title: string, steps: string[]) => ({
    $schema: 'https://patchbay.dev/schemas/runbook.schema.json',
    id: rid,
    title,
    queue: 'it-ops',
    slaHours: 24,
    steps: steps.map((text) => ({ text })),
    evidence: [{ id: 'done', label: 'What shows it is done (a screenshot, the member list)', kind: 'attestation', required: true }],
  });
  const human = (rid: string) => ({ channel: 'human', runbook: rid });
  const record = { id: '/id', email: '/email', active: { pointer: '/status', in: ['active'], inactive: ['deactivated'] } };
  const operations: Record<string, unknown> =
    kind === 'api'
      ? {
          listUsers: { title: 'List users', access: 'read', channels: [{ channel: 'api', call: { method: 'GET', path: '/users', query: { limit: 100 }, page: { style: 'cursor', items: '/data', cursor: '/next_cursor', param: 'cursor' }, record } }] },
          getUser: { title: 'Read one user', access: 'read', channels: [{ channel: 'api', call: { method: 'GET', path: '/users', query: { email: '{email}' }, params: { email: { from: 'subject', pointer: '/email' } }, items: '/data', record } }, human('check-user')] },
          createUser: { title: 'Invite the user', access: 'write', channels: [human('add-user')] },
          deactivateUser: {
            title: 'Deactivate the user',
            access: 'write',
            channels: [
              { channel: 'api', call: { method: 'POST', path: '/users/{id}/deactivate', params: { id: { from: 'account', pointer: '/id' } }, read: 'getUser', when: [{ account: '/active', equals: false, outcome: 'alreadyDone' }], outcomes: { '200': 'done', '404': 'notFound' } } },
              human('remove-user'),
            ],
          },
        }
      : kind === 'scim'
        ? {
            listUsers: { title: 'List users', access: 'read', channels: [{ channel: 'scim' }] },
            getUser: { title: 'Read one user', access: 'read', channels: [{ channel: 'scim' }, human('check-user')] },
            createUser: { title: 'Create the user', access: 'write', channels: [{ channel: 'scim' }, human('add-user')] },
            deactivateUser: { title: 'Deactivate the user', access: 'write', channels: [{ channel: 'scim' }, human('remove-user')] },
          }
        : {
            getUser: { title: 'Check the user', access: 'read', channels: [human('check-user')] },
            createUser: { title: 'Add the user', access: 'write', channels: [human('add-user')] },
            deactivateUser: { title: 'Remove the user', access: 'write', channels: [human('remove-user')] },
          };
  const manifest = {
    $schema: 'https://patchbay.dev/schemas/connector-manifest.schema.json',
    schemaVersion: manifestSchemaVersion,
    id,
    name,
    kind: 'app',
    reviewedAt: checkedAt,
    automation: kind === 'manual' ? { ...todo('manual-only', 'TODO: what the vendor says about user management'), headline: 'Manual only' } : { ...todo(kind, `TODO: the vendor's ${kind === 'api' ? 'user API' : 'SCIM'} documentation`), headline: kind === 'api' ? 'User API' : 'SCIM 2.0' },
    ...(kind === 'api'
      ? {
          surfaces: {
            rest: {
              kind: 'rest',
              baseUrl: todo('{baseUrl}/api/v1', 'TODO: the base URL'),
              auth: todo([{ type: 'bearer', secret: 'apiToken' }], 'TODO: how requests authenticate'),
              rateLimits: unknown,
              limitedStatuses: [429],
              pagination: todo([{ style: 'cursor', pointer: 'next_cursor' }], 'TODO: how lists are paged'),
            },
          },
        }
      : {}),
    capabilities: {
      auth: { method: kind === 'api' ? todo('bearer-token', 'TODO: how requests authenticate') : unknown },
      userApi: { read: kind === 'api' ? todo('supported', 'TODO') : unknown, write: kind === 'api' ? todo('supported', 'TODO') : unknown, manages: unknown },
      scim: { available: kind === 'scim' ? todo('supported', 'TODO: the SCIM page') : unknown },
      sso: { protocols: unknown, jit: unknown },
      webhooks: { available: unknown },
      pagination: { method: unknown },
      rateLimits: { limits: unknown },
      entitlements: { roles: unknown },
      bulkImport: { available: unknown },
    },
    operations,
    playbooks: {
      onboard: { idp: 'assign', steps: ['createUser'], verify: 'getUser', expect: 'active' },
      offboard: { idp: 'unassign', steps: ['deactivateUser'], verify: 'getUser', expect: 'inactive' },
    },
  };
  const files: ScaffoldFiles = new Map();
  files.set('manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  const runbooks = [
    runbook('check-user', `Check {email} in ${name}`, ['Sign in to the admin console as an administrator.', 'Find the user by email and note whether they are active.']),
    runbook('add-user', `Add {email} to ${name}`, ['Sign in to the admin console as an administrator.', 'Invite the user with the role the request names.']),
    runbook('remove-user', `Remove {email} from ${name}`, ['Sign in to the admin console as an administrator.', 'Find the user by email and deactivate or remove them.', 'Transfer anything they own first if the app asks.']),
  ];
  for (const r of runbooks) files.set(`runbooks/${r.id}.json`, `${JSON.stringify(r, null, 2)}\n`);
  files.set(`${id}.test.mjs`, testFile(id, kind));
  return files;
}

/** A test that needs nothing but node and patchbay: the folder validates, and an api connector passes conformance against its stand-in. */
function testFile(id: string, kind: ScaffoldKind): string {
  return `// Run with: node --test ${id}.test.mjs (patchbay on PATH, or PATCHBAY=path/to/main.js)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const patchbay = (...args) => {
  const [command, ...rest] = process.env.PATCHBAY ? [process.execPath, process.env.PATCHBAY] : ['patchbay'];
  return spawnSync(command, [...rest, ...args], { encoding: 'utf8', env: { ...process.env, PATCHBAY_CONNECTORS: path.dirname(here) } });
};

test('${id}: the manifest, runbooks and recipes validate', () => {
  const result = patchbay('validate', path.join(here, 'manifest.json'));
  assert.equal(result.status, 0, result.stderr);
});
${kind === 'api' ? `
test('${id}: conformance against the stand-in generated from the manifest', () => {
  const result = patchbay('conformance', '${id}');
  assert.equal(result.status, 0, result.stdout + result.stderr);
});
` : ''}`;
}

function titleOf(id: string): string {
  return id.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}
