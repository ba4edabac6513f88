import 'reflect-metadata';
import path from 'node:path';
import { Container, type ContainerModule } from '#inversify';
import { connectorModules } from '../connectors/modules.js';
import type { BrowserHostOptions } from './channels/browser/browser-host.js';
import type { TaskStore } from './channels/human/task-store.js';
import { DocsGenerator, MarkdownDocsGenerator } from './docs/generator.js';
import type { Clock } from './engine/clock.js';
import type { EmbeddedRunEngine, EmbeddedEngineOptions } from './engine/embedded-engine.js';
import type { RetryPolicy } from './engine/retry.js';
import type { RunService } from './engine/run-service.js';
import { FileManifestLoader, ManifestLoader } from './manifest/loader.js';
import type { ReconcileHistory } from './reconcile/history.js';
import type { LeaverFeed } from './intake/leaver-feed.js';
import { connectorFolders } from './paths.js';
import { DefaultLifecyclePlanner, LifecyclePlanner } from './planning/service.js';
import { BrokenConnectors, ConnectorRegistry, DefaultConnectorRegistry, LoadedConnectors } from './registry/registry.js';
import { AjvSchemaValidator, SchemaValidator } from './schema/validator.js';
import type { Database } from './store/database.js';
import type { StoreDatabase } from './store/sql.js';
import { FileTenantProfiles, TenantProfiles } from './tenant/profile.js';
import { EnvironmentSecretResolver, SecretResolver } from './tenant/secrets.js';

/**
 * The runtime half (the store's drivers, the engine, every channel, the browser host), loaded when a
 * command first opens the store: `plan`, `validate`, `docs` and `--help` never load it.
 */
async function runtimeModules() {
  const [
    { ApiChannelExecutor, ApiRetryPolicy }, { BrowserHost }, { BrowserChannelExecutor, BrowserStepTimeout }, { ChannelExecutor }, { HumanChannelExecutor },
    { EvidenceDir, EvidenceFiles }, { TaskStore }, { IdpChannelExecutor }, { ScimChannelExecutor }, { Clock, SystemClock }, { EmbeddedRunEngine, EngineOptions },
    { ApprovalGate }, { LifecycleWorkflow }, { EventOutbox }, { Outbox }, { defaultRetryPolicy }, { RunService }, { StepLog }, { ReconcileHistory }, { LeaverFeed },
    { StoreDatabase, openStore }, { IdentifierStore },
  ] = await Promise.all([
    import('./channels/api/executor.js'), import('./channels/browser/browser-host.js'), import('./channels/browser/executor.js'), import('./channels/executor.js'),
    import('./channels/human/executor.js'), import('./channels/evidence-files.js'), import('./channels/human/task-store.js'), import('./channels/idp/executor.js'),
    import('./channels/scim/executor.js'), import('./engine/clock.js'), import('./engine/embedded-engine.js'), import('./engine/approval.js'),
    import('./engine/lifecycle.js'), import('./engine/events.js'), import('./engine/outbox.js'), import('./engine/retry.js'), import('./engine/run-service.js'),
    import('./engine/step-log.js'), import('./reconcile/history.js'), import('./intake/leaver-feed.js'), import('./store/sql.js'),
    import('./store/identifiers.js'),
  ]);
  return {
    ApiChannelExecutor, ApiRetryPolicy, ApprovalGate, BrowserChannelExecutor, BrowserHost, BrowserStepTimeout, ChannelExecutor, Clock, EmbeddedRunEngine, EngineOptions,
    EventOutbox, EvidenceDir, EvidenceFiles, HumanChannelExecutor, IdentifierStore, IdpChannelExecutor, LeaverFeed, LifecycleWorkflow, Outbox, ReconcileHistory,
    RunService, ScimChannelExecutor, StepLog, StoreDatabase, SystemClock, TaskStore, defaultRetryPolicy, openStore,
  };
}

