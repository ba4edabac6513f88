import Table from 'cli-table3';
import type { Plan } from '../schema/types/plan.js';

/** A plain table for the terminal: no colours, so that output stays readable when piped. */
export function renderTable(head: readonly string[], rows: readonly (readonly string[])[], columnWidth?: number): string {
  // columnWidth caps a column; a narrower column takes only what its longest cell needs.
  const natural = head.map((h, i) => 2 + Math.max(h.length, ...rows.map((r) => Math.max(...(r[i] ?? '').split('\n').map((l) => l.length)))));
  // A column is not cut below its longest word (an id to copy) while wrapping another one can make room.
  const words = head.map((h, i) => 2 + Math.min(24, Math.max(...[h, ...rows.map((r) => r[i] ?? '')].flatMap((c) => c.split(/\s+/)).map((w) => w.length))));
  const widths = columnWidth ? natural.map((w) => Math.min(columnWidth, w)) : fitWidths(natural, words, tableWidth());
  const table = new Table({ head: [...head], style: { head: [], border: [] }, wordWrap: true, ...(widths ? { colWidths: widths } : {}) });
  table.push(...rows.map((r) => [...r]));
  return table.toString();
}

/**
 * Whether a JSON key holds a time: `at`, `since`, or a name ending in `At` (createdAt, dueAt,
 * firstSeenAt, readAt…), the store's epoch milliseconds everywhere.
 */
export const isTimeKey = (key: string): boolean => key === 'at' || key === 'since' || /[a-z]At$/.test(key);

/**
 * A JSON.stringify replacer for the CLI's --json: every time (see isTimeKey) given as an ISO 8601
 * string in UTC ("2026-11-30T06:13:27.000Z") instead of epoch milliseconds; other values unchanged.
 */
export function jsonTimes(key: string, value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) && isTimeKey(key) ? new Date(Math.round(value)).toISOString() : value;
}

/** How wide a table may be: the terminal's width, at most 100 columns (and at least 60). */
export function tableWidth(): number {
  return Math.max(60, Math.min(process.stdout.columns || 100, 100));
}

/**
 * Column widths (cell text plus 2 of padding) that fit `total` columns with the borders: the widest
 * column gives up a column at a time, first down to its longest word (`words`), then to 6; undefined when it already fits.
 */
export function fitWidths(natural: readonly number[], words: readonly number[], total: number): number[] | undefined {
  const borders = natural.length + 1;
  if (natural.reduce((a, b) => a + b, 0) + borders <= total) return undefined;
  const widths = [...natural];
  let sum = widths.reduce((a, b) => a + b, 0);
  // First wrap text down to its longest word, then, if still too wide, cut the other columns down to 6
  // (the first column, the id to copy into the next command, is cut last).
  for (const floor of [words, words.map((w, i) => (i === 0 ? w : 6)), natural.map(() => 6)]) {
    while (sum + borders > total) {
      let widest = -1;
      widths.forEach((w, i) => {
        if (w > floor[i]! && (widest < 0 || w > widths[widest]!)) widest = i;
      });
      if (widest < 0) break;
      widths[widest]!--;
      sum--;
    }
  }
  return widths;
}

/** Wraps text to a width, indenting continuation lines. */
export function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.map((l) => indent + l).join('\n');
}

const width = () => Math.max(60, Math.min(process.stdout.columns ?? 100, 120));

export function renderPlan(plan: Plan, appName: string): string {
  const w = width();
  const out: string[] = [`Plan: ${plan.playbook} ${plan.subject.email} — ${appName} (tenant ${plan.tenant})`];
  if (plan.approval) out.push('Waits for an approval before the first step (tenant policy).');
  out.push('');
  plan.steps.forEach((step, i) => {
    const chain = step.channels.length ? step.channels.join(' → ') : 'none';
    out.push(`${i + 1}. ${step.title}  [${step.app}.${step.operation}, ${step.role}]`);
    out.push(`   channels: ${chain}`);
    if (step.condition) out.push(wrap(`only if: ${step.condition.replace(/^only if /, '')}`, w, '   '));
    if (step.blocked) out.push(wrap(`blocked: ${step.blocked}`, w, '   '));
    out.push(wrap(`why: ${step.reason}`, w, '   '));
    for (const watch of step.watchOutFor) out.push(wrap(`${watch.blocking ? 'blocking' : 'watch out'}: ${watch.text}`, w, '   '));
    out.push('');
  });
  for (const note of plan.notes) out.push(wrap(note, w, ''));
  return out.join('\n');
}
