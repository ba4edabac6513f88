import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { CsvError, parse } from 'csv-parse';
import { InvalidInputError, PatchbayError } from '../errors.js';
import { displayPath } from '../paths.js';

/**
 * Tables people export from admin consoles or fill in by hand (CSV in any of the usual dialects, or
 * an xlsx workbook), read as a person sees them, a batch of rows at a time: nothing holds the whole
 * file (an xlsx's shared strings excepted, hence its own size limit). Shared by the reconciliation's
 * accounts files and the users file of `run`.
 */

/** How much of a file a reader takes before it refuses it; each names the setting that raises it. */
export interface TableLimits {
  /** Rows after the header row, blank ones included; one more is refused. */
  readonly maxRows: number;
  /** A CSV's size in bytes. */
  readonly maxBytes: number;
  /**
   * An xlsx's size in bytes: lower, because a workbook is compressed (about 20 bytes a row) and its
   * shared strings are held while its rows are read.
   */
  readonly maxWorkbookBytes: number;
  /** Environment variables that raise each limit, for the refusal's one line. */
  readonly settings: { readonly rows: string; readonly bytes: string; readonly workbookBytes: string };
}

/** One row of a table, every cell as the text a person sees (trimmed, '' when blank). */
export interface TableRow {
  readonly cells: readonly string[];
  /** The row number a spreadsheet shows (1-based; for a CSV, each record is a row and so is each blank line). */
  readonly row: number;
  /** CSV only: the file line the row starts on (a quoted field can span lines, so it can differ from `row`). */
  readonly line?: number;
}

export type TableKind = 'csv' | 'xlsx';

/** A table whose header row was found: the header, then its rows, blank rows left out. */
export interface HeadedTable {
  readonly kind: TableKind;
  /** The file as messages name it. */
  readonly shown: string;
  readonly header: readonly string[];
  readonly headerRow: TableRow;
  /** The rows under the header as they are read, a few at a time (blank ones left out); iterate once. */
  readonly batches: AsyncIterable<readonly TableRow[]>;
  /** Where a row is, in words: "members.csv line 6 (row 4)" or "members.xlsx row 4". */
  place(row: TableRow): string;
  /** xlsx only: the mailto: targets of hyperlinked cells, asked for while reading, known once read. */
  readonly links?: CellLinks;
}

export interface HeaderRule {
  /** The header row as a spreadsheet numbers it, when the caller knows it (`--header-row`). */
  readonly headerRow?: number;
  /** Whether a row is the header (it names a column the reader needs): the first such among the first 20 rows is taken, else the first row. */
  readonly isHeader: (cells: readonly string[]) => boolean;
  /** What the header should hold, for the message when none is found ("an email, userName or externalId column"). */
  readonly wanted: string;
}

