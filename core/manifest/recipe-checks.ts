import type { BrowserRecipe } from '../schema/types/browser-recipe.js';

export interface RecipeProblem {
  readonly pointer: string;
  readonly reason: string;
}

const placeholder = /\{([A-Za-z0-9]+)\}/g;

/**
 * What the schema cannot say about a recipe: every {param} is declared, or read by an earlier
 * `read` step; v2 words need "schemaVersion": 2; a regular expression compiles; a secret or a login is only ever
 * typed (a secret in a URL or a selector would land in logs and history); a file parameter is only
 * uploaded; the records a read or a bulk import names are extracted by some step.
 */
export function checkRecipe(recipe: BrowserRecipe): RecipeProblem[] {
  const problems: RecipeProblem[] = [];
  const extracted = new Set(recipe.steps.filter((s) => s.action === 'extract').map((s) => s.into!));
  const v2 = (recipe.schemaVersion ?? 1) >= 2;
  const read = new Set<string>();
  recipe.steps.forEach((step, i) => {
    if (!v2) {
      for (const field of ['scope', 'when', 'waitFor', 'rows', 'next', 'cells', 'attribute', 'clean', 'confirm'] as const) {
        if (step[field] !== undefined) problems.push({ pointer: `/steps/${i}/${field}`, reason: `${field} is recipe language v2: add "schemaVersion": 2 to the recipe` });
      }
      if (['hover', 'read', 'absent-if'].includes(step.action)) problems.push({ pointer: `/steps/${i}/action`, reason: `${step.action} is recipe language v2: add "schemaVersion": 2 to the recipe` });
    }
    const places: [string, string | undefined, boolean][] = [
      ['url', step.url, false],
      ['selector', step.selector, false],
      ['value', step.value, step.action === 'fill'],
      ['text', step.text, false],
      ['scope/within/equals', step.scope?.within?.equals, false],
      ['when/present', step.when?.present, false],
      ['when/absent', step.when?.absent, false],
      ['when/text', step.when?.text, false],
      ...(step.confirm ?? []).map((c, n) => (c.byId !== undefined ? [`confirm/${n}/byId`, c.byId, false] : [`confirm/${n}/url`, c.url, false]) as [string, string | undefined, boolean]),
    ];
    for (const [field, text, typed] of places) {
      for (const [, name] of (text ?? '').matchAll(placeholder)) {
        const parameter = recipe.parameters[name!];
        const pointer = `/steps/${i}/${field}`;
        if (!parameter) {
          if (read.has(name!)) continue;
          problems.push({
            pointer,
            reason: `{${name}} is not a parameter of the recipe (declared: ${Object.keys(recipe.parameters).join(', ') || 'none'}) nor a value an earlier read step took (${[...read].join(', ') || 'none'})`,
          });
        } else if ((parameter.type === 'secret' || parameter.type === 'login') && !typed) {
          problems.push({ pointer, reason: `the ${parameter.type} {${name}} may only be typed by a fill step's value, never put in a ${field}` });
        } else if (parameter.type === 'file' && !(field === 'value' && step.action === 'upload')) {
          problems.push({ pointer, reason: `the file {${name}} may only be given to an upload step` });
        }
      }
    }
    for (const [field, pattern] of [['clean/match', step.clean?.match], ...Object.entries(step.cells ?? {}).map(([f, c]) => [`cells/${f}/match`, c.match])] as [string, string | undefined][]) {
      if (pattern === undefined) continue;
      try {
        new RegExp(pattern, 'u');
      } catch (error) {
        problems.push({ pointer: `/steps/${i}/${field}`, reason: `not a regular expression: ${(error as Error).message}` });
      }
    }
    if (step.action === 'read') {
      if (recipe.parameters[step.into!]) problems.push({ pointer: `/steps/${i}/into`, reason: `'${step.into}' is already a parameter of the recipe` });
      read.add(step.into!);
    }
    if (step.scope?.nth !== undefined && step.scope.firstVisible) problems.push({ pointer: `/steps/${i}/scope`, reason: 'nth and firstVisible each pick one match: give one of them' });
  });
  recipe.steps.forEach((step, i) => {
    if (step.fullPage !== undefined && step.action !== 'screenshot') problems.push({ pointer: `/steps/${i}/fullPage`, reason: 'fullPage is for screenshot steps' });
    if (step.fullPage && step.selector !== undefined) problems.push({ pointer: `/steps/${i}/fullPage`, reason: 'a screenshot is of the whole page or of the element its selector names: give one of them' });
  });
  if (recipe.session && recipe.steps[recipe.session.signInSteps]?.action !== 'goto') {
    problems.push({ pointer: '/session/signInSteps', reason: `the step after the ${recipe.session.signInSteps} sign-in steps must be a goto (a reused session starts there, on a blank page)` });
  }
  if (recipe.reads && !extracted.has(recipe.reads.records)) {
    problems.push({ pointer: '/reads/records', reason: `no extract step reads into '${recipe.reads.records}'` });
  }
  if (recipe.bulk) {
    if (recipe.parameters[recipe.bulk.file]?.type !== 'file') problems.push({ pointer: '/bulk/file', reason: `'${recipe.bulk.file}' must be a parameter of type file` });
    if (!extracted.has(recipe.bulk.results)) problems.push({ pointer: '/bulk/results', reason: `no extract step reads into '${recipe.bulk.results}'` });
  }
  return problems;
}
