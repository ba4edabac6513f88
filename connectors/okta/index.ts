import { ContainerModule } from '#inversify';
import { ConnectorApi } from '../../core/registry/connector-api.js';
import { OktaApi } from './api.js';

/** Okta's code: the Management API client for users, app assignments and the System Log. */
export const oktaModule = new ContainerModule(({ bind }) => {
  bind(ConnectorApi).toConstantValue(new OktaApi());
});
