import 'reflect-metadata';
import path from 'node:path';
import { Container, type ContainerModule } from '#inversify';
import { connectorModules } from '../connectors/modules.js';
import type { BrowserHost, BrowserHostOptions } from './channels/browser/browser-host.js';
import type { TaskStore } from './channels/human/task-store.js';
import { DocsGenerator, MarkdownDocsGenerator } from './docs/generator.js';
import { InvalidInputError } from './errors.js';
import type { Clock } from './engine/clock.js';
import type { EmbeddedRunEngine, EmbeddedEngineOptions } from './engine/embedded-engine.js';
import type { StoreRunEngine } from './engine/port.js';
import type { RetryPolicy } from './engine/retry.js';
import type { RunService } from './engine/run-service.js';
import { FileManifestLoader, ManifestLoader } from './manifest/loader.js';
import { Logger, silentLogger } from './logging/logger.js';
import type { ReconcileHistory } from './reconcile/history.js';
import type { LeaverFeed } from './intake/leaver-feed.js';
import { connectorFolders, packageVersion } from './paths.js';
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
    { StoreDatabase, openStore }, { IdentifierStore }, { StoreRunEngine }, { AuditLog }, { logEngineEvent },
  ] = await Promise.all([
    import('./channels/api/executor.js'), import('./channels/browser/browser-host.js'), import('./channels/browser/executor.js'), import('./channels/executor.js'),
    import('./channels/human/executor.js'), import('./channels/evidence-files.js'), import('./channels/human/task-store.js'), import('./channels/idp/executor.js'),
    import('./channels/scim/executor.js'), import('./engine/clock.js'), import('./engine/embedded-engine.js'), import('./engine/approval.js'),
    import('./engine/lifecycle.js'), import('./engine/events.js'), import('./engine/outbox.js'), import('./engine/retry.js'), import('./engine/run-service.js'),
    import('./engine/step-log.js'), import('./reconcile/history.js'), import('./intake/leaver-feed.js'), import('./store/sql.js'),
    import('./store/identifiers.js'), import('./engine/port.js'), import('./engine/audit.js'), import('./logging/engine-events.js'),
  ]);
  return {
    ApiChannelExecutor, ApiRetryPolicy, ApprovalGate, BrowserChannelExecutor, BrowserHost, BrowserStepTimeout, ChannelExecutor, Clock, EmbeddedRunEngine, EngineOptions,
    EventOutbox, EvidenceDir, EvidenceFiles, HumanChannelExecutor, IdentifierStore, IdpChannelExecutor, LeaverFeed, LifecycleWorkflow, Outbox, ReconcileHistory,
    RunService, ScimChannelExecutor, StepLog, StoreDatabase, StoreRunEngine, SystemClock, TaskStore, AuditLog, defaultRetryPolicy, logEngineEvent, openStore,
  };
}

/** The DBOS queues Patchbay's processes share: runs, the maintenance job, the leaver feed. */
const dbosQueues = { runs: 'patchbay-runs', maintenance: 'patchbay-maintenance', leavers: 'patchbay-leavers' } as const;

/** The run engines a runtime can be opened on. */
export const runEngines = ['embedded', 'dbos'] as const;
export type RunEngineKind = (typeof runEngines)[number];

/** What a process does on the DBOS engine beyond starting and reading runs. */
export interface DbosRole {
  /** Executes runs (dequeues them) and the scheduled jobs: a worker. Default false: the process only starts, signals and reads runs. */
  readonly execute?: boolean;
  /**
   * Runs a worker holds at once (DBOS's workerConcurrency on the runs queue; default 100). A run
   * waiting for a person, a signal or a timer holds its place (DBOS counts a pending workflow as
   * running), so this bounds a worker's open runs, not its browser jobs (its browser host's
   * contexts, --concurrency, do). One setting for every worker: DBOS keeps it in the queue's row.
   */
  readonly concurrency?: number;
  /** How often the maintenance job runs (task escalation, the outbox, taking over a dead worker's runs), in seconds (default 5). */
  readonly maintenanceEverySeconds?: number;
  /** Also runs the ticks of the leaver feed (the worker was given --watch-idp). */
  readonly leavers?: boolean;
  /** How long closing waits for the runs executing here to finish before leaving them to another worker (ms, default 10 000). */
  readonly shutdownWaitMs?: number;
}