/** Rows looked at for the header before giving up, when it is not given. */
const headerSearch = 20;
/** The largest single CSV record (bytes): a file with no line breaks cannot fill the memory. */
const maxRecordBytes = 1 << 20;
const delimiters = [',', ';', '\t', '|'] as const;
const names: Record<string, string> = { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' };

/**
 * Opens a CSV or xlsx file, finds its header row (given, or the first of the first rows that
 * `isHeader` accepts, so titles above it are skipped; else the first row, for the caller to say what
 * it lacks) and returns the rows under it as they are read.
 * Throws InvalidInputError (one line naming the file, and the row or line) when the file is missing,
 * too large, empty, not a table, or has no header row; and from the iteration when it holds more
 * rows than the limit, or a CSV record cannot be parsed.
 */
export async function readHeadedTable(file: string, rule: HeaderRule, limits: TableLimits): Promise<HeadedTable> {
  const shown = displayPath(file);
  const kind = tableKind(file, shown, limits);
  const links = kind === 'xlsx' ? new CellLinks(limits.maxRows) : undefined;
  const source = links ? xlsxRows(file, shown, links) : csvRows(file, shown);
  const place = (row: TableRow) => (row.line === undefined ? `${shown} row ${row.row}` : `${shown} line ${row.line} (row ${row.row})`);
  const seen: TableRow[] = [];
  let header: TableRow | undefined;
  let rest: TableRow[] = [];
  try {
    search: for (let next = await source.next(); !next.done; next = await source.next()) {
      for (const [i, row] of next.value.entries()) {
        if (rule.headerRow !== undefined) {
          if (row.row < rule.headerRow) continue;
          if (row.row > rule.headerRow || isBlank(row)) throw new InvalidInputError({ file: place(row) }, `row ${rule.headerRow} (--header-row) is blank, not a header`);
        } else if (isBlank(row)) continue;
        else if (!isHeaderLike(row, rule)) {
          seen.push(row);
          if (seen.length < headerSearch) continue;
        }
        header = rule.headerRow !== undefined || isHeaderLike(row, rule) ? row : undefined;
        rest = next.value.slice(i + 1);
        break search;
      }
    }
  } catch (error) {
    await source.return(undefined);
    throw error;
  }
  if (!header && (rule.headerRow !== undefined || !seen.length)) {
    await source.return(undefined);
    throw new InvalidInputError({ file: shown }, rule.headerRow !== undefined ? `has no row ${rule.headerRow} (--header-row)` : `is empty: expected a header row with ${rule.wanted}`);
  }
  // No row names a wanted column: the first is the header, and the caller says what it lacks.
  const headerRow = header ?? seen[0]!;
  const first = header ? rest : [...seen.slice(1), ...rest];
  const within = (batch: readonly TableRow[]) => {
    const last = batch[batch.length - 1];
    if (last && last.row - headerRow.row > limits.maxRows) {
      throw new InvalidInputError({ file: shown }, `has more than ${count(limits.maxRows)} rows under its header, over the limit: refused (raise it with ${limits.settings.rows}=<rows>)`);
    }
    return batch.filter((row) => !isBlank(row));
  };
  async function* batches(): AsyncGenerator<readonly TableRow[]> {
    try {
      yield within(first);
      for (let next = await source.next(); !next.done; next = await source.next()) yield within(next.value);
    } finally {
      await source.return(undefined);
    }
  }
  return { kind, shown, header: headerRow.cells, headerRow, batches: batches(), place, ...(links ? { links } : {}) };
}

/** The cells of a row for a message: blank ones shown as (blank), at most 20. */
export function describeCells(cells: readonly string[]): string {
  const shown = cells.slice(0, 20).map((c) => (c ? c : '(blank)'));
  return `${shown.join(', ')}${cells.length > 20 ? `, … (${cells.length} columns)` : ''}`;
}

const isBlank = (row: TableRow) => row.cells.every((c) => !c);
/** A header names columns: a row holding an email address ("Exported by: it@example.test") is a title or data, whatever else it says. */
const isHeaderLike = (row: TableRow, rule: HeaderRule) => rule.isHeader(row.cells) && !row.cells.some((c) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(c));
const count = (n: number) => n.toLocaleString('en-US');

/** CSV or xlsx, by the file's first bytes (a zip is an xlsx whatever its name), after the size check. */
function tableKind(file: string, shown: string, limits: TableLimits): TableKind {
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new InvalidInputError({ file: shown }, 'is not a file');
    size = stat.size;
  } catch (cause) {
    if (cause instanceof PatchbayError) throw cause;
    throw new InvalidInputError({ file: shown }, (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read', { cause });
  }
  const head = sample(file, 8);
  const zip = head.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  const [limit, setting] = zip ? [limits.maxWorkbookBytes, limits.settings.workbookBytes] : [limits.maxBytes, limits.settings.bytes];
  if (size > limit) throw new InvalidInputError({ file: shown }, `is ${count(size)} bytes, over the limit of ${count(limit)} for ${zip ? 'a workbook' : 'a CSV'}: refused (raise it with ${setting}=<bytes>)`);
  if (zip) {
    // A zip ends with its directory; a cut-short download has none, and a streaming reader would wait for the rest forever.
    const tail = sample(file, Math.min(size, 22 + 65_535), Math.max(0, size - 22 - 65_535));
    if (tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])) < 0) throw new InvalidInputError({ file: shown }, 'is not a valid xlsx file (the zip archive is cut short: it has no central directory)');
    return 'xlsx';
  }
  if (head.subarray(0, 4).equals(Buffer.from([0xd0, 0xcf, 0x11, 0xe0]))) throw new InvalidInputError({ file: shown }, 'is an Excel 97-2003 workbook (.xls): save it as .xlsx or CSV');
  if (path.extname(file).toLowerCase() === '.xlsx' && size > 0) throw new InvalidInputError({ file: shown }, 'is not a valid xlsx file (not a zip archive)');
  return 'csv';
}

/** Up to `bytes` bytes of the file from `position`. */
function sample(file: string, bytes: number, position = 0): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    return buffer.subarray(0, readSync(fd, buffer, 0, bytes, position));
  } finally {
    closeSync(fd);
  }
}

/**
 * The delimiter of a CSV: of comma, semicolon, tab and pipe, the one that splits the most records of
 * the sample into the same number (above one) of fields, quotes respected; a comma when none does.
 * Excel writes semicolons where the decimal separator is a comma (German, French locales), tabs for
 * "Unicode text".
 */
