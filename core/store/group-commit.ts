import { SavepointRollbackError, type StoreDatabase } from './sql.js';

/** How a group commit batches; see GroupCommit. */
export interface GroupCommitOptions {
  /** false: each request commits alone (the behaviour before group commit, for comparison). Default true. */
  readonly enabled?: boolean;
  /** At most this many requests share one transaction (default 64). */
  readonly maxGroup?: number;
}

interface Pending {
  readonly fn: () => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for concurrent single requests: the requests that arrive while the store is busy
 * (in the same turn of the event loop, while the previous group commits, or while the write
 * transaction waits for another writer) share one write transaction, so that one BEGIN/COMMIT (and
 * one fsync) serves all of them.
 *
 * Durability is not weakened: every request is answered (its promise settles) only after the commit
 * of its group has returned, and if that commit fails every request of the group is rejected with
 * the commit's error, none of them having been answered before.
 *
 * Isolation between requests of one group: each runs inside its own SAVEPOINT. A request that throws
 * is rolled back to its savepoint and rejected with its own error; the others of its group still
 * commit. Requests of one group run one after another (one connection, one transaction).
 *
 * A request made inside an open transaction joins it (no grouping): it commits with its caller.
 */
export class GroupCommit {
  private readonly enabled: boolean;
  private readonly maxGroup: number;
  private queue: Pending[] = [];
  private running = false;
  /** Groups committed and requests served, since this object was made (for benchmarks and tests). */
  readonly stats = { groups: 0, requests: 0 };

  constructor(private readonly store: StoreDatabase, options: GroupCommitOptions = {}) {
    this.enabled = options.enabled ?? true;
    this.maxGroup = Math.max(1, options.maxGroup ?? 64);
  }

  /**
   * Runs `fn` in a write transaction shared with the requests made at the same moment, and resolves
   * with what `fn` returned once that transaction has committed. Rejects with `fn`'s error (its work
   * rolled back, the group's other work kept), or with the commit's error (nothing of the group kept).
   */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.enabled || this.store.inTransaction) return this.store.transaction(fn);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        // setImmediate: the requests whose I/O arrived in this turn of the event loop join the first group.
        this.store.detached(() => setImmediate(() => void this.drain()));
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) await this.commitGroup();
    } finally {
      this.running = false;
    }
  }

  /** One group: the requests queued at the moment the write transaction begins (who waited for the store joins). */
  private async commitGroup(): Promise<void> {
    let group: Pending[] = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      await this.store.transaction(async () => {
        group = this.queue.splice(0, this.maxGroup);
        for (const request of group) {
          if (group.length === 1) {
            // Alone: its error rolls the whole transaction back, no savepoint needed.
            outcomes.push({ ok: true, value: await request.fn() });
            continue;
          }
          try {
            outcomes.push({ ok: true, value: await this.store.savepoint(request.fn) });
          } catch (error) {
            if (error instanceof SavepointRollbackError) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // The transaction could not begin (the requests waiting are refused, not retried for ever), or the commit, a lone
      // request or a rollback to a savepoint failed: nothing of the group was kept, and no request was answered yet.
      if (group.length === 0) group = this.queue.splice(0, this.maxGroup);
      for (const request of group) request.reject(error);
      return;
    }
    this.stats.groups++;
    this.stats.requests += group.length;
    group.forEach((request, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) request.resolve(outcome.value);
      else request.reject(outcome.error);
    });
  }
}
