import { ContainerModule } from '#inversify';
import { ConnectorApi } from '../../core/registry/connector-api.js';
import { EntraIdApi } from './api.js';

/** Microsoft Entra ID's code: the Microsoft Graph client for users, app role assignments and the audit and sign-in logs. */
export const entraIdModule = new ContainerModule(({ bind }) => {
  bind(ConnectorApi).toConstantValue(new EntraIdApi());
});
