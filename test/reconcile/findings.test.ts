import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { InvalidInputError } from '../../core/errors.js';
import { reconcile } from '../../core/reconcile/findings.js';
import { readAccountsFile } from '../../core/reconcile/readers.js';
import { type AccountRecord, completeRead, type Snapshot } from '../../core/reconcile/snapshot.js';
import { scratchDir } from '../support/fixtures.js';

const hour = 3_600_000;
const now = Date.UTC(2026, 10, 28, 12);
const idp = (accounts: AccountRecord[], readAt = now): Snapshot => ({ side: 'idp', app: 'spendesk', source: { kind: 'idp', name: 'Okta assignments of spendesk', readAt }, accounts, completeness: completeRead });
const app = (accounts: AccountRecord[], readAt = now): Snapshot => ({ side: 'app', app: 'spendesk', source: { kind: 'browser', name: 'Spendesk console', readAt }, accounts, completeness: completeRead });

describe('reconciliation', () => {
  it('finds an account active in the app but not assigned in the IdP, and one whose IdP identity is deactivated', () => {
    const r = reconcile(
      idp([{ email: 'Bob@Acme.com', active: true }, { email: 'dana@acme.com', active: false }]),
      app([{ email: 'bob@acme.com', active: true }, { email: 'alice@acme.com', active: true }, { email: 'dana@acme.com', active: true }, { email: 'gone@acme.com', active: false }], now - 2 * hour),
      { now },
    );
    assert.deepEqual(r.findings.map((f) => [f.kind, f.person]), [['orphaned-account', 'alice@acme.com'], ['orphaned-account', 'dana@acme.com']]);
    assert.match(r.findings[0]!.detail, /alice@acme\.com is active in spendesk but not assigned in the IdP \(Okta assignments of spendesk\)/);
    assert.match(r.findings[1]!.detail, /deactivated in the IdP/);
    assert.equal(r.findings[0]!.ageMs, 2 * hour, 'the age of the oldest evidence');
    assert.deepEqual(r.findings[0]!.evidence.map((e) => e.source.kind), ['browser', 'idp']);
    assert.equal(r.counts.matched, 2);
  });

  it('finds an assignment with no account, and matches on userName and externalId too', () => {
    const r = reconcile(
      idp([{ email: 'new@acme.com', active: true }, { userName: 'CAROL@acme.com', active: true }, { externalId: 'E-7', active: true }]),
      app([{ userName: 'carol@acme.com', active: true }, { externalId: 'E-7', email: 'erin@acme.com', active: true }]),
      { now },
    );
    assert.deepEqual(r.findings.map((f) => [f.kind, f.person]), [['assigned-but-missing', 'new@acme.com']]);
  });

  it('reports ambiguous matches instead of guessing, and leaves them out of the other findings', () => {
    const twoAccounts = reconcile(idp([{ email: 'sam@acme.com', externalId: 'E-1', active: true }]), app([{ email: 'sam@acme.com', active: true }, { externalId: 'E-1', email: 'samuel@acme.com', active: true }]), { now });
    assert.deepEqual(twoAccounts.findings.map((f) => f.kind), ['ambiguous-match']);
    assert.match(twoAccounts.findings[0]!.detail, /sam@acme\.com matches sam@acme\.com, samuel@acme\.com in spendesk; not guessed/);
    const sameEmailTwice = reconcile(idp([]), app([{ email: 'x@acme.com', active: true }, { email: 'X@acme.com', active: true }]), { now });
    assert.deepEqual(
      sameEmailTwice.findings.map((f) => [f.kind, f.detail]),
      [
        ['ambiguous-match', 'x@acme.com shares an identifier with another account in spendesk; not guessed'],
        ['ambiguous-match', 'X@acme.com shares an identifier with another account in spendesk; not guessed'],
      ],
      'two app accounts with one email are reported, not called orphans on a guess',
    );
  });

  it('names role, team and policy drift against the desired access', () => {
    const desired = new Map([['bob@acme.com', { roles: ['Controller'], teams: ['Finance'], policy: 'Always' }]]);
    const r = reconcile(idp([{ email: 'bob@acme.com', active: true }]), app([{ email: 'bob@acme.com', active: true, roles: ['Requester'], teams: ['finance'], policy: 'Always' }]), { now, desired });
    assert.deepEqual(r.findings.map((f) => [f.kind, f.detail]), [['access-drift', 'bob@acme.com has roles ["Requester"], wanted ["Controller"]']]);
  });

  it("takes the wanted access from the IdP's own records when they carry it, and the caller's desired access over it", () => {
    const identities = idp([{ email: 'bob@acme.com', active: true, roles: ['Controller'] }, { email: 'eve@acme.com', active: true }]);
    const accounts = app([{ email: 'bob@acme.com', active: true, roles: ['Requester'] }, { email: 'eve@acme.com', active: true, roles: ['Requester'] }]);
    assert.deepEqual(reconcile(identities, accounts, { now }).findings.map((f) => [f.person, f.detail]), [['bob@acme.com', 'bob@acme.com has roles ["Requester"], wanted ["Controller"]']]);
    const desired = new Map([['bob@acme.com', { roles: ['Requester'] }]]);
    assert.deepEqual(reconcile(identities, accounts, { now, desired }).findings, []);
  });

  describe('files', () => {
    it('reads a CSV with a column mapping, and a status column', async () => {
      const file = path.join(scratchDir(), 'members.csv');
      writeFileSync(file, 'Work email,State,Roles\nalice@acme.com,Active,"Requester, Controller"\nbob@acme.com,Deactivated,\n');
      const s = await readAccountsFile(file, { side: 'app', app: 'spendesk', map: { email: 'Work email' } });
      assert.deepEqual(s.accounts, [{ email: 'alice@acme.com', active: true, roles: ['Requester', 'Controller'] }, { email: 'bob@acme.com', active: false }]);
      assert.equal(s.source.kind, 'file');
    });

    it('reads an xlsx export', async () => {
      const file = path.join(scratchDir(), 'members.xlsx');
      const book = new ExcelJS.Workbook();
      const sheet = book.addWorksheet('Members');
      sheet.addRow(['Email', 'Status']);
      sheet.addRow(['alice@acme.com', 'Active']);
      await book.xlsx.writeFile(file);
      assert.deepEqual((await readAccountsFile(file, { side: 'app', app: 'spendesk' })).accounts, [{ email: 'alice@acme.com', active: true }]);
    });

    it('names the file and row of a bad row, and a missing column', async () => {
      const dir = scratchDir();
      const bad = path.join(dir, 'bad.csv');
      writeFileSync(bad, 'email\nalice@acme.com\nnot-an-email\n');
      const read = await readAccountsFile(bad, { side: 'app', app: 'spendesk' });
      assert.deepEqual(read.accounts, [{ email: 'alice@acme.com', active: true }]);
      assert.equal(read.completeness.complete, false);
      assert.match(read.completeness.reasons.join('\n'), /^\S*bad\.csv line 3 \(row 3\): "not-an-email" is not an email address; the row is left unmatched$/);
      const none = path.join(dir, 'none.csv');
      writeFileSync(none, 'name\nAlice\n');
      await assert.rejects(readAccountsFile(none, { side: 'app', app: 'spendesk' }), (e: unknown) => e instanceof InvalidInputError && /none\.csv line 1 \(row 1\): no email, userName or externalId column \(columns: name\)/.test(e.message));
      await assert.rejects(readAccountsFile(bad, { side: 'app', app: 'spendesk', map: { email: 'Mail' } }), /no column "Mail" for email/);
    });
  });
});
