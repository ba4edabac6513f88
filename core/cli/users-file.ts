import { InvalidInputError } from '../errors.js';
import type { TableLimits } from '../files/tabular.js';

export interface Person {
  readonly email: string;
  readonly firstName?: string;
  readonly lastName?: string;
  /** "people.csv:3" (the file line a CSV row starts on) or "people.xlsx row 3", for error messages. */
  readonly source: string;
}

const columns: Record<string, keyof Omit<Person, 'source'>> = {
  email: 'email',
  'e-mail': 'email',
  'work email': 'email',
  'email address': 'email',
  firstname: 'firstName',
  'first name': 'firstName',
  first_name: 'firstName',
  lastname: 'lastName',
  'last name': 'lastName',
  last_name: 'lastName',
};

/**
 * The default limits of a users file: each row starts a run, so 10,000 people at most (raised by
 * PATCHBAY_MAX_USERS_FILE_ROWS), and 64 MiB for either a CSV or a workbook (PATCHBAY_MAX_USERS_FILE_BYTES).
 */
export function usersFileLimits(env: NodeJS.ProcessEnv = process.env): TableLimits {
  const positive = (v: string | undefined) => (v && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : undefined);
  return {
    maxRows: positive(env.PATCHBAY_MAX_USERS_FILE_ROWS) ?? 10_000,
    maxBytes: positive(env.PATCHBAY_MAX_USERS_FILE_BYTES) ?? 64 * 1024 ** 2,
    maxWorkbookBytes: positive(env.PATCHBAY_MAX_USERS_FILE_BYTES) ?? 64 * 1024 ** 2,
    settings: { rows: 'PATCHBAY_MAX_USERS_FILE_ROWS', bytes: 'PATCHBAY_MAX_USERS_FILE_BYTES', workbookBytes: 'PATCHBAY_MAX_USERS_FILE_BYTES' },
  };
}

/**
 * Reads the people of a CSV (any of the usual delimiters) or xlsx with a header row naming an email
 * column, and optionally first and last names; titles above the header are skipped. Streamed, and
 * refused past its limits, so that a file that is not what was meant starts nothing. Throws
 * InvalidInputError naming the file and line (or row) of the first problem: no email column, no
 * people, an email given twice, too many rows.
 */
export async function readUsersFile(file: string, limits: TableLimits = usersFileLimits()): Promise<Person[]> {
  // The CSV and xlsx readers are loaded when a file is read, not by `patchbay --help`.
  const { describeCells, readHeadedTable } = await import('../files/tabular.js');
  const table = await readHeadedTable(file, { isHeader: (cells) => cells.some((c) => columns[c.toLowerCase()] === 'email'), wanted: 'an email column' }, limits);
  const { header, shown } = table;
  const mapped = header.map((h) => columns[h.toLowerCase()]);
  if (!mapped.includes('email')) throw new InvalidInputError({ file: `${shown}:${table.headerRow.line ?? table.headerRow.row}` }, `no email column in the header (${describeCells(header)})`);
  const seen = new Map<string, string>();
  const people: Person[] = [];
  for await (const batch of table.batches) for (const row of batch) {
    // The same "file:line" shape as every other file error, so that later messages (#/subject/email) append to it.
    const source = row.line === undefined ? table.place(row) : `${shown}:${row.line}`;
    const person: Record<string, string> = { source };
    mapped.forEach((field, column) => {
      if (field && !person[field] && row.cells[column]) person[field] = row.cells[column]!;
    });
    const key = person.email?.toLowerCase() ?? '';
    if (seen.has(key)) throw new InvalidInputError({ file: source }, key ? `${person.email} is already on ${seen.get(key)}` : `no email, and ${seen.get(key)} has none either`);
    seen.set(key, row.line === undefined ? `row ${row.row}` : `line ${row.line}`);
    people.push(person as unknown as Person);
  }
  if (people.length === 0) throw new InvalidInputError({ file: shown }, 'has a header but no people');
  return people;
}
