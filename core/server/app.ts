import { createReadStream, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type EvidenceInput, TaskRefusedError } from '../channels/human/task-store.js';
import type { Runtime, Services } from '../container.js';
import { matrixReport } from '../docs/matrix-page.js';
import { auditReportFor } from '../reconcile/audit.js';
import { reconcileReportBody } from './reconcile-page.js';
import { InvalidInputError, NotFoundError, PatchbayError } from '../errors.js';
import type { RunRecord } from '../engine/port.js';
import type { TaskAction } from '../schema/types/task-action.js';
import type { LoadedProfile } from '../tenant/profile.js';
import { AccessDeniedError, AccessStore, type Principal } from './access.js';
import { esc, inboxPage, layout, loginPage, matrixPage, runPage, runsPage, taskPage } from './html.js';
import { openApiDocument } from './openapi.js';

export interface ServerOptions {
  readonly services: Services;
  readonly runtime: Runtime;
  /** The tenant whose requests this server takes. */
  readonly profile: LoadedProfile;
  readonly host?: string;
  readonly port?: number;
  readonly version?: string;
  /** How often runs catch up on their own (timers, overdue tasks, webhooks); default 15 s. */
  readonly tickMs?: number;
}

export interface PatchbayServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly access: AccessStore;
  /** Resolves when the runs have caught up with everything done so far (for tests and the demo). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const sessionCookie = 'pb_session';

const runSummary = (r: RunRecord) => ({ id: r.id, playbook: r.playbook, app: r.app, subject: r.subject, status: r.status, outcome: r.outcome, waitingFor: r.waitingFor, createdAt: r.createdAt });

/**
 * `patchbay serve`: the HTTP API for machines (API tokens) and the task inbox pages for operators
 * (sign-in, sessions, one-time form tokens), on the same embedded store as the CLI. Runs move on
 * in the background after each change, so a request answers as soon as its change is committed.
 */
