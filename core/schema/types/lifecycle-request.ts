/* Generated from schemas/lifecycle-request.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

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
 * The person the caller asks for, when not themselves: needs the runs:on-behalf-of permission, is recorded beside the caller, and can no more approve the run than the caller can.
 */
export type Email1 = string;

/**
 * What someone (an operator, an HR tool, a ticket) asks for: one lifecycle event for one person in one app.
 */
export interface LifecycleRequest {
  playbook: PlaybookName;
  app: Identifier;
  subject: Subject;
  access?: DesiredAccess;
  idempotencyKey?: string;
  /**
   * Who asked: set from the caller's credential (API token, operator, command line); a body cannot choose it.
   */
  requestedBy?: string;
  onBehalfOf?: Email1;
  reason?: string;
}
export interface Subject {
  email: Email;
  firstName?: string;
  lastName?: string;
}
/**
 * What the person should have in the app after an onboard or change.
 */
export interface DesiredAccess {
  roles?: string[];
  groups?: string[];
  policy?: string;
}
