/* Generated from schemas/browser-recipe.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

/**
 * Unique within the connector; the file is recipes/<id>.json.
 */
export type Identifier = string;
/**
 * The operation this recipe carries out.
 */
export type OperationName = string;
export type RecipeStep = Step & Step;

/**
 * Browser automation as data: parameters, then steps that read the current state first (so that running twice does no harm) and act only on what they expect to see.
 */
export interface BrowserRecipe {
  $schema?: string;
  id: Identifier;
  title: string;
  operation: OperationName;
  parameters: {
    [k: string]: RecipeParameter;
  };
  /**
   * @minItems 1
   */
  steps: [RecipeStep, ...RecipeStep[]];
}
export interface RecipeParameter {
  type: 'string' | 'email' | 'secret';
  description?: string;
  required?: boolean;
}
export interface Step {
  /**
   * Named in evidence and in drift reports.
   */
  name: string;
  action: 'goto' | 'fill' | 'click' | 'select' | 'expect' | 'extract' | 'screenshot' | 'done-if';
  /**
   * goto: a path relative to the tenant's console URL; {param} is replaced.
   */
  url?: string;
  /**
   * A Playwright selector: prefer role and label selectors to CSS.
   */
  selector?: string;
  /**
   * fill/select: the value; {param} is replaced, secrets are typed but never logged.
   */
  value?: string;
  /**
   * expect/done-if: the text that must (or, for done-if, may) be on the page.
   */
  text?: string;
  /**
   * extract: the name of the record list.
   */
  into?: string;
  /**
   * extract: field name → column header.
   */
  columns?: {
    [k: string]: string;
  };
  /**
   * done-if: the outcome said when the condition holds ("already removed").
   */
  says?: string;
  timeoutMs?: number;
}
