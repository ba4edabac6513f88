import { createHash } from 'node:crypto';
import LinkHeader from 'http-link-header';
import type { Completeness } from '../reconcile/snapshot.js';
import type { HttpClient, HttpRequest, HttpResponse } from './client.js';
import { PaginationError } from './errors.js';

/** How a list continues: given the request and answer for one page, the request for the next (or none). */
export interface Pagination<T> {
  items(response: HttpResponse): readonly T[];
  next(request: HttpRequest, response: HttpResponse, itemsOnPage: number): HttpRequest | undefined;
  /** How many items the whole list holds, when the answer says (SCIM `totalResults`): a walk that ends short of it is incomplete. */
  total?(response: HttpResponse): number | undefined;
  /** An item's identity, to notice pages that repeat or overlap. Default: its `id`, else a digest of its JSON. */
  key?(item: T): string;
}

/** What a walk does when it cannot be sure it read everything. */
export interface PaginateOptions {
  /**
   * `throw` (default): a PaginationError, so that nothing half-read passes for a whole list.
   * `report`: stop (or, for overlapping pages, carry on without the repeats) and say so in the
   * walk's `completeness`: for readers whose caller decides what a short read may be used for.
   */
  readonly onFault?: 'throw' | 'report';
  /** At most this many pages. Default 100,000. */
  readonly maxPages?: number;
  /** Pages in a row with no item but a next page (Google documents that this happens) before the walk counts as stuck. Default 10. */
  readonly maxEmptyPages?: number;
}

/** A walk over a paged list: the items, one page in memory at a time, then whether it read everything. */
export interface PageWalk<T> extends AsyncGenerator<T, void, undefined> {
  /** Until the walk ends: incomplete, "not read to the end". After: complete, or each reason why not. */
  readonly completeness: Completeness;
  /** Pages fetched so far. */
  readonly pages: number;
  /** Distinct items yielded so far. */
  readonly items: number;
}

const notYet: Completeness = Object.freeze({ complete: false, reasons: ['the list was not read to its end'] });

/**
 * Walks every page, yielding items as they come: memory holds one page (and the identities of the
 * items seen, to notice repeats), however long the list. Every loop is bounded by progress:
 * - the same next request twice (a cursor or next link that repeats) stops the walk;
 * - a page whose items were all seen before (a server that ignores the offset) stops it;
 * - items seen on an earlier page are not yielded again, and make the read incomplete (the list
 *   changed while it was read, so something may have moved past the pages read);
 * - `maxEmptyPages` empty pages in a row with a next page, or `maxPages` pages, stop it;
 * - a list shorter (or longer) than the total its answers announced is incomplete.
 * A stop is a PaginationError, or with `onFault: 'report'` the reason in `completeness`.
 * HTTP errors are thrown as they are (a read that failed is not a read that ended).
 */
export function paginate<T>(client: HttpClient, first: HttpRequest, pagination: Pagination<T>, options: PaginateOptions = {}): PageWalk<T> {
  const state = { completeness: notYet, pages: 0, items: 0 };
  const generator = walk(client, first, pagination, options, state);
  return Object.defineProperties(generator, {
    completeness: { get: () => state.completeness },
    pages: { get: () => state.pages },
    items: { get: () => state.items },
  }) as PageWalk<T>;
}

/** Reads a whole list into memory with its completeness (faults reported, not thrown, unless `onFault: 'throw'`). */
export async function readAll<T>(client: HttpClient, first: HttpRequest, pagination: Pagination<T>, options: PaginateOptions = {}): Promise<{ items: T[]; completeness: Completeness }> {
  const items: T[] = [];
  const pages = paginate(client, first, pagination, { onFault: 'report', ...options });
  for await (const item of pages) items.push(item);
  return { items, completeness: pages.completeness };
}

async function* walk<T>(client: HttpClient, first: HttpRequest, pagination: Pagination<T>, options: PaginateOptions, state: { completeness: Completeness; pages: number; items: number }): AsyncGenerator<T, void, undefined> {
  const maxPages = options.maxPages ?? 100_000;
  const maxEmpty = options.maxEmptyPages ?? 10;
  const label = `${client.name}: ${first.method ?? 'GET'} ${client.urlOf(first).pathname}`;
  const keyOf = pagination.key ?? defaultKey;
  const requested = new Set<string>();
  const seen = new Set<string>();
  const reasons: string[] = [];
  let repeated = 0;
  let emptyRun = 0;
  let total: number | undefined;
  const fault = (reason: string) => {
    const text = `${reason}; stopped after ${state.items} items on ${state.pages} pages`;
    if (options.onFault !== 'report') throw new PaginationError(label, text, state.items);
    state.completeness = { complete: false, reasons: [...reasons, `${label}: ${text}`] };
  };
  let request: HttpRequest | undefined = first;
  while (request) {
    requested.add(requestKey(client, request));
    const response = await client.request(request);
    state.pages++;
    const items = pagination.items(response);
    total = pagination.total?.(response) ?? total;
    let fresh = 0;
    for (const item of items) {
      const key = keyOf(item);
      if (seen.has(key)) {
        repeated++;
        continue;
      }
      seen.add(key);
      fresh++;
      state.items++;
      yield item;
    }
    const next = pagination.next(request, response, items.length);
    if (!next) break;
    if (items.length > 0 && fresh === 0) return fault(`page ${state.pages} repeats items already read (the server did not move to the next page)`);
    emptyRun = items.length === 0 ? emptyRun + 1 : 0;
    if (emptyRun >= maxEmpty) return fault(`${emptyRun} pages in a row had no items but a next page`);
    if (requested.has(requestKey(client, next))) return fault(`page ${state.pages} points to a page already read (its next link or cursor repeats)`);
    if (state.pages >= maxPages) return fault(`more than ${maxPages} pages`);
    request = next;
  }
  if (repeated) reasons.push(`${label}: ${repeated} items appeared on two pages (the list changed while it was read)`);
  if (total !== undefined && total !== state.items) reasons.push(`${label}: read ${state.items} items of the ${total} the server announced`);
  if (reasons.length && options.onFault !== 'report') throw new PaginationError(label, reasons.map((r) => r.slice(label.length + 2)).join('; '), state.items);
  state.completeness = reasons.length ? { complete: false, reasons } : { complete: true, reasons: [] };
}

