import assert from 'node:assert/strict';
import path from 'node:path';
import { declarativeApi, getPointer, mapRecord } from '../../core/channels/api/declarative.js';
import { runConformance } from '../../core/conformance/kit.js';
import { startStandIn } from '../../core/conformance/stand-in.js';
import { InvalidInputError } from '../../core/errors.js';
import { FileManifestLoader } from '../../core/manifest/loader.js';
import { AjvSchemaValidator } from '../../core/schema/validator.js';
import { writeTallyboard } from '../connectors-as-data/tallyboard.js';
import { caught, editJson, runCli, scratchDir } from '../support/fixtures.js';

const loader = new FileManifestLoader(new AjvSchemaValidator());

/** A Tallyboard folder in a scratch catalogue, changed by `change` before it is loaded. */
function tallyboard(change: (m: Record<string, any>) => void = () => {}) {
  const catalogue = scratchDir();
  const dir = writeTallyboard(catalogue);
  editJson(path.join(dir, 'manifest.json'), change);
  return { catalogue, dir, connector: () => loader.load(dir) };
}

const failures = (checks: { status: string; check: string; detail: string }[]) => checks.filter((c) => c.status === 'fail').map((c) => `${c.check}: ${c.detail}`);

describe('declared API calls', function () {
  this.timeout(60_000);

  it('read JSON Pointers as RFC 6901 says (escapes, array indexes, the whole document)', () => {
    const doc = { 'a/b': { 'c~d': [10, 20] }, '': 1 };
    assert.equal(getPointer(doc, '/a~1b/c~0d/1'), 20);
    assert.equal(getPointer(doc, '/'), 1);
    assert.equal(getPointer(doc, ''), doc);
    assert.equal(getPointer(doc, '/a~1b/c~0d/01'), undefined);
    const account = mapRecord({ id: 7, mail: 'A@x.com', state: 'suspended', teams: [{ name: 'ops' }] }, { id: '/id', email: '/mail', active: { pointer: '/state', in: ['active'] }, groups: { pointer: '/teams', item: '/name' } });
    assert.deepEqual(account, { id: '7', email: 'A@x.com', active: false, groups: ['ops'] });
  });

  for (const [name, auth, secrets] of [
    ['bearer', { type: 'bearer', secret: 'token' }, ['token']],
    ['basic with the key as user name', { type: 'basic', usernameSecret: 'apiKey' }, ['apiKey']],
    ['an API key in a query parameter', { type: 'api-key', in: 'query', name: 'api_key', secret: 'apiKey' }, ['apiKey']],
    ['an API key in a header', { type: 'api-key', in: 'header', name: 'X-Api-Key', secret: 'apiKey' }, ['apiKey']],
    ['OAuth2 client credentials', { type: 'oauth2-client-credentials', tokenUrl: '{baseUrl}/oauth/token', clientIdSecret: 'clientId', clientSecretSecret: 'clientSecret' }, ['clientId', 'clientSecret']],
    ['OAuth2 refresh token', { type: 'oauth2-refresh-token', tokenUrl: 'https://login.tallyboard.example.com/token', clientIdSecret: 'clientId', clientSecretSecret: 'clientSecret', refreshTokenSecret: 'refresh' }, ['clientId', 'clientSecret', 'refresh']],
  ] as const) {
    it(`authenticate with ${name} and pass conformance`, async () => {
      const { connector } = tallyboard((m) => (m.surfaces.rest.auth.value = [auth]));
      const loaded = connector();
      assert.deepEqual([...declarativeApi(loaded)!.requiredSecrets].sort(), [...secrets].sort());
      assert.deepEqual(failures(await runConformance(loaded)), []);
    });
  }

  for (const page of [
    { style: 'offset', items: '/data', param: 'offset', sizeParam: 'limit', pageSize: 40 },
    { style: 'page', items: '/data', param: 'page', sizeParam: 'per_page', pageSize: 40 },
    { style: 'link-header', items: '/data' },
    { style: 'next-link', items: '/data', next: '/links/next' },
    { style: 'scim', items: '/Resources', pageSize: 40 },
  ]) {
    it(`page a list with the ${page.style} style to its end`, async () => {
      const { connector } = tallyboard((m) => (m.operations.listUsers.channels[0].call.page = page));
      assert.deepEqual(failures(await runConformance(connector())), []);
    });
  }

  it('obey a 503 with Retry-After on a surface that lists 503 among its limited statuses', async () => {
    const { connector } = tallyboard((m) => (m.surfaces.rest.limitedStatuses = [503, 429]));
    const checks = await runConformance(connector());
    assert.deepEqual(failures(checks), []);
    assert.match(checks.find((c) => c.check.startsWith('rate limits'))!.detail, /^answered 503, retried after \d+ ms/);
  });

  it('fail conformance, and the command exit 1, when a deactivation cannot tell "already done"', async () => {
    const { connector, catalogue } = tallyboard((m) => {
      const call = m.operations.deactivateUser.channels[0].call;
      delete call.when;
      delete call.read;
      call.params.id = { from: 'subject', pointer: '/email' };
    });
    assert.deepEqual(failures(await runConformance(connector())).map((f) => f.split(':')[0]), ['deactivateUser']);
    const result = runCli(['conformance', 'tallyboard'], { PATCHBAY_CONNECTORS: catalogue });
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /deactivateUser: already done +│ fail/);
  });

  it('send the surface headers and the idempotency key, and bind a path parameter from the account read first', async () => {
    const loaded = tallyboard().connector();
    const standIn = await startStandIn(loaded);
    try {
      standIn.seed(['one@acme.com']);
      const seen: Headers[] = [];
      const api = declarativeApi(loaded, { fetch: (input, init) => (seen.push(new Headers(init?.headers)), standIn.fetch(input, init)) })!;
      const result = await api.operations.deactivateUser!({ subject: { email: 'one@acme.com' }, settings: standIn.settings, secrets: standIn.secrets as never, idempotencyKey: 'run-1:step-2' });
      assert.equal(result.outcome, 'done');
      assert.equal(seen.at(-1)!.get('tallyboard-version'), '2026-01');
      assert.equal(seen.at(-1)!.get('idempotency-key'), 'run-1:step-2');
      assert.match(seen.at(-1)!.get('authorization')!, /^Token standin-apiToken-value$/);
    } finally {
      await standIn.close();
    }
  });

  it('say which setting is missing when the tenant profile lacks the base URL', async () => {
    const api = declarativeApi(tallyboard().connector())!;
    await assert.rejects(api.operations.getUser!({ subject: { email: 'a@acme.com' }, settings: { secrets: { apiToken: 'env:X' } }, secrets: { resolve: () => 'x' } as never, idempotencyKey: 'k' }), /tallyboard: baseUrl: is not in the tenant profile \(apps\.tallyboard\.baseUrl\)/);
  });

  it('serve calls on two surfaces from one stand-in, each with its own base path and credentials', async () => {
    const { connector } = tallyboard((m) => {
      m.surfaces.scim = { kind: 'scim', baseUrl: { ...m.surfaces.rest.baseUrl, value: '{baseUrl}/scim/v2' }, auth: { ...m.surfaces.rest.auth, value: [{ type: 'bearer', secret: 'scimToken' }] } };
      const call = m.operations.deactivateUser.channels[0].call;
      Object.assign(call, { surface: 'scim', method: 'DELETE', path: '/Users/{id}', outcomes: { '204': 'done', '404': 'notFound' } });
      for (const op of ['listUsers', 'getUser']) m.operations[op].channels[0].call.surface = 'rest';
    });
    const loaded = connector();
    assert.deepEqual(failures(await runConformance(loaded)), []);
    const standIn = await startStandIn(loaded);
    try {
      standIn.seed(['one@acme.com']);
      // The SCIM route refuses the REST surface's token: each surface checks its own credentials.
      const id = [...standIn.accounts.keys()][0];
      const wrong = await fetch(`${standIn.url}/scim/v2/Users/${id}`, { method: 'DELETE', headers: { authorization: `Token ${standIn.secrets.resolve(standIn.settings.secrets!.apiToken!)}` } });
      assert.equal(wrong.status, 401);
      const right = await fetch(`${standIn.url}/scim/v2/Users/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${standIn.secrets.resolve(standIn.settings.secrets!.scimToken!)}` } });
      assert.equal(right.status, 204);
    } finally {
      await standIn.close();
    }
  });

  it('fill a path parameter bound from the tenant settings in the stand-in, and send the grant type the declaration names', async () => {
    const { connector } = tallyboard((m) => {
      m.surfaces.rest.auth.value = [{ type: 'oauth2-client-credentials', tokenUrl: '{baseUrl}/oauth/token?account_id={settings.accountId}', grantType: 'account_credentials', clientIdSecret: 'clientId', clientSecretSecret: 'clientSecret', basicClientAuth: true }];
      const list = m.operations.listUsers.channels[0].call;
      list.path = '/workspaces/{workspace}/users';
      list.params = { workspace: { from: 'settings', pointer: '/settings/workspaceGid' } };
    });
    const loaded = connector();
    assert.deepEqual(failures(await runConformance(loaded)), []);
    const standIn = await startStandIn(loaded);
    try {
      assert.equal(standIn.settings.settings?.workspaceGid, 'conformance');
      const grants: string[] = [];
      const fetcher: typeof fetch = async (input, init) => {
        if (String(input).includes('/oauth/token')) grants.push(new URLSearchParams(String(init?.body)).get('grant_type') ?? '');
        return standIn.fetch(input, init);
      };
      const result = await declarativeApi(loaded, { fetch: fetcher })!.operations.listUsers!({ subject: { email: '' }, settings: standIn.settings, secrets: standIn.secrets as never, idempotencyKey: 'k' });
      assert.equal(result.outcome, 'done');
      assert.deepEqual(grants, ['account_credentials']);
    } finally {
      await standIn.close();
    }
  });

  it('refuse an answer rule that tests nothing, naming its pointer', () => {
    const { dir } = tallyboard((m) => (m.operations.getUser.channels[0].call.answer = [{ pointer: '/ok', outcome: 'failed' }]));
    const error = caught(InvalidInputError, () => loader.load(dir));
    assert.match(`${error.where.pointer} ${error.reason}`, /\/operations\/getUser\/channels\/0\/call\/answer\/0/);
  });

  it('refuse a call whose placeholder is not bound, naming the pointer', () => {
    const { dir } = tallyboard((m) => (m.operations.deactivateUser.channels[0].call.path = '/users/{userId}/deactivate'));
    const error = caught(InvalidInputError, () => loader.load(dir));
    assert.equal(error.where.pointer, '/operations/deactivateUser/channels/0/call/params');
    assert.match(error.reason, /\{userId\} is used but not bound in params/);
  });
});
