/*
 * The schema kinds alone, without the validator: the command line lists them in its help, and
 * `patchbay --help` must not load ajv or inversify to do so.
 */

/** The documents Patchbay validates, by schema file name (schemas/<kind>.schema.json). */
export type SchemaKind =
  | 'connector-manifest'
  | 'tenant-profile'
  | 'lifecycle-request'
  | 'plan'
  | 'runbook'
  | 'browser-recipe'
  | 'task-action';

export const schemaKinds: readonly SchemaKind[] = [
  'connector-manifest',
  'tenant-profile',
  'lifecycle-request',
  'plan',
  'runbook',
  'browser-recipe',
  'task-action',
];