export interface ContainerOptions {
  /** Where connector folders are read from: one catalogue folder or several (default: the package's connectors/ and every folder PATCHBAY_CONNECTORS adds). */
  readonly connectorsDir?: string | readonly string[];
  /** The connectors with code (default: connectors/modules.ts). */
  readonly modules?: readonly ContainerModule[];
  /** Where secret references are resolved (default: the process environment and files). */
  readonly secrets?: SecretResolver;
  /** The process's structured log (`serve` and `worker`: core/logging/pino-logger.ts); default: nothing is logged. */
  readonly logger?: Logger;
}

export interface RuntimeOptions {
  /** The data folder holding the SQLite journal (unless `databaseUrl`) and evidence files. */
  readonly dataDir: string;
  /** A PostgreSQL address (`--database`, PATCHBAY_DATABASE_URL): the store lives there instead of the data folder's SQLite file. */
  readonly databaseUrl?: string;
  /** PostgreSQL: `refuse` (the default) a database whose schema is older than this Patchbay's, asking for `patchbay migrate`; `apply` migrates it. The embedded store always migrates. */
  readonly migrations?: 'apply' | 'refuse';
  readonly clock?: Clock;
  /**
   * The run engine: `embedded` (the default: the journal in the store, on SQLite or PostgreSQL) or
   * `dbos` (DBOS Transact; needs `databaseUrl`, whose database also holds DBOS's `dbos` schema).
   */
  readonly runEngine?: RunEngineKind;
  /** The DBOS engine: what this process does (see DbosRole). */
  readonly dbos?: DbosRole;
  readonly engine?: EmbeddedEngineOptions;
  readonly retry?: RetryPolicy;
  /** The browser channel: where Chromium is, and how long a recipe step may wait for the page (default 10 s). */
  readonly browser?: BrowserHostOptions & { readonly stepTimeoutMs?: number };
}

/** The stateful half: the store, the engine and the task inbox, on one data folder. Close it when done. */
export interface Runtime<E extends StoreRunEngine = StoreRunEngine> {
  readonly runs: RunService;
  readonly engine: E;
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
  /**
   * Runs `run` every `everySeconds`, once across every worker on the database: on the DBOS engine a
   * scheduled workflow on the job's own queue (one tick at a time, run by a worker opened with the
   * job in its DbosRole). Returns false on the embedded engine, whose caller runs it in its own loop.
   */
  schedule(job: 'leavers', everySeconds: number, run: () => Promise<unknown>): Promise<boolean>;
  /** The process's browser (launched on first use): the worker bounds its contexts (--concurrency). */
  readonly browser: BrowserHost;
  /** Stops DBOS (if it runs here: runs executing here get up to shutdownWaitMs to finish), then closes the worker's browser (if one was launched) and the store. */
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
  /** The process's structured log; the runtime logs the engine's events (run started, step done…) to it once they commit. */
  readonly logger: Logger;
  /**
   * Opens the store (the data folder's SQLite file, created and migrated as needed, or PostgreSQL)
   * with the engine on it.
   * @throws StoreError when the database cannot be opened or its schema does not fit.
   */
  openRuntime(options: RuntimeOptions & { runEngine?: 'embedded' }): Promise<Runtime<EmbeddedRunEngine>>;
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
  container.bind(Logger).toConstantValue(options.logger ?? silentLogger);
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