/** The identity of a request: method and URL with its query in a fixed order. */
function requestKey(client: HttpClient, request: HttpRequest): string {
  const url = client.urlOf(request);
  url.searchParams.sort();
  return `${request.method ?? 'GET'} ${url.toString()}`;
}

function defaultKey(item: unknown): string {
  const id = (item as { id?: unknown } | null)?.id;
  if (typeof id === 'string' || typeof id === 'number') return `id:${id}`;
  return `sha1:${createHash('sha1').update(JSON.stringify(item) ?? 'undefined').digest('base64')}`;
}

const at = (body: unknown, path: string): unknown => path.split('.').filter(Boolean).reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], body);
const list = <T>(body: unknown, path: string): readonly T[] => {
  const value = path ? at(body, path) : body;
  return Array.isArray(value) ? (value as T[]) : [];
};

/**
 * A cursor in the body, sent back as a query parameter: Slack's `response_metadata.next_cursor`
 * (empty string at the end), Zoom's `next_page_token`, Google's `nextPageToken`.
 */
export function cursorPagination<T>(options: { itemsPath: string; cursorPath: string; cursorParam: string }): Pagination<T> {
  return {
    items: (r) => list<T>(r.body, options.itemsPath),
    next(request, response) {
      const cursor = at(response.body, options.cursorPath);
      if (cursor === undefined || cursor === null || cursor === '') return undefined;
      return { ...request, query: { ...request.query, [options.cursorParam]: String(cursor) } };
    },
  };
}

/**
 * The next page's whole URL in the body (Microsoft Graph's `@odata.nextLink`): followed as given,
 * on the same origin only (the client refuses another).
 */
export function nextLinkPagination<T>(options: { itemsPath: string; nextPath: string }): Pagination<T> {
  return {
    items: (r) => list<T>(r.body, options.itemsPath),
    next(request, response) {
      // '@odata.nextLink' is one key with a dot in it; 'meta.next' a path.
      const link = (response.body as Record<string, unknown> | undefined)?.[options.nextPath] ?? at(response.body, options.nextPath);
      if (typeof link !== 'string' || link === '') return undefined;
      return { ...request, path: new URL(link, response.url).toString(), query: {} };
    },
  };
}

/** RFC 8288 Link header with rel="next" (Okta, GitHub): the next page's whole URL. */
export function linkHeaderPagination<T>(options: { itemsPath?: string } = {}): Pagination<T> {
  return {
    items: (r) => list<T>(r.body, options.itemsPath ?? ''),
    next(request, response) {
      const next = parseLinks(response.headers.get('link'))['next'];
      return next ? { ...request, path: new URL(next, response.url).toString(), query: {} } : undefined;
    },
  };
}

/** offset/limit or page/per_page: stops at a short or empty page. */
export function offsetPagination<T>(options: { itemsPath?: string; param: string; sizeParam: string; pageSize: number; style: 'offset' | 'page'; start?: number }): Pagination<T> {
  return {
    items: (r) => list<T>(r.body, options.itemsPath ?? ''),
    next(request, _response, count) {
      if (count < options.pageSize) return undefined;
      const current = Number(request.query?.[options.param] ?? options.start ?? (options.style === 'page' ? 1 : 0));
      const following = options.style === 'page' ? current + 1 : current + count;
      return { ...request, query: { ...request.query, [options.param]: following, [options.sizeParam]: options.pageSize } };
    },
  };
}

/** SCIM 2.0 (RFC 7644 §3.4.2.4): 1-based startIndex and count, until totalResults (which the walk checks it reached). */
export function scimPagination<T>(options: { count: number }): Pagination<T> {
  return {
    items: (r) => list<T>(r.body, 'Resources'),
    total: (r) => {
      const total = Number((r.body as { totalResults?: unknown } | undefined)?.totalResults);
      return Number.isFinite(total) ? total : undefined;
    },
    next(request, response, itemsOnPage) {
      const body = response.body as { totalResults?: number; startIndex?: number; itemsPerPage?: number };
      const start = Number(body.startIndex ?? request.query?.startIndex ?? 1);
      const seen = start - 1 + itemsOnPage;
      if (itemsOnPage === 0 || body.totalResults === undefined || seen >= body.totalResults) return undefined;
      return { ...request, query: { ...request.query, startIndex: seen + 1, count: options.count } };
    },
  };
}

/**
 * The links of an RFC 8288 `Link` header by relation type, parsed by `http-link-header`: commas
 * inside a URL or a quoted title, `rel = "next"`, `REL="NEXT"`, several relations in one `rel`
 * (relation types compare case-insensitively, §2.1.1) all read as they should. The first link of a
 * relation wins; URLs are returned as written (relative ones are resolved by the caller).
 */
export function parseLinks(header: string | null): Record<string, string> {
  const links: Record<string, string> = {};
  if (!header) return links;
  let parsed: LinkHeader;
  try {
    parsed = LinkHeader.parse(header);
  } catch {
    return links;
  }
  for (const ref of parsed.refs) {
    for (const rel of String(ref.rel ?? '').toLowerCase().split(/\s+/).filter(Boolean)) links[rel] ??= ref.uri;
  }
  return links;
}
