import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { schemasDir } from '../paths.js';
import { listQueries, runSummarySchema, taskViewSchema } from './list-schemas.js';

type Json = Record<string, unknown>;

/** The project's schemas as OpenAPI components: refs between files point into components/schemas. */
function components(): Record<string, Json> {
  const files = readdirSync(schemasDir).filter((f) => f.endsWith('.schema.json')).sort();
  const docs = files.map((f) => ({ file: f, schema: JSON.parse(readFileSync(path.join(schemasDir, f), 'utf8')) as Json }));
  // Component names from the file names (lifecycle-request → LifecycleRequest): titles may hold spaces.
  const nameOf = (file: string) => file.replace(/\.schema\.json$/, '').replace(/(^|-)([a-z])/g, (_, _dash: string, c: string) => c.toUpperCase());
  const titleOf = new Map(docs.map((d) => [d.file, nameOf(d.file)]));
  const rewrite = (value: unknown, own: string): unknown => {
    if (Array.isArray(value)) return value.map((v) => rewrite(v, own));
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value as Json)
        .filter(([k]) => k !== '$schema' && k !== '$id')
        .map(([k, v]) => {
          if (k !== '$ref' || typeof v !== 'string') return [k, rewrite(v, own)];
          const [file, pointer = ''] = v.split('#');
          const target = file ? titleOf.get(file) : own;
          return [k, `#/components/schemas/${target}${pointer}`];
        }),
    );
  };
  return Object.fromEntries(docs.map((d) => [nameOf(d.file), rewrite(d.schema, nameOf(d.file)) as Json]));
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = json(ref('Error'), 'An error: what was wrong and where (a JSON pointer into the body when the body was wrong).');
const id = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 100 } });
/** A list's query parameters, from the schema the server validates them with. */
const queryOf = (q: { properties: Record<string, unknown> }, descriptions: Record<string, string> = {}) =>
  Object.entries(q.properties).map(([name, schema]) => ({ name, in: 'query', schema, ...(descriptions[name] ? { description: descriptions[name] } : {}) }));
const paging = { limit: 'Page size (default 50, at most 200).', cursor: "Where the page starts: the cursor from the previous page's Link rel=\"next\" header (or `next` field)." };
const next = { Link: { description: 'RFC 8288: `<…>; rel="next"` when there is a next page.', schema: { type: 'string' } } };
const scoped = (scope: string) => ({ security: [{ token: [scope] }] });
const forbidden = json(ref('Error'), 'The token lacks the scope this operation needs.');

