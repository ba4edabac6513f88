import { inject, injectable } from '#inversify';
import { Clock } from '../engine/clock.js';
import { RunService } from '../engine/run-service.js';
import { PatchbayError, brokenBecause } from '../errors.js';
import { type TaskContent, TaskStore } from '../channels/human/task-store.js';
import { queueFor } from '../planning/channels.js';
import { offboardByHandRunbook } from '../registry/by-hand.js';
import { idpSettings } from '../planning/service.js';
import type { LeaverEvent } from '../registry/connector-api.js';
import { ConnectorRegistry } from '../registry/registry.js';
import { StoreDatabase } from '../store/sql.js';
import type { LoadedProfile } from '../tenant/profile.js';
import { SecretResolver } from '../tenant/secrets.js';

/** How far back each read reaches past the newest event seen: the IdP's log can be late to show an event. */
export const feedOverlapMs = 60 * 60_000;

/** What one read of the feed did for one app (or, under the IdP's own id, for the people who left the IdP). */
export interface FeedRead {
  readonly app: string;
  /** The start of the window read (epoch ms). */
  readonly since: number;
  readonly events: number;
  /** The offboardings started; `app` says which app when one event starts several (a person who left the IdP). */
  readonly started: readonly { readonly email: string; readonly event: string; readonly run: string; readonly created: boolean; readonly app?: string }[];
  /** Why the app was not read (it failed), or an event not acted on. */
  readonly problems: readonly string[];
  /** Why the app is not read at all (it is not in the IdP). */
  readonly skipped?: string;
}

type Started = FeedRead['started'][number];

/**
 * The leaver feed, for every way a person leaves. An app taken away from a person in the identity
 * provider (Okta: application.user_membership.remove; Entra ID: "Remove app role assignment from
 * user"; Google Workspace: removal from the app's group) offboards them from that app. A person who
 * left the IdP itself (deactivated, suspended, deleted) is offboarded from every app the tenant has
 * installed. Each (event, app) starts one offboarding however often it is read: the run's
 * idempotency key is `<idp>:<event id>` for an app's event and `<idp>:<event id>:<app>` for a
 * person's. Each app, and the IdP itself for its people, keeps a cursor in the store; a first read
 * starts from now unless told `since`, so that switching the feed on does not offboard history by
 * surprise.
 */
@injectable()
export class LeaverFeed {
  constructor(
    @inject(StoreDatabase) private readonly store: StoreDatabase,
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
    @inject(RunService) private readonly runs: RunService,
    @inject(Clock) private readonly clock: Clock,
    @inject(TaskStore) private readonly tasks: TaskStore,
  ) {}

  /** Reads the people who left the IdP, then every installed app's leavers, each since its cursor (or `since`), and starts their offboardings. */
  async read(loaded: LoadedProfile, options: { since?: number } = {}): Promise<FeedRead[]> {
    const { profile } = loaded;
    const idp = profile.idp?.connector;
    const idpBroken = idp ? this.registry.brokenReason(idp) : undefined;
    if (idp && idpBroken !== undefined) throw new LeaverFeedError(`identity provider connector ${idp} is broken: ${brokenBecause(idpBroken)}`);
    const feed = idp ? this.registry.api(idp)?.leavers : undefined;
    if (!idp || !feed) throw new LeaverFeedError(idp ? `${this.registry.get(idp).manifest.name}'s connector has no leaver feed` : 'the tenant profile names no identity provider');
    const idpName = this.registry.get(idp).manifest.name;
    // An app whose connector is broken stays in the feed: its leavers are read, and each gets a person's task instead of a run.
    const broken = (app: string) => this.registry.brokenReason(app) !== undefined;
    const apps = Object.keys(profile.apps).filter((app) => app !== idp && (broken(app) || this.registry.get(app).manifest.kind !== 'idp'));
    const reads: FeedRead[] = [];

    // The people who left the IdP itself: one offboarding per app the tenant has.
    reads.push(
      await this.window(profile.tenant, idp, options.since, (since) => feed({ settings: idpSettings(profile), secrets: this.secrets, since }), async (event) => {
        const started: Started[] = [];
        const problems: string[] = [];
        for (const app of apps) {
          const result = await this.offboard(loaded, idp, idpName, app, event, `${idp}:${event.id}:${app}`, `left ${idpName} at ${event.at} (${event.type}, event ${event.id}): offboarded from every app`);
          if (typeof result === 'string') problems.push(result);
          else started.push({ ...result, app });
        }
        return { started, problems };
      }),
    );

    for (const app of apps) {
      const settings = profile.apps[app]!;
      if (!settings.idpAppId) {
        reads.push({ app, since: options.since ?? (await this.cursor(profile.tenant, app)) ?? this.clock.now(), events: 0, started: [], problems: [], skipped: `its id in ${idpName} is not in the tenant profile (apps.${app}.idpAppId)` });
        continue;
      }
      const appName = this.registry.forPeople(app).name;
      reads.push(
        await this.window(profile.tenant, app, options.since, (since) => feed({ settings: idpSettings(profile), secrets: this.secrets, target: { app, settings }, since }), async (event) => {
          // A person-wide event read through an app's window still offboards only that app here; the IdP's own window covers the rest.
          const result = await this.offboard(loaded, idp, idpName, app, event, event.scope === 'person' ? `${idp}:${event.id}:${app}` : `${idp}:${event.id}`, `unassigned from ${appName} in ${idpName} at ${event.at} (${event.type}, event ${event.id})`);
          return typeof result === 'string' ? { started: [], problems: [result] } : { started: [result], problems: [] };
        }),
      );
    }
    return reads;
  }

