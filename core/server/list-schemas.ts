/*
 * The lists' shapes as data: page sizes, query-string schemas, and the response schemas of a run summary
 * and a task. Kept apart from the list queries (core/server/listing.ts) so that the OpenAPI document,
 * which the docs generator builds on every command that loads the catalogue, does not load Kysely.
 */

/** The largest page any list answers, and the page when none is asked for. */
export const maxPageSize = 200;
export const defaultPageSize = 50;

/** Query strings: each list's parameters, their enumerations and bounds (400 naming the parameter otherwise). */
const runStatuses = ['running', 'waiting', 'completed', 'failed', 'cancelled'];
const taskStatuses = ['open', 'completed', 'failed', 'cancelled', 'all'];
export const page = { limit: { type: 'integer', minimum: 1, maximum: maxPageSize }, cursor: { type: 'string', minLength: 1, maxLength: 200 } };
export const query = (properties: Record<string, unknown>) => ({ type: 'object', properties, additionalProperties: false });
export const idParam = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 100 } }, required: ['id'] };
/** The query parameters of each list, shared with the OpenAPI document. */
export const listQueries = {
  runs: query({ status: { enum: runStatuses }, ...page }),
  tasks: query({ queue: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 100 }, status: { enum: taskStatuses }, mine: { enum: ['true', 'false'] }, ...page }),
  reconciliation: query({ ...page }),
} as const;

/**
 * A run as the runs list answers it (RunSummary in the OpenAPI document): the route's response schema,
 * so fastify's serializer writes these properties and no others.
 */
export const runSummarySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    playbook: { type: 'string' },
    app: { type: 'string' },
    subject: { type: 'string' },
    status: { type: 'string' },
    outcome: { type: ['string', 'null'] },
    waitingFor: { type: ['string', 'null'] },
    createdAt: { type: 'integer' },
  },
  required: ['id', 'playbook', 'app', 'subject', 'status'],
} as const;

/** A checklist section of a task (TaskItem): one person of the batch. */
const taskItemSchema = {
  type: 'object',
  properties: {
    runId: { type: 'string' },
    stepId: { type: 'string' },
    email: { type: 'string' },
    status: { type: 'string', enum: ['open', 'done', 'already-done', 'failed', 'cancelled'] },
    closedBy: { type: ['string', 'null'] },
  },
  required: ['runId', 'stepId', 'email', 'status', 'closedBy'],
} as const;

/**
 * A task as the API answers it (TaskView, core/channels/human/task-store.ts): the list's response schema
 * and the OpenAPI document's TaskView. Times are milliseconds since the epoch; `title` is rendered for the
 * people in the task; `content` is what a person sees (the runbook of schemas/runbook.schema.json, the app,
 * the step, the plan's reason and watch-outs, what the machines tried first).
 */
export const taskViewSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    title: { type: 'string' },
    tenant: { type: 'string' },
    app: { type: 'string' },
    runbook: { type: 'string' },
    queue: { type: 'string' },
    assignee: { type: ['string', 'null'] },
    status: { type: 'string', enum: ['open', 'completed', 'failed', 'cancelled'] },
    dueAt: { type: 'integer' },
    overdue: { type: 'boolean' },
    escalations: { type: 'integer' },
    createdAt: { type: 'integer' },
    closedAt: { type: ['integer', 'null'] },
    closedBy: { type: ['string', 'null'] },
    stepsDone: { type: 'array', items: { type: 'integer' }, description: 'The checklist steps ticked, 1-based.' },
    content: { type: 'object', additionalProperties: true, required: ['runbook', 'appName', 'system', 'stepTitle', 'reason', 'watchOutFor'], description: 'What a person sees: the runbook, the app, the step, the reason and what to watch out for.' },
    items: { type: 'array', items: taskItemSchema, description: 'One checklist section per person of the batch, by email.' },
    evidence: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'The evidence handed in.' },
    read: {
      type: 'array',
      description: "GET /api/v1/tasks/{id} of a precondition task (an owner transfer, approvals to reassign) only: what the run's check last read of each person, as data.",
      items: {
        type: 'object',
        properties: {
          email: { type: 'string' },
          runId: { type: 'string' },
          channel: { type: ['string', 'null'], description: 'The channel that read (browser, api).' },
          detail: { type: 'string', description: 'The read in words.' },
          at: { type: ['integer', 'null'] },
          fields: { type: ['object', 'null'], additionalProperties: { type: 'string' }, description: "The account's fields as read (roles, teams, cards…), as text." },
          tested: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } }, required: ['field', 'values'] }, description: "The fields the task's precondition tests, and the values it looks for." },
          screenshots: { type: 'array', items: { type: 'object', properties: { sha256: { type: 'string' }, name: { type: 'string' } }, required: ['sha256', 'name'] } },
        },
        required: ['email', 'runId', 'channel', 'detail', 'at', 'fields', 'tested', 'screenshots'],
      },
    },
  },
  required: ['id', 'title', 'tenant', 'app', 'runbook', 'queue', 'assignee', 'status', 'dueAt', 'overdue', 'escalations', 'createdAt', 'closedAt', 'closedBy', 'stepsDone', 'content', 'items', 'evidence'],
} as const;

/** The task list's response: the tasks of the page, by due time. */
export const taskListSchema = { type: 'array', items: taskViewSchema } as const;
