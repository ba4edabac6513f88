import { ContainerModule } from '#inversify';
import { ConnectorApi } from '../../core/registry/connector-api.js';
import { GoogleWorkspaceApi } from './api.js';

/** Google Workspace's code: the Admin SDK client (Directory and Reports APIs) with a delegated service account. */
export const googleWorkspaceModule = new ContainerModule(({ bind }) => {
  bind(ConnectorApi).toConstantValue(new GoogleWorkspaceApi());
});
