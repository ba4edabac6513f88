import assert from 'node:assert/strict';
import { ContainerModule } from '#inversify';
import { createServices } from '../../core/container.js';
import { ConnectorWiringError, NotFoundError } from '../../core/errors.js';
import { ConnectorApi, type OperationHandler } from '../../core/registry/connector-api.js';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { connectorModules } from '../../connectors/modules.js';
import { spendeskModule } from '../../connectors/spendesk/index.js';
import { connectorFolders, connectorsDir } from '../../core/paths.js';
import { caught, copyOfConnectors, editJson, scratchDir } from '../support/fixtures.js';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';

const handler: OperationHandler = async () => ({ outcome: 'notFound', evidence: 'test double' });
const apiModule = (connector: string, operations: string[]) =>
  new ContainerModule(({ bind }) => {
    bind(ConnectorApi).toConstantValue({ connector, requiredSecrets: [], operations: Object.fromEntries(operations.map((o) => [o, handler])) });
  });

const wiringError = (run: () => unknown) => caught(ConnectorWiringError, run);
/** The catalogue as the folder holds it: every connectors/<id>/ with a manifest. */
const catalogue = () => readdirSync(connectorsDir).filter((id) => existsSync(path.join(connectorsDir, id, 'manifest.json'))).sort();
/** Every module with code but Spendesk's. */
const withoutSpendesk = connectorModules.filter((m) => m !== spendeskModule);

