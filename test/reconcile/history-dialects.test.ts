import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { AuditLog } from '../../core/engine/audit.js';
import type { Finding, Reconciliation } from '../../core/reconcile/findings.js';
import { ReconcileHistory, findingsBatch } from '../../core/reconcile/history.js';
import { readAttestations } from '../../core/reconcile/readers.js';
import { type SnapshotSource, completeRead } from '../../core/reconcile/snapshot.js';
import { type StoreDatabase, openStore } from '../../core/store/sql.js';
import { freshDatabase } from '../support/postgres.js';
import { scratchDir } from '../support/fixtures.js';

const day = 86_400_000;
const t0 = Date.parse('2026-09-01T09:00:00Z');
const source = (kind: SnapshotSource['kind'], readAt: number): SnapshotSource => ({ kind, name: `${kind} read`, readAt });
const finding = (kind: Finding['kind'], person: string, at: number): Finding => ({ kind, app: 'spendesk', person, detail: `${person}: ${kind}`, evidence: [], ageMs: 0, firstSeenAt: at });
const reconciliation = (at: number, findings: Finding[], kind: SnapshotSource['kind'] = 'file', complete = true): Reconciliation => ({
  app: 'spendesk',
  at,
  idp: source('idp', at),
  appSource: source(kind, at),
  counts: { identities: 10, accounts: 10, matched: 9 },
  findings,
  ...(complete ? {} : { completeness: { complete: false, reasons: ['page 2 points to a page already read'], idp: completeRead, app: { complete: false, reasons: ['page 2 points to a page already read'] } } }),
});

const dialects: { name: string; open: () => Promise<StoreDatabase> }[] = [
  { name: 'SQLite', open: () => openStore({ dataDir: scratchDir() }) },
  { name: 'PostgreSQL', open: async () => openStore({ url: await freshDatabase() }, { migrations: 'apply' }) },
];

