import type { Completeness } from '../../reconcile/snapshot.js';

/** One SCIM ListResponse page (RFC 7644 §3.4.2), as far as the walk reads it. */
export interface ScimListPage<T> {
  readonly totalResults?: unknown;
  readonly startIndex?: unknown;
  readonly itemsPerPage?: unknown;
  readonly Resources?: readonly T[];
}

/** What a whole list read gave: every resource once (by `id`), whether the read is sure it saw all, and what it noticed. */
export interface ScimListing<T> {
  readonly resources: readonly T[];
  readonly completeness: Completeness;
  /** Things worth saying once that do not make the read uncertain (a 0-based server, duplicates removed, a re-read). */
  readonly notes: readonly string[];
  readonly requests: number;
  /** The last totalResults the server gave. */
  readonly totalResults?: number;
}

type Fetch<T> = (startIndex: number, count: number) => Promise<ScimListPage<T>>;

interface Pass<T> {
  readonly byId: Map<string, T>;
  readonly totals: number[];
  readonly ended: 'reached' | 'empty' | 'no-progress' | 'cap';
  readonly duplicates: number;
  readonly lastStart: number;
}

const number = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
};

/**
 * Reads a whole SCIM list with `startIndex` and `count` (RFC 7644 §3.4.2.4), by kind of fault:
 * resources seen on an earlier page are dropped by `id` (servers without a stable order repeat
 * some); a page that brings nothing new stops the walk (a server that ignores `startIndex` answers
 * the first page forever: case 11, 29,863 requests in 20 s before); a list that ends short of
 * `totalResults` is checked for a 0-based `startIndex` (asked for `startIndex=0`, a resource not yet
 * seen means the server counts from 0) and read again from 0; a list whose `totalResults` changed
 * while it was read is read once more, and reported incomplete if it changes again. Every loop is
 * bounded by progress: each page must bring a new resource.
 *
 * `keyOf` gives a resource's identity (its `id`); `where` names the list in messages.
 */
export async function readScimList<T>(fetchPage: Fetch<T>, options: { count: number; where: string; keyOf: (item: T) => string | undefined }): Promise<ScimListing<T>> {
  const { count, where, keyOf } = options;
  let requests = 0;
  let probed: { start: number; body: ScimListPage<T> } | undefined;
  const page: Fetch<T> = async (start, n) => {
    if (probed && probed.start === start) {
      const { body } = probed;
      probed = undefined;
      return body;
    }
    requests++;
    return fetchPage(start, n);
  };
  const notes: string[] = [];

  const walk = async (base: 0 | 1): Promise<Pass<T>> => {
    const byId = new Map<string, T>();
    const totals: number[] = [];
    let duplicates = 0;
    let start: number = base;
    for (let pages = 0; ; pages++) {
      const body = await page(start, count);
      const items = Array.isArray(body.Resources) ? body.Resources : [];
      const total = number(body.totalResults);
      if (total !== undefined && totals[totals.length - 1] !== total) totals.push(total);
      if (items.length === 0) return { byId, totals, ended: total !== undefined && byId.size >= total ? 'reached' : 'empty', duplicates, lastStart: start };
      let fresh = 0;
      items.forEach((item, i) => {
        const key = keyOf(item) ?? `${where}#${start + i}`;
        if (byId.has(key)) duplicates++;
        else {
          byId.set(key, item);
          fresh++;
        }
      });
      // The page that made no progress is the fault itself, not repeats to remove.
      if (fresh === 0) return { byId, totals, ended: 'no-progress', duplicates: duplicates - items.length, lastStart: start };
      if (total !== undefined && byId.size >= total) return { byId, totals, ended: 'reached', duplicates, lastStart: start };
      // Bounded twice over: by progress (each page brings a new resource), and by what the server said it holds.
      if (pages > (total ?? 1_000_000) + 2) return { byId, totals, ended: 'cap', duplicates, lastStart: start };
      start += items.length;
    }
  };

  let base: 0 | 1 = 1;
  let pass = await walk(1);
  const lastTotal = (p: Pass<T>) => p.totals[p.totals.length - 1];
  if (pass.ended === 'empty' && lastTotal(pass) !== undefined && pass.byId.size < lastTotal(pass)!) {
    // Short of totalResults at an empty page: a server counting from 0 skips its first resource.
    const probe = await page(0, count);
    const items = Array.isArray(probe.Resources) ? probe.Resources : [];
    if (items.some((item) => !pass.byId.has(keyOf(item) ?? ''))) {
      base = 0;
      probed = { start: 0, body: probe };
      notes.push(`the server's startIndex is 0-based (asked for startIndex=0 it answered a resource that startIndex=1 skipped): read again from 0`);
      pass = await walk(0);
    }
  }
  if (pass.totals.length > 1) {
    const first = pass.totals.join(' → ');
    const again = await walk(base);
    if (again.totals.length > 1 || (lastTotal(again) !== undefined && again.byId.size < lastTotal(again)!)) {
      return finish(again, [`totalResults changed while the list was read (${first}), and again when it was read a second time (${again.totals.join(' → ')}): the list is moving`]);
    }
    notes.push(`totalResults changed while the list was read (${first}): read it again, it held still at ${lastTotal(again)}`);
    pass = again;
  }
  const reasons: string[] = [];
  const total = lastTotal(pass);
  if (pass.ended === 'no-progress') {
    reasons.push(
      `stopped: the page at startIndex=${pass.lastStart} (count=${count}) brought no resource not already read, so the server at ${where} ignores startIndex; read ${pass.byId.size} of totalResults ${total ?? '(not given)'} in ${requests} requests`,
    );
  } else if (pass.ended === 'cap') {
    reasons.push(`stopped after ${requests} requests at ${where}: more pages than the server's totalResults allows`);
  } else if (total === undefined) {
    reasons.push(`the server at ${where} gave no totalResults, so the end of its list cannot be checked (read ${pass.byId.size})`);
  } else if (pass.byId.size < total) {
    reasons.push(`ended at ${pass.byId.size} of totalResults ${total} at ${where} (an empty page at startIndex=${pass.lastStart})`);
  }
  return finish(pass, reasons);

  function finish(p: Pass<T>, reasons: string[]): ScimListing<T> {
    if (p.duplicates) notes.push(`${p.duplicates} resources repeated across pages were read once (by id)`);
    const total = lastTotal(p);
    return { resources: [...p.byId.values()], completeness: { complete: reasons.length === 0, reasons }, notes, requests, ...(total !== undefined ? { totalResults: total } : {}) };
  }
}
