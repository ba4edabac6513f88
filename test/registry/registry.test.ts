import assert from 'node:assert/strict';
import { ContainerModule } from 'inversify';
import { createServices } from '../../core/container.js';
import { ConnectorWiringError } from '../../core/errors.js';
import { ConnectorApi, type OperationHandler } from '../../core/registry/connector-api.js';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { connectorModules } from '../../connectors/modules.js';
import { spendeskModule } from '../../connectors/spendesk/index.js';
import { connectorsDir } from '../../core/paths.js';
import { caught } from '../support/fixtures.js';

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

  it('refuses a manifest that routes an operation to api when no module implements it', () => {
    const error = wiringError(() => createServices({ modules: withoutSpendesk }));
    assert.equal(error.connector, 'spendesk');
    assert.match(error.message, /routes 'getUser', 'listUsers' to the api channel but no API module implements them/);
    assert.match(error.message, /connectors\/modules\.ts/);
  });

  it('refuses a module that leaves one routed operation out', () => {
    const error = wiringError(() => createServices({ modules: [...withoutSpendesk, apiModule('spendesk', ['getUser'])] }));
    assert.match(error.message, /routes 'listUsers' to the api channel/);
  });

  it('refuses a module implementing an operation the manifest does not route to api', () => {
    const error = wiringError(() => createServices({ modules: [...withoutSpendesk, apiModule('spendesk', ['getUser', 'listUsers', 'deactivateUser'])] }));
    assert.match(error.message, /implements 'deactivateUser', which the manifest does not route to the api channel/);
  });

  it('refuses a module for a connector that has no manifest', () => {
    const error = wiringError(() => createServices({ modules: [...connectorModules, apiModule('workday', ['listUsers'])] }));
    assert.equal(error.connector, 'workday');
  });

  it('refuses two modules for one connector', () => {
    const error = wiringError(() => createServices({ modules: [...connectorModules, apiModule('spendesk', ['getUser', 'listUsers'])] }));
    assert.match(error.message, /two API modules/);
  });

  it('names the known connectors when asked for an unknown one', () => {
    const { registry } = createServices();
    assert.throws(() => registry.get('slack'), (e: unknown) => (e as Error).message === `unknown connector 'slack' (known: ${catalogue().join(', ')})`);
  });
});