export function sniffDelimiter(text: string, whole: boolean): string {
  const perRecord: number[][] = delimiters.map(() => []);
  let fields = delimiters.map(() => 1);
  let quoted = false;
  let content = false;
  const endRecord = () => {
    if (content) fields.forEach((n, k) => perRecord[k]!.push(n));
    fields = delimiters.map(() => 1);
    content = false;
  };
  for (const ch of text) {
    if (ch === '"') {
      quoted = !quoted;
      content = true;
    } else if (quoted) continue;
    else if (ch === '\n' || ch === '\r') endRecord();
    else {
      const k = (delimiters as readonly string[]).indexOf(ch);
      if (k >= 0) fields[k]!++;
      content = true;
    }
  }
  if (whole) endRecord();
  let best: string = ',';
  let bestScore = 0;
  delimiters.forEach((d, k) => {
    const counts = perRecord[k]!.filter((n) => n > 1);
    const tally = new Map<number, number>();
    for (const n of counts) tally.set(n, (tally.get(n) ?? 0) + 1);
    const score = Math.max(0, ...tally.values());
    if (score > bestScore) [best, bestScore] = [d, score];
  });
  return best;
}

/**
 * A CSV's rows, streamed: BOM (UTF-8 or UTF-16LE), any line ends, quoted line breaks, the delimiter
 * sniffed. Blank lines come through as rows (a spreadsheet shows them), so each row's number is its
 * place among the records, and its file line is found by counting the line breaks inside the quoted
 * fields of the rows before it.
 */
async function* csvRows(file: string, shown: string): AsyncGenerator<TableRow[]> {
  const head = sample(file, 64 * 1024);
  const utf16 = head[0] === 0xff && head[1] === 0xfe;
  const text = head.toString(utf16 ? 'utf16le' : 'utf8').replace(/^\uFEFF/, '');
  const delimiter = sniffDelimiter(text, head.length < 64 * 1024);
  const lineBreak = !text.includes('\n') && text.includes('\r') ? '\r' : '\n';
  const input = createReadStream(file);
  const parser = parse({ bom: true, delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: false, trim: true, max_record_size: maxRecordBytes });
  // Listened to for the generator's whole life: an error while the reader holds a batch is kept, not thrown at nobody.
  let failure: unknown;
  let wake: (() => void) | undefined;
  const rouse = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  parser.on('readable', rouse).on('end', rouse).on('error', (error) => {
    failure ??= error;
    rouse();
  });
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);
  let row = 0;
  let line = 1;
  try {
    for (;;) {
      if (failure) throw failure;
      const batch: TableRow[] = [];
      for (let cells: string[] | null; (cells = parser.read() as string[] | null) !== null; ) {
        batch.push({ cells, row: ++row, line });
        line++;
        for (const cell of cells) if (cell.includes(lineBreak)) line += cell.split(lineBreak).length - 1;
      }
      if (batch.length) yield batch;
      else if (parser.readableEnded) return;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
  } catch (cause) {
    if (cause instanceof PatchbayError) throw cause;
    if (cause instanceof CsvError) {
      const why = cause.code === 'CSV_MAX_RECORD_SIZE' ? `a record longer than ${count(maxRecordBytes)} bytes (is it a CSV?)` : cause.message.replace(/ at line \d+/g, '').replace(/^[^:]*: /, '');
      throw new InvalidInputError({ file: `${shown} line ${line} (row ${row + 1})` }, `invalid CSV (${names[delimiter]}-delimited): ${why}`, { cause });
    }
    throw new InvalidInputError({ file: shown }, 'cannot be read', { cause });
  } finally {
    input.destroy();
    parser.destroy();
  }
}

/**
 * The mailto: targets of hyperlinked cells a reader asks for (a cell showing "Ann Demo" that links to
 * mailto:ann@example.test). A sheet lists its hyperlinks after its rows, so a reader asks while it
 * reads the rows (`want`) and gets the targets once the table is read (`target`). Only mailto:
 * targets are kept, and only as many as the row limit.
 */
export class CellLinks {
  private readonly wanted = new Set<string>();
  private readonly refs = new Map<string, string>();
  private readonly targets = new Map<string, Map<string, string>>();

  constructor(private readonly cap: number) {}

  want(row: TableRow, column: number): void {
    if (this.wanted.size < this.cap) this.wanted.add(cellRef(row.row, column));
  }

  /** The address a wanted cell links to (mailto: removed), once the table is read. */
  target(row: TableRow, column: number): string | undefined {
    const ref = cellRef(row.row, column);
    const rId = this.refs.get(ref);
    const target = rId === undefined ? undefined : this.targets.get(this.sheet ?? '')?.get(rId);
    return target ? decodeURIComponent(target.replace(/^mailto:/i, '').replace(/\?.*$/, '')) : undefined;
  }

