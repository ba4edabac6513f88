import { inject, injectable, multiInject, optional } from '#inversify';
import { ConnectorWiringError, NotFoundError, brokenBecause } from '../errors.js';
import type { BrokenConnector, LoadedConnector } from '../manifest/loader.js';
import { declarativeApi } from '../channels/api/declarative.js';
import { ConnectorApi } from './connector-api.js';
import { byHandRunbooks } from './by-hand.js';
import type { Runbook } from '../schema/types/runbook.js';
import { scimOperations } from '../channels/scim/operations.js';

/** The connectors loaded at start, bound by core/container.ts. */
export const LoadedConnectors = Symbol('LoadedConnectors');
/** The connector folders that could not be loaded, bound by core/container.ts (default: none). */
export const BrokenConnectors = Symbol('BrokenConnectors');

export const ConnectorRegistry = Symbol('ConnectorRegistry');
export interface ConnectorRegistry {
  /** The connectors that work. */
  list(): readonly LoadedConnector[];
  /** Whether `id` is a working connector (a lookup, for checks made on every slice of a run). */
  has(id: string): boolean;
  /**
   * The connectors refused alone, each with its one-line reason; every other connector keeps working.
   * Catalogue folders that gave no connector (missing, a file, empty) are listed too, with `folder` set.
   */
  broken(): readonly BrokenConnector[];
  /**
   * The error for an id that is neither a working nor a broken connector: the known ids, then the
   * broken connectors and the catalogue folders that gave none (a wrong PATCHBAY_CONNECTORS shows here).
   */
  unknown(id: string): NotFoundError;
  /** The one-line reason a connector was refused, or undefined when it is not broken. */
  brokenReason(id: string): string | undefined;
  /**
   * The manifest, runbooks and recipes of a connector refused for how its API is wired (its own files
   * loaded; an operation routed to `api` that nothing implements, say): what a person's checklist for
   * it needs. Undefined for a working connector, and for one whose files did not load.
   */
  refusedConnector(id: string): LoadedConnector | undefined;
  /**
   * What a person's task in a connector needs, its name and runbooks: a working connector's own, those
   * of a connector refused for its API wiring, and for a broken connector whose files did not load,
   * the built-in checklists for an identity provider (core/registry/by-hand.ts), named by its id.
   * @throws NotFoundError for an id that is neither working nor broken.
   */
  forPeople(id: string): { readonly name: string; readonly runbooks: ReadonlyMap<string, Runbook> };
  /** Throws NotFoundError naming the known connectors, or ConnectorWiringError with the reason a broken one was refused. */
  get(id: string): LoadedConnector;
  /**
   * The operations a connector carries out over its API: its TypeScript module's handlers, and for
   * operations the module does not implement, the manifest's declared calls (a module wins over a
   * declaration). Undefined for a connector with neither.
   */
  api(id: string): ConnectorApi | undefined;
  /** The operations a connector carries out over its API. */
  implemented(id: string): ReadonlySet<string>;
}

/**
 * Collects manifests, declared calls and API modules, and refuses alone (in `broken`, with one
 * line) each connector that does not fit together: an operation routed to `api` with neither a
 * declaration nor a module, a module implementing what nobody routes to it, a module for a
 * connector that has no manifest, two modules for one connector, a scim route the channel cannot
 * carry out. Every other connector keeps working.
 */
@injectable()
export class DefaultConnectorRegistry implements ConnectorRegistry {
  private readonly connectors = new Map<string, LoadedConnector>();
  private readonly apis = new Map<string, ConnectorApi>();
  private readonly refused = new Map<string, BrokenConnector>();
  private readonly refusedLoaded = new Map<string, LoadedConnector>();

