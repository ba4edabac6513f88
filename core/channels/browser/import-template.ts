import type { RecipeBulk } from '../../schema/types/browser-recipe.js';
import type { LifecycleRequest } from '../../schema/types/lifecycle-request.js';

/** The value of a template column for one request: the subject's fields, or the first of each desired access. */
export function columnValue(request: LifecycleRequest, from: RecipeBulk['columns'][number]['from']): string {
  switch (from) {
    case 'email':
      return request.subject.email;
    case 'firstName':
      return request.subject.firstName ?? '';
    case 'lastName':
      return request.subject.lastName ?? '';
    case 'roles':
      return (request.access?.roles ?? []).join(', ');
    case 'team':
      return request.access?.groups?.[0] ?? '';
    case 'policy':
      return request.access?.policy ?? '';
    default:
      return '';
  }
}

/**
 * Fills an app's import template (a real xlsx, written with exceljs): the header row as the
 * recipe declares it, then one row per request, in the order given.
 */
export async function fillImportTemplate(bulk: RecipeBulk, requests: readonly LifecycleRequest[]): Promise<Buffer> {
  const { default: ExcelJS } = await import('exceljs');
  const book = new ExcelJS.Workbook();
  book.creator = 'Patchbay';
  const sheet = book.addWorksheet(bulk.sheet);
  sheet.addRow(bulk.columns.map((c) => c.header)).font = { bold: true };
  for (const request of requests) sheet.addRow(bulk.columns.map((c) => columnValue(request, c.from)));
  sheet.columns.forEach((column) => (column.width = 24));
  return Buffer.from(await book.xlsx.writeBuffer());
}
