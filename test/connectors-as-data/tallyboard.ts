import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Tallyboard, a made-up app with a REST user API (list, read, deactivate) behind a `Token …`
 * header, cursor paging and a documented limit: the app docs/guide.md adds as data only. Its
 * sources are example.com pages because the app does not exist.
 */
const checkedAt = '2026-11-29';
const doc = (says: string) => ({ confidence: 'documented', checkedAt, sources: [{ url: 'https://developer.tallyboard.example.com/api/users', title: 'Tallyboard API: users', kind: 'vendor', says, readAt: checkedAt }] });
const unknown = { value: 'unknown', confidence: 'unknown', checkedAt };
const record = { id: '/id', email: '/email', name: '/display_name', active: { pointer: '/status', in: ['active', 'invited'], inactive: ['deactivated'] }, roles: '/roles' };

export const tallyboardManifest = {
  $schema: 'https://patchbay.dev/schemas/connector-manifest.schema.json',
  schemaVersion: 2,
  id: 'tallyboard',
  name: 'Tallyboard',
  kind: 'app',
  reviewedAt: checkedAt,
  automation: { value: 'api', headline: 'User API: list, read and deactivate members', ...doc('Members can be listed, read and deactivated through the REST API.') },
  surfaces: {
    rest: {
      kind: 'rest',
      baseUrl: { value: '{baseUrl}/api/v1', ...doc('Requests go to https://<workspace>.tallyboard.example.com/api/v1.') },
      auth: { value: [{ type: 'custom-scheme', scheme: 'Token', secret: 'apiToken' }], ...doc('Send the API token as Authorization: Token <token>.') },
      headers: { 'Tallyboard-Version': '2026-01' },
      rateLimits: { value: [{ requests: 100, perSeconds: 60, scope: 'token' }], ...doc('100 requests per minute per token; 429 with Retry-After beyond.') },
      limitedStatuses: [429],
      pagination: { value: [{ style: 'cursor', defaultPageSize: 50, maxPageSize: 100, pointer: 'meta.next_cursor' }], ...doc('Lists return meta.next_cursor; pass it back as ?cursor=.') },
    },
  },
  capabilities: {
    auth: { method: { value: 'custom-scheme', ...doc('Authorization: Token <token>.') } },
    userApi: { read: { value: 'supported', ...doc('GET /users.') }, write: { value: 'supported', ...doc('POST /users/{id}/deactivate.') }, manages: { value: 'seats', ...doc('Members are the people who sign in.') } },
    scim: { available: { value: 'notSupported', ...doc('There is no SCIM endpoint.') } },
    sso: { protocols: unknown, jit: unknown },
    webhooks: { available: unknown },
    pagination: { method: { value: 'cursor', ...doc('Cursor paging.') } },
    rateLimits: { limits: { value: [{ requests: 100, perSeconds: 60, scope: 'token' }], ...doc('100 requests per minute per token.') } },
    entitlements: { roles: unknown },
    bulkImport: { available: unknown },
  },
  operations: {
    listUsers: { title: 'List members', access: 'read', channels: [{ channel: 'api', call: { method: 'GET', path: '/users', query: { limit: 50 }, page: { style: 'cursor', items: '/data', cursor: '/meta/next_cursor', param: 'cursor' }, record } }] },
    getUser: {
      title: 'Read the member',
      access: 'read',
      channels: [
        { channel: 'api', call: { method: 'GET', path: '/users', query: { email: '{email}' }, params: { email: { from: 'subject', pointer: '/email' } }, items: '/data', record } },
        { channel: 'human', runbook: 'check-member' },
      ],
    },
    deactivateUser: {
      title: 'Deactivate the member',
      access: 'write',
      channels: [
        {
          channel: 'api',
          call: {
            method: 'POST',
            path: '/users/{id}/deactivate',
            params: { id: { from: 'account', pointer: '/id' } },
            read: 'getUser',
            when: [{ account: '/active', equals: false, outcome: 'alreadyDone' }],
            outcomes: { '200': 'done', '404': 'notFound' },
          },
        },
        { channel: 'human', runbook: 'deactivate-member' },
      ],
    },
  },
  playbooks: { offboard: { idp: 'none', steps: ['deactivateUser'], verify: 'getUser', expect: 'inactive' } },
};

const runbook = (id: string, title: string, steps: string[]) => ({
  $schema: 'https://patchbay.dev/schemas/runbook.schema.json',
  id,
  title,
  queue: 'it-ops',
  slaHours: 24,
  steps: steps.map((text) => ({ text, path: 'Settings > Members' })),
  evidence: [{ id: 'done', label: 'The member list shows the result', kind: 'attestation', required: true }],
});

/** Writes connectors/tallyboard/ (manifest and runbooks) under `catalogue`; returns the connector folder. */
export function writeTallyboard(catalogue: string): string {
  const dir = path.join(catalogue, 'tallyboard');
  mkdirSync(path.join(dir, 'runbooks'), { recursive: true });
  writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(tallyboardManifest, null, 2)}\n`);
  for (const r of [
    runbook('check-member', 'Check {email} in Tallyboard', ['Find the member by email and note their status.']),
    runbook('deactivate-member', 'Deactivate {email} in Tallyboard', ['Find the member by email.', 'Choose Deactivate.']),
  ]) {
    writeFileSync(path.join(dir, 'runbooks', `${r.id}.json`), `${JSON.stringify(r, null, 2)}\n`);
  }
  return dir;
}