  /** The sheet file (its number in xl/worksheets/sheetN.xml) the rows came from. */
  sheet?: string;

  link(ref: string, rId: string): void {
    if (this.wanted.has(ref)) this.refs.set(ref, rId);
  }

  relationship(sheet: string, rId: string, target: string): void {
    if (!/^mailto:/i.test(target)) return;
    let map = this.targets.get(sheet);
    if (!map) this.targets.set(sheet, (map = new Map()));
    if (map.size < this.cap) map.set(rId, target);
  }
}

/** "C12" for row 12, column 2 (0-based). */
function cellRef(row: number, column: number): string {
  let letters = '';
  for (let n = column + 1; n > 0; n = Math.floor((n - 1) / 26)) letters = String.fromCharCode(65 + ((n - 1) % 26)) + letters;
  return `${letters}${row}`;
}

type XlsxEvent = { eventType?: string; value?: unknown };
type SheetEvent = { eventType: string; value: { number: number; values: unknown[]; ref: string; rId: string } };

/**
 * The first visible sheet of a workbook, streamed row by row (exceljs's WorkbookReader): cells as
 * displayed; the rest of the archive is read on for the hyperlinks' targets `links` asks for.
 */
async function* xlsxRows(file: string, shown: string, links: CellLinks): AsyncGenerator<TableRow[]> {
  const { default: ExcelJS } = await import('exceljs');
  const input = createReadStream(file);
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, { sharedStrings: 'cache', styles: 'cache', hyperlinks: 'emit', worksheets: 'emit', entries: 'emit' });
  // The archive's entries say which sheet file each reader comes from; hyperlink readers carry that number.
  let entry: { type?: string; id?: string } = {};
  (reader as unknown as NodeJS.EventEmitter).on('entry', (e: typeof entry) => (entry = e));
  let read = false;
  try {
    for await (const item of reader.parse() as unknown as AsyncIterable<XlsxEvent>) {
      if (item.eventType === 'hyperlinks') {
        const rels = item.value as NodeJS.EventEmitter & { id: string; read(): Promise<void> };
        rels.on('hyperlink', (r: { rId: string; target: string }) => links.relationship(String(rels.id), r.rId, r.target));
        await rels.read();
        continue;
      }
      if (item.eventType !== 'worksheet') continue;
      const sheet = item.value as { state?: string; name?: string; iterator?: { destroy?: () => void }; parse(): AsyncIterable<SheetEvent[]> };
      const tabs = (reader as unknown as { model?: { sheets?: { name: string; state?: string }[] } }).model?.sheets ?? [];
      const first = tabs.find((t) => t.state !== 'hidden' && t.state !== 'veryHidden');
      if (read || sheet.state === 'hidden' || sheet.state === 'veryHidden' || (first && sheet.name !== first.name)) {
        sheet.iterator?.destroy?.(); // a sheet spooled to a temporary file opened a stream for it
        continue;
      }
      read = true;
      links.sheet = String(entry.id);
      for await (const events of sheet.parse()) {
        const batch: TableRow[] = [];
        for (const { eventType, value } of events) {
          if (eventType !== 'row') continue;
          const values = value.values ?? [];
          const cells: string[] = [];
          for (let c = 1; c < values.length; c++) cells.push(cellText(values[c]).trim());
          batch.push({ cells, row: value.number });
        }
        if (batch.length) yield batch;
        // After the reader has seen the rows (and asked for the links it wants).
        for (const { eventType, value } of events) if (eventType === 'hyperlink') links.link(value.ref, value.rId);
      }
    }
  } catch (cause) {
    if (cause instanceof PatchbayError) throw cause;
    throw new InvalidInputError({ file: shown }, `is not a valid xlsx file (${(cause as Error).message})`, { cause });
  } finally {
    input.destroy();
  }
  if (!read) throw new InvalidInputError({ file: shown }, 'has no sheet');
}

/**
 * A cell's value as Excel displays it: a formula's saved result, rich text's runs joined, a hyperlink's
 * text, a date as ISO 8601 (the day alone at midnight), an error as its code (#N/A).
 */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return '';
    const iso = value.toISOString();
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.slice(0, 19).replace('T', ' ');
  }
  if (typeof value === 'object') {
    const v = value as { richText?: { text?: string }[]; formula?: string; sharedFormula?: string; result?: unknown; text?: unknown; hyperlink?: string; error?: string };
    if (Array.isArray(v.richText)) return v.richText.map((r) => r.text ?? '').join('');
    if ('formula' in v || 'sharedFormula' in v || 'result' in v) return cellText(v.result);
    if ('text' in v) return cellText(v.text);
    if (typeof v.error === 'string') return v.error;
  }
  return '';
}
