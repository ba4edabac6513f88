import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { InvalidInputError } from '../../core/errors.js';
import { readAccountsFile } from '../../core/reconcile/account-files.js';
import { reconcile } from '../../core/reconcile/findings.js';
import { completeRead, type Snapshot } from '../../core/reconcile/snapshot.js';
import { scratchDir } from '../support/fixtures.js';

const now = Date.UTC(2026, 10, 30, 12);
const limits = { maxRows: 1000, maxBytes: 10_000_000, maxWorkbookBytes: 1_000_000, settings: { rows: 'PATCHBAY_MAX_FILE_ROWS', bytes: 'PATCHBAY_MAX_FILE_BYTES', workbookBytes: 'PATCHBAY_MAX_XLSX_BYTES' } };
const idp: Snapshot = {
  side: 'idp',
  app: 'spendesk',
  source: { kind: 'idp', name: 'Okta assignments of spendesk', readAt: now },
  accounts: [{ email: 'ann.demo@example.test', active: true }, { email: 'ben.demo@example.test', active: true }],
  completeness: completeRead,
};
const bothEmails = ['ann.demo@example.test', 'ben.demo@example.test'];

/** Writes a file in a fresh folder and returns its path. */
function file(name: string, content: string | Buffer): string {
  const target = path.join(scratchDir(), name);
  writeFileSync(target, content);
  return target;
}

/** A workbook with one sheet, built by `fill`, written to a fresh folder. */
async function workbook(name: string, fill: (sheet: ExcelJS.Worksheet, book: ExcelJS.Workbook) => void): Promise<string> {
  const target = path.join(scratchDir(), name);
  const book = new ExcelJS.Workbook();
  fill(book.addWorksheet('Members'), book);
  await book.xlsx.writeFile(target);
  return target;
}

const read = (target: string, options: { map?: Record<string, string>; headerRow?: number } = {}) => readAccountsFile(target, { side: 'app', app: 'spendesk', readAt: now, limits, ...options });
const emails = (s: Snapshot) => s.accounts.map((a) => a.email);
/** Reconciles the file's accounts against Ann and Ben assigned in the IdP. */
const against = (s: Snapshot) => reconcile(idp, s, { now });