for (const dialect of dialects) {
  describe(`reconciliation history on ${dialect.name}`, function () {
    this.timeout(60_000);
    let store: StoreDatabase;
    let history: ReconcileHistory;
    beforeEach(async () => {
      store = await dialect.open();
      history = new ReconcileHistory(store);
    });
    afterEach(async () => {
      await store.close();
    });

    it("carries a finding's first sighting across complete reads, not across an incomplete or an attestation one", async () => {
      const first = await history.record('acme', reconciliation(t0, [finding('orphaned-account', 'alice@acme.com', t0), finding('assigned-but-missing', 'new@acme.com', t0)]));
      assert.equal(typeof first.id, 'number');
      const t1 = t0 + day;
      const short = await history.record('acme', reconciliation(t1, [finding('orphaned-account', 'alice@acme.com', t1)], 'api', false));
      const attested = await history.record('acme', reconciliation(t1 + 1, [], 'attestation'));
      assert.deepEqual((await history.latest('acme', 'spendesk'))!.id, attested.id);
      const audit = (await history.lastAudit('acme', 'spendesk'))!;
      assert.equal(audit.id, first.id, 'neither the short read nor the attestations are an audit');
      assert.deepEqual((await history.list('acme', { app: 'spendesk' })).find((r) => r.id === short.id)!.completeness, { complete: false, reasons: ['page 2 points to a page already read'] });
      assert.deepEqual((await history.openFindings('acme', 'spendesk')).map((f) => [f.person, f.firstSeenAt]), [['new@acme.com', t0], ['alice@acme.com', t0]]);

      const t2 = t0 + 2 * day;
      const next = await history.record('acme', reconciliation(t2, [finding('orphaned-account', 'Alice@acme.com', t2), finding('access-drift', 'bob@acme.com', t2)]));
      assert.deepEqual(next.findings.map((f) => [f.person, f.firstSeenAt]), [['Alice@acme.com', t0], ['bob@acme.com', t2]]);
      assert.equal((await history.lastAudit('acme', 'spendesk'))!.id, next.id);
      // Another tenant and another app are their own.
      assert.equal(await history.lastAudit('globex', 'spendesk'), undefined);
      assert.equal(await history.latest('acme', 'okta'), undefined);
      assert.deepEqual((await history.list('acme', { since: t1 })).map((r) => [r.at, r.findings, r.byKind]), [
        [t1, 1, { 'orphaned-account': 1 }],
        [t1 + 1, 0, {}],
        [t2, 2, { 'orphaned-account': 1, 'access-drift': 1 }],
      ]);
    });

    it('lists findings by kind then person in code-point order (upper case and dots first), the first `limit` of them', async () => {
      // A database whose default collation is linguistic (en_US, ICU) would sort these otherwise: give the column one.
      if (store.dialect === 'postgres') await store.db.schema.alterTable('reconcile_findings').alterColumn('person', (c) => c.setDataType(sql`text collate "und-x-icu"`)).execute();
      const people = ['ab@acme.com', 'a.b@acme.com', 'Zoe@acme.com', 'a-c@acme.com', 'aa@acme.com'];
      const { id } = await history.record('acme', reconciliation(t0, people.map((p) => finding('orphaned-account', p, t0))));
      const sorted = [...people].sort();
      assert.deepEqual((await history.findingsOf(id)).map((f) => f.person), sorted);
      assert.deepEqual((await history.findingsOf(id, 2)).map((f) => f.person), sorted.slice(0, 2));
    });

    it(`stores 10,000 findings in one reconciliation (${findingsBatch} a statement), and carries all their first sightings to the next`, async () => {
      const n = 10_000;
      const many = (at: number) => Array.from({ length: n }, (_, i) => finding('orphaned-account', `p${i}@acme.com`, at));
      const first = await history.record('acme', reconciliation(t0, many(t0)));
      const count = await store.db.selectFrom('reconcile_findings').select((eb) => eb.fn.countAll<number>().as('n')).where('reconciliation_id', '=', first.id).executeTakeFirstOrThrow();
      assert.equal(Number(count.n), n);
      assert.equal((await history.latest('acme', 'spendesk'))!.findings, n);
      const second = await history.record('acme', reconciliation(t0 + day, many(t0 + day)));
      assert.ok(second.findings.every((f) => f.firstSeenAt === t0), 'every first sighting is carried');
      assert.equal((await history.findingsOf(second.id)).length, n);
    });

    it('a reconciliation whose findings cannot all be stored leaves nothing behind', async () => {
      const findings = Array.from({ length: findingsBatch + 3 }, (_, i) => finding('orphaned-account', `p${i}@acme.com`, t0));
      // The last batch breaks a NOT NULL column, after a full batch went in.
      (findings[findingsBatch + 1] as { person: unknown }).person = null;
      await assert.rejects(history.record('acme', reconciliation(t0, findings)));
      assert.deepEqual(await history.list('acme'), []);
      assert.equal((await store.db.selectFrom('reconcile_findings').select('person').execute()).length, 0);
    });

    it('two reconciliations of one app recorded at once are both kept, each with its own findings', async () => {
      const [a, b] = await Promise.all([
        history.record('acme', reconciliation(t0, [finding('orphaned-account', 'a@acme.com', t0)])),
        history.record('acme', reconciliation(t0 + 1, [finding('orphaned-account', 'b@acme.com', t0 + 1), finding('orphaned-account', 'c@acme.com', t0 + 1)])),
      ]);
      assert.notEqual(a!.id, b!.id);
      assert.deepEqual((await history.findingsOf(a!.id)).map((f) => f.person), ['a@acme.com']);
      assert.deepEqual((await history.findingsOf(b!.id)).map((f) => f.person), ['b@acme.com', 'c@acme.com']);
    });

    it("reads the attestations of completed tasks: each person's latest, the approvals aside", async () => {
      const plan = JSON.stringify({ steps: [{ id: 'spendesk-remove', role: 'action', app: 'spendesk' }, { id: 'okta-note', role: 'action', app: 'okta' }] });
      const run = (id: string, playbook: string, email: string, finishedAt: number) => ({
        id, idempotency_key: id, open_key: `${id}-key`, batch_id: null, tenant: 'acme', playbook, app: 'spendesk', subject: email, request: '{}', plan, profile: '{}',
        status: 'completed' as const, outcome: 'done', waiting_for: null, wake_at: null, lease_owner: null, lease_until: null, created_at: finishedAt - 10, updated_at: finishedAt, finished_at: finishedAt,
      });
      const task = (id: string, runbook: string, closedAt: number | null) => ({
        id, batch_key: null, tenant: 'acme', app: 'spendesk', runbook, title: id, queue: 'it', assignee: null, status: 'completed' as const, content: '{}', due_at: 0, created_at: closedAt ?? 0, closed_at: closedAt, closed_by: 'ops@acme.com', open_key: null, profile: null,
      });
      await store.db.insertInto('runs').values([run('run-1', 'onboard', 'nina@acme.com', t0), run('run-2', 'offboard', 'nina@acme.com', t0 + day), run('run-3', 'onboard', 'omar@acme.com', t0)]).execute();
      // Nina's onboarding task was closed in the same millisecond her offboarding run ended, and made after its task:
      // the audit log says which run finished last.
      await store.db.insertInto('tasks').values([{ ...task('task-9', 'remove', t0 + day), created_at: t0 }, task('task-2', 'remove', null), task('task-3', 'approve-run', t0), task('task-4', 'remove', t0)]).execute();
      const audit = new AuditLog(store);
      for (const runId of ['run-1', 'run-2']) await audit.append({ type: 'run.completed', actor: 'patchbay', runId }, t0 + day);
      await store.db.insertInto('task_items').values([
        { task_id: 'task-9', run_id: 'run-1', step_id: 'spendesk-remove', email: 'nina@acme.com', status: 'done', closed_by: 'ops@acme.com' },
        // No closing time on the task: the run's end dates it.
        { task_id: 'task-2', run_id: 'run-2', step_id: 'spendesk-remove~2', email: 'Nina@acme.com', status: 'already-done', closed_by: null },
        { task_id: 'task-3', run_id: 'run-3', step_id: 'spendesk-remove', email: 'omar@acme.com', status: 'done', closed_by: 'lead@acme.com' },
        { task_id: 'task-4', run_id: 'run-3', step_id: 'okta-note', email: 'omar@acme.com', status: 'done', closed_by: 'ops@acme.com' },
      ]).execute();
      const snapshot = await readAttestations(store, 'acme', 'spendesk', t0 + 2 * day);
      assert.equal(snapshot.source.name, 'attestations in 2 completed tasks');
      assert.deepEqual(snapshot.accounts.map((a) => [a.email, a.active]), [['Nina@acme.com', false]], 'the removal is her latest; approvals and other apps attest nothing');
      assert.match(snapshot.accounts[0]!.evidence!, /^removal attested by someone on 2026-09-02 in task task-2 \(offboard run run-2\)$/);
      assert.deepEqual((await readAttestations(store, 'globex', 'spendesk', t0)).accounts, []);
    });
  });
}
