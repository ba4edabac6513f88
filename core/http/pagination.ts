import type { HttpClient, HttpRequest, HttpResponse } from './client.js';

/** How a list continues: given the request and answer for one page, the request for the next (or none). */
export interface Pagination<T> {
  items(response: HttpResponse): readonly T[];
  next(request: HttpRequest, response: HttpResponse, itemsOnPage: number): HttpRequest | undefined;
}

/** Walks every page, yielding items as they come: memory holds one page, however long the list. */
export async function* paginate<T>(client: HttpClient, first: HttpRequest, pagination: Pagination<T>): AsyncGenerator<T> {
  let request: HttpRequest | undefined = first;
  let pages = 0;
  while (request) {
    const response = await client.request(request);
    const items = pagination.items(response);
    yield* items;
    pages++;
    if (pages > 1_000_000) throw new Error('pagination did not end after a million pages');
    request = pagination.next(request, response, items.length);
  }
}

const at = (body: unknown, path: string): unknown => path.split('.').filter(Boolean).reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], body);
const list = <T>(body: unknown, path: string): readonly T[] => {
  const value = path ? at(body, path) : body;
  return Array.isArray(value) ? (value as T[]) : [];
};

/** A cursor in the body (`next_cursor`, `meta.next`), sent back as a query parameter. */
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

/** SCIM 2.0 (RFC 7644 §3.4.2.4): 1-based startIndex and count, until totalResults. */
export function scimPagination<T>(options: { count: number }): Pagination<T> {
  return {
    items: (r) => list<T>(r.body, 'Resources'),
    next(request, response, itemsOnPage) {
      const body = response.body as { totalResults?: number; startIndex?: number; itemsPerPage?: number };
      const start = Number(body.startIndex ?? request.query?.startIndex ?? 1);
      const seen = start - 1 + itemsOnPage;
      if (itemsOnPage === 0 || body.totalResults === undefined || seen >= body.totalResults) return undefined;
      return { ...request, query: { ...request.query, startIndex: seen + 1, count: options.count } };
    },
  };
}

export function parseLinks(header: string | null): Record<string, string> {
  const links: Record<string, string> = {};
  for (const part of (header ?? '').split(',')) {
    const match = /<([^>]+)>\s*;\s*(?:.*;\s*)?rel="?([^";]+)"?/.exec(part.trim());
    if (match) for (const rel of match[2]!.split(/\s+/)) links[rel] = match[1]!;
  }
  return links;
}
