import { createHmac } from 'node:crypto';
import { inject, injectable } from 'inversify';
import { SecretResolver } from '../tenant/secrets.js';
import { Clock } from './clock.js';
import { type Database, SqliteConnection } from '../store/database.js';

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
    @inject(SqliteConnection) private readonly db: Database,
    @inject(Clock) private readonly clock: Clock,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
  ) {}

  async deliver(): Promise<{ delivered: number; failed: number }> {
    const due = this.db
      .prepare('SELECT id, payload, attempts FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT 100')
      .all(this.clock.now()) as { id: number; payload: string; attempts: number }[];
    let delivered = 0;
    let failed = 0;
    for (const row of due) {
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
        this.db.prepare('UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?').run(now, row.id);
        delivered++;
      } else {
        const backoff = Math.min(3_600_000, 30_000 * 2 ** row.attempts);
        this.db.prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?').run(now + backoff, error, row.id);
        failed++;
      }
    }
    return { delivered, failed };
  }

  pending(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL').get() as { n: number }).n;
  }
}
