import { inject, injectable } from '#inversify';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
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

/**
 * Turns run and task changes into CloudEvents in the outbox, in the transaction that made the
 * change (so an event is sent if and only if the change committed). The tenant's webhook and its
 * signing secret reference come from the run's profile.
 */
@injectable()
export class EventOutbox {
  private readonly profiles = new Map<string, TenantProfile | null>();

  constructor(@inject(StoreDatabase) private readonly store: StoreDatabase) {}

  async record(event: AuditRecord): Promise<void> {
    if (!publishedEvents.has(event.type)) return;
    const runId = event.runId ?? (await this.runOfTask(event.taskId));
    const profile = runId ? await this.profileOf(runId) : undefined;
    const webhook = profile?.notifications?.webhook;
    if (!profile || !webhook) return;
    const body: CloudEvent = {
      specversion: '1.0',
      id: `${profile.tenant}-${event.seq}`,
      source: `patchbay/${profile.tenant}`,
      type: `dev.patchbay.${event.type}`,
      ...(event.runId || event.taskId ? { subject: event.runId ?? event.taskId! } : {}),
      time: new Date(event.at).toISOString(),
      datacontenttype: 'application/json',
      data: { ...(event.runId ? { run: event.runId } : {}), ...(event.taskId ? { task: event.taskId } : {}), actor: event.actor, ...event.data },
    };
    await this.store.db
      .insertInto('outbox')
      .values({ kind: 'cloudevent', payload: JSON.stringify({ url: webhook.url, ...(webhook.secret ? { secret: webhook.secret } : {}), body }), created_at: event.at, next_attempt_at: event.at })
      .execute();
  }

  private async runOfTask(taskId: string | undefined): Promise<string | undefined> {
    if (!taskId) return undefined;
    return (await this.store.db.selectFrom('task_items').select('run_id').where('task_id', '=', taskId).limit(1).executeTakeFirst())?.run_id;
  }

  private async profileOf(runId: string): Promise<TenantProfile | undefined> {
    if (!this.profiles.has(runId)) {
      const row = await this.store.db.selectFrom('runs').select('profile').where('id', '=', runId).executeTakeFirst();
      if (this.profiles.size > 10_000) this.profiles.clear();
      this.profiles.set(runId, row ? (JSON.parse(row.profile) as TenantProfile) : null);
    }
    return this.profiles.get(runId) ?? undefined;
  }
}
