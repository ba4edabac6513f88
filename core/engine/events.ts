import { inject, injectable } from '#inversify';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import { sql } from 'kysely';
import { type Params, preparedQuery } from '../store/prepared.js';
import { StoreDatabase } from '../store/sql.js';
import type { AuditRecord } from './audit.js';

/** The changes told to a tenant's webhook, as CloudEvents of type dev.patchbay.<event>. */
export const publishedEvents = new Set([
  'run.started',
  'run.completed',
  'run.failed',
  'run.cancelled',
  'run.awaiting-approval',
  'run.approved',
  'run.rejected',
  'task.opened',
  'task.completed',
  'task.failed',
  'task.reassigned',
  'task.escalated',
  'browser.drift',
  'browser.blocked',
]);

/** A CloudEvents 1.0 event in structured JSON mode. */
export interface CloudEvent {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject?: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: Record<string, unknown>;
}

/** What the outbox needs of a tenant's profile to tell its webhook: no more, so that no event parses a profile. */
interface Destination {
  readonly tenant: string;
  readonly webhook: NonNullable<TenantProfile['notifications']>['webhook'] | undefined;
}

/** The outbox's reads and its insert, compiled once (core/store/prepared.ts): every audited change of a run passes here. */
const queries = {
  insert: preparedQuery((db, p: Params<{ payload: string; at: number }>) =>
    db.insertInto('outbox').values({ kind: 'cloudevent', payload: p('payload'), created_at: p('at'), next_attempt_at: p('at') }),
  ),
  runOfTask: preparedQuery((db, p: Params<{ taskId: string }>) => db.selectFrom('task_items').select('run_id').where('task_id', '=', p('taskId')).limit(sql.lit(1))),
  profileOfRun: preparedQuery((db, p: Params<{ runId: string }>) => db.selectFrom('runs').select('profile').where('id', '=', p('runId'))),
};

/** At most this many entries in each cache (runs, profile texts): a bound on memory, not on correctness. */
const cacheLimit = 10_000;

/**
 * Turns run and task changes into CloudEvents in the outbox, in the transaction that made the
 * change (so an event is sent if and only if the change committed). The tenant's webhook and its
 * signing secret reference come from the run's profile, parsed once per distinct profile text (every
 * run of a tenant carries the same text) and kept per run as the destination alone.
 */
@injectable()
export class EventOutbox {
  private readonly byRun = new Map<string, Destination | null>();
  private readonly byProfileText = new Map<string, Destination>();

  constructor(@inject(StoreDatabase) private readonly store: StoreDatabase) {}

  async record(event: AuditRecord): Promise<void> {
    if (!publishedEvents.has(event.type)) return;
    const runId = event.runId ?? (await this.runOfTask(event.taskId));
    const destination = runId ? await this.destinationOf(runId) : undefined;
    const webhook = destination?.webhook;
    if (!destination || !webhook) return;
    const body: CloudEvent = {
      specversion: '1.0',
      id: `${destination.tenant}-${event.seq}`,
      source: `patchbay/${destination.tenant}`,
      type: `dev.patchbay.${event.type}`,
      ...(event.runId || event.taskId ? { subject: event.runId ?? event.taskId! } : {}),
      time: new Date(event.at).toISOString(),
      datacontenttype: 'application/json',
      data: { ...(event.runId ? { run: event.runId } : {}), ...(event.taskId ? { task: event.taskId } : {}), actor: event.actor, ...event.data },
    };
    await queries.insert.run(this.store, { payload: JSON.stringify({ url: webhook.url, ...(webhook.secret ? { secret: webhook.secret } : {}), body }), at: event.at });
  }

  private async runOfTask(taskId: string | undefined): Promise<string | undefined> {
    if (!taskId) return undefined;
    return (await queries.runOfTask.executeTakeFirst(this.store, { taskId }))?.run_id;
  }

  private async destinationOf(runId: string): Promise<Destination | undefined> {
    if (!this.byRun.has(runId)) {
      const row = await queries.profileOfRun.executeTakeFirst(this.store, { runId });
      if (this.byRun.size >= cacheLimit) this.byRun.clear();
      this.byRun.set(runId, row ? this.destinationIn(row.profile) : null);
    }
    return this.byRun.get(runId) ?? undefined;
  }

  private destinationIn(profileText: string): Destination {
    let destination = this.byProfileText.get(profileText);
    if (!destination) {
      const profile = JSON.parse(profileText) as TenantProfile;
      destination = { tenant: profile.tenant, webhook: profile.notifications?.webhook };
      if (this.byProfileText.size >= cacheLimit) this.byProfileText.clear();
      this.byProfileText.set(profileText, destination);
    }
    return destination;
  }
}
