import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { readUsersFile, usersFileLimits } from '../../core/cli/users-file.js';
import { InvalidInputError } from '../../core/errors.js';
import { runCli, scratchDir } from '../support/fixtures.js';

function file(name: string, content: string): string {
  const target = path.join(scratchDir(), name);
  writeFileSync(target, content);
  return target;
}

describe('the users file of patchbay run', () => {
  it('reads a semicolon file with a BOM, names each person by the file line a quoted line break pushes down', async () => {
    const people = await readUsersFile(file('leavers.csv', '\uFEFFE-Mail;First name;Last name;Notes\r\nann@acme.com;Ann;Demo;"leaves\r\nin March"\r\nben@acme.com;Ben;;\r\n'));
    assert.deepEqual(people.map((p) => [p.email, p.firstName, p.lastName, p.source.replace(/^.*\//, '')]), [
      ['ann@acme.com', 'Ann', 'Demo', 'leavers.csv:2'],
      ['ben@acme.com', 'Ben', undefined, 'leavers.csv:4'],
    ]);
  });

  it('reads an xlsx under a title row, naming people by spreadsheet row', async () => {
    const target = path.join(scratchDir(), 'joiners.xlsx');
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Joiners');
    sheet.addRow(['Joiners, December']);
    sheet.addRow(['Work email', 'First name']);
    sheet.addRow([{ formula: 'LOWER("Cid@Acme.com")', result: 'cid@acme.com' }, { richText: [{ text: 'C' }, { text: 'id' }] }]);
    await book.xlsx.writeFile(target);
    const people = await readUsersFile(target);
    assert.deepEqual(people.map((p) => [p.email, p.firstName, p.source.replace(/^.*\//, '')]), [['cid@acme.com', 'Cid', 'joiners.xlsx row 3']]);
  });

  it('refuses an email given twice, naming both lines, a header without people, and an empty file', async () => {
    await assert.rejects(readUsersFile(file('twice.csv', 'email\nann@acme.com\n\nAnn@acme.com\n')), (e: unknown) => e instanceof InvalidInputError && /twice\.csv:4: Ann@acme\.com is already on line 2$/.test(e.message));
    await assert.rejects(readUsersFile(file('header.csv', 'email\n')), /header\.csv: has a header but no people$/);
    await assert.rejects(readUsersFile(file('empty.csv', '')), /empty\.csv: is empty: expected a header row with an email column$/);
  });

  it('refuses more rows than its limit in one line, before any run starts', async () => {
    const rows = ['email', ...Array.from({ length: 11 }, (_, i) => `p${i}@acme.com`)].join('\n');
    const limits = usersFileLimits({ PATCHBAY_MAX_USERS_FILE_ROWS: '10' });
    assert.equal(limits.maxRows, 10);
    assert.equal(usersFileLimits({}).maxRows, 10_000);
    await assert.rejects(readUsersFile(file('many.csv', rows), limits), /many\.csv: has more than 10 rows under its header, over the limit: refused \(raise it with PATCHBAY_MAX_USERS_FILE_ROWS=<rows>\)$/);
  });

  it('through the CLI: a file over the limit exits 2 with one line and starts nothing', function () {
    this.timeout(60_000);
    const data = scratchDir();
    const leavers = file('leavers.csv', ['email', 'ann@acme.com', 'ben@acme.com', 'cid@acme.com'].join('\n'));
    const refused = runCli(['--data-dir', data, 'run', 'offboard', '--app', 'spendesk', '--users-file', leavers], { PATCHBAY_MAX_USERS_FILE_ROWS: '2' });
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /^patchbay: \S*leavers\.csv: has more than 2 rows under its header, over the limit: refused \(raise it with PATCHBAY_MAX_USERS_FILE_ROWS=<rows>\)\n$/);
    const runs = runCli(['--data-dir', data, 'runs', '--json']);
    assert.deepEqual(JSON.parse(runs.stdout), []);
  });
});
