import { inject, injectable, multiInject, optional } from 'inversify';
import { ConnectorWiringError, NotFoundError } from '../errors.js';
import type { LoadedConnector } from '../manifest/loader.js';
import { ConnectorApi } from './connector-api.js';
import { scimOperations } from '../channels/scim/operations.js';

/** The connectors loaded at start, bound by core/container.ts. */
export const LoadedConnectors = Symbol('LoadedConnectors');

export const ConnectorRegistry = Symbol('ConnectorRegistry');
export interface ConnectorRegistry {
  list(): readonly LoadedConnector[];
  /** Throws NotFoundError naming the known connectors. */
  get(id: string): LoadedConnector;
  /** The API module of a connector with code; undefined for a connector that is data only. */
  api(id: string): ConnectorApi | undefined;
  /** The operations a connector carries out over its API. */
  implemented(id: string): ReadonlySet<string>;
}

/**
 * Collects manifests and API modules, and refuses a set that does not fit together: an operation
 * routed to `api` with no implementation, an implementation nobody routes to, a module for a
 * connector that has no manifest, two modules for one connector.
 */
@injectable()
export class DefaultConnectorRegistry implements ConnectorRegistry {
  private readonly connectors = new Map<string, LoadedConnector>();
  private readonly apis = new Map<string, ConnectorApi>();

  constructor(
    @inject(LoadedConnectors) connectors: readonly LoadedConnector[],
    @multiInject(ConnectorApi) @optional() apis: readonly ConnectorApi[] | undefined,
  ) {
    for (const connector of connectors) this.connectors.set(connector.manifest.id, connector);
    for (const api of apis ?? []) {
      if (!this.connectors.has(api.connector)) {
        throw new ConnectorWiringError(api.connector, 'an API module is registered but there is no connectors/<id>/manifest.json for it');
      }
      if (this.apis.has(api.connector)) throw new ConnectorWiringError(api.connector, 'two API modules are registered');
      this.apis.set(api.connector, api);
    }
    for (const connector of connectors) this.checkApiRoutes(connector);
  }

  list(): readonly LoadedConnector[] {
    return [...this.connectors.values()];
  }

  get(id: string): LoadedConnector {
    const connector = this.connectors.get(id);
    if (!connector) throw new NotFoundError('connector', id, [...this.connectors.keys()]);
    return connector;
  }

  api(id: string): ConnectorApi | undefined {
    return this.apis.get(id);
  }

  implemented(id: string): ReadonlySet<string> {
    return new Set(Object.keys(this.apis.get(id)?.operations ?? {}));
  }

  private checkApiRoutes(connector: LoadedConnector): void {
    const id = connector.manifest.id;
    const implemented = this.implemented(id);
    const routed = Object.entries(connector.manifest.operations)
      .filter(([, op]) => op.channels.some((route) => route.channel === 'api'))
      .map(([name]) => name);
    const missing = routed.filter((name) => !implemented.has(name));
    if (missing.length) {
      throw new ConnectorWiringError(
        id,
        `the manifest routes ${missing.map((m) => `'${m}'`).join(', ')} to the api channel but no API module implements ${missing.length > 1 ? 'them' : 'it'} ` +
          `(bind a ConnectorApi for '${id}' in connectors/${id}/index.ts and list its module in connectors/modules.ts)`,
      );
    }
    const scimRouted = Object.entries(connector.manifest.operations).filter(([, op]) => op.channels.some((r) => r.channel === 'scim')).map(([name]) => name);
    const scimMissing = scimRouted.filter((name) => !scimOperations.has(name));
    if (scimMissing.length) {
      throw new ConnectorWiringError(id, `the manifest routes ${scimMissing.map((m) => `'${m}'`).join(', ')} to the scim channel, which carries out only ${[...scimOperations].join(', ')}`);
    }
    const unrouted = [...implemented].filter((name) => !routed.includes(name));
    if (unrouted.length) {
      throw new ConnectorWiringError(id, `the API module implements ${unrouted.map((m) => `'${m}'`).join(', ')}, which the manifest does not route to the api channel`);
    }
  }
}
