import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import LinkHeader from 'http-link-header';
import { sql } from 'kysely';
import { runSummarySchema, taskListSchema } from '../../core/server/listing.js';
import { harness } from '../support/runtime.js';
import { serverFor } from '../support/server.js';

const { Ajv2020 } = createRequire(import.meta.url)('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
const oncall = 'it.oncall@acme.example';
const lead = 'it.lead@acme.example';

async function get(url: string, token: string) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  const link = response.headers.get('link');
  return { status: response.status, text, body: JSON.parse(text) as any, next: link ? LinkHeader.parse(link).rel('next')[0]?.uri : undefined, type: response.headers.get('content-type') };
}

/** Every page of an API list from `first`, following each Link rel="next" to the end. */
async function walk(base: string, first: string, token: string, rows: (body: any) => unknown[] = (b) => b): Promise<unknown[][]> {
  const pages: unknown[][] = [];
  let url: string | undefined = first;
  while (url) {
    const page = await get(`${base}${url}`, token);
    assert.equal(page.status, 200, page.text);
    pages.push(rows(page.body));
    url = page.next;
    assert.ok(pages.length < 100, 'the cursors end');
  }
  return pages;
}

/** Eight runs: a batch of three (one task, three sections) and five alone, all opened at the same instant (ties in due time). */
async function backlog() {
  const h = await harness();
  await h.start('offboard', ['b1@acme.com', 'b2@acme.com', 'b3@acme.com']);
  for (let i = 0; i < 5; i++) await h.start('offboard', `p${i}@acme.com`);
  await h.runtime.runs.settle();
  const server = await serverFor(h);
  const token = (await server.access.createToken({ name: 'ticketing', actor: oncall, role: 'operator' })).token;
  const admin = (await server.access.createToken({ name: 'auditor', actor: lead, role: 'admin' })).token;
  return { h, server, token, admin };
}

