import { ContainerModule } from '#inversify';
import { ConnectorApi } from '../../core/registry/connector-api.js';
import { SpendeskMembersApi } from './api.js';

/** Spendesk's code: only the read-only members API. Everything else Spendesk does is data (manifest, runbooks, recipes). */
export const spendeskModule = new ContainerModule(({ bind }) => {
  bind(ConnectorApi).toDynamicValue(() => new SpendeskMembersApi()).inSingletonScope();
});
