import type { Generated } from 'kysely';

/**
 * The store's tables as the query layer sees them (core/store/migrations.ts creates them, on
 * SQLite and PostgreSQL alike). Times are epoch milliseconds; JSON documents are TEXT; flags are
 * INTEGER 0/1 on both databases, so that rows read the same from either.
 */
export interface Tables {
  runs: RunsTable;
  journal: JournalTable;
  signals: SignalsTable;
  steps: StepsTable;
  tasks: TasksTable;
  task_items: TaskItemsTable;
  audit: AuditTable;
  outbox: OutboxTable;
  bulk_jobs: BulkJobsTable;
  api_tokens: ApiTokensTable;
  operators: OperatorsTable;
  sessions: SessionsTable;
  form_tokens: FormTokensTable;
  reconciliations: ReconciliationsTable;
  reconcile_findings: ReconcileFindingsTable;
  feed_cursors: FeedCursorsTable;
  known_identifiers: KnownIdentifiersTable;
  scim_resources: ScimResourcesTable;
  scim_runs: ScimRunsTable;
  scim_group_members: ScimGroupMembersTable;
  scim_failure_tasks: ScimFailureTasksTable;
  schema_migrations: SchemaMigrationsTable;
}

export interface RunsTable {
  id: string;
  idempotency_key: string;
  /** tenant|playbook|app|email folded: one open run per person, app and playbook. */
  open_key: string;
  batch_id: string | null;
  tenant: string;
  playbook: string;
  app: string;
  subject: string;
  request: string;
  plan: string;
  profile: string;
  status: 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
  outcome: string | null;
  waiting_for: string | null;
  wake_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface JournalTable {
  run_id: string;
  key: string;
  value: string;
  at: number;
}

export interface SignalsTable {
  id: Generated<number>;
  run_id: string;
  name: string;
  payload: string;
  dedupe_key: string;
  at: number;
}

export interface StepsTable {
  run_id: string;
  step_id: string;
  position: number;
  status: string;
  channel: string | null;
  attempts: Generated<number>;
  detail: string | null;
  evidence: Generated<string>;
  updated_at: number;
}

export interface TasksTable {
  id: string;
  batch_key: string | null;
  tenant: string;
  app: string;
  /** The app's name as the task's content says it ({app} in titles), beside it so that the list need not parse the content (migration 16). */
  app_name: Generated<string>;
  runbook: string;
  title: string;
  queue: string;
  assignee: string | null;
  status: 'open' | 'completed' | 'failed' | 'cancelled';
  content: string;
  steps_done: Generated<string>;
  due_at: number;
  escalations: Generated<number>;
  created_at: number;
  closed_at: number | null;
  closed_by: string | null;
  evidence: Generated<string>;
  open_key: string | null;
  profile: string | null;
}

export interface TaskItemsTable {
  task_id: string;
  run_id: string;
  step_id: string;
  email: string;
  status: 'open' | 'done' | 'already-done' | 'failed' | 'cancelled';
  closed_by: string | null;
  evidence: Generated<string>;
}

export interface AuditTable {
  seq: Generated<number>;
  at: number;
  run_id: string | null;
  task_id: string | null;
  type: string;
  actor: string;
  data: string;
  prev_hash: string;
  hash: string;
}

export interface OutboxTable {
  id: Generated<number>;
  kind: string;
  payload: string;
  created_at: number;
  next_attempt_at: number;
  attempts: Generated<number>;
  delivered_at: number | null;
  last_error: string | null;
}

export interface BulkJobsTable {
  key: string;
  result: string;
  created_at: number;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  actor: string;
  role: 'operator' | 'admin';
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  scopes: Generated<string>;
  expires_at: number | null;
  rotated_from: string | null;
}

export interface OperatorsTable {
  email: string;
  role: 'operator' | 'admin';
  password_hash: string;
  created_at: number;
}

export interface SessionsTable {
  id_hash: string;
  email: string;
  created_at: number;
  expires_at: number;
}

export interface FormTokensTable {
  token_hash: string;
  session_hash: string;
  used_at: number;
}

export interface ReconciliationsTable {
  id: Generated<number>;
  tenant: string;
  app: string;
  at: number;
  idp_source: string;
  app_source: string;
  identities: number;
  accounts: number;
  matched: number;
  by_kind: string;
  complete: Generated<number>;
  incomplete_reasons: Generated<string>;
}

export interface ReconcileFindingsTable {
  reconciliation_id: number;
  kind: string;
  person: string;
  detail: string;
  first_seen_at: number;
}

export interface FeedCursorsTable {
  tenant: string;
  app: string;
  since: number;
  read_at: number;
}

export interface KnownIdentifiersTable {
  tenant: string;
  person: string;
  app: string;
  kind: 'id' | 'email' | 'userName' | 'externalId';
  value: string;
  first_seen_at: number;
  first_seen_in: string;
  last_seen_at: number;
  last_seen_in: string;
}

export interface ScimResourcesTable {
  tenant: string;
  app: string;
  id: string;
  user_name: string;
  user_name_folded: string;
  external_id: string | null;
  email_folded: string | null;
  attributes: string;
  active: number;
  version: number;
  created_at: number;
  last_modified: number;
  run_id: string | null;
  run_operation: string | null;
  failure: string | null;
  deleted_at: number | null;
}

export interface ScimRunsTable {
  tenant: string;
  app: string;
  id: string;
  run_id: string;
  operation: string;
  started_at: number;
}

export interface ScimGroupMembersTable {
  tenant: string;
  app: string;
  group_id: string;
  member_id: string;
  member: number;
  changes: number;
  run_id: string | null;
  updated_at: number;
}

export interface ScimFailureTasksTable {
  run_id: string;
  task_id: string;
  created_at: number;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: number;
}
