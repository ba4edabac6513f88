import type { ContainerModule } from '#inversify';
import { entraIdModule } from './entra-id/index.js';
import { googleWorkspaceModule } from './google-workspace/index.js';
import { oktaModule } from './okta/index.js';
import { spendeskModule } from './spendesk/index.js';

/**
 * The connectors that have code. A connector that is only data (manifest, runbooks, recipes) needs
 * no line here; one whose manifest routes an operation to the api channel must be listed, or the
 * registry refuses to start.
 */
export const connectorModules: readonly ContainerModule[] = [entraIdModule, googleWorkspaceModule, oktaModule, spendeskModule];
