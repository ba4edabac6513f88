import assert from 'node:assert/strict';
import { StillAssignedError } from '../../core/errors.js';
import { createServices } from '../../core/container.js';
import { ConnectorConfigError } from '../../core/errors.js';
import { UnauthorizedError } from '../../core/http/errors.js';
import type { OperationInput } from '../../core/registry/connector-api.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { conformance } from '../support/conformance.js';
import { GoogleDouble, serviceAccountKey } from '../support/idp-doubles.js';
import type { VendorDouble } from '../support/vendor-doubles.js';

const admin = 'it.admin@acme.com';
const group = 'spendesk-users@acme.com';
/** One key per double: the double checks the assertion against its public key. */
const keys = new WeakMap<VendorDouble, string>();
const startGoogle = async (): Promise<GoogleDouble> => {
  const google = await new GoogleDouble().listen();
  const key = serviceAccountKey(`${google.url}/token`);
  google.trust(key.publicKey, admin);
  keys.set(google, key.json);
  return google;
};
const settings = (d: VendorDouble) => ({ baseUrl: d.url, secrets: { serviceAccountKey: `env:KEY_${new URL(d.url).port}`, adminEmail: 'env:GOOGLE_ADMIN' } });
/** The kit resolves secrets from a fixed env; each double's key is put there under its port. */
const env: Record<string, string> = { GOOGLE_ADMIN: admin };

conformance({
  connector: 'google-workspace',
  double: async () => {
    const google = await startGoogle();
    env[`KEY_${new URL(google.url).port}`] = keys.get(google)!;
    return google;
  },
  settings,
  env,
  target: { app: 'spendesk', settings: { idpAppId: group } },
});

/** Each identity-provider operation against the Admin SDK stand-in: done, already done, not found. */
describe('conformance: google-workspace operations, each done / already done / not found', () => {
  const api = createServices().registry.api('google-workspace')!;
  let google: GoogleDouble;
  let input: (email: string, idpAppId?: string) => OperationInput;
  beforeEach(async () => {
    google = await startGoogle();
    google.seed(['alice@acme.com', 'bob@acme.com']);
    google.seed(['fred@acme.com'], '/Finance/Payables');
    google.group(group, []);
    const secrets = new EnvironmentSecretResolver({ [`KEY_${new URL(google.url).port}`]: keys.get(google)!, GOOGLE_ADMIN: admin });
    input = (email, idpAppId = group) => ({ subject: { email }, settings: settings(google), secrets, idempotencyKey: `conf:${email}`, target: { app: 'spendesk', settings: { idpAppId } } });
  });
  afterEach(() => google.close());

  it('signs its JWT as the service account, for the delegated administrator, with the scopes it needs', async () => {
    await api.operations.getUser!(input('alice@acme.com'));
    assert.equal(google.tokenClaims.length, 1);
    const [claims] = google.tokenClaims;
    assert.equal(claims!.sub, admin);
    assert.equal(claims!.iss, 'patchbay@acme-admin.iam.gserviceaccount.com');
    assert.deepEqual(claims!.scope.split(' ').sort(), ['https://www.googleapis.com/auth/admin.directory.group.member', 'https://www.googleapis.com/auth/admin.directory.user', 'https://www.googleapis.com/auth/admin.reports.audit.readonly']);
  });

  it('assignApp (group membership): done, then already done; a stranger is refused by name', async () => {
    assert.equal((await api.operations.assignApp!(input('alice@acme.com'))).outcome, 'done');
    assert.ok(google.groups.get(group)!.has('alice@acme.com'));
    assert.equal((await api.operations.assignApp!(input('alice@acme.com'))).outcome, 'alreadyDone');
    await assert.rejects(api.operations.assignApp!(input('ghost@acme.com')), /no Google Workspace user ghost@acme\.com to add to spendesk-users@acme\.com/);
  });

  it('unassignApp: done, then already done', async () => {
    google.group(group, ['bob@acme.com']);
    assert.equal((await api.operations.unassignApp!(input('bob@acme.com'))).outcome, 'done');
    assert.equal(google.groups.get(group)!.size, 0);
    assert.equal((await api.operations.unassignApp!(input('bob@acme.com'))).outcome, 'alreadyDone');
  });

  it('unassignApp: membership through a nested group is handed over to a person, saying so', async () => {
    google.group(group, ['bob@acme.com'], ['bob@acme.com']);
    await assert.rejects(api.operations.unassignApp!(input('bob@acme.com')), (e: unknown) => e instanceof StillAssignedError && /bob@acme\.com is still a member of spendesk-users@acme\.com through a group inside it \(the direct membership is removed\)/.test((e as Error).message));
    assert.equal(google.groups.get(group)!.has('bob@acme.com'), false, 'the direct membership is gone');
  });

  it('an app turned on by organisational unit: its people are read, but assigning is refused as a person\'s task', async () => {
    const listed = await api.operations.listAppUsers!(input('', '/Finance'));
    assert.deepEqual(listed.outcome === 'done' && listed.accounts!.map((a) => a.email), ['fred@acme.com']);
    await assert.rejects(api.operations.unassignApp!(input('fred@acme.com', '/Finance')), (e: unknown) => e instanceof ConnectorConfigError && /Google has no API to unassign it per person/.test((e as Error).message));
  });

  it('getUser and deactivateUser: not found for a stranger', async () => {
    assert.equal((await api.operations.getUser!(input('ghost@acme.com'))).outcome, 'notFound');
    assert.equal((await api.operations.deactivateUser!(input('ghost@acme.com'))).outcome, 'notFound');
  });

  it('findSignIn: done for a SAML login to the app, not found without one', async () => {
    assert.equal((await api.operations.findSignIn!({ ...input('bob@acme.com'), since: Date.now() - 60_000 })).outcome, 'notFound');
    google.samlLogin('bob@acme.com', 'Spendesk SSO');
    const found = await api.operations.findSignIn!({ ...input('bob@acme.com'), since: Date.now() - 60_000 });
    assert.equal(found.outcome, 'done');
    assert.match(found.evidence, /bob@acme\.com signed in to Spendesk SSO/);
  });

  it('a key the domain has not delegated to this administrator is an UnauthorizedError with Google\'s reason and no key in it', async () => {
    const other = serviceAccountKey(`${google.url}/token`);
    const wrong = { ...input('alice@acme.com'), secrets: new EnvironmentSecretResolver({ [`KEY_${new URL(google.url).port}`]: other.json, GOOGLE_ADMIN: admin }) };
    await assert.rejects(api.operations.getUser!({ ...wrong, settings: { ...wrong.settings, baseUrl: `${google.url}/` } }), (e: unknown) => {
      const text = `${(e as Error).message}${(e as Error).stack}`;
      return e instanceof UnauthorizedError && /unauthorized_client/.test(text) && !text.includes('PRIVATE KEY') && !text.includes(JSON.parse(other.json).private_key.slice(40, 80));
    });
  });
});
