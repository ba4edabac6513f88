/* Generated from schemas/task-action.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

/**
 * What an operator or a machine does with a task through the HTTP API: complete it with evidence, fail it with a reason, or reassign it. The acting person is the authenticated principal, never a field of the body. The `action` is checked first, so a body with an unknown action is told that `action` is wrong, not what another action would need.
 */
export type TaskAction = {
  /**
   * What to do with the task; the other fields depend on it.
   */
  action: 'complete' | 'fail' | 'reassign';
} & (CompleteTask | FailTask | ReassignTask);
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