export async function startServer(options: ServerOptions): Promise<PatchbayServer> {
  const { services, runtime, profile } = options;
  const access = new AccessStore(runtime.db);
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  await app.register(cookie);
  await app.register(formbody);
  await app.register(multipart, { limits: { fileSize: 25 * 1024 * 1024, files: 1, fields: 50 } });

  // One catch-up loop: changes ask for it, a timer keeps timers and escalations going.
  let settling: Promise<void> | undefined;
  let again = false;
  const settleSoon = (): Promise<void> => {
    if (settling) {
      again = true;
      return settling;
    }
    settling = (async () => {
      do {
        again = false;
        try {
          await runtime.runs.settle();
        } catch (error) {
          process.stderr.write(`patchbay serve: catching up failed: ${(error as Error).message}\n`);
        }
      } while (again);
    })().finally(() => (settling = undefined));
    return settling;
  };
  const timer = setInterval(() => void settleSoon(), options.tickMs ?? 15_000);
  timer.unref();

  const queues = () => profile.profile.queues ?? [];
  const memberQueues = (who: Principal) => queues().filter((q) => q.members.map((m) => m.toLowerCase()).includes(who.actor.toLowerCase()));

  app.setErrorHandler((error, req, reply) => {
    const api = req.url.startsWith('/api/');
    const send = (status: number, code: string, message: string, pointer?: string) =>
      api ? reply.code(status).send({ error: code, message, ...(pointer !== undefined ? { pointer } : {}) }) : reply.code(status).type('text/html; charset=utf-8').send(layout('Error', `<h1>${status}</h1><p role="alert">${esc(message)}</p><p><a href="/inbox">Back to the inbox</a></p>`));
    if (error instanceof InvalidInputError) return send(400, error.code, error.message, error.where.pointer ?? '');
    if (error instanceof AccessDeniedError) return send(error.status, error.code, error.message);
    if (error instanceof NotFoundError) return send(404, error.code, error.message);
    if (error instanceof TaskRefusedError) return send(409, error.code, error.message);
    if (error instanceof PatchbayError) return send(422, error.code, error.message);
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status < 500) return send(status, 'bad-request', (error as Error).message);
    process.stderr.write(`patchbay serve: ${req.method} ${req.url.split('?')[0]}: ${(error as Error).message}\n`);
    return send(500, 'internal', 'something went wrong on the server; the change, if any, was not half-made');
  });

  // ---- The API: tokens only. ----
  const principalOf = (req: FastifyRequest) => (req as FastifyRequest & { principal: Principal }).principal;
  app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/api/v1/') && req.url !== '/api/v1/openapi.json') {
      (req as FastifyRequest & { principal: Principal }).principal = access.bearer(req.headers.authorization);
    }
  });
  app.get('/api/v1/openapi.json', async () => openApiDocument(options.version ?? '0.0.0'));
  app.get<{ Querystring: { status?: string; limit?: string } }>('/api/v1/runs', async (req) => {
    const status = req.query.status as RunRecord['status'] | undefined;
    return runtime.engine.list({ ...(status ? { status } : {}), limit: clamp(req.query.limit, 100) }).map(runSummary);
  });
  app.post('/api/v1/runs', async (req, reply) => {
    const who = principalOf(req);
    const key = req.headers['idempotency-key'];
    const [result] = await runtime.runs.start([{ source: `request body (API token ${who.tokenId})`, request: req.body }], profile, {
      requestedBy: who.actor,
      ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
      drive: false,
    });
    void settleSoon();
    return reply.code(result!.created ? 201 : 200).send(runSummary(result!.run));
  });
  app.get<{ Params: { id: string } }>('/api/v1/runs/:id', async (req) => runtime.runs.timeline(req.params.id));
  app.get<{ Querystring: { queue?: string; status?: string; mine?: string; limit?: string } }>('/api/v1/tasks', async (req) => {
    const who = principalOf(req);
    const status = (req.query.status ?? 'open') as Parameters<typeof runtime.tasks.list>[0] extends infer F ? (F extends { status?: infer S } ? S : never) : never;
    return runtime.tasks.list({ ...(req.query.queue ? { queue: req.query.queue } : {}), status, ...(req.query.mine === 'true' ? { operator: who.actor } : {}), limit: clamp(req.query.limit, 100) });
  });
  app.get<{ Params: { id: string } }>('/api/v1/tasks/:id', async (req) => runtime.tasks.get(req.params.id));
  app.post<{ Params: { id: string } }>('/api/v1/tasks/:id/actions', async (req) => {
    const who = principalOf(req);
    const action = services.validator.validate<TaskAction>('task-action', req.body ?? {});
    const task = act(runtime, req.params.id, action, who.actor);
    void settleSoon();
    return task;
  });
  app.get('/api/v1/matrix', async () => matrixReport(services.registry.list(), profile.profile));
  app.get('/api/v1/reconciliation', async () => auditReportFor(services.planner, profile, runtime.reconciliations, Date.now()));

  // ---- The pages: operators signed in. ----
  const operator = (req: FastifyRequest, reply: FastifyReply): Principal | undefined => {
    const who = access.session(req.cookies[sessionCookie]);
    if (!who) void reply.redirect(`/login?next=${encodeURIComponent(req.url)}`);
    return who;
  };
  const html = (reply: FastifyReply, body: string, status = 200) =>
    reply.code(status).header('content-security-policy', "default-src 'self'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'").type('text/html; charset=utf-8').send(body);

  app.get('/', async (_req, reply) => reply.redirect('/inbox'));
  app.get<{ Querystring: { next?: string } }>('/login', async (req, reply) => html(reply, loginPage(undefined, safeNext(req.query.next))));
  app.post<{ Body: { email?: string; password?: string; next?: string } }>('/login', async (req, reply) => {
    try {
      const session = await access.signIn(req.body?.email ?? '', req.body?.password ?? '');
      reply.setCookie(sessionCookie, session, { path: '/', httpOnly: true, sameSite: 'strict', secure: false });
      return reply.redirect(safeNext(req.body?.next));
    } catch (error) {
      if (error instanceof AccessDeniedError) return html(reply, loginPage(error.message, safeNext(req.body?.next)), 401);
      throw error;
    }
  });
  app.post<{ Body: Record<string, string> }>('/logout', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    access.useFormToken(who, req.body?._token);
    access.signOut(req.cookies[sessionCookie]);
    return reply.clearCookie(sessionCookie, { path: '/' }).redirect('/login');
  });
  app.get<{ Querystring: { queue?: string } }>('/inbox', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    const mine = memberQueues(who).map((q) => q.id);
    const queue = req.query.queue;
    const tasks = runtime.tasks
      .list({ status: 'open', ...(queue ? { queue } : {}), limit: 500 })
      .filter((t) => queue || who.role === 'admin' || mine.includes(t.queue))
      .sort((a, b) => a.dueAt - b.dueAt);
    return html(reply, inboxPage({ who, token: access.formToken(who), tasks, queues: queues().map((q) => ({ id: q.id, name: q.name ?? q.id, mine: mine.includes(q.id) })), ...(queue ? { queue } : {}), now: Date.now() }));
  });
  app.get<{ Params: { id: string }; Querystring: { done?: string } }>('/tasks/:id', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    const task = runtime.tasks.get(req.params.id);
    const message = req.query.done ? { ok: true, text: req.query.done === 'completed' ? 'Task completed: the run moves on.' : req.query.done === 'failed' ? 'Task failed: the step goes to its next channel or escalates.' : `Done: ${req.query.done}` } : undefined;
    return html(reply, taskPage({ who, token: () => access.formToken(who), task, queues: queues().map((q) => ({ id: q.id, name: q.name ?? q.id })), ...(message ? { message } : {}) }));
  });
  const taskForm = (name: string, handle: (who: Principal, id: string, fields: Record<string, string[]>, file?: string) => string) =>
    app.post<{ Params: { id: string } }>(`/tasks/:id/${name}`, async (req, reply) => {
      const who = operator(req, reply);
      if (!who) return reply;
      const { fields, file, cleanup } = await readForm(req);
      try {
        access.useFormToken(who, fields._token?.[0]);
        const done = handle(who, req.params.id, fields, file);
        void settleSoon();
        return reply.redirect(`/tasks/${encodeURIComponent(req.params.id)}?done=${encodeURIComponent(done)}`, 303);
      } catch (error) {
        if (!(error instanceof TaskRefusedError)) throw error;
        const task = runtime.tasks.get(req.params.id);
        return html(reply, taskPage({ who, token: () => access.formToken(who), task, queues: queues().map((q) => ({ id: q.id, name: q.name ?? q.id })), message: { ok: false, text: error.message } }), 409);
      } finally {
        cleanup();
      }
    });
  taskForm('tick', (who, id, fields) => {
    runtime.tasks.tickStep(id, Number(fields.step?.[0]), who.actor);
    return `step ${fields.step?.[0]} ticked`;
  });
  taskForm('complete', (who, id, fields, file) => {
    const evidence: EvidenceInput[] = [...(fields.evidence ?? []).map((t) => t.trim()).filter(Boolean).map((text) => ({ text })), ...(file ? [{ file }] : [])];
    runtime.tasks.complete(id, { by: who.actor, evidence, ...(fields.alreadyDone?.[0] === 'yes' ? { alreadyDone: true } : {}) });
    return 'completed';
  });
  taskForm('fail', (who, id, fields) => {
    runtime.tasks.fail(id, { by: who.actor, reason: (fields.reason?.[0] ?? '').trim() || 'no reason given' });
    return 'failed';
  });
  taskForm('reassign', (who, id, fields) => {
    runtime.tasks.reassign(id, { by: who.actor, queue: fields.queue?.[0] ?? '' });
    return `reassigned to ${fields.queue?.[0]}`;
  });
  app.get('/runs', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    return html(reply, runsPage(who, access.formToken(who), runtime.engine.list({ limit: 200 })));
  });
  app.get<{ Params: { id: string } }>('/runs/:id', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    return html(reply, runPage(who, access.formToken(who), runtime.runs.timeline(req.params.id)));
  });
  app.get('/matrix', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    return html(reply, matrixPage(who, access.formToken(who), matrixReport(services.registry.list(), profile.profile), profile.profile.tenant));
  });
  app.get('/reconcile', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    const report = auditReportFor(services.planner, profile, runtime.reconciliations, Date.now());
    return html(reply, layout('Reconciliation', reconcileReportBody(report), who, access.formToken(who)));
  });
  app.get<{ Params: { sha: string } }>('/evidence/:sha', async (req, reply) => {
    const who = operator(req, reply);
    if (!who) return reply;
    if (!/^[0-9a-f]{64}$/.test(req.params.sha)) throw new NotFoundError('evidence file', req.params.sha);
    const name = existsSync(runtime.evidenceDir) ? readdirSync(runtime.evidenceDir).find((f) => f.startsWith(req.params.sha) && !f.endsWith('.partial')) : undefined;
    if (!name) throw new NotFoundError('evidence file', req.params.sha);
    const ext = path.extname(name);
    const type = ext === '.png' ? 'image/png' : 'application/octet-stream';
    // HTML kept from a drifted page is shown as text, never rendered as a page of ours.
    return reply.type(ext === '.html' ? 'text/plain; charset=utf-8' : type).header('content-disposition', ext === '.png' ? 'inline' : `attachment; filename="${req.params.sha.slice(0, 12)}${ext}"`).send(createReadStream(path.join(runtime.evidenceDir, name)));
  });

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
  return {
    url: address,
    app,
    access,
    settled: async () => {
      await settleSoon();
    },
    close: async () => {
      clearInterval(timer);
      await app.close();
      await settling;
    },
  };
}

