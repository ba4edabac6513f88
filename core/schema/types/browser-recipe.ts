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
  reads?: RecipeReads;
  bulk?: RecipeBulk;
  /**
   * @minItems 1
   */
  steps: [RecipeStep, ...RecipeStep[]];
}
export interface RecipeParameter {
  /**
   * secret: resolved from the tenant's secret references and only ever typed into the page (never in a URL, a selector or a log); file: a path on the worker, for uploads.
   */
  type: 'string' | 'email' | 'secret' | 'file';
  /**
   * Where the engine takes the value: the request's subject (email, firstName, lastName) or its desired access (role, team, policy: the first of each). Default: the parameter's own name.
   */
  from?: 'email' | 'firstName' | 'lastName' | 'role' | 'team' | 'policy';
  description?: string;
  required?: boolean;
}
/**
 * For recipes that read accounts: which extracted records are the accounts and how to read them. A done-if stop means the account is not there.
 */
export interface RecipeReads {
  /**
   * The `into` name of the extract step.
   */
  records: string;
  /**
   * The record field holding the email.
   */
  email: string;
  /**
   * The record field saying whether the account is live.
   */
  activeField?: string;
  /**
   * Values of activeField that count as a live account.
   *
   * @minItems 1
   */
  activeValues?: [string, ...string[]];
}
/**
 * A recipe that carries out its operation for a whole batch at once, by filling the app's import template and uploading it.
 */
export interface RecipeBulk {
  /**
   * The file parameter the filled template is given as.
   */
  file: string;
  sheet: string;
  /**
   * @minItems 1
   */
  columns: [TemplateColumn, ...TemplateColumn[]];
  /**
   * The smallest batch worth a file (default 2); smaller batches use the operation's one-by-one recipe.
   */
  minimum?: number;
  /**
   * The `into` name of the extract step that reads the console's result per row.
   */
  results: string;
  /**
   * The result record's email field.
   */
  email: string;
  /**
   * The result record's outcome field.
   */
  result: string;
  /**
   * Outcomes that mean the row was carried out.
   *
   * @minItems 1
   */
  done: [string, ...string[]];
  /**
   * Outcomes that mean there was nothing to do.
   */
  alreadyDone?: string[];
}
export interface TemplateColumn {
  header: string;
  from?: 'email' | 'firstName' | 'lastName' | 'roles' | 'team' | 'policy';
}
export interface Step {
  /**
   * Named in evidence and in drift reports.
   */
  name: string;
  action:
    | 'goto'
    | 'fill'
    | 'click'
    | 'check'
    | 'select'
    | 'upload'
    | 'expect'
    | 'extract'
    | 'screenshot'
    | 'done-if'
    | 'blocked-if';
  /**
   * goto: a path relative to the tenant's console URL; {param} is replaced.
   */
  url?: string;
  /**
   * A Playwright selector: prefer role and label selectors to CSS.
   */
  selector?: string;
  /**
   * fill/select: the value; upload: the file parameter. {param} is replaced; secrets are typed but never logged. A step naming an optional parameter that was not given is skipped.
   */
  value?: string;
  /**
   * expect/done-if/blocked-if: the text that must (or, for done-if and blocked-if, may) be on the page.
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
   * done-if: the outcome said when the condition holds ("already removed"); blocked-if: what the console refuses.
   */
  says?: string;
  timeoutMs?: number;
}