  constructor(
    @inject(LoadedConnectors) connectors: readonly LoadedConnector[],
    @multiInject(ConnectorApi) @optional() apis: readonly ConnectorApi[] | undefined,
    @inject(BrokenConnectors) @optional() broken: readonly BrokenConnector[] | undefined,
  ) {
    for (const b of broken ?? []) this.refused.set(b.id, b);
    for (const connector of connectors) this.connectors.set(connector.manifest.id, connector);
    const modules = new Map<string, ConnectorApi>();
    const refuse = (id: string, reason: string) => {
      const connector = this.connectors.get(id);
      if (connector) this.refusedLoaded.set(id, connector);
      this.connectors.delete(id);
      modules.delete(id);
      this.refused.set(id, { id, dir: connector?.dir ?? '', reason: new ConnectorWiringError(id, reason).message });
    };
    for (const api of apis ?? []) {
      if (this.refused.has(api.connector)) continue;
      if (!this.connectors.has(api.connector)) refuse(api.connector, 'an API module is registered but there is no connectors/<id>/manifest.json for it');
      else if (modules.has(api.connector)) refuse(api.connector, 'two API modules are registered');
      else modules.set(api.connector, api);
    }
    for (const connector of [...this.connectors.values()]) {
      const id = connector.manifest.id;
      const module = modules.get(id);
      const declared = declarativeApi(connector);
      const merged = module || declared
        ? { ...(declared ?? {}), ...(module ?? {}), connector: id, operations: { ...declared?.operations, ...module?.operations }, requiredSecrets: module?.requiredSecrets ?? declared?.requiredSecrets ?? [] } as ConnectorApi
        : undefined;
      const problem = wiringProblem(connector, merged, new Set(Object.keys(module?.operations ?? {})));
      if (problem) refuse(id, problem);
      else if (merged) this.apis.set(id, merged);
    }
  }

  list(): readonly LoadedConnector[] {
    return [...this.connectors.values()];
  }

  has(id: string): boolean {
    return this.connectors.has(id);
  }

  broken(): readonly BrokenConnector[] {
    return [...this.refused.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): LoadedConnector {
    const connector = this.connectors.get(id);
    if (connector) return connector;
    const reason = this.brokenReason(id);
    if (reason) throw new ConnectorWiringError(id, `is broken and was refused: ${brokenBecause(reason)}`);
    throw this.unknown(id);
  }

  brokenReason(id: string): string | undefined {
    const broken = this.refused.get(id);
    return broken && !broken.folder ? broken.reason : undefined;
  }

  refusedConnector(id: string): LoadedConnector | undefined {
    return this.refusedLoaded.get(id);
  }

  forPeople(id: string): { readonly name: string; readonly runbooks: ReadonlyMap<string, Runbook> } {
    const connector = this.connectors.get(id) ?? this.refusedLoaded.get(id);
    if (connector) return { name: connector.manifest.name, runbooks: connector.runbooks };
    if (this.brokenReason(id) === undefined) throw this.unknown(id);
    return { name: id, runbooks: byHandRunbooks(id) };
  }

  unknown(id: string): NotFoundError {
    const broken = this.broken();
    const connectors = broken.filter((b) => !b.folder).map((b) => b.id);
    const also = [
      ...(connectors.length ? [`broken: ${connectors.join(', ')} (patchbay connectors says why)`] : []),
      // Folders in the order PATCHBAY_CONNECTORS names them.
      ...[...this.refused.values()].filter((b) => b.folder).map((b) => b.reason),
    ];
    return new NotFoundError('connector', id, [...this.connectors.keys()], also.join('; ') || undefined);
  }

  api(id: string): ConnectorApi | undefined {
    return this.apis.get(id);
  }

  implemented(id: string): ReadonlySet<string> {
    return new Set(Object.keys(this.apis.get(id)?.operations ?? {}));
  }
}

/** Why a connector's routes and its API do not fit, or undefined when they do. */
function wiringProblem(connector: LoadedConnector, api: ConnectorApi | undefined, fromModule: ReadonlySet<string>): string | undefined {
  const id = connector.manifest.id;
  const implemented = new Set(Object.keys(api?.operations ?? {}));
  const routed = Object.entries(connector.manifest.operations)
    .filter(([, op]) => op.channels.some((route) => route.channel === 'api'))
    .map(([name]) => name);
  const missing = routed.filter((name) => !implemented.has(name));
  if (missing.length) {
    return (
      `the manifest routes ${missing.map((m) => `'${m}'`).join(', ')} to the api channel but neither a declared call nor an API module implements ${missing.length > 1 ? 'them' : 'it'} ` +
      `(declare a "call" on the route, or bind a ConnectorApi for '${id}' in connectors/${id}/index.ts and list its module in connectors/modules.ts)`
    );
  }
  const scimRouted = Object.entries(connector.manifest.operations).filter(([, op]) => op.channels.some((r) => r.channel === 'scim')).map(([name]) => name);
  const scimMissing = scimRouted.filter((name) => !scimOperations.has(name));
  if (scimMissing.length) {
    return `the manifest routes ${scimMissing.map((m) => `'${m}'`).join(', ')} to the scim channel, which carries out only ${[...scimOperations].join(', ')}`;
  }
  const unrouted = [...fromModule].filter((name) => !routed.includes(name));
  if (unrouted.length) return `the API module implements ${unrouted.map((m) => `'${m}'`).join(', ')}, which the manifest does not route to the api channel`;
  return undefined;
}
