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

/**
 * Node's JSON errors say "at position N", or for some (a trailing comma before ] or }) only
 * `Unexpected token ']', "<the whole text>" is not valid JSON`; people want a line and a column, and
 * one line. Without a position, the place is found as the shortest prefix of the text that is already
 * wrong (not merely cut short): a binary search, at most about 20 parses of a prefix.
 */
function locate(text: string, error: Error): string {
  const detail = error.message
    .replace(/^Unexpected/, 'unexpected')
    .replace(/, [\s\S]* is not valid JSON$/, '')
    .replace(/ in JSON at position \d+[\s\S]*$/, '');
  const match = /position (\d+)/.exec(error.message);
  const offset = match ? Number(match[1]) : firstWrongOffset(text);
  if (offset === undefined) return `(${detail})`;
  const before = text.slice(0, offset).split('\n');
  return `at line ${before.length}, column ${before.at(-1)!.length + 1} (${detail})`;
}

/** The offset of the first character that makes the text wrong JSON, or undefined when no prefix is. */
function firstWrongOffset(text: string): number | undefined {
  const wrong = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return false;
    } catch (error) {
      const message = (error as Error).message;
      if (message.includes('Unexpected end of JSON input')) return false;
      const at = /position (\d+)/.exec(message);
      return !at || Number(at[1]) < length;
    }
  };
  if (!wrong(text.length)) return undefined;
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (wrong(middle)) high = middle;
    else low = middle + 1;
  }
  return low - 1;
}
