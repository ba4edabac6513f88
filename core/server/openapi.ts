import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { schemasDir } from '../paths.js';

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
const id = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

/** OpenAPI 3.1 for the HTTP API, generated from the JSON Schemas in schemas/ (served, and written to docs/openapi.json). */
export function openApiDocument(version: string): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Patchbay API',
      version,
      description: 'Submit lifecycle requests, follow runs, work the task inbox, read the capability matrix. Every request needs an API token (`patchbay token create`).',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    security: [{ token: [] }],
    paths: {
      '/api/v1/runs': {
        get: {
          summary: 'List runs, newest first',
          parameters: [
            { name: 'status', in: 'query', schema: { enum: ['running', 'waiting', 'completed', 'failed', 'cancelled'] } },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          ],
          responses: { 200: json({ type: 'array', items: ref('RunSummary') }, 'The runs'), 401: error },
        },
        post: {
          summary: 'Start a lifecycle run (returns the open run for the same person and app, or for the same Idempotency-Key)',
          parameters: [{ name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 200 } }],
          requestBody: { required: true, content: { 'application/json': { schema: ref('LifecycleRequest') } } },
          responses: { 201: json(ref('RunSummary'), 'Started'), 200: json(ref('RunSummary'), 'Already open'), 400: error, 401: error, 404: error },
        },
      },
      '/api/v1/runs/{id}': {
        get: { summary: 'A run with its steps, evidence and audit trail', parameters: [id('id')], responses: { 200: json({ type: 'object' }, 'The timeline'), 401: error, 404: error } },
      },
      '/api/v1/tasks': {
        get: {
          summary: 'List tasks by queue and due time',
          parameters: [
            { name: 'queue', in: 'query', schema: { type: 'string' } },
            { name: 'status', in: 'query', schema: { enum: ['open', 'completed', 'failed', 'cancelled', 'all'] } },
            { name: 'mine', in: 'query', schema: { type: 'boolean' }, description: "Only the queues the token's actor belongs to." },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } },
          ],
          responses: { 200: json({ type: 'array', items: { type: 'object' } }, 'The tasks'), 401: error },
        },
      },
      '/api/v1/tasks/{id}': { get: { summary: 'One task with its checklist', parameters: [id('id')], responses: { 200: json({ type: 'object' }, 'The task'), 401: error, 404: error } } },
      '/api/v1/tasks/{id}/actions': {
        post: {
          summary: "Complete, fail or reassign a task, as the token's actor (who must be a member of the task's queue)",
          parameters: [id('id')],
          requestBody: { required: true, content: { 'application/json': { schema: ref('TaskAction') } } },
          responses: { 200: json({ type: 'object' }, 'The task after the action'), 400: error, 401: error, 404: error, 409: error },
        },
      },
      '/api/v1/reconciliation': {
        get: {
          summary: "The reconciliation report for the server's tenant: each app's readers, last audit against its policy, overdue audits, findings over the last year",
          responses: { 200: json({ type: 'object' }, 'The audit report'), 401: error },
        },
      },
      '/api/v1/matrix': { get: { summary: "The capability matrix for the server's tenant", responses: { 200: json({ type: 'array', items: { type: 'object' } }, 'One row per connector'), 401: error } } },
    },
    components: {
      securitySchemes: { token: { type: 'http', scheme: 'bearer', description: 'pb_<id>_<secret>, from `patchbay token create`; stored hashed.' } },
      schemas: {
        ...components(),
        Error: {
          type: 'object',
          properties: { error: { type: 'string' }, message: { type: 'string' }, pointer: { type: 'string' } },
          required: ['error', 'message'],
        },
        RunSummary: {
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
        },
      },
    },
  };
}
