/* Generated from schemas/task-action.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

/**
 * What an operator or a machine does with a task through the HTTP API: complete it with evidence, fail it with a reason, reassign it, or hand the step back to the robot after fixing what made it drift. The acting person is the authenticated principal, never a field of the body. The `action` is checked first, so a body with an unknown action is told that `action` is wrong, not what another action would need.
 */
export type TaskAction = {
  /**
   * What to do with the task; the other fields depend on it.
   */
  action: 'complete' | 'fail' | 'reassign' | 'retry-robot';
} & (CompleteTask | FailTask | ReassignTask | RetryRobot);
/**
 * For a batched task: complete one person's item only.
 */
export type Email = string;
export type Email1 = string;
export type ReassignTask = ReassignTask1 & ReassignTask2;
export type ReassignTask1 = {
  [k: string]: unknown;
};
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier = string;

export interface CompleteTask {
  action: 'complete';
  /**
   * What the person saw; the runbook says which evidence is required.
   */
  evidence: EvidenceText[];
  /**
   * There was nothing to do (the account was already gone).
   */
  alreadyDone?: boolean;
  person?: Email;
}
export interface EvidenceText {
  text: string;
}
export interface FailTask {
  action: 'fail';
  reason: string;
  person?: Email1;
}
export interface ReassignTask2 {
  action: 'reassign';
  queue?: Identifier;
  assignee?: Email1;
}
/**
 * Hands the step back to the robot: the person fixed what made the browser recipe drift (a dialog dismissed, a setting restored), and the step's automated channels run again. Only for a task whose step a robot handed over.
 */
export interface RetryRobot {
  action: 'retry-robot';
  /**
   * What the person fixed.
   */
  note?: string;
}