/** Carries out one task action as `actor` (the store checks queue membership and evidence). */
export function act(runtime: Runtime, taskId: string, action: TaskAction, actor: string) {
  switch (action.action) {
    case 'complete':
      return runtime.tasks.complete(taskId, { by: actor, evidence: action.evidence, ...(action.alreadyDone ? { alreadyDone: true } : {}), ...(action.person ? { person: action.person } : {}) });
    case 'fail':
      return runtime.tasks.fail(taskId, { by: actor, reason: action.reason, ...(action.person ? { person: action.person } : {}) });
    case 'reassign':
      return runtime.tasks.reassign(taskId, { by: actor, ...(action.queue ? { queue: action.queue } : {}), ...(action.assignee ? { assignee: action.assignee } : {}) });
  }
}

/** A form's fields (urlencoded or multipart), with an uploaded file saved to a temporary folder. */
async function readForm(req: FastifyRequest): Promise<{ fields: Record<string, string[]>; file?: string; cleanup: () => void }> {
  const fields: Record<string, string[]> = {};
  const add = (k: string, v: string) => (fields[k] ??= []).push(v);
  if (!req.isMultipart()) {
    for (const [k, v] of Object.entries((req.body as Record<string, string | string[]>) ?? {})) for (const one of Array.isArray(v) ? v : [v]) add(k, String(one));
    return { fields, cleanup: () => undefined };
  }
  let folder: string | undefined;
  let file: string | undefined;
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (!part.filename) {
        part.file.resume();
        continue;
      }
      folder ??= mkdtempSync(path.join(os.tmpdir(), 'patchbay-upload-'));
      file = path.join(folder, path.basename(part.filename).replace(/[^\w.-]/g, '_') || 'evidence');
      await pipeline(part.file, createWriteStream(file));
    } else {
      add(part.fieldname, String(part.value));
    }
  }
  return { fields, ...(file ? { file } : {}), cleanup: () => folder && rmSync(folder, { recursive: true, force: true }) };
}

function safeNext(next: string | undefined): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/inbox';
}

function clamp(value: string | undefined, fallback: number): number {
  const n = Number(value ?? fallback);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 1000) : fallback;
}
