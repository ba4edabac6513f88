import { statSync } from 'node:fs';
import { InvalidInputError } from '../errors.js';
import { describeCells, readHeadedTable, type TableLimits, type TableRow } from '../files/tabular.js';
import type { AccountRecord, Completeness, Snapshot } from './snapshot.js';

/** Record fields a file's columns can map to. */
export const accountFields = ['email', 'userName', 'externalId', 'status', 'roles', 'teams', 'policy'] as const;
type Field = (typeof accountFields)[number];
const identifiers: readonly Field[] = ['email', 'userName', 'externalId'];
/** Header names vendors' exports use for each field (compared without case). */
const defaultHeaders: Record<string, Field> = {
  email: 'email', 'e-mail': 'email', 'work email': 'email', mail: 'email', 'email address': 'email', 'e-mail address': 'email', username: 'userName', login: 'userName', 'user name': 'userName',
  externalid: 'externalId', 'external id': 'externalId', status: 'status', state: 'status', roles: 'roles', role: 'roles', teams: 'teams', team: 'teams', 'approval policy': 'policy', policy: 'policy',
};
const inactive = /^(inactive|deactivated|deprovisioned|suspended|removed|disabled|archived|false|no|0)$/i;
const emailShape = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Rows that could not be read are each named up to this many times; the rest are counted. */
const reasonsShown = 10;

/**
 * The default limits of an accounts file: 2,000,000 rows (PATCHBAY_MAX_FILE_ROWS), a 2 GiB CSV
 * (PATCHBAY_MAX_FILE_BYTES), a 256 MiB workbook (PATCHBAY_MAX_XLSX_BYTES; 2,000,000 rows of a
 * members export take about 45 MB).
 */
export function accountsFileLimits(env: NodeJS.ProcessEnv = process.env): TableLimits {
  return {
    maxRows: positive(env.PATCHBAY_MAX_FILE_ROWS) ?? 2_000_000,
    maxBytes: positive(env.PATCHBAY_MAX_FILE_BYTES) ?? 2 * 1024 ** 3,
    maxWorkbookBytes: positive(env.PATCHBAY_MAX_XLSX_BYTES) ?? 256 * 1024 ** 2,
    settings: { rows: 'PATCHBAY_MAX_FILE_ROWS', bytes: 'PATCHBAY_MAX_FILE_BYTES', workbookBytes: 'PATCHBAY_MAX_XLSX_BYTES' },
  };
}
const positive = (v: string | undefined) => (v && Number.isInteger(Number(v)) && Number(v) > 0 ? Number(v) : undefined);

export interface AccountsFileOptions {
  readonly side: Snapshot['side'];
  readonly app: string;
  /** The header of each field when it is not one of the usual names (`{ email: 'Work email' }`). */
  readonly map?: Readonly<Record<string, string>>;
  /** The header row as a spreadsheet numbers it (`--header-row`); found among the first rows when not given. */
  readonly headerRow?: number;
  /** When the accounts were read (ms since the epoch); the file's modification time when not given. */
  readonly readAt?: number;
  readonly limits?: TableLimits;
}

/**
 * Reads accounts from a file an admin exported or filled in: CSV (comma, semicolon, tab or pipe,
 * with or without a BOM) or xlsx (the first visible sheet, cells as displayed), streamed row by row.
 * The header row is the first that names an email, userName or externalId column (or a column of
 * `map`), so titles above it are skipped. A row without an identifier, or with a malformed email, is
 * not an account: it is left unmatched and named in the snapshot's completeness (which is then
 * incomplete), with its file line or spreadsheet row. Throws InvalidInputError for a missing,
 * unreadable or oversized file, a header with no identifier column, or an unknown field in `map`.
 */
