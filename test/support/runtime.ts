import { freshDatabase, onPostgres } from './postgres.js';
import { openStore } from '../../core/store/sql.js';
import path from 'node:path';
import type { ContainerModule } from '#inversify';
import { createServices, type Runtime, type RuntimeOptions, type Services } from '../../core/container.js';
import type { EmbeddedRunEngine } from '../../core/engine/embedded-engine.js';
import { ManualClock } from '../../core/engine/clock.js';
import type { RunRecord, StartResult } from '../../core/engine/port.js';
import type { TenantProfile } from '../../core/schema/types/tenant-profile.js';
import { defaultProfileFile, type LoadedProfile } from '../../core/tenant/profile.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { readJson, scratchDir } from './fixtures.js';

export interface Harness {
  readonly services: Services;
  /** On the embedded engine: tests reach its leases (one-driver.test.ts). */
  readonly runtime: Runtime<EmbeddedRunEngine>;
  readonly clock: ManualClock;
  readonly profile: LoadedProfile;
  readonly dataDir: string;
  /** The CLI's arguments that name this harness's store: --data-dir, or --database on the PostgreSQL pass. */
  readonly storeArgs: readonly string[];
  start(playbook: string, email: string | string[], options?: { idempotencyKey?: string; app?: string }): Promise<StartResult[]>;
  run(id: string): Promise<RunRecord>;
  /** The open tasks of one run, oldest first. */
  openTaskOf(runId: string): Promise<string | undefined>;
  /** Completes whatever the run waits on as a member of the task's queue; returns the task id. */
  completeNext(runId: string, options?: { alreadyDone?: boolean }): Promise<string>;
}

export const hour = 3_600_000;

/** The demo tenant, changed by `tweak`, on a fresh data folder, with a clock the test moves. */
const databases = new Map<string, string>();

/**
 * The store a data folder stands for in this test pass: the folder's SQLite file, or on the PostgreSQL
 * pass a fresh database made for it once (a second harness or a CLI on the same folder shares it).
 * Returns the CLI arguments that name it.
 */
export async function storeFor(dataDir: string): Promise<{ databaseUrl?: string; args: string[] }> {
  if (!onPostgres()) return { args: ['--data-dir', dataDir] };
  if (!databases.has(dataDir)) {
    const url = await freshDatabase();
    // Migrated here, as `patchbay migrate` would, so that a CLI command may be the first to use it.
    await (await openStore({ url }, { migrations: 'apply' })).close();
    databases.set(dataDir, url);
  }
  const databaseUrl = databases.get(dataDir)!;
  return { databaseUrl, args: ['--database', databaseUrl, '--data-dir', dataDir] };
}

export async function harness(options: {
  tweak?: (profile: TenantProfile & Record<string, any>) => void;
  env?: Record<string, string>;
  modules?: readonly ContainerModule[];
  connectorsDir?: string | readonly string[];
  profile?: TenantProfile;
  dataDir?: string;
  clock?: ManualClock;
  browser?: RuntimeOptions['browser'];
} = {}): Promise<Harness> {
  const clock = options.clock ?? new ManualClock();
  const dataDir = options.dataDir ?? scratchDir('patchbay-engine-');
  const services = createServices({
    ...(options.modules ? { modules: options.modules } : {}),
    ...(options.connectorsDir ? { connectorsDir: options.connectorsDir } : {}),
    secrets: new EnvironmentSecretResolver(options.env ?? {}),
  });
  const data = options.profile ?? readJson<TenantProfile & Record<string, any>>(defaultProfileFile);
  options.tweak?.(data as TenantProfile & Record<string, any>);
  const file = path.join(dataDir, 'tenant.json');
  const profile = { profile: services.profiles.check(data, file), file };
  const { databaseUrl } = await storeFor(dataDir);
  const runtime = await services.openRuntime({
    dataDir,
    ...(databaseUrl ? { databaseUrl, migrations: 'apply' as const } : {}),
    clock,
    engine: { pause: async (ms) => clock.advance(ms) },
    retry: { maxAttempts: 3, baseDelayMs: 1000, maxDelayMs: 10_000 },
    ...(options.browser ? { browser: options.browser } : {}),
  });
  after(() => runtime.close());
  const h: Harness = {
    services,
    runtime,
    clock,
    profile,
    dataDir,
    storeArgs: (await storeFor(dataDir)).args,
    start: (playbook, email, o = {}) =>
      runtime.runs.start(
        (Array.isArray(email) ? email : [email]).map((e) => ({ source: 'test', request: { playbook, app: o.app ?? 'spendesk', subject: { email: e } } })),
        profile,
        o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {},
      ),
    run: (id) => runtime.engine.get(id),
    openTaskOf: async (runId) => (await runtime.tasks.itemsOfRun(runId)).find((i) => i.status === 'open')?.taskId,
    async completeNext(runId, o = {}) {
      // A run a server answered for once recorded may not have been driven to its task yet: drive it first.
      let taskId = await h.openTaskOf(runId);
      if (!taskId && (await h.run(runId)).status === 'running') await runtime.runs.settle();
      taskId ??= await h.openTaskOf(runId);
      if (!taskId) throw new Error(`run ${runId} has no open task (${JSON.stringify((await h.run(runId)).waitingFor)})`);
      const task = await runtime.tasks.get(taskId);
      const by = profile.profile.queues?.find((q) => q.id === task.queue)?.members[0] ?? 'someone';
      await runtime.tasks.complete(taskId, { by, evidence: task.content.runbook.evidence.filter((e) => e.required).map((e) => ({ text: `seen: ${e.label}` })), ...(o.alreadyDone ? { alreadyDone: true } : {}) });
      await runtime.runs.settle();
      return taskId;
    },
  };
  return h;
}
