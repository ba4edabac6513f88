import assert from 'node:assert/strict';
import { ContainerModule } from 'inversify';
import { createServices } from '../../core/container.js';
import { ConnectorWiringError } from '../../core/errors.js';
import { ConnectorApi, type OperationHandler } from '../../core/registry/connector-api.js';
import { connectorModules } from '../../connectors/modules.js';
import { caught } from '../support/fixtures.js';

const handler: OperationHandler = async () => ({ outcome: 'notFound', evidence: 'test double' });
const apiModule = (connector: string, operations: string[]) =>
  new ContainerModule(({ bind }) => {
    bind(ConnectorApi).toConstantValue({ connector, requiredSecrets: [], operations: Object.fromEntries(operations.map((o) => [o, handler])) });
  });

const wiringError = (run: () => unknown) => caught(ConnectorWiringError, run);

describe('connector registry', () => {
  it('starts with the real connectors and their API modules', () => {
    const { registry } = createServices();
    assert.equal(registry.list().length, 6);
    assert.deepEqual([...registry.implemented('spendesk')].sort(), ['getUser', 'listUsers']);
    assert.deepEqual([...registry.implemented('okta')].sort(), ['assignApp', 'createUser', 'deactivateUser', 'findSignIn', 'getUser', 'listAppUsers', 'listUsers', 'unassignApp']);
    assert.equal(registry.api('6sense'), undefined);
  });

  it('refuses a manifest that routes an operation to api when no module implements it', () => {
    const error = wiringError(() => createServices({ modules: connectorModules.slice(0, 1) }));
    assert.equal(error.connector, 'spendesk');
    assert.match(error.message, /routes 'getUser', 'listUsers' to the api channel but no API module implements them/);
    assert.match(error.message, /connectors\/modules\.ts/);
  });

  it('refuses a module that leaves one routed operation out', () => {
    const error = wiringError(() => createServices({ modules: [connectorModules[0]!, apiModule('spendesk', ['getUser'])] }));
    assert.match(error.message, /routes 'listUsers' to the api channel/);
  });

  it('refuses a module implementing an operation the manifest does not route to api', () => {
    const error = wiringError(() => createServices({ modules: [connectorModules[0]!, apiModule('spendesk', ['getUser', 'listUsers', 'deactivateUser'])] }));
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
    assert.throws(() => registry.get('slack'), /unknown connector 'slack' \(known: 6sense, alkami, amazinghiring, okta, scim, spendesk\)/);
  });
});