export async function readAccountsFile(file: string, options: AccountsFileOptions): Promise<Snapshot> {
  const map = options.map ?? {};
  for (const field of Object.keys(map)) {
    if (!(accountFields as readonly string[]).includes(field)) throw new InvalidInputError({ file: 'command line', pointer: '/map' }, `unknown field ${field} (fields: ${accountFields.join(', ')})`);
  }
  const mapped = new Set(Object.values(map).map((h) => h.trim().toLowerCase()));
  const table = await readHeadedTable(
    file,
    {
      ...(options.headerRow !== undefined ? { headerRow: options.headerRow } : {}),
      isHeader: (cells) => cells.some((c) => mapped.has(c.toLowerCase()) || identifiers.includes(defaultHeaders[c.toLowerCase()]!)),
      wanted: 'an email, userName or externalId column',
    },
    options.limits ?? accountsFileLimits(),
  );
  const { header, shown } = table;
  const columns = `columns: ${describeCells(header)}`;
  const columnOf = new Map<Field, number>();
  for (const [field, name] of Object.entries(map)) {
    const at = header.findIndex((h) => h.toLowerCase() === name.trim().toLowerCase());
    if (at < 0) throw new InvalidInputError({ file: table.place(table.headerRow) }, `no column "${name}" for ${field} (${columns})`);
    columnOf.set(field as Field, at);
  }
  header.forEach((h, i) => {
    const field = defaultHeaders[h.toLowerCase()];
    if (field && !columnOf.has(field)) columnOf.set(field, i);
  });
  if (!identifiers.some((f) => columnOf.has(f))) {
    throw new InvalidInputError({ file: table.place(table.headerRow) }, `no email, userName or externalId column (${columns}); name one with --map email=<header>, or the header row with --header-row <n>`);
  }
  const list = (v: string | undefined) => (v ? v.split(/[,;]/).map((s) => s.trim()).filter(Boolean) : undefined);
  const [emailAt, userNameAt, externalIdAt, statusAt, rolesAt, teamsAt, policyAt] = accountFields.map((f) => columnOf.get(f) ?? -1) as [number, number, number, number, number, number, number];
  const accounts: AccountRecord[] = [];
  const unread: string[] = [];
  let unreadCount = 0;
  let rows = 0;
  const linked: TableRow[] = [];
  const cell = (row: TableRow, c: number) => (c < 0 ? undefined : row.cells[c] || undefined);
  for await (const batch of table.batches) for (const row of batch) {
    rows++;
    const email = cell(row, emailAt);
    const userName = cell(row, userNameAt);
    const externalId = cell(row, externalIdAt);
    if (email && !emailShape.test(email) && table.links) {
      // A cell showing a name may link to the address (mailto:): known once the sheet is read.
      table.links.want(row, emailAt);
      linked.push(row);
      continue;
    }
    accept(row, email, userName, externalId);
  }
  for (const row of linked) accept(row, table.links?.target(row, emailAt), cell(row, userNameAt), cell(row, externalIdAt), row.cells[emailAt]);
  /** Keeps the row as an account, or names it among the rows left unmatched; `shownEmail` is the cell's text when `email` is its link's address. */
  function accept(row: TableRow, email: string | undefined, userName: string | undefined, externalId: string | undefined, shownEmail = email) {
    const problem = shownEmail && !(email && emailShape.test(email)) ? `"${shownEmail}" is not an email address` : !email && !userName && !externalId ? 'no email, userName or externalId' : undefined;
    if (problem) {
      if (++unreadCount <= reasonsShown) unread.push(`${table.place(row)}: ${problem}; the row is left unmatched`);
      return;
    }
    // Only the fields a reconciliation uses are kept: the row's other cells go with it.
    const status = cell(row, statusAt);
    const account: { -readonly [K in keyof AccountRecord]: AccountRecord[K] } = { active: !status || !inactive.test(status) };
    if (email) account.email = email;
    if (userName) account.userName = userName;
    if (externalId) account.externalId = externalId;
    const roles = list(cell(row, rolesAt));
    if (roles) account.roles = roles;
    const teams = list(cell(row, teamsAt));
    if (teams) account.teams = teams;
    const policy = cell(row, policyAt);
    if (policy) account.policy = policy;
    accounts.push(account);
  }
  const completeness: Completeness = unreadCount
    ? { complete: false, reasons: [...unread, ...(unreadCount > reasonsShown ? [`${shown}: ${unreadCount - reasonsShown} more rows left unmatched (${unreadCount} of ${rows} rows could not be read)`] : [])] }
    : { complete: true, reasons: [] };
  return { side: options.side, app: options.app, source: { kind: 'file', name: shown, readAt: options.readAt ?? statSync(file).mtimeMs }, accounts, completeness };
}