/** OpenAPI 3.1 for the HTTP API, generated from the JSON Schemas in schemas/ (served, and written to docs/openapi.json). */
export function openApiDocument(version: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Patchbay API',
      version,
      description:
        'Submit lifecycle requests, follow runs, work the task inbox, read the capability matrix. Every request needs an API token (`patchbay token create`) with the scope the operation names; tokens expire (90 days unless told) and see only the tasks of their actor\'s queues unless they hold tasks:all-queues. Lists are paged (limit, cursor, Link rel="next"). See docs/security.md.',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    security: [{ token: [] }],
    paths: {
      '/api/v1/runs': {
        get: {
          summary: 'List runs, newest first, a page at a time',
          ...scoped('runs:read'),
          parameters: queryOf(listQueries.runs, paging),
          responses: { 200: { ...json({ type: 'array', items: ref('RunSummary') }, 'The runs'), headers: next }, 400: error, 401: error, 403: forbidden },
        },
        post: {
          summary: "Start a lifecycle run as the token's actor (returns the open run for the same person and app, or for the same Idempotency-Key). `requestedBy` comes from the token; `onBehalfOf` needs runs:on-behalf-of.",
          ...scoped('runs:write'),
          parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 200 } }],
          requestBody: { required: true, content: { 'application/json': { schema: ref('LifecycleRequest') } } },
          responses: { 201: json(ref('RunSummary'), 'Started'), 200: json(ref('RunSummary'), 'Already open'), 400: error, 401: error, 403: forbidden, 404: error },
        },
      },
      '/api/v1/runs/{id}': {
        get: { summary: 'A run with its steps, evidence and audit trail', ...scoped('runs:read'), parameters: [id('id')], responses: { 200: json({ type: 'object' }, 'The timeline'), 401: error, 403: forbidden, 404: error } },
      },
      '/api/v1/tasks': {
        get: {
          summary: "List tasks by due time, a page at a time: those of the token's actor's queues (every queue with tasks:all-queues); 403, saying why, when the actor is in no queue and holds no task",
          ...scoped('tasks:read'),
          parameters: queryOf(listQueries.tasks, { ...paging, mine: "Only tasks assigned to the token's actor, or unassigned in their queues.", status: 'Default: open.' }),
          responses: { 200: { ...json({ type: 'array', items: ref('TaskView') }, 'The tasks'), headers: next }, 400: error, 401: error, 403: forbidden },
        },
      },
      '/api/v1/tasks/{id}': { get: { summary: "One task with its checklist and, for a precondition, what the run's check read of each person (`read`); 404 for a task outside the token's queues", ...scoped('tasks:read'), parameters: [id('id')], responses: { 200: json(ref('TaskView'), 'The task'), 401: error, 403: forbidden, 404: error } } },
      '/api/v1/tasks/{id}/actions': {
        post: {
          summary: "Complete, fail or reassign a task, as the token's actor (who must be a member of the task's queue; nobody approves a run they asked for or that was asked on their behalf)",
          ...scoped('tasks:write'),
          parameters: [id('id')],
          requestBody: { required: true, content: { 'application/json': { schema: ref('TaskAction') } } },
          responses: { 200: json(ref('TaskView'), 'The task after the action'), 400: error, 401: error, 403: forbidden, 404: error, 409: error },
        },
      },
      '/api/v1/reconciliation': {
        get: {
          summary: "The reconciliation report for the server's tenant: each app's readers, last audit against its policy, overdue audits, findings over the last year; the current findings a page at a time (`findings.items`, `findings.next`)",
          ...scoped('reconcile:read'),
          parameters: queryOf(listQueries.reconciliation, paging),
          responses: { 200: { ...json({ type: 'object' }, 'The audit report with one page of findings'), headers: next }, 400: error, 401: error, 403: forbidden },
        },
      },
      '/api/v1/matrix': { get: { summary: "The capability matrix for the server's tenant", ...scoped('matrix:read'), responses: { 200: json({ type: 'array', items: { type: 'object' } }, 'One row per connector'), 401: error, 403: forbidden } } },
      '/api/v1/token': {
        get: { summary: 'The calling token: name, actor, scopes, expiry, last use (never its secret)', responses: { 200: json({ type: 'object' }, 'The token'), 401: error } },
        delete: { summary: 'Revokes the calling token', responses: { 204: { description: 'Revoked' }, 401: error } },
      },
      '/api/v1/token/rotate': {
        post: { summary: 'Replaces the calling token with a new secret (same name, actor and scopes; a fresh lifetime) and revokes the old one', responses: { 200: json({ type: 'object' }, 'The new token, shown once'), 401: error } },
      },
    },
    components: {
      securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'pb_<id>_<secret>, from `patchbay token create`; stored hashed; expires; scopes: runs:read, runs:write, runs:on-behalf-of, tasks:read, tasks:write, tasks:all-queues, reconcile:read, matrix:read.' } },
      schemas: {
        ...components(),
        Error: {
          type: 'object',
          properties: { error: { type: 'string' }, message: { type: 'string' }, pointer: { type: 'string' } },
          required: ['error', 'message'],
        },
        RunSummary: runSummarySchema,
        // The server's own declaration (the list's response schema), with the runbook named.
        TaskView: { ...taskViewSchema, properties: { ...taskViewSchema.properties, content: { ...taskViewSchema.properties.content, properties: { runbook: ref('Runbook') } } } },
      },
    },
  };
}
