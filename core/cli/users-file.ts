import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { InvalidInputError } from '../errors.js';
import { displayPath } from '../paths.js';

export interface Person {
  readonly email: string;
  readonly firstName?: string;
  readonly lastName?: string;
  /** "people.csv:3", for error messages. */
  readonly source: string;
}

const columns: Record<string, keyof Omit<Person, 'source'>> = {
  email: 'email',
  'e-mail': 'email',
  'work email': 'email',
  firstname: 'firstName',
  'first name': 'firstName',
  first_name: 'firstName',
  lastname: 'lastName',
  'last name': 'lastName',
  last_name: 'lastName',
};

/** Reads a CSV of people with a header row (email, and optionally first and last name). */
export function readUsersFile(file: string): Person[] {
  const shown = displayPath(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new InvalidInputError({ file: shown }, (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read', { cause });
  }
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, trim: true, bom: true, relax_column_count: false }) as string[][];
  } catch (cause) {
    const line = (cause as { lines?: number }).lines;
    throw new InvalidInputError({ file: line ? `${shown}:${line}` : shown }, `invalid CSV (${(cause as Error).message.replace(/^.*?: /, '')})`, { cause });
  }
  const [header, ...body] = rows;
  if (!header) throw new InvalidInputError({ file: shown }, 'is empty: expected a header row with an email column');
  const mapped = header.map((h) => columns[h.toLowerCase()]);
  const emailAt = mapped.indexOf('email');
  if (emailAt < 0) throw new InvalidInputError({ file: `${shown}:1` }, `no email column in the header (${header.join(', ')})`);
  if (body.length === 0) throw new InvalidInputError({ file: shown }, 'has a header but no people');
  const seen = new Map<string, number>();
  return body.map((row, i) => {
    const line = i + 2;
    const person: Record<string, string> = { source: `${shown}:${line}` };
    mapped.forEach((field, column) => {
      if (field && row[column]) person[field] = row[column]!;
    });
    const key = person.email?.toLowerCase() ?? '';
    if (seen.has(key)) throw new InvalidInputError({ file: `${shown}:${line}` }, `${person.email} is already on line ${seen.get(key)}`);
    seen.set(key, line);
    return person as unknown as Person;
  });
}
