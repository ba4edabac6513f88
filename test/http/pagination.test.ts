import assert from 'node:assert/strict';
import { HttpClient } from '../../core/http/client.js';
import { PaginationError } from '../../core/http/errors.js';
import { cursorPagination, linkHeaderPagination, nextLinkPagination, offsetPagination, paginate, readAll, scimPagination } from '../../core/http/pagination.js';
import { json, serve } from '../support/http-server.js';

const people = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => ({ id: `p${from + i}` }));
const query = (url: string) => new URL(url, 'http://x').searchParams;

describe('pagination guards: every walk ends, and says whether it read everything', () => {
  it('Slack: a next_cursor that repeats stops the walk after two requests, with a typed error naming the address', async () => {
    const server = await serve((_req, res) => void json(res, 200, { ok: true, members: people(0, 2), response_metadata: { next_cursor: 'dXNlcjpVMDYxTkZUVDI=' } }));
    const client = new HttpClient({ name: 'slack', baseUrl: server.url });
    const walk = paginate<{ id: string }>(client, { path: '/api/users.list', query: { limit: 2 } }, cursorPagination({ itemsPath: 'members', cursorPath: 'response_metadata.next_cursor', cursorParam: 'cursor' }));
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const m of walk) seen.push(m.id);
      })(),
      (e: unknown) => e instanceof PaginationError && /^slack: GET \/api\/users\.list: page 2 repeats items already read/.test(e.message) && e.items === 2,
    );
    assert.deepEqual(seen, ['p0', 'p1']);
    assert.equal(server.requests.length, 2);
  });

  it('a server that ignores the offset (always the first page) is detected on the second page', async () => {
    const server = await serve((_req, res) => void json(res, 200, people(0, 10)));
    const client = new HttpClient({ name: 'vendor', baseUrl: server.url });
    const { items, completeness } = await readAll(client, { path: '/users' }, offsetPagination({ param: 'offset', sizeParam: 'limit', pageSize: 10, style: 'offset' }));
    assert.equal(items.length, 10);
    assert.equal(completeness.complete, false);
    assert.match(completeness.reasons[0]!, /vendor: GET \/users: page 2 repeats items already read .*stopped after 10 items on 2 pages/);
    assert.equal(server.requests.length, 2);
  });

  it('a next link that points back to a page already read stops the walk (report mode: incomplete)', async () => {
    const server = await serve((req, res) => {
      const after = query(req.url).get('after');
      // page 1 → page 2 → page 2 again: new items on page 2, so only the request repeats
      json(res, 200, after ? people(10, 12) : people(0, 2), { link: `<${server.url}/api/v1/users?after=x>; rel="next"` });
    });
    const client = new HttpClient({ name: 'okta', baseUrl: server.url });
    const walk = paginate(client, { path: '/api/v1/users' }, linkHeaderPagination(), { onFault: 'report' });
    let n = 0;
    for await (const _ of walk) n++;
    assert.equal(n, 4);
    assert.equal(walk.completeness.complete, false);
    assert.match(walk.completeness.reasons[0]!, /^okta: GET \/api\/v1\/users: page 2 points to a page already read \(its next link or cursor repeats\); stopped after 4 items on 2 pages$/);
    assert.equal(server.requests.length, 2);
  });

  it('pages that overlap (the list shifted while read) yield each item once and make the read incomplete', async () => {
    const server = await serve((req, res) => {
      const page = Number(query(req.url).get('page') ?? 1);
      // someone was added at the top between the two reads: p4 shows again on page 2
      json(res, 200, page === 1 ? people(0, 5) : people(4, 8));
    });
    const client = new HttpClient({ name: 'vendor', baseUrl: server.url });
    const { items, completeness } = await readAll<{ id: string }>(client, { path: '/users', query: { page: 1 } }, offsetPagination({ param: 'page', sizeParam: 'per_page', pageSize: 5, style: 'page' }));
    assert.deepEqual(items.map((i) => i.id), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    assert.deepEqual(completeness, { complete: false, reasons: ['vendor: GET /users: 1 items appeared on two pages (the list changed while it was read)'] });
  });

  it('Google: empty pages with a nextPageToken are tolerated, an endless run of them is not', async () => {
    const server = await serve((req, res) => {
      const token = query(req.url).get('pageToken');
      if (req.url.startsWith('/few')) {
        if (!token) return void json(res, 200, { users: [], nextPageToken: 't1' });
        if (token === 't1') return void json(res, 200, { users: people(0, 2), nextPageToken: 't2' });
        return void json(res, 200, { users: people(2, 3) });
      }
      json(res, 200, { users: [], nextPageToken: `t${Number((token ?? 't0').slice(1)) + 1}` });
    });
    const client = new HttpClient({ name: 'google', baseUrl: server.url });
    const pagination = cursorPagination({ itemsPath: 'users', cursorPath: 'nextPageToken', cursorParam: 'pageToken' });
    const few = await readAll(client, { path: '/few' }, pagination);
    assert.equal(few.items.length, 3);
    assert.deepEqual(few.completeness, { complete: true, reasons: [] });
    const endless = await readAll(client, { path: '/endless' }, pagination);
    assert.equal(endless.completeness.complete, false);
    assert.match(endless.completeness.reasons[0]!, /10 pages in a row had no items but a next page/);
    assert.equal(server.requests.filter((r) => r.url.startsWith('/endless')).length, 10);
  });

  it('Zoom: next_page_token is followed until it comes back empty', async () => {
    const server = await serve((req, res) => {
      const token = query(req.url).get('next_page_token');
      json(res, 200, token ? { users: people(3, 5), next_page_token: '' } : { users: people(0, 3), next_page_token: 'IAfJX3jsOLW7w3dokmFl84zOa0MAVGyMEB2' });
    });
    const client = new HttpClient({ name: 'zoom', baseUrl: server.url });
    const { items, completeness } = await readAll(client, { path: '/v2/users', query: { page_size: 3 } }, cursorPagination({ itemsPath: 'users', cursorPath: 'next_page_token', cursorParam: 'next_page_token' }));
    assert.equal(items.length, 5);
    assert.equal(completeness.complete, true);
  });

  it("Microsoft Graph: @odata.nextLink is followed as given, to the end", async () => {
    const server = await serve((req, res) => {
      const skip = query(req.url).get('$skiptoken');
      const next = skip === null ? 'X1' : skip === 'X1' ? 'X2' : undefined;
      json(res, 200, { value: people(Number(skip?.slice(1) ?? 0) * 2, Number(skip?.slice(1) ?? 0) * 2 + 2), ...(next ? { '@odata.nextLink': `${server.url}/v1.0/users?$top=2&$skiptoken=${next}` } : {}) });
    });
    const client = new HttpClient({ name: 'graph', baseUrl: server.url });
    const { items, completeness } = await readAll<{ id: string }>(client, { path: '/v1.0/users', query: { $top: 2 } }, nextLinkPagination({ itemsPath: 'value', nextPath: '@odata.nextLink' }));
    assert.deepEqual(items.map((i) => i.id), ['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
    assert.equal(completeness.complete, true);
    assert.equal(server.requests.length, 3);
  });

  it('a list that ends short of the total it announced is incomplete (SCIM totalResults)', async () => {
    const server = await serve((req, res) => {
      const start = Number(query(req.url).get('startIndex') ?? 1);
      // totalResults says 5, but the server stops after 3
      json(res, 200, { totalResults: 5, startIndex: start, itemsPerPage: start === 1 ? 3 : 0, Resources: start === 1 ? people(0, 3) : [] });
    });
    const client = new HttpClient({ name: 'scim', baseUrl: server.url });
    const { items, completeness } = await readAll(client, { path: '/Users', query: { startIndex: 1, count: 3 } }, scimPagination({ count: 3 }));
    assert.equal(items.length, 3);
    assert.deepEqual(completeness.reasons, ['scim: GET /Users: read 3 items of the 5 the server announced']);
    await assert.rejects(
      (async () => {
        for await (const _ of paginate(client, { path: '/Users', query: { startIndex: 1, count: 3 } }, scimPagination({ count: 3 })));
      })(),
      (e: unknown) => e instanceof PaginationError && /read 3 items of the 5 the server announced/.test(e.message),
      'the default is to throw: nothing half-read passes for a whole list',
    );
  });

  it('a walk that has not ended says so, and one that ended says complete', async () => {
    const server = await serve((req, res) => void json(res, 200, query(req.url).get('c') ? { data: people(2, 4), next: null } : { data: people(0, 2), next: 'c1' }));
    const client = new HttpClient({ name: 't', baseUrl: server.url });
    const walk = paginate(client, { path: '/x' }, cursorPagination({ itemsPath: 'data', cursorPath: 'next', cursorParam: 'c' }));
    assert.equal(walk.completeness.complete, false);
    await walk.next();
    assert.deepEqual(walk.completeness.reasons, ['the list was not read to its end']);
    for await (const _ of walk);
    assert.deepEqual(walk.completeness, { complete: true, reasons: [] });
    assert.equal(walk.pages, 2);
    assert.equal(walk.items, 4);
  });

  it('maxPages bounds a list that never ends, even with new items on every page', async () => {
    let n = 0;
    const server = await serve((_req, res) => void (n++, json(res, 200, { data: [{ id: n }], next: `c${n}` })));
    const client = new HttpClient({ name: 't', baseUrl: server.url });
    const { items, completeness } = await readAll(client, { path: '/x' }, cursorPagination({ itemsPath: 'data', cursorPath: 'next', cursorParam: 'c' }), { maxPages: 25 });
    assert.equal(items.length, 25);
    assert.match(completeness.reasons[0]!, /more than 25 pages/);
  });
});
