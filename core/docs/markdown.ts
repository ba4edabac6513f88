/** Small helpers for writing Markdown that renders the same everywhere. */

/** Escapes what would break a table cell or start markup. */
export function cell(text: unknown): string {
  return String(text ?? '')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/</g, '&lt;')
    .replace(/\r?\n/g, '<br>');
}

export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(headers), `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function bullets(items: readonly string[]): string {
  return items.map((item) => `- ${item}`).join('\n');
}

export function numbered(items: readonly string[]): string {
  return items.map((item, i) => `${i + 1}. ${item}`).join('\n');
}

/** Joins blocks with one blank line between them, dropping empty ones, and ends with a newline. */
export function page(blocks: readonly (string | undefined | false)[]): string {
  return `${blocks.filter((b): b is string => !!b && b.trim() !== '').join('\n\n')}\n`;
}

/** The first line of a generated page: its source, and the command that writes it (`npm run docs` in the repository). */
export const generatedNotice = (from: string, command = 'npm run docs') =>
  `<!-- Generated from ${from} by \`${command}\`. Do not edit: change the source and regenerate. -->`;
