import { readFileSync } from 'node:fs';
import { InvalidInputError } from '../errors.js';
import { displayPath } from '../paths.js';

/** Reads and parses a JSON file; a missing file or bad JSON becomes an InvalidInputError naming the line and column. */
export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : `cannot be read (${code})`;
    throw new InvalidInputError({ file: displayPath(file) }, reason, { cause });
  }
  return parseJsonText(file, text);
}

/**
 * Parses a file's text already read (the catalogue reads each file once, so that what it validates
 * is what it hashed). @throws InvalidInputError naming the file, line and column of bad JSON.
 */
export function parseJsonText(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError({ file: displayPath(file) }, `invalid JSON ${locate(text, cause as Error)}`, { cause });
  }
}

/** Node's JSON errors say "at position N"; people want a line and a column. */
function locate(text: string, error: Error): string {
  const match = /position (\d+)/.exec(error.message);
  const detail = error.message.replace(/^Unexpected/, 'unexpected').replace(/ in JSON at position \d+.*$/, '');
  if (!match) return `(${detail})`;
  const offset = Number(match[1]);
  const before = text.slice(0, offset).split('\n');
  return `at line ${before.length}, column ${before.at(-1)!.length + 1} (${detail})`;
}
