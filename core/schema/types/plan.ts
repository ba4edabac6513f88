/* Generated from schemas/plan.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

/**
 * A lifecycle event: onboard (joiner), change (mover), offboard (leaver).
 */
export type PlaybookName = 'onboard' | 'change' | 'offboard';
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier = string;
export type Email = string;
/**
 * A primitive verb in camelCase: listUsers, getUser, createUser, updateUser, deactivateUser, deleteUser, grant, revoke, or a connector-specific one such as transferOwnership.
 */
export type OperationName = string;
/**
 * How a step reaches the app: its own API, its SCIM endpoint, the identity provider (assignment, JIT on first sign-in, HR sync), browser automation, or a person with a checklist.
 */
export type ChannelName = 'api' | 'scim' | 'idp' | 'browser' | 'human';

/**
 * What the planner decided for one request: ordered steps across the identity provider and the app, each with its channel chain and the reason for every choice. A plan is computed, never edited, and the same inputs give the same plan.
 */
export interface Plan {
  playbook: PlaybookName;
  app: Identifier;
  tenant: Identifier;
  subject: Subject;
  /**
   * The tenant's policy asks for an approval before any step runs.
   */
  approval: boolean;
  steps: PlanStep[];
  /**
   * What the reader should know about the plan as a whole.
   */
  notes: string[];
}
export interface Subject {
  email: Email;
  firstName?: string;
  lastName?: string;
}
export interface PlanStep {
  /**
   * Stable within the plan: <app>-<operation>.
   */
  id: string;
  app: Identifier;
  operation: OperationName;
  title: string;
  /**
   * Where the step sits in the playbook. check: read the app first; an account already gone makes the app's remaining steps already done.
   */
  role: 'idp' | 'check' | 'precondition' | 'action' | 'verify' | 'handover';
  /**
   * The ordered chain of channels the step will try; empty when the step cannot run (see blocked).
   */
  channels: ChannelName[];
  /**
   * Every channel the manifest names for the operation, usable or not, with the reason.
   */
  chain: ChannelChoice[];
  /**
   * Why this step, on these channels, in one or two sentences.
   */
  reason: string;
  appliesWhen?: AppliesWhen;
  /**
   * The step runs only when this holds.
   */
  condition?: string;
  /**
   * Why the step cannot be done by Patchbay for this tenant.
   */
  blocked?: string;
  watchOutFor: PlanWatchOut[];
  dependsOn: string[];
}
export interface ChannelChoice {
  channel: ChannelName;
  usable: boolean;
  reason: string;
  runbook?: Identifier;
  recipe?: Identifier;
  evidence?: string;
  /**
   * idp: how long the step waits for evidence before the next channel.
   */
  waitHours?: number;
}
/**
 * When a precondition step is needed, as a test on what the check step read of the account (a console's member page, an API record). When nothing was read, the step's condition is left to a person.
 */
export interface AppliesWhen {
  /**
   * @minItems 1
   */
  anyOf: [AttributeTest, ...AttributeTest[]];
}
export interface AttributeTest {
  /**
   * An attribute of the account as read.
   */
  field: string;
  /**
   * The attribute (a comma-separated list) names one of these.
   *
   * @minItems 1
   */
  includesAny?: [string, ...string[]];
  /**
   * The attribute, read as a number, is above this.
   */
  greaterThan?: number;
}
export interface PlanWatchOut {
  text: string;
  blocking: boolean;
}