export interface ContainerOptions {
  /** Where connector folders are read from: one catalogue folder or several (default: the package's connectors/ and every folder PATCHBAY_CONNECTORS adds). */
  readonly connectorsDir?: string | readonly string[];
  /** The connectors with code (default: connectors/modules.ts). */
  readonly modules?: readonly ContainerModule[];
  /** Where secret references are resolved (default: the process environment and files). */
  readonly secrets?: SecretResolver;
}

export interface RuntimeOptions {
  /** The data folder holding the SQLite journal (unless `databaseUrl`) and evidence files. */
  readonly dataDir: string;
  /** A PostgreSQL address (`--database`, PATCHBAY_DATABASE_URL): the store lives there instead of the data folder's SQLite file. */
  readonly databaseUrl?: string;
  /** PostgreSQL: `refuse` (the default) a database whose schema is older than this Patchbay's, asking for `patchbay migrate`; `apply` migrates it. The embedded store always migrates. */
  readonly migrations?: 'apply' | 'refuse';
  readonly clock?: Clock;
  readonly engine?: EmbeddedEngineOptions;
  readonly retry?: RetryPolicy;
  /** The browser channel: where Chromium is, and how long a recipe step may wait for the page (default 10 s). */
  readonly browser?: BrowserHostOptions & { readonly stepTimeoutMs?: number };
}

/** The stateful half: the store, the engine and the task inbox, on one data folder. Close it when done. */
export interface Runtime {
  readonly runs: RunService;
  readonly engine: EmbeddedRunEngine;
  readonly tasks: TaskStore;
  /** The store's database (SQLite or PostgreSQL), through the query layer. */
  readonly store: StoreDatabase;
  /** The embedded store's SQLite connection, for code not yet on the query layer; throws on PostgreSQL. */
  readonly db: Database;
  /** Every reconciliation, for findings' age, the trend and the last audit of each app. */
  readonly reconciliations: ReconcileHistory;
  /** The IdP's leavers, read into offboardings. */
  readonly leavers: LeaverFeed;
  /** Where evidence files are kept (<data folder>/evidence). */
  readonly evidenceDir: string;
  /** Closes the worker's browser (if one was launched) and the store. */
  close(): Promise<void>;
}

/** The services the CLI and the server use, resolved once. */
export interface Services {
  readonly validator: SchemaValidator;
  readonly loader: ManifestLoader;
  readonly registry: ConnectorRegistry;
  readonly profiles: TenantProfiles;
  readonly planner: LifecyclePlanner;
  readonly docs: DocsGenerator;
  readonly secrets: SecretResolver;
  /**
   * Opens the store (the data folder's SQLite file, created and migrated as needed, or PostgreSQL)
   * with the engine on it.
   * @throws StoreError when the database cannot be opened or its schema does not fit.
   */
  openRuntime(options: RuntimeOptions): Promise<Runtime>;
}

/**
 * The composition root and the only place outside tests that resolves from the container.
 * Connectors are loaded and checked here, at start: a bad manifest or a missing API module is
 * refused alone (listed by `patchbay connectors` as broken) and every other connector works. The store is opened only by commands that need it.
 */
