import { createHmac } from 'node:crypto';
import { inject, injectable } from '#inversify';
import { SecretResolver } from '../tenant/secrets.js';
import { Clock } from './clock.js';
import { sql } from 'kysely';
import { type Params, preparedQuery } from '../store/prepared.js';
import { StoreDatabase } from '../store/sql.js';

/** The deliveries due at `now` (ms), compiled once (core/store/prepared.ts): the loop asks after every change. */
const dueQuery = preparedQuery((db, p: Params<{ now: number }>) =>
  db.selectFrom('outbox').select(['id', 'payload', 'attempts', 'next_attempt_at']).where('delivered_at', 'is', null).where('next_attempt_at', '<=', p('now')).orderBy('id').limit(sql.lit(100)),
);

/**
 * Outgoing notifications, written in the same transaction as the change they tell of and delivered
 * afterwards: a POST to the tenant's webhook (CloudEvents in structured JSON), signed with HMAC-SHA256
 * when the profile gives a secret, retried with backoff until it is accepted.
 *
 * Signature: `x-patchbay-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`; a receiver
 * recomputes it and refuses an old `t` (a replay).
 */
@injectable()
export class Outbox {
  private readonly timeoutMs = 5000;

  constructor(
    @inject(StoreDatabase) private readonly store: StoreDatabase,
    @inject(Clock) private readonly clock: Clock,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
  ) {}

  /**
   * When the next undelivered notification is due (ms since the epoch), or null when none waits: one entry of
   * the `outbox_due (delivered_at, next_attempt_at)` index, for a loop that sleeps until there is work.
   */
  async nextAttemptAt(): Promise<number | null> {
    const row = await this.store.db
      .selectFrom('outbox')
      .select('next_attempt_at')
      .where('delivered_at', 'is', null)
      .orderBy('next_attempt_at')
      .limit(1)
      .executeTakeFirst();
    return row ? Number(row.next_attempt_at) : null;
  }

  async deliver(): Promise<{ delivered: number; failed: number }> {
    const due = await dueQuery.execute(this.store, { now: this.clock.now() });
    let delivered = 0;
    let failed = 0;
    for (const row of due) {
      // Claimed before it is sent: of several workers on one database, one posts it (the claim holds it back
      // for twice the request timeout, after which a worker that died while sending is replaced).
      const claimed = await this.store.db
        .updateTable('outbox')
        .set({ next_attempt_at: this.clock.now() + 2 * this.timeoutMs })
        .where('id', '=', row.id)
        .where('delivered_at', 'is', null)
        .where('next_attempt_at', '=', row.next_attempt_at)
        .executeTakeFirst();
      if (!Number(claimed.numUpdatedRows)) continue;
      const { url, body, secret } = JSON.parse(row.payload) as { url: string; body: { specversion?: string }; secret?: string };
      let error: string | undefined;
      try {
        const text = JSON.stringify(body);
        const headers: Record<string, string> = {
          'content-type': body.specversion ? 'application/cloudevents+json; charset=utf-8' : 'application/json',
          'user-agent': 'patchbay',
        };
        if (secret) {
          const t = Math.floor(this.clock.now() / 1000);
          headers['x-patchbay-signature'] = `t=${t},v1=${createHmac('sha256', this.secrets.resolve(secret)).update(`${t}.${text}`).digest('hex')}`;
        }
        const response = await fetch(url, {
          method: 'POST',
          headers,
          body: text,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        await response.body?.cancel();
        if (!response.ok) error = `HTTP ${response.status}`;
      } catch (cause) {
        error = (cause as Error).message;
      }
      const now = this.clock.now();
      if (error === undefined) {
        await this.store.db.updateTable('outbox').set((eb) => ({ delivered_at: now, attempts: eb('attempts', '+', 1), last_error: null })).where('id', '=', row.id).execute();
        delivered++;
      } else {
        const backoff = Math.min(3_600_000, 30_000 * 2 ** row.attempts);
        await this.store.db.updateTable('outbox').set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: now + backoff, last_error: error })).where('id', '=', row.id).execute();
        failed++;
      }
    }
    return { delivered, failed };
  }

  async pending(): Promise<number> {
    const row = await this.store.db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('delivered_at', 'is', null).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