describe('connector registry', () => {
  it('starts with the real connectors and their API modules', () => {
    const { registry } = createServices();
    assert.deepEqual(registry.list().map((c) => c.manifest.id).sort(), catalogue());
    assert.deepEqual([...registry.implemented('spendesk')].sort(), ['getUser', 'listUsers']);
    assert.deepEqual([...registry.implemented('okta')].sort(), ['assignApp', 'createUser', 'deactivateUser', 'findSignIn', 'getUser', 'listAppUsers', 'listUsers', 'unassignApp']);
    assert.equal(registry.api('6sense'), undefined);
  });

  /** Builds services with these modules and returns the broken entry for `id`, checking the rest still work. */
  const refusedAlone = (modules: readonly ContainerModule[], id: string) => {
    const services = createServices({ modules });
    const broken = services.registry.broken().find((b) => b.id === id);
    assert.ok(broken, `${id} is listed as broken`);
    assert.ok(!services.registry.list().some((c) => c.manifest.id === id), `${id} is not among the working connectors`);
    // Every other connector keeps working, and asking for the broken one says why in one line.
    assert.deepEqual(services.registry.list().map((c) => c.manifest.id).sort(), catalogue().filter((c) => c !== id));
    const error = wiringError(() => services.registry.get(id));
    assert.equal(error.connector, id);
    assert.doesNotMatch(error.message, /\n/);
    return broken!;
  };

  it('refuses alone a manifest that routes an operation to api when neither a declaration nor a module implements it', () => {
    const broken = refusedAlone(withoutSpendesk, 'spendesk');
    assert.match(broken.reason, /routes 'getUser', 'listUsers' to the api channel but neither a declared call nor an API module implements them/);
    assert.match(broken.reason, /connectors\/modules\.ts/);
  });

  it('refuses alone a module that leaves one routed operation out', () => {
    assert.match(refusedAlone([...withoutSpendesk, apiModule('spendesk', ['getUser'])], 'spendesk').reason, /routes 'listUsers' to the api channel/);
  });

  it('refuses alone a module implementing an operation the manifest does not route to api', () => {
    const broken = refusedAlone([...withoutSpendesk, apiModule('spendesk', ['getUser', 'listUsers', 'deactivateUser'])], 'spendesk');
    assert.match(broken.reason, /implements 'deactivateUser', which the manifest does not route to the api channel/);
  });

  it('lists a module for a connector that has no manifest as broken, and starts the others', () => {
    const services = createServices({ modules: [...connectorModules, apiModule('workday', ['listUsers'])] });
    assert.match(services.registry.broken().find((b) => b.id === 'workday')!.reason, /no connectors\/<id>\/manifest\.json/);
    assert.deepEqual(services.registry.list().map((c) => c.manifest.id).sort(), catalogue());
  });

  it('refuses alone two modules for one connector', () => {
    assert.match(refusedAlone([...connectorModules, apiModule('spendesk', ['getUser', 'listUsers'])], 'spendesk').reason, /two API modules/);
  });

  it('a module wins over a declared call for the same operation', async () => {
    const dir = copyOfConnectors();
    // Declare Spendesk's getUser as a call too: the module's handler must still be the one used.
    editJson(path.join(dir, 'spendesk', 'manifest.json'), (m) => {
      m.surfaces = { rest: { kind: 'rest', baseUrl: { value: '{baseUrl}', confidence: 'documented', checkedAt: '2026-11-28', sources: [{ url: 'https://developer.spendesk.com', kind: 'vendor', says: 'REST API', readAt: '2026-11-28' }] }, auth: { value: [{ type: 'bearer', secret: 'token' }], confidence: 'documented', checkedAt: '2026-11-28', sources: [{ url: 'https://developer.spendesk.com', kind: 'vendor', says: 'bearer', readAt: '2026-11-28' }] } } };
      m.operations.getUser.channels[0].call = { method: 'GET', path: '/users/{email}', params: { email: { from: 'subject', pointer: '/email' } }, record: { id: '/id', email: '/email', active: '/active' } };
    });
    const module = apiModule('spendesk', ['getUser', 'listUsers']);
    const services = createServices({ connectorsDir: dir, modules: [...withoutSpendesk, module] });
    const result = await services.registry.api('spendesk')!.operations.getUser!({ subject: { email: 'a@acme.com' }, settings: {}, secrets: services.secrets, idempotencyKey: 'k' });
    assert.equal(result.evidence, 'test double');
  });

  it('adds the folders PATCHBAY_CONNECTORS names to the built-in catalogue, and a bad one is refused alone', () => {
    const extra = scratchDir();
    cpSync(path.join(connectorsDir, '6sense'), path.join(extra, 'sixsense-copy'), { recursive: true });
    editJson(path.join(extra, 'sixsense-copy', 'manifest.json'), (m) => (m.id = 'sixsense-copy'));
    cpSync(path.join(connectorsDir, '6sense'), path.join(extra, 'bad-one'), { recursive: true });
    const folders = connectorFolders({ PATCHBAY_CONNECTORS: `${extra}${path.delimiter}${path.join(extra, 'nowhere')}` });
    assert.deepEqual(folders, [connectorsDir, extra, path.join(extra, 'nowhere')]);
    const services = createServices({ connectorsDir: folders });
    assert.deepEqual(services.registry.list().map((c) => c.manifest.id).sort(), [...catalogue(), 'sixsense-copy'].sort());
    const broken = services.registry.broken();
    assert.match(broken.find((b) => b.id === 'bad-one')!.reason, /#\/id: must be 'bad-one'/);
    const nowhere = broken.find((b) => b.dir === path.join(extra, 'nowhere'))!;
    assert.equal(nowhere.folder, true);
    assert.match(nowhere.reason, /^PATCHBAY_CONNECTORS: .*nowhere: no such connector folder$/);
  });

  it('adds catalogue folders that gave no connector to the unknown-connector message, each with why', () => {
    const root = scratchDir();
    const file = path.join(root, 'a-file.json');
    writeFileSync(file, '{}');
    const empty = path.join(root, 'empty');
    mkdirSync(path.join(empty, 'not-a-connector'), { recursive: true });
    const services = createServices({ connectorsDir: [connectorsDir, path.join(root, 'nope'), file, empty] });
    // The built-in catalogue still works, and a folder is not a connector one can ask for.
    assert.deepEqual(services.registry.list().map((c) => c.manifest.id).sort(), catalogue());
    const error = caught(NotFoundError, () => services.registry.get('tallyboard'));
    assert.ok(error.message.startsWith(`unknown connector 'tallyboard' (known: ${catalogue().join(', ')}); `), error.message);
    assert.match(error.message, /; PATCHBAY_CONNECTORS: \S*nope: no such connector folder/);
    assert.match(error.message, /; PATCHBAY_CONNECTORS: \S*a-file\.json: is a file, not a connector folder/);
    assert.match(error.message, /; PATCHBAY_CONNECTORS: \S*empty: no connectors in this folder/);
    assert.doesNotMatch(error.message, /\n/);
    assert.throws(() => services.registry.get(path.join(root, 'nope')), NotFoundError);
  });

  it('names the broken connectors when asked for an unknown one', () => {
    const extra = scratchDir();
    cpSync(path.join(connectorsDir, '6sense'), path.join(extra, 'tallyboard'), { recursive: true });
    const services = createServices({ connectorsDir: [connectorsDir, extra] });
    assert.match(caught(NotFoundError, () => services.registry.get('tallybord')).message, /; broken: tallyboard \(patchbay connectors says why\)$/);
  });

  it('names the known connectors when asked for an unknown one', () => {
    const { registry } = createServices();
    assert.throws(() => registry.get('no-such-app'), (e: unknown) => (e as Error).message === `unknown connector 'no-such-app' (known: ${catalogue().join(', ')})`);
  });
});