export function createServices(options: ContainerOptions = {}): Services {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind(SchemaValidator).to(AjvSchemaValidator);
  container.bind(ManifestLoader).to(FileManifestLoader);
  container.bind(SecretResolver).toConstantValue(options.secrets ?? new EnvironmentSecretResolver());
  container.load(...(options.modules ?? connectorModules));
  const loader = container.get<ManifestLoader>(ManifestLoader);
  // A broken connector is set aside with its reason; the others and every command keep working.
  const folders = options.connectorsDir === undefined ? connectorFolders() : typeof options.connectorsDir === 'string' ? [options.connectorsDir] : options.connectorsDir;
  const catalogue = loader.loadCatalogue(folders);
  container.bind(LoadedConnectors).toConstantValue(catalogue.connectors);
  container.bind(BrokenConnectors).toConstantValue(catalogue.broken);
  container.bind(ConnectorRegistry).to(DefaultConnectorRegistry);
  container.bind(TenantProfiles).to(FileTenantProfiles);
  container.bind(LifecyclePlanner).to(DefaultLifecyclePlanner);
  container.bind(DocsGenerator).to(MarkdownDocsGenerator);

  const openRuntime = async (runtime: RuntimeOptions): Promise<Runtime> => {
    const {
      ApiChannelExecutor, ApiRetryPolicy, ApprovalGate, BrowserChannelExecutor, BrowserHost, BrowserStepTimeout, ChannelExecutor, Clock, EmbeddedRunEngine,
      EngineOptions, EventOutbox, EvidenceDir, EvidenceFiles, HumanChannelExecutor, IdentifierStore, IdpChannelExecutor, LeaverFeed, LifecycleWorkflow, Outbox,
      ReconcileHistory, RunService, ScimChannelExecutor, StepLog, StoreDatabase, SystemClock, TaskStore, defaultRetryPolicy, openStore,
    } = await runtimeModules();
    const store = await openStore(runtime.databaseUrl ? { url: runtime.databaseUrl, dataDir: runtime.dataDir } : { dataDir: runtime.dataDir }, { migrations: runtime.migrations ?? (runtime.databaseUrl ? 'refuse' : 'apply') });
    const child = new Container({ parent: container, defaultScope: 'Singleton' });
    child.bind(StoreDatabase).toConstantValue(store);
    child.bind(Clock).toConstantValue(runtime.clock ?? new SystemClock());
    child.bind(EngineOptions).toConstantValue(runtime.engine ?? {});
    const evidenceDir = path.join(runtime.dataDir, 'evidence');
    child.bind(EvidenceDir).toConstantValue(evidenceDir);
    child.bind(ApiRetryPolicy).toConstantValue(runtime.retry ?? defaultRetryPolicy);
    child.bind(EmbeddedRunEngine).toSelf();
    child.bind(StepLog).toSelf();
    child.bind(IdentifierStore).toSelf();
    child.bind(Outbox).toSelf();
    child.bind(EvidenceFiles).toSelf();
    child.bind(TaskStore).toSelf();
    child.bind(ChannelExecutor).to(HumanChannelExecutor);
    child.bind(ChannelExecutor).to(ApiChannelExecutor);
    child.bind(ChannelExecutor).to(IdpChannelExecutor);
    child.bind(ChannelExecutor).to(ScimChannelExecutor);
    child.bind(BrowserHost).toConstantValue(new BrowserHost(runtime.browser));
    child.bind(BrowserStepTimeout).toConstantValue(runtime.browser?.stepTimeoutMs ?? 10_000);
    child.bind(ChannelExecutor).to(BrowserChannelExecutor);
    child.bind(ApprovalGate).toSelf();
    child.bind(LifecycleWorkflow).toSelf();
    child.bind(RunService).toSelf();
    child.bind(ReconcileHistory).toSelf();
    child.bind(LeaverFeed).toSelf();
    const engine = child.get(EmbeddedRunEngine);
    child.bind(EventOutbox).toSelf();
    const events = child.get(EventOutbox);
    engine.audit.onAppend((event) => events.record(event));
    engine.use(child.get(LifecycleWorkflow).run);
    const browser = child.get(BrowserHost);
    const close = async () => {
      await browser.close();
      await store.close();
    };
    const sqlite = store.sqlite;
    return {
      runs: child.get(RunService), engine, tasks: child.get(TaskStore), store,
      get db(): Database {
        if (!sqlite) throw new Error(`${store.location}: this code reads the embedded SQLite store only`);
        return sqlite;
      },
      reconciliations: child.get(ReconcileHistory), leavers: child.get(LeaverFeed), evidenceDir, close };
  };

  return {
    validator: container.get<SchemaValidator>(SchemaValidator),
    loader,
    registry: container.get<ConnectorRegistry>(ConnectorRegistry),
    profiles: container.get<TenantProfiles>(TenantProfiles),
    planner: container.get<LifecyclePlanner>(LifecyclePlanner),
    docs: container.get<DocsGenerator>(DocsGenerator),
    secrets: container.get<SecretResolver>(SecretResolver),
    openRuntime,
  };
}