describe('the task list and every API list, paged (issue 17)', function () {
  this.timeout(60_000);

  it('answers each task of the list byte for byte as its own view, in the shape its response schema declares', async () => {
    const { h, server, token } = await backlog();
    const open = await h.runtime.tasks.list({ queue: 'it-ops' });
    assert.ok(open.length >= 6, `tasks: ${open.length}`);
    // A task with a ticked step, one taken, one completed with evidence: the stored JSON columns are not the defaults.
    const [ticked, taken, done] = open;
    await h.runtime.tasks.tickStep(ticked!.id, 1, oncall);
    await h.runtime.tasks.claim(taken!.id, oncall);
    await h.runtime.tasks.complete(done!.id, { by: oncall, evidence: done!.content.runbook.evidence.filter((e) => e.required).map((e) => ({ text: `seen "${e.label}" \u2014 ok` })) });
    const page = await get(`${server.url}/api/v1/tasks?status=all&limit=200`, token);
    assert.equal(page.status, 200);
    assert.equal(page.type, 'application/json; charset=utf-8');
    const ids = page.body.map((t: { id: string }) => t.id);
    const views = await h.runtime.tasks.getMany(ids);
    assert.equal(page.text, JSON.stringify(views), 'the same bytes as the views, serialised whole');
    assert.ok(views.some((v) => v.items.length === 3 && v.title.includes('3 people')), 'the batch is one task of three sections, titled for them');
    assert.ok(views.some((v) => v.stepsDone.length === 1) && views.some((v) => v.assignee === oncall) && views.some((v) => v.evidence.length > 0));
    const validate = new Ajv2020({ strict: false }).compile(taskListSchema);
    assert.ok(validate(page.body), JSON.stringify(validate.errors));
    // The schema could fail: a task without its content does not pass it.
    assert.equal(validate([{ ...(JSON.parse(page.text) as object[])[0], content: undefined }]), false);
  });

  it('writes every character of a task as JSON.stringify does: controls, quotes, backslashes, astral and line-separator characters, replacement patterns', async () => {
    const { h, server, token } = await backlog();
    const [task, other] = await h.runtime.tasks.list({ queue: 'it-ops' });
    // Text the database must quote as JavaScript does: every control character, DEL, quotes, a backslash, U+2028, an emoji.
    const odd = `${Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('')}\u007f "quoted" back\\slash \u2028 \u{1F600} é`;
    await h.runtime.tasks.complete(task!.id, { by: oncall, evidence: task!.content.runbook.evidence.filter((e) => e.required).map(() => ({ text: odd })) });
    // A title and an app name (a connector's words) with the patterns String.replace would expand, and the placeholders.
    const appName = "Sp$&nd$'sk";
    await h.runtime.store.db
      .updateTable('tasks')
      .set({ title: "Remove {email} from {app} ($& $' $1 \\ \"x\")", app_name: appName, content: sql<string>`replace(content, '"appName":"Spendesk"', ${`"appName":"${appName}"`})` })
      .where('id', '=', other!.id)
      .execute();
    const page = await get(`${server.url}/api/v1/tasks?status=all&limit=200`, token);
    assert.equal(page.status, 200);
    const views = await h.runtime.tasks.getMany(page.body.map((t: { id: string }) => t.id));
    assert.equal(page.text, JSON.stringify(views));
    const written = (page.body as { id: string; title: string; evidence: { summary: string }[] }[]);
    assert.equal(written.find((t) => t.id === task!.id)!.evidence[0]!.summary, odd.trim(), 'the evidence read back as handed in');
    const who = other!.items.length === 1 ? other!.items[0]!.email : `${other!.items.length} people`;
    assert.equal(written.find((t) => t.id === other!.id)!.title, `Remove ${who} from ${appName} ($& $' $1 \\ "x")`, 'placeholders replaced literally');
  });

  it("renders each title's {app} from the row's app_name column, not by parsing the task's content", async () => {
    const { h, server, token } = await backlog();
    const [first] = await h.runtime.tasks.list({ queue: 'it-ops' });
    // The column changed under the content: the list follows the column (the single view still reads the content).
    await h.runtime.store.db.updateTable('tasks').set({ app_name: '' }).where('id', '=', first!.id).execute();
    const listed = (await get(`${server.url}/api/v1/tasks?queue=it-ops`, token)).body.find((t: { id: string }) => t.id === first!.id);
    assert.equal(listed.title, first!.title.replace(first!.content.appName, ''), 'the list renders {app} from the column');
  });

  it('pages the tasks to the end: every task once, in due-time order, through ties, for each filter', async () => {
    const { h, server, token, admin } = await backlog();
    const expected = (await h.runtime.tasks.list({ status: 'all' })).map((t) => t.id);
    assert.ok(expected.length >= 6);
    for (const [who, query, want] of [
      [admin, 'status=all', expected],
      [admin, 'status=open', (await h.runtime.tasks.list()).map((t) => t.id)],
      [token, 'queue=it-ops', (await h.runtime.tasks.list({ queue: 'it-ops' })).map((t) => t.id)],
      [token, 'mine=true', (await h.runtime.tasks.list({ operator: oncall })).map((t) => t.id)],
    ] as const) {
      const pages = await walk(server.url, `/api/v1/tasks?${query}&limit=2`, who);
      const seen = pages.flat().map((t) => (t as { id: string }).id);
      assert.deepEqual(seen, want, query);
      assert.equal(new Set(seen).size, seen.length, `${query}: no task twice`);
      assert.equal(pages.length, Math.max(1, Math.ceil(want.length / 2)), `${query}: pages of two`);
      const dues = pages.flat().map((t) => (t as { dueAt: number }).dueAt);
      assert.deepEqual(dues, [...dues].sort((a, b) => a - b));
    }
  });

  it('pages the runs to the end, newest first, every run once, in RunSummary shape', async () => {
    const { h, server, token } = await backlog();
    const pages = await walk(server.url, '/api/v1/runs?limit=3', token);
    const seen = pages.flat() as { id: string; createdAt: number }[];
    const runs = await h.runtime.engine.list();
    assert.equal(runs.length, 8);
    assert.deepEqual(seen.map((r) => r.id).sort(), runs.map((r) => r.id).sort());
    assert.equal(new Set(seen.map((r) => r.id)).size, 8);
    assert.deepEqual(pages.map((p) => p.length), [3, 3, 2]);
    assert.deepEqual(seen.map((r) => r.createdAt), seen.map((r) => r.createdAt).sort((a, b) => b - a));
    const validate = new Ajv2020({ strict: false }).compile({ type: 'array', items: { ...runSummarySchema, additionalProperties: false } });
    assert.ok(validate(seen), JSON.stringify(validate.errors));
    const one = runs.find((r) => r.id === seen[0]!.id)!;
    assert.deepEqual(seen[0], { id: one.id, playbook: one.playbook, app: one.app, subject: one.subject, status: one.status, outcome: one.outcome, waitingFor: one.waitingFor, createdAt: one.createdAt });
    const waiting = (await walk(server.url, '/api/v1/runs?status=waiting&limit=5', token)).flat() as { status: string }[];
    assert.deepEqual([...new Set(waiting.map((r) => r.status))], ['waiting']);
  });

  it('pages the current findings to the end across apps: every finding once, by kind, person and detail', async () => {
    const { h, server, admin } = await backlog();
    const now = Date.now();
    const people = (app: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ kind: (i % 3 ? 'orphaned-account' : 'missing-account') as 'orphaned-account', app, person: `${app}${i}@acme.com`, detail: `row ${i}`, evidence: [], ageMs: 0, firstSeenAt: now }));
    for (const [app, n] of [['spendesk', 5], ['6sense', 4]] as const) {
      await h.runtime.reconciliations.record('acme', {
        app,
        at: now,
        idp: { kind: 'idp', name: 'okta', readAt: now },
        appSource: { kind: 'file', name: 'members.csv', readAt: now },
        counts: { identities: 0, accounts: n, matched: 0 },
        findings: people(app, n),
      });
    }
    const pages = await walk(server.url, '/api/v1/reconciliation?limit=2', admin, (b) => b.findings.items);
    const seen = pages.flat() as { app: string; kind: string; person: string }[];
    assert.equal(seen.length, 9);
    assert.equal(new Set(seen.map((f) => `${f.app}|${f.person}`)).size, 9, 'no finding twice');
    for (const app of ['spendesk', '6sense']) {
      const of = seen.filter((f) => f.app === app).map((f) => `${f.kind}|${f.person}`);
      assert.deepEqual(of, [...of].sort(), `${app}: by kind then person`);
    }
    assert.ok(pages.every((p) => p.length <= 2));
  });
});
