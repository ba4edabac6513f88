import { SavepointRollbackError, type StoreDatabase } from './sql.js';

/** How a group commit batches; see GroupCommit. */
export interface GroupCommitOptions {
  /** false: each request commits alone (the behaviour before group commit, for comparison). Default true. */
  readonly enabled?: boolean;
  /** At most this many requests share one transaction (default 64). */
  readonly maxGroup?: number;
}

/** What one request of a group came to: its value, or its error. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

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
 * Isolation between requests of one group: a request that throws is rejected with its own error and
 * its work rolled back; the others of its group still commit. The group first runs with no savepoint;
 * when a request throws, it is rolled back whole and runs again with each request inside its own
 * SAVEPOINT (see commitGroup). Requests of one group run one after another (one connection, one
 * transaction). A request must keep its effects in the store or hand them to `afterCommit`: it may be
 * run twice, the first run rolled back.
 *
 * A request made inside an open transaction joins it (no grouping): it commits with its caller.
 */
export class GroupCommit {
  private readonly enabled: boolean;
  private readonly maxGroup: number;
  private queue: Pending[] = [];
  private running = false;
  /** Groups committed, requests served, and groups run again because a request failed, since this object was made (for benchmarks and tests). */
  readonly stats = { groups: 0, requests: 0, replayed: 0 };

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

  /**
   * One group: the requests queued at the moment the write transaction begins (who waited for the store
   * joins). They run one after another with no savepoint, and are answered after the commit. When one of
   * them throws, the group's work is rolled back and the group runs again, each request in a savepoint,
   * so that only the requests that fail are refused (replayGroup). A savepoint costs two statements a
   * request, two of the 5.3 round trips of a run start on PostgreSQL (docs/benchmarks.md, session 9):
   * the common case, no request failing, pays none.
   */
  private async commitGroup(): Promise<void> {
    let group: Pending[] = [];
    let requestFailed = false;
    let values: unknown[];
    try {
      values = await this.store.transaction(async () => {
        group = this.queue.splice(0, this.maxGroup);
        const done: unknown[] = [];
        for (const request of group) {
          try {
            done.push(await request.fn());
          } catch (error) {
            requestFailed = true;
            throw error;
          }
        }
        return done;
      });
    } catch (error) {
      // A request threw (then nothing of the group is kept, and the group runs again), or the transaction could
      // not begin (the requests waiting are refused, not retried for ever), or the commit failed: nothing was answered yet.
      if (group.length === 0) group = this.queue.splice(0, this.maxGroup);
      if (requestFailed && group.length > 1) return this.replayGroup(group);
      for (const request of group) request.reject(error);
      return;
    }
    this.answer(group, values.map((value) => ({ ok: true, value })));
  }

  /**
   * A group one of whose requests threw, again in a transaction of its own: each request in a SAVEPOINT,
   * rolled back alone when it throws and rejected with its own error; the others commit. A request's
   * first run left nothing behind (its transaction was rolled back, what it asked to run after the commit
   * dropped), so running it again is running it once.
   */
  private async replayGroup(group: Pending[]): Promise<void> {
    const outcomes: Outcome[] = [];
    try {
      await this.store.transaction(async () => {
        for (const request of group) {
          try {
            outcomes.push({ ok: true, value: await this.store.savepoint(request.fn) });
          } catch (error) {
            if (error instanceof SavepointRollbackError) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // The commit or a rollback to a savepoint failed: nothing of the group was kept, and no request was answered yet.
      for (const request of group) request.reject(error);
      return;
    }
    this.stats.replayed++;
    this.answer(group, outcomes);
  }

  /** Answers a committed group's requests, each with its outcome (in the group's order), and counts them. */
  private answer(group: Pending[], outcomes: Outcome[]): void {
    this.stats.groups++;
    this.stats.requests += group.length;
    group.forEach((request, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) request.resolve(outcome.value);
      else request.reject(outcome.error);
    });
  }
}
