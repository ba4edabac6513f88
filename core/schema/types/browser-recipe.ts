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
 * A second way to look for the account: open `url` (or stay, for a full-list `extract` result) and see absence again. When the second way finds something, or none could run, absence is not proven and the recipe stops for a person.
 */
export type AbsenceConfirmation = Confirmation &
  Confirmation1 &
  Confirmation2 &
  Confirmation &
  Confirmation1 &
  Confirmation2;
export type Confirmation =
  | {
      [k: string]: unknown;
    }
  | {
      [k: string]: unknown;
    };
export type Confirmation1 =
  | {
      [k: string]: unknown;
    }
  | {
      [k: string]: unknown;
    };

/**
 * Browser automation as data: parameters, then steps that read the current state first (so that running twice does no harm) and act only on what they expect to see.
 */
export interface BrowserRecipe {
  $schema?: string;
  /**
   * The recipe language: 1 (the default when absent) or 2, which adds scopes, conditions, values read from the page, paging extracts and confirmed absence checks. A v1 recipe is read as it always was.
   */
  schemaVersion?: 1 | 2;
  id: Identifier;
  title: string;
  operation: OperationName;
  parameters: {
    [k: string]: RecipeParameter;
  };
  reads?: RecipeReads;
  bulk?: RecipeBulk;
  session?: RecipeSession;
  /**
   * @minItems 1
   */
  steps: [RecipeStep, ...RecipeStep[]];
}
export interface RecipeParameter {
  /**
   * secret: resolved from the tenant's secret references and only ever typed into the page (never in a URL, a selector or a log); login: the robot's sign-in name, resolved like a secret and only typed, but not a secret, so it is never masked in messages (a login such as "admin" is a common word); setting: a tenant's non-secret setting for the app (apps.<app>.settings.<name>), such as who receives a leaver's content; file: a path on the worker, for uploads.
   */
  type: 'string' | 'email' | 'secret' | 'login' | 'setting' | 'file';
  /**
   * Where the engine takes the value: the request's subject (email, firstName, lastName), its desired access (role, team, policy: the first of each), or accountId: the account id Patchbay recorded for the person in this app (known identifiers: a reconciliation, an earlier run), absent when none was. Default: the parameter's own name.
   */
  from?: 'email' | 'firstName' | 'lastName' | 'role' | 'team' | 'policy' | 'accountId';
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
/**
 * Where the console allows it, a worker reuses the robot's signed-in session across jobs: each job still gets a fresh browser context, carrying the cookies and storage of the last sign-in to the same console with the same robot. The recipe's first signInSteps steps sign in; they are skipped when a session is carried, and the step after them must be a goto. When signedOut holds after that goto (the console sent the page to its sign-in form), the session has expired and the recipe signs in again. Without `session` the recipe signs in on every job.
 */
export interface RecipeSession {
  /**
   * How many of the recipe's first steps sign in (their last one should check the console accepted the sign-in).
   */
  signInSteps: number;
  signedOut: RecipeCondition;
}
/**
 * What the page shows when it is not signed in, such as the sign-in form's button.
 */
export interface RecipeCondition {
  present?: string;
  absent?: string;
  text?: string;
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
    | 'blocked-if'
    | 'hover'
    | 'read'
    | 'absent-if';
  /**
   * goto: a path relative to the tenant's console URL, or a {value} read earlier holding a URL on the console's own origin; {param} is replaced (URL-encoded in a path).
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
   * extract: the name of the record list; read: the name of the value later steps use as {name}.
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
  /**
   * read: the attribute to read (href, data-id…); without it, the element's text.
   */
  attribute?: string;
  clean?: CellCleaning;
  /**
   * extract: field name → how its cells are cleaned.
   */
  cells?: {
    [k: string]: CellCleaning;
  };
  /**
   * extract: selector of the data rows within the table (default: the rows of its tbody, so header and footer rows are never records).
   */
  rows?: string;
  /**
   * extract: selector of the next-page link; the extract follows it until it is gone (at most maxPages).
   */
  next?: string;
  maxPages?: number;
  scope?: RecipeScope;
  when?: RecipeCondition1;
  waitFor?: ClickWait;
  /**
   * screenshot: the whole page. Without it a screenshot is of the element that matters: the one `selector` names (exactly one, as for any step), else the page's main region (main or role=main) when there is one, else the whole page. Where a recipe stops (drift, blocked, already done) the screenshot is always of the whole page.
   */
  fullPage?: boolean;
  /**
   * absent-if: the second ways that must also find nothing before the recipe may say already done.
   *
   * @minItems 1
   */
  confirm?: [AbsenceConfirmation, ...AbsenceConfirmation[]];
}
/**
 * How a cell's text is cleaned, in this order: elements matching `ignore` are left out (screen-reader text), whitespace is trimmed and runs of it collapsed, `firstLine` keeps the first line, `match` keeps its first group (or the whole match), `number` keeps digits as a number, `date` writes an ISO 8601 date.
 */
export interface CellCleaning {
  /**
   * CSS selector of elements inside the cell to leave out, e.g. .screen-reader-text.
   */
  ignore?: string;
  firstLine?: boolean;
  /**
   * A regular expression (data, not code); no match leaves the cell empty.
   */
  match?: string;
  number?: boolean;
  date?: boolean;
}
/**
 * Narrows where a selector looks: inside the one row of a table whose column equals a value (compared case-insensitively, trimmed and Unicode-normalised, NFKC), then the nth match or the first visible one. Without nth or firstVisible, more than one match is drift.
 */
export interface RecipeScope {
  within?: RowScope;
  /**
   * The match at this index (0 is the first), for controls a page repeats (top and bottom of a list).
   */
  nth?: number;
  /**
   * The first match that is visible.
   */
  firstVisible?: boolean;
}
export interface RowScope {
  /**
   * The table (a Playwright selector).
   */
  table: string;
  /**
   * The column's header, as shown.
   */
  column: string;
  /**
   * The value the row's cell must equal; {param} and {value} are replaced.
   */
  equals: string;
}
/**
 * A step runs only when this holds: an element is present (visible) or absent, or a text is on the page.
 */
export interface RecipeCondition1 {
  present?: string;
  absent?: string;
  text?: string;
}
/**
 * What a click starts and the step waits for before the next one: a navigation (a new document), a URL (a glob such as ** /wp-admin/**), or a response whose URL matches a glob.
 */
export interface ClickWait {
  navigation?: boolean;
  url?: string;
  response?: string;
}
export interface Confirmation2 {
  name: string;
  /**
   * A path on the console (with {param} and {value}); a confirmation naming an optional parameter that was not given is skipped.
   */
  url?: string;
  /**
   * Instead of url: the member page by the account id recorded earlier (e.g. /wp-admin/user-edit.php?user_id={accountId}). Its absent/text sign ("user does not exist") proves absence by id, and no other confirmation is needed; anything else means the account is there: the absence is refuted and the recipe goes on from that page. Skipped when the id was not given.
   */
  byId?: string;
  /**
   * Selector that shows nothing was found at url.
   */
  absent?: string;
  /**
   * Text that shows nothing was found at url.
   */
  text?: string;
}