describe('accounts files (CSV and xlsx exports)', () => {
  describe('the vendor-quirks cases', () => {
    it('case 15: reads an Excel "CSV UTF-8" export (BOM, CRLF, quoted comma and line breaks) as 2 matched accounts', async () => {
      const csv = '\uFEFFEmail,Name,Status,Notes\r\nann.demo@example.test,"Demo, Ann",Active,"joined in March\r\nmoved to Finance"\r\nben.demo@example.test,"Demo, Ben",Active,\r\n';
      const s = await read(file('members-excel-utf8.csv', csv));
      assert.deepEqual(emails(s), bothEmails);
      assert.deepEqual(s.completeness, completeRead);
      const r = against(s);
      assert.equal(r.counts.matched, 2);
      assert.deepEqual(r.findings, []);
    });

    it('case 15: names the real file line (and the row) of a bad email after a 3-line note and a blank line, and reads on', async () => {
      const csv = '\uFEFFEmail,Name,Status,Notes\r\nann.demo@example.test,"Demo, Ann",Active,"line one\r\nline two\r\nline three"\r\n\r\nben.demo(at)example.test,"Demo, Ben",Active,\r\n';
      const s = await read(file('members-bad-row.csv', csv));
      assert.deepEqual(emails(s), ['ann.demo@example.test']);
      assert.equal(s.completeness.complete, false);
      assert.equal(s.completeness.reasons.length, 1);
      assert.match(s.completeness.reasons[0]!, /members-bad-row\.csv line 6 \(row 4\): "ben\.demo\(at\)example\.test" is not an email address; the row is left unmatched$/);
    });

    it('case 16: detects a semicolon-delimited German export (E-Mail;Name;Status): 2 matched, with or without --map', async () => {
      const target = file('mitglieder.csv', '\uFEFFE-Mail;Name;Status\r\nann.demo@example.test;Demo, Ann;Aktiv\r\nben.demo@example.test;Demo, Ben;Aktiv\r\n');
      for (const options of [{}, { map: { email: 'E-Mail' } }]) {
        const s = await read(target, options);
        assert.deepEqual(emails(s), bothEmails);
        assert.equal(against(s).counts.matched, 2);
        assert.deepEqual(against(s).findings, []);
      }
    });

    it('case 17: finds the header under a merged title row and a blank row: 2 matched, with or without --map', async () => {
      const target = await workbook('members-title-row.xlsx', (sheet) => {
        sheet.mergeCells('A1:C1');
        sheet.getCell('A1').value = 'Members export - Example Ltd - 2026-11-30';
        sheet.getRow(3).values = ['Work email', 'Name', 'Status'];
        sheet.getRow(4).values = ['ann.demo@example.test', 'Ann Demo', 'Active'];
        sheet.getRow(5).values = ['ben.demo@example.test', 'Ben Demo', 'Active'];
      });
      for (const options of [{}, { map: { email: 'Work email' } }, { headerRow: 3 }]) {
        const s = await read(target, options);
        assert.deepEqual(emails(s), bothEmails, JSON.stringify(options));
        assert.equal(against(s).counts.matched, 2);
      }
    });

    it('case 17: a blank header cell never crashes, with or without --map: 2 matched', async () => {
      const target = await workbook('members-blank-header-cell.xlsx', (sheet) => {
        sheet.getRow(1).values = [, , 'Work email', 'Status'];
        sheet.getRow(2).values = [, 1, 'ann.demo@example.test', 'Active'];
        sheet.getRow(3).values = [, 2, 'ben.demo@example.test', 'Active'];
      });
      for (const options of [{}, { map: { email: 'Work email' } }]) {
        const s = await read(target, options);
        assert.deepEqual(emails(s), bothEmails);
        assert.equal(against(s).counts.matched, 2);
      }
    });

    it('case 18: reads the saved result of formula cells (=LOWER(B2)): 2 matched', async () => {
      const target = await workbook('members-formula.xlsx', (sheet) => {
        sheet.getRow(1).values = ['Email', 'Login', 'Status'];
        sheet.getCell('B2').value = 'Ann.Demo@Example.test';
        sheet.getCell('A2').value = { formula: 'LOWER(B2)', result: 'ann.demo@example.test' };
        sheet.getCell('C2').value = 'Active';
        sheet.getCell('B3').value = 'Ben.Demo@Example.test';
        sheet.getCell('A3').value = { formula: 'LOWER(B3)', result: 'ben.demo@example.test' };
        sheet.getCell('C3').value = 'Active';
      });
      const s = await read(target);
      assert.deepEqual(emails(s), bothEmails);
      assert.equal(against(s).counts.matched, 2);
      assert.deepEqual(against(s).findings, []);
    });
  });

  describe('CSV dialects', () => {
    for (const [name, delimiter] of [['tab', '\t'], ['pipe', '|'], ['semicolon', ';']] as const) {
      it(`detects a ${name}-delimited file, commas inside fields left alone`, async () => {
        const rows = [['Email', 'Name', 'Roles'], ['ann.demo@example.test', 'Demo, Ann', 'Admin, Requester'], ['ben.demo@example.test', 'Demo, Ben', 'Requester']];
        const s = await read(file(`members-${name}.csv`, rows.map((r) => r.join(delimiter)).join('\n')));
        assert.deepEqual(s.accounts, [
          { email: 'ann.demo@example.test', active: true, roles: ['Admin', 'Requester'] },
          { email: 'ben.demo@example.test', active: true, roles: ['Requester'] },
        ]);
      });
    }

    it('reads a UTF-16 "Unicode text" export (BOM FF FE, tab-delimited), as Excel saves it', async () => {
      const text = '\uFEFFEmail\tName\r\nann.demo@example.test\tDemo, Ann\r\nben.demo@example.test\tDémo, Ben\r\n';
      const s = await read(file('members.txt', Buffer.from(text, 'utf16le')));
      assert.deepEqual(emails(s), bothEmails);
    });

    it('skips a title block of several lines above the header, and counts lines past quoted line breaks in LF files', async () => {
      const csv = 'Spendesk members\nExported 2026-11-30 by it@example.test\n\nEmail,Status,Notes\nann.demo@example.test,Active,"a\nb"\nnot an email,Active,\n';
      const s = await read(file('titled.csv', csv));
      assert.deepEqual(emails(s), ['ann.demo@example.test']);
      assert.match(s.completeness.reasons[0]!, /titled\.csv line 7 \(row 6\): "not an email" is not an email address/);
    });

    it('does not take a preamble row holding an address for the header, even when it names a column', async () => {
      const s = await read(file('preamble.csv', 'Login,it.admin@example.test\nExported,2026-11-30\nMail,Status\nann.demo@example.test,Active\nben.demo@example.test,Disabled\n'));
      assert.deepEqual(s.accounts, [{ email: 'ann.demo@example.test', active: true }, { email: 'ben.demo@example.test', active: false }]);
    });

    it('takes the header row it is told (--header-row), and refuses a row that is blank or past the end', async () => {
      const target = file('told.csv', 'Report,,\nemail,x,y\n\nE-mail,Status\nann.demo@example.test,Active\n');
      assert.deepEqual(emails(await read(target, { headerRow: 4 })), ['ann.demo@example.test']);
      await assert.rejects(read(target, { headerRow: 3 }), /told\.csv line 3 \(row 3\): row 3 \(--header-row\) is blank, not a header/);
      await assert.rejects(read(target, { headerRow: 9 }), (e: unknown) => e instanceof InvalidInputError && /told\.csv: has no row 9 \(--header-row\)$/.test(e.message));
    });

    it('takes the first of duplicated headers, and names blank header cells in messages', async () => {
      const s = await read(file('dupes.csv', 'Email,Email,Status,Status\nann.demo@example.test,old@example.test,Active,Deactivated\n'));
      assert.deepEqual(s.accounts, [{ email: 'ann.demo@example.test', active: true }]);
      await assert.rejects(read(file('blank.csv', ',Name,\n1,Ann,\n')), /blank\.csv line 1 \(row 1\): no email, userName or externalId column \(columns: \(blank\), Name, \(blank\)\); name one with --map email=<header>, or the header row with --header-row <n>$/);
      await assert.rejects(read(file('blank.csv', ',Name,\n1,Ann,\n'), { map: { email: 'Mail' } }), /no column "Mail" for email \(columns: \(blank\), Name, \(blank\)\)/);
    });

    it('reads a header-only file as no accounts, and refuses an empty one', async () => {
      const s = await read(file('header-only.csv', '\uFEFFEmail;Status\r\n'));
      assert.deepEqual(s.accounts, []);
      assert.deepEqual(s.completeness, completeRead);
      await assert.rejects(read(file('empty.csv', '')), (e: unknown) => e instanceof InvalidInputError && /empty\.csv: is empty: expected a header row with an email, userName or externalId column$/.test(e.message));
      await assert.rejects(read(file('blank-lines.csv', '\r\n\r\n')), /is empty/);
    });

    it('reports a row without an identifier as unmatched, lists ten reasons and counts the rest', async () => {
      const rows = ['Email,Name', 'ann.demo@example.test,Ann', ...Array.from({ length: 14 }, (_, i) => `,Nobody ${i}`), ',,', 'ben.demo@example.test,Ben'];
      const s = await read(file('gaps.csv', rows.join('\n')));
      assert.deepEqual(emails(s), bothEmails, 'the rows after the gaps are read');
      assert.equal(s.completeness.complete, false);
      assert.equal(s.completeness.reasons.length, 11);
      assert.match(s.completeness.reasons[0]!, /gaps\.csv line 3 \(row 3\): no email, userName or externalId; the row is left unmatched$/);
      assert.match(s.completeness.reasons[10]!, /gaps\.csv: 4 more rows left unmatched \(14 of 16 rows could not be read\)$/, 'a row of empty cells is blank, not a problem');
    });

    it('names the line of a record it cannot parse, and refuses a file with no line breaks past the record size', async () => {
      await assert.rejects(read(file('open-quote.csv', 'email,name\nann.demo@example.test,Ann\nben.demo@example.test,"Ben\n')), (e: unknown) => e instanceof InvalidInputError && /open-quote\.csv line 3 \(row 3\): invalid CSV \(comma-delimited\): /.test(e.message));
      await assert.rejects(read(file('one-line.csv', `email,${'x'.repeat(1_100_000)}`)), /one-line\.csv line 1 \(row 1\): invalid CSV \(comma-delimited\): a record longer than 1,048,576 bytes/);
    });

    it('refuses a file over the row limit or the size limit in one line that says how to raise it', async () => {
      const target = file('many.csv', ['email', ...Array.from({ length: 1001 }, (_, i) => `p${i}@example.test`)].join('\n'));
      await assert.rejects(read(target), (e: unknown) => e instanceof InvalidInputError && /^\S*many\.csv: has more than 1,000 rows under its header, over the limit: refused \(raise it with PATCHBAY_MAX_FILE_ROWS=<rows>\)$/.test(e.message));
      await assert.rejects(readAccountsFile(target, { side: 'app', app: 'spendesk', limits: { ...limits, maxBytes: 100 } }), /many\.csv: is [\d,]+ bytes, over the limit of 100 for a CSV: refused \(raise it with PATCHBAY_MAX_FILE_BYTES=<bytes>\)$/);
      assert.equal((await read(file('enough.csv', ['email', ...Array.from({ length: 1000 }, (_, i) => `p${i}@example.test`)].join('\n')))).accounts.length, 1000);
    });
  });

  describe('xlsx cells as displayed', () => {
    it('reads rich text, hyperlinks, numbers and dates as a person sees them', async () => {
      const target = await workbook('cells.xlsx', (sheet) => {
        sheet.getRow(1).values = ['Email', 'externalId', 'Team', 'Since'];
        sheet.getCell('A2').value = { richText: [{ text: 'ann.demo', font: { bold: true } }, { text: '@example.test' }] };
        sheet.getCell('B2').value = 100234;
        sheet.getCell('C2').value = { richText: [{ text: 'Fin' }, { text: 'ance', font: { italic: true } }] };
        sheet.getCell('D2').value = new Date(Date.UTC(2026, 0, 15));
        sheet.getCell('A3').value = { text: 'ben.demo@example.test', hyperlink: 'mailto:ben.demo@example.test' };
        sheet.getCell('B3').value = { formula: '100234+1', result: 100235 };
      });
      const s = await read(target, { map: { teams: 'Team' } });
      assert.deepEqual(s.accounts, [
        { email: 'ann.demo@example.test', externalId: '100234', active: true, teams: ['Finance'] },
        { email: 'ben.demo@example.test', externalId: '100235', active: true },
      ]);
    });

    it('takes the mailto: address of a hyperlinked cell that shows a name, and says which shown names link nowhere', async () => {
      const target = await workbook('linked.xlsx', (sheet) => {
        sheet.getRow(1).values = ['Email', 'Status'];
        sheet.getRow(2).values = [{ text: 'Ann Demo', hyperlink: 'mailto:ann.demo@example.test' }, 'Active'];
        sheet.getRow(3).values = [{ text: 'Ben Demo', hyperlink: 'https://example.test/people/ben' }, 'Active'];
        sheet.getRow(4).values = [{ text: 'ben.demo@example.test', hyperlink: 'mailto:ben.demo@example.test?subject=Hi' }, 'Active'];
      });
      const s = await read(target);
      assert.deepEqual(emails(s).sort(), bothEmails);
      assert.equal(against(s).counts.matched, 2);
      assert.deepEqual(s.completeness.reasons.map((r) => r.replace(/^.*\//, '')), ['linked.xlsx row 3: "Ben Demo" is not an email address; the row is left unmatched']);
    });

    it('refuses a workbook over its own size limit, which says how to raise it', async () => {
      const target = await workbook('big.xlsx', (sheet) => sheet.addRow(['Email']));
      await assert.rejects(readAccountsFile(target, { side: 'app', app: 'spendesk', limits: { ...limits, maxWorkbookBytes: 1000 } }), /big\.xlsx: is [\d,]+ bytes, over the limit of 1,000 for a workbook: refused \(raise it with PATCHBAY_MAX_XLSX_BYTES=<bytes>\)$/);
    });

    it('reads the first visible sheet, and names the spreadsheet row of a bad cell', async () => {
      const target = path.join(scratchDir(), 'sheets.xlsx');
      const book = new ExcelJS.Workbook();
      const hidden = book.addWorksheet('Notes', { state: 'hidden' });
      hidden.addRow(['Email']);
      hidden.addRow(['nobody@example.test']);
      const members = book.addWorksheet('Members');
      members.addRow(['Email']);
      members.addRow(['ann.demo@example.test']);
      members.addRow([{ error: '#N/A' }]);
      await book.xlsx.writeFile(target);
      const s = await read(target);
      assert.deepEqual(emails(s), ['ann.demo@example.test']);
      assert.match(s.completeness.reasons[0]!, /sheets\.xlsx row 3: "#N\/A" is not an email address; the row is left unmatched$/);
    });

    it('refuses a file that only claims to be a workbook, and an Excel 97-2003 .xls, in one line each', async () => {
      await assert.rejects(read(file('fake.xlsx', 'email\nann.demo@example.test\n')), /fake\.xlsx: is not a valid xlsx file \(not a zip archive\)$/);
      await assert.rejects(read(file('old.xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]))), /old\.xls: is an Excel 97-2003 workbook \(\.xls\): save it as \.xlsx or CSV$/);
      await assert.rejects(read(file('broken.xlsx', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(64, 7)]))), (e: unknown) => e instanceof InvalidInputError && /broken\.xlsx: is not a valid xlsx file/.test(e.message));
    });

    it('refuses a workbook cut short (a partial download) instead of waiting for the rest of it', async () => {
      const whole = await workbook('whole.xlsx', (sheet) => {
        sheet.addRow(['Email']);
        for (let i = 0; i < 1000; i++) sheet.addRow([`p${i}@example.test`]);
      });
      const bytes = readFileSync(whole);
      await assert.rejects(read(file('cut.xlsx', bytes.subarray(0, bytes.length - 200))), /cut\.xlsx: is not a valid xlsx file \(the zip archive is cut short: it has no central directory\)$/);
      assert.equal((await read(whole)).accounts.length, 1000);
      await assert.rejects(readAccountsFile(whole, { side: 'app', app: 'spendesk', limits: { ...limits, maxRows: 999 } }), /whole\.xlsx: has more than 999 rows under its header, over the limit: refused/);
    });
  });
});
