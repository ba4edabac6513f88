import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { connectorModules } from '../connectors/modules.js';
import { FileManifestLoader, ManifestLoader } from './manifest/loader.js';
import { connectorsDir } from './paths.js';
import { DefaultLifecyclePlanner, LifecyclePlanner } from './planning/service.js';
import { ConnectorRegistry, DefaultConnectorRegistry, LoadedConnectors } from './registry/registry.js';
import { AjvSchemaValidator, SchemaValidator } from './schema/validator.js';
import { FileTenantProfiles, TenantProfiles } from './tenant/profile.js';
import { DocsGenerator, MarkdownDocsGenerator } from './docs/generator.js';

export interface ContainerOptions {
  /** Where connector folders are read from (default: the package's connectors/). */
  readonly connectorsDir?: string;
  /** The connectors with code (default: connectors/modules.ts). */
  readonly modules?: readonly ContainerModule[];
}

/** The services the CLI and the server use, resolved once. */
export interface Services {
  readonly validator: SchemaValidator;
  readonly loader: ManifestLoader;
  readonly registry: ConnectorRegistry;
  readonly profiles: TenantProfiles;
  readonly planner: LifecyclePlanner;
  readonly docs: DocsGenerator;
}

/**
 * The composition root and the only place outside tests that resolves from the container.
 * Connectors are loaded and checked here, at start: a bad manifest or a missing API module fails
 * before any command runs.
 */
export function createServices(options: ContainerOptions = {}): Services {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(SchemaValidator).to(AjvSchemaValidator);
  container.bind(ManifestLoader).to(FileManifestLoader);
  container.load(...(options.modules ?? connectorModules));
  const loader = container.get<ManifestLoader>(ManifestLoader);
  container.bind(LoadedConnectors).toConstantValue(loader.loadAll(options.connectorsDir ?? connectorsDir));
  container.bind(ConnectorRegistry).to(DefaultConnectorRegistry);
  container.bind(TenantProfiles).to(FileTenantProfiles);
  container.bind(LifecyclePlanner).to(DefaultLifecyclePlanner);
  container.bind(DocsGenerator).to(MarkdownDocsGenerator);
  return {
    validator: container.get<SchemaValidator>(SchemaValidator),
    loader,
    registry: container.get<ConnectorRegistry>(ConnectorRegistry),
    profiles: container.get<TenantProfiles>(TenantProfiles),
    planner: container.get<LifecyclePlanner>(LifecyclePlanner),
    docs: container.get<DocsGenerator>(DocsGenerator),
  };
}