  /** Reads one window of the feed from its cursor, acts on each event, and moves the cursor on. */
  private async window(
    tenant: string,
    key: string,
    asked: number | undefined,
    read: (since: number) => Promise<readonly LeaverEvent[]>,
    act: (event: LeaverEvent) => Promise<{ started: Started[]; problems: string[] }>,
  ): Promise<FeedRead> {
    const now = this.clock.now();
    const cursor = await this.cursor(tenant, key);
    const since = asked ?? cursor ?? now;
    let events: readonly LeaverEvent[];
    try {
      events = await read(since);
    } catch (error) {
      return { app: key, since, events: 0, started: [], problems: [`not read: ${(error as Error).message}`] };
    }
    const started: Started[] = [];
    const problems: string[] = [];
    for (const event of events) {
      const done = await act(event);
      started.push(...done.started);
      problems.push(...done.problems);
    }
    const newest = Math.max(since, ...events.map((e) => Date.parse(e.at)).filter(Number.isFinite));
    await this.advance(tenant, key, Math.max(cursor ?? 0, Math.min(newest, now), now - feedOverlapMs), now);
    return { app: key, since, events: events.length, started, problems };
  }

  /** Starts (or finds) the offboarding of one person from one app; a string says why it could not. */
  private async offboard(loaded: LoadedProfile, idp: string, idpName: string, app: string, event: LeaverEvent, idempotencyKey: string, reason: string): Promise<Omit<Started, 'app'> | string> {
    const broken = this.registry.brokenReason(app);
    if (broken !== undefined) return this.refuse(loaded, app, brokenBecause(broken), event, idempotencyKey, reason);
    const request = { playbook: 'offboard', app, subject: { email: event.email }, idempotencyKey, reason };
    try {
      const [result] = await this.runs.start([{ source: `${idpName} event ${event.id}`, request }], loaded, { requestedBy: `${idp}-leaver-feed` });
      return { email: event.email, event: event.id, run: result!.run.id, created: result!.created };
    } catch (error) {
      return `event ${event.id} (${event.email}${app ? `, ${app}` : ''}): ${(error as Error).message}`;
    }
  }

  /**
   * A leaver in an app whose connector is broken: no run can be planned, so the refusal is recorded as
   * a run-less task for a person (the built-in offboard-by-hand checklist, in the app's queue, keyed by
   * what the run's idempotency key would have been) and said as a problem. A key read again (the
   * feed's overlap) opens nothing more, even after the task was closed.
   */
  private async refuse(loaded: LoadedProfile, app: string, because: string, event: LeaverEvent, key: string, why: string): Promise<string> {
    const { profile } = loaded;
    const openKey = `leaver|${profile.tenant}|${key}`;
    const said = `event ${event.id} (${event.email}, ${app}): not offboarded by Patchbay: connector ${app} is broken: ${because}`;
    const earlier = await this.store.db.selectFrom('tasks').select('id').where('open_key', '=', openKey).executeTakeFirst();
    if (earlier) return `${said}; task ${earlier.id} has it`;
    const content: TaskContent = {
      runbook: offboardByHandRunbook(app, because, event.email),
      appName: app,
      system: app,
      stepTitle: `Offboard ${event.email} from ${app}`,
      reason: `${event.email} ${why}; connector ${app} is broken (${because}), so no run could be planned for ${app}`,
      watchOutFor: [{ text: `No run was opened for ${app}: Patchbay cannot plan it while its connector is broken.`, blocking: false }],
    };
    const { taskId } = await this.tasks.openStanding({ key: openKey, tenant: profile.tenant, app, queue: queueFor(undefined, profile.apps[app] ?? {}, profile), content, profile });
    return `${said}; task ${taskId} opened for a person`;
  }

  /** Where the next read of (tenant, app) starts, if the feed was read before (epoch ms). */
  async cursor(tenant: string, app: string): Promise<number | undefined> {
    const row = await this.store.db.selectFrom('feed_cursors').select('since').where('tenant', '=', tenant).where('app', '=', app).executeTakeFirst();
    return row === undefined ? undefined : Number(row.since);
  }

  /**
   * Moves the cursor of (tenant, app) to `since`, never back: with several servers or workers
   * reading the feed at once, a reader that started earlier and finishes later does not undo a
   * later one's progress (the update is conditional, in one statement). Returns whether it moved.
   */
  async advance(tenant: string, app: string, since: number, readAt: number): Promise<boolean> {
    const result = await this.store.db
      .insertInto('feed_cursors')
      .values({ tenant, app, since, read_at: readAt })
      .onConflict((oc) =>
        oc
          .columns(['tenant', 'app'])
          .doUpdateSet((eb) => ({ since: eb.ref('excluded.since'), read_at: eb.ref('excluded.read_at') }))
          .where((eb) => eb('excluded.since', '>=', eb.ref('feed_cursors.since'))),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }
}

/** The feed cannot be read at all: no identity provider, or one without a feed. */
export class LeaverFeedError extends PatchbayError {
  readonly code = 'leaver-feed';
  override readonly exitCode = 2;
}
