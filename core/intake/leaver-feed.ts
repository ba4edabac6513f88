import { inject, injectable } from 'inversify';
import { Clock } from '../engine/clock.js';
import { RunService } from '../engine/run-service.js';
import { PatchbayError } from '../errors.js';
import { idpSettings } from '../planning/service.js';
import { ConnectorRegistry } from '../registry/registry.js';
import { type Database, StatementCache, StoreDatabase } from '../store/database.js';
import type { LoadedProfile } from '../tenant/profile.js';
import { SecretResolver } from '../tenant/secrets.js';

/** How far back each read reaches past the newest event seen: the IdP's log can be late to show an event. */
export const feedOverlapMs = 60 * 60_000;

/** What one read of the feed did for one app. */
export interface FeedRead {
  readonly app: string;
  /** The start of the window read (epoch ms). */
  readonly since: number;
  readonly events: number;
  readonly started: readonly { readonly email: string; readonly event: string; readonly run: string; readonly created: boolean }[];
  /** Why the app was not read (it failed), or an event not acted on. */
  readonly problems: readonly string[];
  /** Why the app is not read at all (it is not in the IdP). */
  readonly skipped?: string;
}

/**
 * The leaver feed: people the identity provider took an app away from (Okta: the System Log's
 * application.user_membership.remove) become offboardings of that app, one per event however often
 * it is read (the event id is the run's idempotency key). Each app keeps a cursor in the store; a
 * first read starts from now unless told `since`, so that switching the feed on does not offboard
 * history by surprise.
 */
@injectable()
export class LeaverFeed {
  private readonly statements: StatementCache;

  constructor(
    @inject(StoreDatabase) database: Database,
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
    @inject(RunService) private readonly runs: RunService,
    @inject(Clock) private readonly clock: Clock,
  ) {
    this.statements = new StatementCache(database);
  }

  /** Reads every installed app's leavers since its cursor (or `since`) and starts their offboardings. */
  async read(loaded: LoadedProfile, options: { since?: number } = {}): Promise<FeedRead[]> {
    const { profile } = loaded;
    const idp = profile.idp?.connector;
    const feed = idp ? this.registry.api(idp)?.leavers : undefined;
    if (!idp || !feed) throw new LeaverFeedError(idp ? `${this.registry.get(idp).manifest.name}'s connector has no leaver feed` : 'the tenant profile names no identity provider');
    const idpName = this.registry.get(idp).manifest.name;
    const reads: FeedRead[] = [];
    for (const [app, settings] of Object.entries(profile.apps)) {
      if (app === idp || this.registry.get(app).manifest.kind === 'idp') continue;
      const now = this.clock.now();
      const cursor = this.cursor(profile.tenant, app);
      const since = options.since ?? cursor ?? now;
      if (!settings.idpAppId) {
        reads.push({ app, since, events: 0, started: [], problems: [], skipped: `its id in ${idpName} is not in the tenant profile (apps.${app}.idpAppId)` });
        continue;
      }
      let events;
      try {
        events = await feed({ settings: idpSettings(profile), secrets: this.secrets, target: { app, settings }, since });
      } catch (error) {
        reads.push({ app, since, events: 0, started: [], problems: [`not read: ${(error as Error).message}`] });
        continue;
      }
      const appName = this.registry.get(app).manifest.name;
      const started: FeedRead['started'][number][] = [];
      const problems: string[] = [];
      for (const event of events) {
        const request = {
          playbook: 'offboard',
          app,
          subject: { email: event.email },
          idempotencyKey: `${idp}:${event.id}`,
          reason: `unassigned from ${appName} in ${idpName} at ${event.at} (${event.type}, event ${event.id})`,
        };
        try {
          const [result] = await this.runs.start([{ source: `${idpName} event ${event.id}`, request }], loaded, { requestedBy: `${idp}-leaver-feed` });
          started.push({ email: event.email, event: event.id, run: result!.run.id, created: result!.created });
        } catch (error) {
          problems.push(`event ${event.id} (${event.email}): ${(error as Error).message}`);
        }
      }
      const newest = Math.max(since, ...events.map((e) => Date.parse(e.at)).filter(Number.isFinite));
      this.advance(profile.tenant, app, Math.max(cursor ?? 0, Math.min(newest, now), now - feedOverlapMs), now);
      reads.push({ app, since, events: events.length, started, problems });
    }
    return reads;
  }

  private cursor(tenant: string, app: string): number | undefined {
    const row = this.statements.get('SELECT since FROM feed_cursors WHERE tenant = ? AND app = ?').get(tenant, app) as { since: number } | undefined;
    return row?.since;
  }

  private advance(tenant: string, app: string, since: number, readAt: number): void {
    this.statements
      .get('INSERT INTO feed_cursors (tenant, app, since, read_at) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, app) DO UPDATE SET since = excluded.since, read_at = excluded.read_at')
      .run(tenant, app, since, readAt);
  }
}

/** The feed cannot be read at all: no identity provider, or one without a feed. */
export class LeaverFeedError extends PatchbayError {
  readonly code = 'leaver-feed';
  override readonly exitCode = 2;
}