  const openRuntime = async (runtime: RuntimeOptions): Promise<Runtime<any>> => {
    const {
      ApiChannelExecutor, ApiRetryPolicy, ApprovalGate, AuditLog, BrowserChannelExecutor, BrowserHost, BrowserStepTimeout, ChannelExecutor, Clock, EmbeddedRunEngine,
      EngineOptions, EventOutbox, EvidenceDir, EvidenceFiles, HumanChannelExecutor, IdentifierStore, IdpChannelExecutor, LeaverFeed, LifecycleWorkflow, Outbox,
      ReconcileHistory, RunService, ScimChannelExecutor, StepLog, StoreDatabase, StoreRunEngine, SystemClock, TaskStore, defaultRetryPolicy, logEngineEvent, openStore,
    } = await runtimeModules();
    const onDbos = runtime.runEngine === 'dbos';
    if (onDbos && !runtime.databaseUrl) throw new InvalidInputError({ file: 'command line', pointer: '/engine' }, 'the dbos engine runs on PostgreSQL: give --database postgres://… (or PATCHBAY_DATABASE_URL)');
    const store = await openStore(runtime.databaseUrl ? { url: runtime.databaseUrl, dataDir: runtime.dataDir } : { dataDir: runtime.dataDir }, { migrations: runtime.migrations ?? (runtime.databaseUrl ? 'refuse' : 'apply') });
    const child = new Container({ parent: container, defaultScope: 'Singleton' });
    const clock = runtime.clock ?? new SystemClock();
    child.bind(StoreDatabase).toConstantValue(store);
    child.bind(Clock).toConstantValue(clock);
    child.bind(EngineOptions).toConstantValue(runtime.engine ?? {});
    const role = runtime.dbos ?? {};
    const dbos = onDbos ? await import('./engine/dbos-engine.js') : undefined;
    if (dbos) {
      // Once per process (DBOS is a process-wide singleton): a second runtime in the process shares it.
      try {
        await dbos.launchDbos({
          systemDatabaseUrl: runtime.databaseUrl!,
          executorId: dbos.newExecutorId(),
          // Every process of one Patchbay version dequeues the others' runs and recovers them; another version does not.
          applicationVersion: `patchbay-${packageVersion()}`,
          queues: [{ name: dbosQueues.runs, workerConcurrency: role.concurrency ?? 100 }, { name: dbosQueues.maintenance, globalConcurrency: 1 }, { name: dbosQueues.leavers, globalConcurrency: 1 }],
          listen: role.execute ? [dbosQueues.runs, dbosQueues.maintenance, ...(role.leavers ? [dbosQueues.leavers] : [])] : [],
          advertise: role.execute === true,
        });
      } catch (error) {
        await store.close();
        throw error;
      }
      child.bind(StoreRunEngine).toConstantValue(new dbos.DbosRunEngine(store, { clock, queue: dbosQueues.runs, audit: new AuditLog(store) }));
    } else {
      child.bind(EmbeddedRunEngine).toSelf();
      child.bind(StoreRunEngine).toService(EmbeddedRunEngine);
    }
    const evidenceDir = path.join(runtime.dataDir, 'evidence');
    child.bind(EvidenceDir).toConstantValue(evidenceDir);
    child.bind(ApiRetryPolicy).toConstantValue(runtime.retry ?? defaultRetryPolicy);
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
    const engine = child.get<StoreRunEngine>(StoreRunEngine);
    child.bind(EventOutbox).toSelf();
    const events = child.get(EventOutbox);
    engine.audit.onAppend((event) => events.record(event));
    // The same events in the process's log, once their transaction has committed (a rolled-back step is not said to be done).
    const log = child.get<Logger>(Logger);
    engine.audit.onAppend((event) => store.afterCommit(() => logEngineEvent(log, event)));
    engine.use(child.get(LifecycleWorkflow).run);
    const browser = child.get(BrowserHost);
    const dbosEngine = dbos && engine instanceof dbos.DbosRunEngine ? engine : undefined;
    if (dbosEngine && role.execute) {
      const tasks = child.get(TaskStore);
      const outbox = child.get(Outbox);
      // Once per tick across every worker, one tick at a time (the queue's global concurrency is 1).
      await dbosEngine.scheduleJobs([{
        name: 'maintenance', everySeconds: role.maintenanceEverySeconds ?? 5, queue: dbosQueues.maintenance,
        run: async () => ({ escalated: (await tasks.escalateOverdue()).length, ...(await outbox.deliver()), recovered: await dbosEngine.recoverOrphans() }),
      }]);
    }
    const schedule = async (job: 'leavers', everySeconds: number, run: () => Promise<unknown>): Promise<boolean> => {
      if (!dbosEngine) return false;
      await dbosEngine.scheduleJobs([{ name: job, everySeconds, queue: dbosQueues[job], run }]);
      return true;
    };
    const close = async () => {
      // DBOS first: the runs executing here stop (or finish) before the browser and the store they use go.
      if (dbos) await dbos.shutdownDbos({ waitMs: role.shutdownWaitMs ?? 10_000 });
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
      reconciliations: child.get(ReconcileHistory), leavers: child.get(LeaverFeed), evidenceDir, browser, schedule, close };
  };

  return {
    validator: container.get<SchemaValidator>(SchemaValidator),
    loader,
    registry: container.get<ConnectorRegistry>(ConnectorRegistry),
    profiles: container.get<TenantProfiles>(TenantProfiles),
    planner: container.get<LifecyclePlanner>(LifecyclePlanner),
    docs: container.get<DocsGenerator>(DocsGenerator),
    secrets: container.get<SecretResolver>(SecretResolver),
    logger: container.get<Logger>(Logger),
    openRuntime,
  };
}
