import { type Logger, silentLogger } from '../logging/logger.js';
import type { Sql } from '../store/sql.js';

/** What changed since the last push: the runs and tasks that some audit event names. */
export interface LiveChange {
  readonly runs: readonly string[];
  readonly tasks: readonly string[];
}

/** One open event stream: what it may see, and how to write to it. */
interface Listener {
  /** The part of a change this listener may know of (tasks of its queues); undefined: nothing. */
  readonly filter: (change: LiveChange) => Promise<LiveChange | undefined>;
  readonly write: (chunk: string) => void;
}

/**
 * Live updates for the pages (server-sent events). The audit journal is the one record of every
 * change (runs started, steps done, tasks opened, claimed, completed), so one timer reads the audit
 * events past the last one seen — once per interval for all listeners, and only while someone
 * listens — and pushes to each stream the run and task ids it may see. The pages then reload only
 * their changing parts: one request per change, never a polling loop per browser.
 */
export class LiveEvents {
  private readonly listeners = new Set<Listener>();
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private beat = 0;
  /** The read in progress: a slow read is not overtaken by the next tick. */
  private polling: Promise<void> | undefined;

  /** `intervalMs`: how often the journal is read while a stream is open (default 1 s); a comment line every 25 s keeps proxies from closing idle streams. */
  constructor(
    private readonly db: Sql,
    private readonly intervalMs = 1000,
    private readonly log: Logger = silentLogger,
  ) {}

  /**
   * Opens a stream: `write` gets `text/event-stream` chunks; `filter` says what of a change the
   * stream may know. Returns the function that closes it. The first stream starts the timer from the
   * journal's newest event (what happened before is on the page already).
   */
  async listen(filter: Listener['filter'], write: Listener['write']): Promise<() => void> {
    const listener = { filter, write };
    write('retry: 5000\n\n');
    if (!this.timer && this.listeners.size === 0) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      this.timer.unref();
      this.last = await this.maxSeq();
    }
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** One timer tick: a poll, unless the previous one is still reading; a failed read is tried again at the next tick. */
  private async tick(): Promise<void> {
    if (this.polling) return;
    this.polling = this.poll()
      .catch((error: unknown) => this.log.warn({ error: (error as Error).message }, 'patchbay serve: live updates: reading the journal failed; trying again at the next tick'))
      .finally(() => (this.polling = undefined));
    await this.polling;
  }

  /** Reads the journal past the last event seen and pushes what changed; called by the timer (and by tests). */
  async poll(): Promise<void> {
    const rows = await this.db.selectFrom('audit').select(['seq', 'run_id', 'task_id']).where('seq', '>', this.last).orderBy('seq').limit(1000).execute();
    const keepAlive = ++this.beat * this.intervalMs >= 25_000;
    if (keepAlive) this.beat = 0;
    if (!rows.length) {
      if (keepAlive) for (const l of this.listeners) l.write(': keep-alive\n\n');
      return;
    }
    this.last = rows.at(-1)!.seq;
    const runs = new Set<string>();
    const tasks = new Set<string>();
    for (const r of rows) {
      if (r.run_id) runs.add(r.run_id);
      if (r.task_id) tasks.add(r.task_id);
    }
    // A task's own events carry no run id: its runs changed too.
    if (tasks.size) for (const { run_id } of await this.db.selectFrom('task_items').select('run_id').where('task_id', 'in', [...tasks]).execute()) runs.add(run_id);
    const change: LiveChange = { runs: [...runs], tasks: [...tasks] };
    for (const l of [...this.listeners]) {
      const seen = await l.filter(change);
      if (seen && (seen.runs.length || seen.tasks.length)) l.write(`event: change\ndata: ${JSON.stringify(seen)}\n\n`);
    }
  }

  /** Stops the timer (the server's close, or the last stream gone). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async maxSeq(): Promise<number> {
    const row = await this.db.selectFrom('audit').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
    return Number(row?.seq ?? 0);
  }
}

/**
 * The pages' one script (served from /assets/live.js, same origin: the CSP allows no inline
 * script). It listens to /events and, when the run or the inbox shown changes, fetches the page
 * once and swaps in its live parts (elements with data-live), at most once every two seconds; a
 * part holding a form someone is filling in is left alone.
 */
export const liveScript = `'use strict';
(function () {
  var parts = document.querySelectorAll('[data-live]');
  if (!parts.length || !window.EventSource) return;
  var run = document.querySelector('[data-run]');
  var runId = run ? run.getAttribute('data-run') : null;
  var inbox = !!document.querySelector('[data-live=tasks]');
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.href, { credentials: 'same-origin', headers: { accept: 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live]').forEach(function (el) {
          if (el.contains(document.activeElement) && document.activeElement !== document.body) return;
          var fresh = doc.querySelector('[data-live="' + el.getAttribute('data-live') + '"]');
          if (fresh && fresh.innerHTML !== el.innerHTML) el.innerHTML = fresh.innerHTML;
        });
      })
      .catch(function () {})
      .then(function () { setTimeout(function () { busy = false; if (again) { again = false; refresh(); } }, 2000); });
  }
  var source = new EventSource('/events'), opened = false;
  // Streams are bounded and servers restart: what changed while reconnecting is fetched once on reopening.
  source.addEventListener('open', function () { if (opened) refresh(); opened = true; });
  source.addEventListener('change', function (e) {
    var change = JSON.parse(e.data);
    if ((runId && change.runs.indexOf(runId) >= 0) || (inbox && change.tasks.length) || (!runId && !inbox && change.runs.length)) refresh();
  });
})();
`;
