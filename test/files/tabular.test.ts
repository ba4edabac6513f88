import assert from 'node:assert/strict';
import { createWriteStream, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import v8 from 'node:v8';
import vm from 'node:vm';
import { cellText, readHeadedTable, sniffDelimiter, type TableLimits } from '../../core/files/tabular.js';
import { readAccountsFile } from '../../core/reconcile/account-files.js';
import { scratchDir } from '../support/fixtures.js';

const limits: TableLimits = { maxRows: 2_000_000, maxBytes: 1024 ** 3, maxWorkbookBytes: 1024 ** 3, settings: { rows: 'PATCHBAY_MAX_FILE_ROWS', bytes: 'PATCHBAY_MAX_FILE_BYTES', workbookBytes: 'PATCHBAY_MAX_XLSX_BYTES' } };
const emailHeader = { isHeader: (cells: readonly string[]) => cells.includes('email'), wanted: 'an email column' };

/** Writes `rows` lines of a members export to disk, streamed, and returns its path. */
async function largeExport(rows: number): Promise<string> {
  const file = path.join(scratchDir(), 'large.csv');
  const out = createWriteStream(file);
  out.write('email,name,status,notes\n');
  for (let i = 0; i < rows; i++) {
    if (!out.write(`person.${i}@example.test,"Person, Number ${i}",Active,"joined in 2026; team ${i % 40}"\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return file;
}

describe('tables (CSV and xlsx, streamed)', () => {
  it('sniffs the delimiter from the records, quotes respected, and falls back to a comma', () => {
    assert.equal(sniffDelimiter('E-Mail;Name;Status\nann@example.test;Demo, Ann;Aktiv\nben@example.test;Demo, Ben;Aktiv\n', true), ';');
    assert.equal(sniffDelimiter('Email,Name\nann@example.test,"Demo; Ann"\n', true), ',');
    assert.equal(sniffDelimiter('Members export\n\nEmail\tName\nann@example.test\tAnn\n', true), '\t');
    assert.equal(sniffDelimiter('email|name|notes\nann@example.test|Ann|"a, b; c"\n', true), '|');
    assert.equal(sniffDelimiter('email\nann@example.test\n', true), ',');
  });

  it('shows cells as Excel displays them: dates as ISO days or times, errors as their code, booleans, formula results', () => {
    assert.equal(cellText(new Date(Date.UTC(2026, 10, 30))), '2026-11-30');
    assert.equal(cellText(new Date(Date.UTC(2026, 10, 30, 9, 5, 7))), '2026-11-30 09:05:07');
    assert.equal(cellText({ error: '#REF!' }), '#REF!');
    assert.equal(cellText(true), 'TRUE');
    assert.equal(cellText({ formula: 'A1', result: { error: '#N/A' } }), '#N/A');
    assert.equal(cellText({ sharedFormula: 'A2', result: 42 }), '42');
    assert.equal(cellText({ text: { richText: [{ text: 'ann' }, { text: '@example.test' }] }, hyperlink: 'mailto:ann@example.test' }), 'ann@example.test');
    assert.equal(cellText(Number.NaN), '');
  });

  it('numbers rows as a spreadsheet does and gives each its file line, across CR-only, LF and CRLF line ends', async () => {
    for (const end of ['\r', '\n', '\r\n']) {
      const file = path.join(scratchDir(), 'lines.csv');
      writeFileSync(file, ['title', '', 'email,notes', `a@example.test,"one${end}two"`, '', 'b@example.test,'].join(end));
      const table = await readHeadedTable(file, emailHeader, limits);
      const rows = [];
      for await (const batch of table.batches) rows.push(...batch.map((r) => [r.cells[0], r.row, r.line]));
      assert.deepEqual(rows, [['a@example.test', 4, 4], ['b@example.test', 6, 7]], JSON.stringify(end));
    }
  });

  it('keeps a parse error that comes while the reader is busy with a batch, and throws it in its turn', async () => {
    const file = path.join(scratchDir(), 'late-error.csv');
    writeFileSync(file, ['email', ...Array.from({ length: 20_000 }, (_, i) => `p${i}@example.test`), '"unclosed'].join('\n'));
    const table = await readHeadedTable(file, emailHeader, limits);
    let rows = 0;
    await assert.rejects(
      (async () => {
        for await (const batch of table.batches) {
          rows += batch.length;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })(),
      /late-error\.csv line 20002 \(row 20002\): invalid CSV \(comma-delimited\): the parsing is finished with an opening quote/,
    );
    assert.equal(rows, 20_000);
  });

  it('reads a 300,000-row export with the heap bounded by a batch, not by the file', async function () {
    this.timeout(120_000);
    const file = await largeExport(300_000);
    const size = statSync(file).size;
    assert.ok(size > 20_000_000, `the export is ${size} bytes`);
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    let retained = 0;
    let rows = 0;
    const table = await readHeadedTable(file, emailHeader, limits);
    for await (const batch of table.batches) {
      rows += batch.length;
      if (rows % 50_000 < batch.length) {
        gc();
        retained = Math.max(retained, process.memoryUsage().heapUsed - before);
      }
    }
    assert.equal(rows, 300_000);
    assert.ok(retained < 8_000_000, `reading the table held ${retained} bytes of heap for a ${size}-byte file`);

    // The accounts themselves are kept (a reconciliation needs them), and only the fields it uses: well under the file's size times four.
    gc();
    const start = process.memoryUsage().heapUsed;
    const snapshot = await readAccountsFile(file, { side: 'app', app: 'spendesk', limits });
    gc();
    const held = process.memoryUsage().heapUsed - start;
    assert.equal(snapshot.accounts.length, 300_000);
    assert.ok(held < 4 * size, `300,000 accounts took ${held} bytes of heap for a ${size}-byte file`);
  });
});
