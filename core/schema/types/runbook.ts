/* Generated from schemas/runbook.schema.json by `npm run types`. Do not edit: change the schema and regenerate. */

/**
 * Unique within the connector; the file is runbooks/<id>.json.
 */
export type Identifier = string;
/**
 * The operator queue the task goes to unless the tenant profile says otherwise.
 */
export type Identifier1 = string;
/**
 * A lower-case, dash-separated identifier (connector, runbook, recipe, queue, feature, plan).
 */
export type Identifier2 = string;

/**
 * A checklist a person follows when no machine channel can do the work: numbered steps with the admin-console path, the evidence asked for, and what to watch out for.
 */
export interface Runbook {
  $schema?: string;
  id: Identifier;
  /**
   * The task's title; {email} is replaced by the person's address.
   */
  title: string;
  summary?: string;
  queue?: Identifier1;
  /**
   * Hours until the task is due; overdue tasks escalate.
   */
  slaHours?: number;
  /**
   * Several people can share one task, with a checklist section each.
   */
  batchable?: boolean;
  /**
   * @minItems 1
   */
  steps: [RunbookStep, ...RunbookStep[]];
  /**
   * What the person is asked to attach before the task can be completed.
   */
  evidence: EvidenceRequest[];
  watchOutFor?: string[];
}
export interface RunbookStep {
  text: string;
  /**
   * Where in the admin console ("Settings → Organisation → Members").
   */
  path?: string;
  detail?: string;
}
export interface EvidenceRequest {
  id: Identifier2;
  label: string;
  kind: 'text' | 'file' | 'screenshot' | 'attestation';
  required: boolean;
}
