import type { BrowserRecipe } from '../schema/types/browser-recipe.js';

export interface RecipeProblem {
  readonly pointer: string;
  readonly reason: string;
}

const placeholder = /\{([A-Za-z0-9]+)\}/g;

/**
 * What the schema cannot say about a recipe: every {param} is declared; a secret is only ever
 * typed (a secret in a URL or a selector would land in logs and history); a file parameter is only
 * uploaded; the records a read or a bulk import names are extracted by some step.
 */
export function checkRecipe(recipe: BrowserRecipe): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  const extracted = new Set(recipe.steps.filter((s) => s.action === 'extract').map((s) => s.into!));
  recipe.steps.forEach((step, i) => {
    for (const field of ['url', 'selector', 'value', 'text'] as const) {
      for (const [, name] of (step[field] ?? '').matchAll(placeholder)) {
        const parameter = recipe.parameters[name!];
        const pointer = `/steps/${i}/${field}`;
        if (!parameter) problems.push({ pointer, reason: `{${name}} is not a parameter of the recipe (declared: ${Object.keys(recipe.parameters).join(', ') || 'none'})` });
        else if (parameter.type === 'secret' && !(field === 'value' && step.action === 'fill')) {
          problems.push({ pointer, reason: `the secret {${name}} may only be typed by a fill step's value, never put in a ${field}` });
        } else if (parameter.type === 'file' && !(field === 'value' && step.action === 'upload')) {
          problems.push({ pointer, reason: `the file {${name}} may only be given to an upload step` });
        }
      }
    }
  });
  if (recipe.reads && !extracted.has(recipe.reads.records)) {
    problems.push({ pointer: '/reads/records', reason: `no extract step reads into '${recipe.reads.records}'` });
  }
  if (recipe.bulk) {
    if (recipe.parameters[recipe.bulk.file]?.type !== 'file') problems.push({ pointer: '/bulk/file', reason: `'${recipe.bulk.file}' must be a parameter of type file` });
    if (!extracted.has(recipe.bulk.results)) problems.push({ pointer: '/bulk/results', reason: `no extract step reads into '${recipe.bulk.results}'` });
  }
  return problems;
}
