import { createReadStream, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import type { ErrorObject } from 'ajv';
import LinkHeader from 'http-link-header';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type EvidenceInput, TaskRefusedError } from '../channels/human/task-store.js';
import type { Runtime, Services } from '../container.js';
import { EvidenceFiles } from '../channels/evidence-files.js';
import type { Evidence } from '../channels/executor.js';
import { matrixReport } from '../docs/matrix-page.js';
import { auditReportFor } from '../reconcile/audit.js';
import { OnBehalfRefusedError } from '../engine/requester.js';
import { describeSchemaErrors } from '../schema/validator.js';
import { reconcileReportBody } from './reconcile-page.js';
import { BrowserHost } from '../channels/browser/browser-host.js';
import { machineReaderFor, reconcileAppNow } from '../reconcile/reconcile-app.js';
import { remediateFinding } from '../reconcile/remediate.js';
import { remediationRuns } from '../reconcile/remediation-runs.js';
import { InvalidInputError, NotFoundError, PatchbayError } from '../errors.js';
import type { RunRecord } from '../engine/port.js';
import { nextPassDelay } from '../engine/next-pass.js';
import type { TaskAction } from '../schema/types/task-action.js';
import type { LoadedProfile } from '../tenant/profile.js';
import { AccessDeniedError, AccessStore, type Principal, preSessionBinding } from './access.js';
import { defaultPageSize, evidenceVisible, firstFindings, idParam, listQueries, maxPageSize, page, pageOfFindings, pageOfRunRows, pageOfRuns, pageOfTaskRows, pageOfTasks, query, runSummarySchema, taskListBody, taskListSchema, taskVisible, visibleQueues, visibleTasks, noQueueReason } from './listing.js';
import { describeDatabaseError, isStoreUnavailable, latestSchemaVersion } from '../store/sql.js';
import { type DeclaredRoute, enforceDeclaredAccess, formAction, operatorRoute, publicRoute, tokenRoute } from './routes.js';
import { type CheckRead, checkRead, esc, inboxPage, layout, loginPage, matrixPage, runPage, runsPage, taskPage, tokensPage } from './html.js';
import { openApiDocument } from './openapi.js';
import { ScimBridge } from '../bridge/bridge.js';
import { registerBridgeRoutes } from '../bridge/routes.js';
import { type Entitlement, ScimGroups, entitlementsOfManifest } from '../bridge/groups.js';
import { IdentifierStore } from '../store/identifiers.js';
import { LiveEvents, liveScript } from './events.js';
import { RequestLog } from './request-log.js';

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
  /** The server is reached over HTTPS (a TLS proxy in front): cookies are `Secure` and HSTS is sent. */
  readonly behindHttps?: boolean;
  /** Trust X-Forwarded-* from these proxies (fastify's trustProxy: true, or addresses and CIDRs, comma-separated); default: trust none. */
  readonly trustProxy?: boolean | string;
  /** How long one live-update stream stays open before the browser reconnects (and its session is checked again); default 5 minutes. */
  readonly eventStreamMs?: number;
  /** Sign-in attempts allowed per address and per account within `windowMs` before 429 (defaults 20, 5 and 15 minutes). */
  readonly signInLimits?: { readonly perAddress?: number; readonly perAccount?: number; readonly windowMs?: number };
  /** SCIM bridge requests allowed per bridge token per minute before 429 (default 600). */
  readonly scimRequestsPerMinute?: number;
  /**
   * The key of the pages' form tokens (32 bytes or more). Default: random for this process, so a
   * form is accepted only by the server that served it; servers sharing one store behind a load
   * balancer without sticky sessions are given the same key.
   */
  readonly formKey?: Buffer;
  /** The IdP's side of "reconcile now" on /reconcile from this export (CSV or xlsx) instead of the IdP's API (`serve --idp-from`). */
  readonly reconcileIdpFrom?: string;
}

export interface PatchbayServer {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly access: AccessStore;
  /** Every route with its declared access, as registered (the route-enumeration test walks it). */
  readonly routes: readonly DeclaredRoute[];
  /** The SCIM bridge behind /scim/v2/<app>/ (core/bridge/). */
  readonly bridge: ScimBridge;
  /** Resolves when the runs have caught up with everything done so far (for tests and the demo). */
  settled(): Promise<void>;
  /**
   * A graceful stop has begun: from now on /readyz answers 503 (status "draining"), so a load balancer
   * sends new requests to another server, while this one still answers what reaches it and its process
   * hands its runs over. /healthz still answers 200: the process is alive. close() follows.
   */
  drain(): void;
  close(): Promise<void>;
}

const runSummary = (r: RunRecord) => ({ id: r.id, playbook: r.playbook, app: r.app, subject: r.subject, status: r.status, outcome: r.outcome, waitingFor: r.waitingFor, createdAt: r.createdAt });

/**
 * `patchbay serve`: the HTTP API for machines (API tokens with scopes) and the task inbox pages for
 * operators (sign-in, sessions, one-time form tokens), on the same embedded store as the CLI. Every
 * route declares who may call it (see routes.ts); runs move on in the background after each change,
 * so a request answers as soon as its change is committed.
 */
export async function startServer(options: ServerOptions): Promise<PatchbayServer> {
  const { services, runtime, profile } = options;
  if (options.formKey && options.formKey.length < 32) throw new InvalidInputError({ pointer: '/formKey' }, `must be at least 32 bytes (got ${options.formKey.length})`);
  const access = new AccessStore(runtime.store, Date.now, options.formKey);
  const secure = options.behindHttps === true;
  // __Host- cookies are Secure, for the whole site, and never set by a subdomain.
  const sessionCookie = secure ? '__Host-pb_session' : 'pb_session';
  const preSessionCookie = secure ? '__Host-pb_presession' : 'pb_presession';
  const cookieOptions = { path: '/', httpOnly: true, sameSite: 'strict' as const, secure };
  const log = services.logger.child({ tenant: profile.profile.tenant });
  const app = Fastify({
    // fastify logs through the process's pino (request ids on req.log), one line per request (RequestLog).
    ...(log.pino ? { loggerInstance: log.pino as unknown as FastifyBaseLogger, logController: new RequestLog() } : { logger: false }),
    bodyLimit: 1024 * 1024,
    trustProxy: options.trustProxy ?? false,
    // Refuse what a query schema does not name, instead of dropping it; coerce numbers from the query.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'unsafe-inline'"], imgSrc: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"], objectSrc: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    hsts: secure ? { maxAge: 31_536_000 } : false,
  });
  await app.register(rateLimit, { global: false, exponentialBackoff: true });
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 256 * 1024 });
  await app.register(multipart, { limits: { fileSize: 25 * 1024 * 1024, files: 1, fields: 50, fieldSize: 64 * 1024, parts: 60 } });

  // One catch-up loop: changes ask for it, and after each pass it sleeps until the next run timer, task due time
  // or notification retry falls due (at most tickMs, at least 250 ms: a run leased elsewhere must not spin it).
  let settling: Promise<void> | undefined;
  let again = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let afterSettle: () => Promise<unknown> = async () => {};
  const tickMs = options.tickMs ?? 15_000;
  const scheduleNext = async () => {
    let due: number | null = null;
    try {
      due = await runtime.runs.nextDueIn();
    } catch {
      // The store did not answer: the pass after a full tick will say so if it still does not.
    }
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void settleSoon(), nextPassDelay(due, { minMs: 250, maxMs: tickMs }));
    timer.unref();
  };
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
          await afterSettle();
        } catch (error) {
          log.error({ error: (error as Error).message }, 'patchbay serve: catching up failed');
        }
      } while (again);
      await scheduleNext();
    })().finally(() => (settling = undefined));
    return settling;
  };
  void scheduleNext();

  const queues = () => profile.profile.queues ?? [];
  const memberQueues = (who: Principal) => queues().filter((q) => q.members.map((m) => m.toLowerCase()).includes(who.actor.toLowerCase()));
  const seen = (who: Principal) => visibleQueues(who, profile.profile);

  const routes = enforceDeclaredAccess(app, {
    store: access,
    sessionOf: (req) => req.cookies[sessionCookie],
    canSeeTask: (who, id) => taskVisible(runtime.store.db, id, seen(who), who.actor),
    canSeeEvidence: async (who, sha) => /^[0-9a-f]{64}$/.test(sha) && (await evidenceVisible(runtime.store.db, sha, seen(who))),
  });
  const isApi = (req: FastifyRequest) => (req.routeOptions.config?.access ? req.routeOptions.config.access.kind === 'token' || req.routeOptions.url === '/api/v1/openapi.json' : apiPath(req.url));

  app.setErrorHandler((error, req, reply) => {
    const send = (status: number, code: string, message: string, pointer?: string) =>
      isApi(req)
        ? reply.code(status).type('application/json; charset=utf-8').send({ error: code, message, ...(pointer !== undefined ? { pointer } : {}) })
        : reply.code(status).type('text/html; charset=utf-8').send(layout('Error', `<h1>${status}</h1><p role="alert">${esc(message)}</p><p><a href="/inbox">Back to the inbox</a></p>`));
    const validation = (error as { validation?: ErrorObject[]; validationContext?: string }).validation;
    if (validation) {
      const where = (error as { validationContext?: string }).validationContext === 'querystring' ? '/query' : `/${(error as { validationContext?: string }).validationContext ?? 'request'}`;
      const { pointer, reason } = describeSchemaErrors(validation);
      return send(400, 'invalid-input', `#${where}${pointer}: ${reason}`, `${where}${pointer}`);
    }
    if (error instanceof InvalidInputError) {
      const pointer = error.where.pointer ?? '';
      return send(400, error.code, pointer.startsWith('/query/') ? `#${pointer}: ${error.reason}` : error.message, pointer);
    }
    if (error instanceof AccessDeniedError) return send(error.status, error.code, error.message);
    if (error instanceof OnBehalfRefusedError) return send(403, error.code, error.message);
    if (error instanceof NotFoundError) return send(404, error.code, error.message);
    if (error instanceof TaskRefusedError) return send(409, error.code, error.message);
    if (error instanceof PatchbayError) return send(422, error.code, error.message);
    const status = (error as { statusCode?: number }).statusCode;
    if (status === 429) return send(429, 'rate-limited', (error as Error).message);
    if (status && status < 500) return send(status, 'bad-request', (error as Error).message);
    if (isStoreUnavailable(error)) {
      // The database is down, restarting or out of connections: nothing was changed, and asking again soon may work.
      req.log.error({ error: describeDatabaseError(error) }, 'patchbay serve: the store does not answer');
      reply.header('retry-after', '5');
      return send(503, 'store-unavailable', 'the store does not answer now; nothing was changed: try again in a few seconds');
    }
    req.log.error({ error: (error as Error).message, stack: (error as Error).stack }, 'patchbay serve: internal error');
    return send(500, 'internal', 'something went wrong on the server; the change, if any, was not half-made');
  });
  app.setNotFoundHandler((req, reply) => {
    const message = `nothing at ${req.method} ${req.url.split('?')[0]}`;
    return apiPath(req.url)
      ? reply.code(404).type('application/json; charset=utf-8').send({ error: 'not-found', message })
      : reply.code(404).type('text/html; charset=utf-8').send(layout('Not found', `<h1>404</h1><p role="alert">${esc(message)}</p><p><a href="/inbox">Back to the inbox</a></p>`));
  });

  // The API takes JSON only: a form or text body sent to it is refused before any handler reads it.
  app.addHook('preValidation', async (req) => {
    if (req.routeOptions.config?.access?.kind !== 'token' || req.body === undefined) return;
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) throw Object.assign(new Error(`Unsupported Media Type: the API takes application/json (got ${type.split(';')[0] || 'nothing'})`), { statusCode: 415 });
  });

  // Form posts: fields read (a file saved to a temporary folder) and the form token checked before
  // the handler runs; the temporary folder goes when the response is sent.
  app.addHook('preHandler', async (req, reply) => {
    const accessOf = req.routeOptions.config?.access;
    const form = accessOf && 'form' in accessOf ? accessOf.form : undefined;
    if (!form) return;
    const binding = form === 'session' ? req.principal!.sessionHash! : preSessionBinding(req.cookies[preSessionCookie] ?? '');
    if (form === 'pre-session' && !req.cookies[preSessionCookie]) throw new AccessDeniedError('the sign-in form has expired: reload the page and sign in again', 403);
    // Past the limit the sign-in page has been sent (429): returning the reply ends the request here.
    if (form === 'pre-session' && (await signInLimiter(req, reply))) return reply;
    req.form = await readForm(req, (fields) => access.useFormToken(binding, formAction(req), fields._token?.[0]));
  });
  app.addHook('onResponse', async (req) => req.form?.cleanup());

  // Sign-in attempts: per address and per account, with a window that doubles while a client keeps trying.
  const limits = { perAddress: 20, perAccount: 5, windowMs: 15 * 60_000, ...options.signInLimits };
  const byAddress = app.createRateLimit({ max: limits.perAddress, timeWindow: limits.windowMs, keyGenerator: (req: FastifyRequest) => `address:${req.ip}` });
  const byAccount = app.createRateLimit({
    max: limits.perAccount,
    timeWindow: limits.windowMs,
    keyGenerator: (req: FastifyRequest) => `account:${String((req.body as Record<string, unknown> | undefined)?.email ?? '').trim().toLowerCase()}`,
  });
  const signInLimiter = async (req: FastifyRequest, reply: FastifyReply) => {
    for (const limit of [await byAddress(req), await byAccount(req)]) {
      if (!limit.isAllowed && limit.isExceeded) {
        const minutes = Math.max(1, Math.ceil(limit.ttlInSeconds / 60));
        const message = `too many sign-in attempts: try again in ${minutes} minute${minutes === 1 ? '' : 's'} (after ${new Date(Date.now() + limit.ttl).toISOString().slice(11, 16)} UTC)`;
        html(reply.header('retry-after', String(limit.ttlInSeconds)), loginPage({ error: message, next: '/inbox', token: '' }), 429);
        return true;
      }
    }
    return false;
  };

  const html = (reply: FastifyReply, body: string, status = 200) => reply.code(status).type('text/html; charset=utf-8').send(body);
  const tokenFor = (who: Principal) => (action: string) => access.formToken(who.sessionHash!, action);
  const principalOf = (req: FastifyRequest): Principal => req.principal!;
  const linkNext = (reply: FastifyReply, req: FastifyRequest, next: string | null) => {
    if (!next) return;
    const url = new URL(req.url, 'http://x');
    url.searchParams.set('cursor', next);
    reply.header('link', new LinkHeader().set({ uri: `${req.routeOptions.url}${url.search}`, rel: 'next' }).toString());
  };

  // ---- The API: tokens with scopes. ----
  app.get('/api/v1/openapi.json', { config: { access: publicRoute } }, async () => openApiDocument(options.version ?? '0.0.0'));
  // For a load balancer and an orchestrator: live (the process answers) and ready (its store answers, at the
  // schema this Patchbay needs). Public, and they tell nothing but that.
  app.get('/healthz', { config: { access: publicRoute } }, async () => ({ status: 'ok' }));
  let draining = false;
  app.get('/readyz', { config: { access: publicRoute } }, async (_req, reply) => {
    if (draining) return reply.code(503).send({ status: 'draining', reason: 'the process is stopping: the runs it drives are handed over, new requests belong to another server' });
    try {
      const version = await runtime.store.schemaVersion();
      if (version !== latestSchemaVersion()) return reply.code(503).send({ status: 'not ready', reason: `schema version ${version}, this Patchbay needs ${latestSchemaVersion()}` });
      return { status: 'ready', database: runtime.store.dialect };
    } catch {
      return reply.code(503).send({ status: 'not ready', reason: 'the store does not answer' });
    }
  });
  app.get<{ Querystring: { status?: string; limit?: number; cursor?: string } }>(
    '/api/v1/runs',
    { config: { access: tokenRoute('runs:read') }, schema: { querystring: listQueries.runs, response: { 200: { type: 'array', items: runSummarySchema } } } },
    async (req, reply) => {
      // One query: the page's rows are the summaries.
      const { items, next } = await pageOfRunRows(runtime.store.db, { ...(req.query.status ? { status: req.query.status } : {}), limit: req.query.limit ?? defaultPageSize, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) });
      linkNext(reply, req, next);
      return items;
    },
  );
  app.post('/api/v1/runs', { config: { access: tokenRoute('runs:write') } }, async (req, reply) => {
    const who = principalOf(req);
    const key = req.headers['idempotency-key'];
    if (typeof key === 'string' && (key.length === 0 || key.length > 200)) throw new InvalidInputError({ pointer: '/headers/idempotency-key' }, 'must be 1 to 200 characters');
    const [result] = await runtime.runs.start([{ source: `request body (API token ${who.tokenId})`, request: req.body }], profile, {
      requestedBy: who.actor,
      mayActOnBehalf: who.scopes?.includes('runs:on-behalf-of') ?? false,
      ...(typeof key === 'string' ? { idempotencyKey: key } : {}),
      drive: false,
    });
    void settleSoon();
    return reply.code(result!.created ? 201 : 200).send(runSummary(result!.run));
  });
  app.get<{ Params: { id: string } }>('/api/v1/runs/:id', { config: { access: tokenRoute('runs:read') }, schema: { params: idParam } }, async (req) => await runtime.runs.timeline(req.params.id));
  app.get<{ Querystring: { queue?: string; status?: string; mine?: string; limit?: number; cursor?: string } }>(
    '/api/v1/tasks',
    { config: { access: tokenRoute('tasks:read') }, schema: { querystring: listQueries.tasks, response: { 200: taskListSchema } } },
    async (req, reply) => {
      const who = principalOf(req);
      // Deny by default: a caller who sees no queue is told why, not handed an empty list.
      const blind = await noQueueReason(runtime.store.db, who, profile.profile, profile.file);
      if (blind) throw new AccessDeniedError(blind, 403);
      // Two queries: the page's task rows, then all their checklist sections; the stored JSON is answered as kept.
      const { items, next } = await pageOfTaskRows(runtime.store.db, runtime.store.dialect, {
        status: req.query.status ?? 'open',
        ...(req.query.queue ? { queue: req.query.queue } : {}),
        queues: seen(who),
        actor: who.actor,
        ...(req.query.mine === 'true' ? { mine: { queues: memberQueues(who).map((q) => q.id) } } : {}),
        limit: req.query.limit ?? defaultPageSize,
        ...(req.query.cursor ? { cursor: req.query.cursor } : {}),
      });
      linkNext(reply, req, next);
      const compile = (schema: object) => reply.compileSerializationSchema(schema as Record<string, unknown>, '200') as (value: unknown) => string;
      return reply.type('application/json; charset=utf-8').send(taskListBody(compile, await runtime.tasks.listEntries(items)));
    },
  );
  app.get<{ Params: { id: string } }>('/api/v1/tasks/:id', { config: { access: tokenRoute('tasks:read', { queue: 'task' }) }, schema: { params: idParam } }, async (req) => {
    const task = await runtime.tasks.get(req.params.id);
    // What the run's check read of each person, as data (fields, not the words of a checklist).
    const read = (await checkReads(task)).map(({ evidence, ...r }) => ({ ...r, screenshots: evidence.filter((e) => e.kind === 'screenshot' && e.file).map((e) => ({ sha256: e.file!.sha256, name: e.file!.name })) }));
    return read.length ? { ...task, read } : task;
  });
  app.post<{ Params: { id: string } }>('/api/v1/tasks/:id/actions', { config: { access: tokenRoute('tasks:write', { queue: 'task' }) }, schema: { params: idParam } }, async (req) => {
    const who = principalOf(req);
    const action = services.validator.validate<TaskAction>('task-action', req.body ?? {});
    const task = await act(runtime, req.params.id, action, who.actor);
    void settleSoon();
    return task;
  });
  app.get('/api/v1/matrix', { config: { access: tokenRoute('matrix:read') } }, async () => matrixReport(services.registry.list(), profile.profile));
  app.get<{ Querystring: { limit?: number; cursor?: string } }>('/api/v1/reconciliation', { config: { access: tokenRoute('reconcile:read') }, schema: { querystring: listQueries.reconciliation } }, async (req, reply) => {
    const report = await leanAuditReport();
    const findings = await pageOfFindings(runtime.store.db, report, { limit: req.query.limit ?? defaultPageSize, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) });
    linkNext(reply, req, findings.next);
    const { current: _omitted, ...rest } = report;
    return { ...rest, findings: { items: findings.items, total: findings.total, next: findings.next } };
  });
  // The calling token itself: what it is, a new secret for it, its end.
  app.get('/api/v1/token', { config: { access: tokenRoute() } }, async (req) => access.token(principalOf(req).tokenId!));
  app.post('/api/v1/token/rotate', { config: { access: tokenRoute() } }, async (req) => {
    const who = principalOf(req);
    const rotated = await changeToken(() => access.rotateToken(who.tokenId!), (r) => ({ type: 'token.rotated', actor: who.actor, token: who.tokenId!, data: { replacedBy: r.id } }));
    return { id: rotated.id, token: rotated.token, expiresAt: rotated.expiresAt, scopes: rotated.scopes, replaced: who.tokenId };
  });
  app.delete('/api/v1/token', { config: { access: tokenRoute() } }, async (req, reply) => {
    const who = principalOf(req);
    await changeToken(() => access.revokeToken(who.tokenId!), (done) => (done ? { type: 'token.revoked', actor: who.actor, token: who.tokenId!, data: { by: 'the token itself' } } : undefined));
    return reply.code(204).send();
  });

  /** A token change made over HTTP and its audit event (the real caller, never a secret), in one transaction. */
  const changeToken = <T>(change: () => Promise<T>, event: (result: T) => { type: string; actor: string; token: string; data: Record<string, unknown> } | undefined): Promise<T> =>
    runtime.store.transaction(async () => {
      const result = await change();
      const e = event(result);
      if (e) await runtime.engine.audit.append({ type: e.type, actor: e.actor, data: { token: e.token, ...e.data } }, Date.now());
      return result;
    });

  /** The report without every finding in memory: the findings are paged from the store. */
  const leanAuditReport = async () => {
    const history = Object.create(runtime.reconciliations, { findingsOf: { value: async () => [] } }) as typeof runtime.reconciliations;
    return auditReportFor(services.planner, profile, history, Date.now(), services.registry);
  };

  // ---- The SCIM bridge: identity providers provision apps through runs (core/bridge/). ----
  const bridge = new ScimBridge(runtime.store, runtime.runs, new IdentifierStore(runtime.store), profile);
  afterSettle = () => bridge.failures.sweep();
  const entitlements = new Map<string, Entitlement[]>();
  const groups = new ScimGroups(runtime.store, bridge, profile.profile.tenant, (id) => {
    if (!entitlements.has(id)) entitlements.set(id, Object.hasOwn(profile.profile.apps, id) ? entitlementsOfManifest(services.planner.context(id, profile).app.connector.manifest) : []);
    return entitlements.get(id)!;
  });
  await registerBridgeRoutes(app, {
    bridge,
    groups,
    settleSoon: () => void settleSoon(),
    ...(options.scimRequestsPerMinute ? { requestsPerMinute: options.scimRequestsPerMinute } : {}),
  });

  // ---- The pages: operators signed in. ----
  app.get('/', { config: { access: publicRoute } }, async (_req, reply) => reply.redirect('/inbox'));
  app.get<{ Querystring: { next?: string } }>('/login', { config: { access: publicRoute } }, async (req, reply) => {
    // The sign-in form's token is bound to a pre-session cookie, so a cross-site post cannot sign a victim in.
    let pre = req.cookies[preSessionCookie];
    if (!pre || !/^[A-Za-z0-9_-]{43}$/.test(pre)) {
      pre = randomBytes(32).toString('base64url');
      reply.setCookie(preSessionCookie, pre, { ...cookieOptions, maxAge: 3600 });
    }
    return html(reply, loginPage({ next: safeNext(req.query.next), token: access.formToken(preSessionBinding(pre), '/login') }));
  });
  app.post('/login', { config: { access: { kind: 'public', form: 'pre-session' } } }, async (req, reply) => {
    const fields = req.form!.fields;
    const next = safeNext(fields.next?.[0]);
    try {
      const session = await access.signIn(fields.email?.[0] ?? '', fields.password?.[0] ?? '');
      reply.setCookie(sessionCookie, session, { ...cookieOptions, maxAge: 12 * 3600 });
      return reply.redirect(next);
    } catch (error) {
      if (!(error instanceof AccessDeniedError)) throw error;
      return html(reply, loginPage({ error: error.message, next, token: access.formToken(preSessionBinding(req.cookies[preSessionCookie]!), '/login') }), 401);
    }
  });
  app.post('/logout', { config: { access: operatorRoute({ form: 'session' }) } }, async (req, reply) => {
    await access.signOut(req.cookies[sessionCookie]);
    return reply.clearCookie(sessionCookie, cookieOptions).redirect('/login');
  });
  app.get<{ Querystring: { queue?: string; cursor?: string } }>('/inbox', { config: { access: operatorRoute() }, schema: { querystring: query({ queue: listQueries.tasks.properties.queue, cursor: page.cursor }) } }, async (req, reply) => {
    const who = principalOf(req);
    const mine = memberQueues(who).map((q) => q.id);
    const queue = req.query.queue;
    const visible = seen(who);
    const { items, next } = await pageOfTasks(runtime.store.db, { status: 'open', ...(queue ? { queue } : {}), queues: visible ?? (queue ? null : mine), actor: who.actor, limit: maxPageSize, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) });
    const tasks = await runtime.tasks.getMany(items);
    const blind = tasks.length || queue ? undefined : await noQueueReason(runtime.store.db, who, profile.profile, profile.file);
    const nextLink = next ? `/inbox?${new URLSearchParams({ ...(queue ? { queue } : {}), cursor: next }).toString()}` : undefined;
    return html(reply, inboxPage({ who, token: tokenFor(who), tasks, queues: queues().filter((q) => visible === null || visible.includes(q.id)).map((q) => ({ id: q.id, name: q.name ?? q.id, mine: mine.includes(q.id) })), ...(queue ? { queue } : {}), now: Date.now(), ...(nextLink ? { next: nextLink } : {}), ...(blind ? { blind } : {}) }));
  });
  app.get<{ Params: { id: string }; Querystring: { done?: string } }>(
    '/tasks/:id',
    { config: { access: operatorRoute({ queue: 'task' }) }, schema: { params: idParam, querystring: query({ done: { type: 'string', maxLength: 200 } }) } },
    async (req, reply) => {
      const who = principalOf(req);
      const task = await runtime.tasks.get(req.params.id);
      const read = await checkReads(task);
      const message = req.query.done ? { ok: true, text: req.query.done === 'completed' ? 'Task completed: the run moves on.' : req.query.done === 'failed' ? 'Task failed: the step goes to its next channel or escalates.' : req.query.done === 'claimed' ? 'The task is yours: others in the queue see you have it.' : req.query.done === 'unclaimed' ? 'The task is back with its queue.' : `Done: ${req.query.done}` } : undefined;
      return html(reply, taskPage({ who, token: tokenFor(who), task, queues: queues().map((q) => ({ id: q.id, name: q.name ?? q.id })), ...(message ? { message } : {}), read }));
    },
  );
  // For a precondition task (an owner transfer, approvals to reassign): what the run's check read of each person, so that nobody is asked to look again blind.
  const checkReads = async (task: Awaited<ReturnType<typeof runtime.tasks.get>>): Promise<CheckRead[]> => {
    const read: CheckRead[] = [];
    for (const item of task.items.slice(0, 20)) {
      const t = await runtime.runs.timeline(item.runId);
      const step = t.run.plan.steps.find((s) => s.id === item.stepId.replace(/~\d+$/, ''));
      if (step?.role !== 'precondition') continue;
      const check = t.steps.find((s) => s.plan.role === 'check' && (s.status === 'done' || s.status === 'already-done') && s.detail);
      if (check) read.push(checkRead(item, step, check));
    }
    return read;
  };
  const taskForm = (name: string, handle: (who: Principal, id: string, fields: Record<string, string[]>, file?: string) => Promise<string>) =>
    app.post<{ Params: { id: string } }>(`/tasks/:id/${name}`, { config: { access: operatorRoute({ queue: 'task', form: 'session' }) }, schema: { params: idParam } }, async (req, reply) => {
      const who = principalOf(req);
      const { fields, file } = req.form!;
      try {
        const done = await handle(who, req.params.id, fields, file);
        void settleSoon();
        return reply.redirect(`/tasks/${encodeURIComponent(req.params.id)}?done=${encodeURIComponent(done)}`, 303);
      } catch (error) {
        if (!(error instanceof TaskRefusedError)) throw error;
        const task = await runtime.tasks.get(req.params.id);
        return html(reply, taskPage({ who, token: tokenFor(who), task, queues: queues().map((q) => ({ id: q.id, name: q.name ?? q.id })), message: { ok: false, text: error.message }, read: await checkReads(task) }), 409);
      }
    });
  taskForm('tick', async (who, id, fields) => {
    const step = Number(fields.step?.[0]);
    if (!/^\d{1,4}$/.test(fields.step?.[0] ?? '')) throw new InvalidInputError({ pointer: '/step' }, `must be the number of a step of the checklist (got ${JSON.stringify(fields.step?.[0] ?? null)})`);
    await runtime.tasks.tickStep(id, step, who.actor);
    return `step ${fields.step?.[0]} ticked`;
  });
  taskForm('complete', async (who, id, fields, file) => {
    if (file) checkUpload(file);
    const evidence: EvidenceInput[] = [...(fields.evidence ?? []).map((t) => t.trim()).filter(Boolean).map((text) => ({ text })), ...(file ? [{ file }] : [])];
    await runtime.tasks.complete(id, { by: who.actor, evidence, ...(fields.alreadyDone?.[0] === 'yes' ? { alreadyDone: true } : {}) });
    return 'completed';
  });
  taskForm('fail', async (who, id, fields) => {
    await runtime.tasks.fail(id, { by: who.actor, reason: (fields.reason?.[0] ?? '').trim() || 'no reason given' });
    return 'failed';
  });
  taskForm('retry-robot', async (who, id, fields) => {
    const note = (fields.note?.[0] ?? '').trim();
    await runtime.tasks.handBack(id, { by: who.actor, ...(note ? { note } : {}) });
    return 'handed back to the robot';
  });
  taskForm('claim', async (who, id) => {
    await runtime.tasks.claim(id, who.actor);
    return 'claimed';
  });
  taskForm('unclaim', async (who, id) => {
    await runtime.tasks.unclaim(id, who.actor);
    return 'unclaimed';
  });
  taskForm('reassign', async (who, id, fields) => {
    await runtime.tasks.reassign(id, { by: who.actor, queue: fields.queue?.[0] ?? '' });
    return `reassigned to ${queues().find((q) => q.id === fields.queue?.[0])?.name ?? fields.queue?.[0]}`;
  });
  app.get<{ Querystring: { cursor?: string } }>('/runs', { config: { access: operatorRoute() }, schema: { querystring: query({ cursor: page.cursor }) } }, async (req, reply) => {
    const who = principalOf(req);
    const { items, next } = await pageOfRuns(runtime.store.db, { limit: maxPageSize, ...(req.query.cursor ? { cursor: req.query.cursor } : {}) });
    return html(reply, runsPage(who, tokenFor(who), await Promise.all(items.map((id) => runtime.engine.get(id))), next ? `/runs?cursor=${encodeURIComponent(next)}` : undefined));
  });
  const runPageFor = async (who: Principal, id: string, message?: { ok: boolean; text: string }) => {
    const timeline = await runtime.runs.timeline(id);
    const taskOf = await runtime.tasks.lookup([timeline.run], timeline.tasks);
    return runPage(who, tokenFor(who), timeline, { task: taskOf, queueName: (q) => queues().find((x) => x.id === q)?.name ?? q, appName: (a) => services.registry.list().find((c) => c.manifest.id === a)?.manifest.name ?? a, now: Date.now(), ...(message ? { message } : {}) });
  };
  app.get<{ Params: { id: string }; Querystring: { done?: string } }>(
    '/runs/:id',
    { config: { access: operatorRoute() }, schema: { params: idParam, querystring: query({ done: { type: 'string', enum: ['evidence'] } }) } },
    async (req, reply) => {
      const who = principalOf(req);
      const message = req.query.done === 'evidence' ? { ok: true, text: 'Evidence given: the step is done and the run moves on.' } : undefined;
      return html(reply, await runPageFor(who, req.params.id, message));
    },
  );
  // A person's word (and a file) that a JIT account exists, for a run waiting on it: the run is signalled as by `patchbay evidence`.
  app.post<{ Params: { id: string } }>('/runs/:id/evidence', { config: { access: operatorRoute({ form: 'session' }) }, schema: { params: idParam } }, async (req, reply) => {
    const who = principalOf(req);
    const run = await runtime.engine.get(req.params.id);
    const { fields, file } = req.form!;
    const stepId = fields.step?.[0] ?? '';
    if (run.status !== 'waiting' || run.waitingFor !== `evidence:${stepId}`) {
      return html(reply, await runPageFor(who, run.id, { ok: false, text: 'This run no longer waits for evidence for that step: nothing was changed.' }), 409);
    }
    const text = (fields.text?.[0] ?? '').trim();
    if (!text && !file) return html(reply, await runPageFor(who, run.id, { ok: false, text: 'Nothing was given: describe what shows that the account exists, or attach a file (or both).' }), 400);
    const kept = file ? keepUpload(runtime.evidenceDir, file, who.actor) : undefined;
    await settling;
    await runtime.runs.giveEvidence(run.id, stepId, who.actor, text || `${kept!.file!.name} attached`, kept?.file);
    return reply.redirect(`/runs/${encodeURIComponent(run.id)}?done=evidence`, 303);
  });
  // Live updates: one event stream per open page, fed by one reader of the audit journal.
  const live = new LiveEvents(runtime.store.db, undefined, log);
  const streams = new Set<import('node:net').Socket>();
  app.get('/assets/live.js', { config: { access: publicRoute } }, async (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=300').header('x-content-type-options', 'nosniff').send(liveScript),
  );
  app.get('/events', { config: { access: operatorRoute() } }, async (req, reply) => {
    const who = principalOf(req);
    const visible = seen(who);
    if (req.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').header('cache-control', 'no-store').send();
    reply.hijack();
    const res = reply.raw;
    // The connection serves this stream only: closed with it, never kept alive for another request.
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', connection: 'close' });
    const socket = res.socket!;
    streams.add(socket);
    // Every operator sees every run; tasks only of their queues (or assigned to them).
    const stop = await live.listen(async (c) => ({ runs: c.runs, tasks: await visibleTasks(runtime.store.db, c.tasks, visible, who.actor) }), (chunk) => void res.write(chunk));
    if (res.destroyed) stop();
    socket.once('close', () => streams.delete(socket));
    // A stream is bounded: the browser reconnects, so a session signed out or expired stops hearing within the bound.
    const bound = setTimeout(() => res.end(), options.eventStreamMs ?? 300_000);
    bound.unref();
    res.once('close', () => clearTimeout(bound));
    res.on('close', () => {
      stop();
      socket.destroy();
    });
  });
  app.get('/matrix', { config: { access: operatorRoute() } }, async (req, reply) => {
    const who = principalOf(req);
    return html(reply, matrixPage(who, tokenFor(who), matrixReport(services.registry.list(), profile.profile), profile.profile.tenant));
  });
  // The reconciliation page: the open findings of each app's last audit, each with the run that answers it,
  // "Offboard" for an orphaned account (admins) and "Reconcile now" for each app a machine can read here.
  const appNameOf = (id: string) => services.registry.list().find((c) => c.manifest.id === id)?.manifest.name ?? id;
  const reconcilePage = async (who: Principal, message?: { ok: boolean; text: string }) => {
    // The page shows the first findings of each app's last audit (an incomplete read closes none); the API pages through all of them.
    const report = await leanAuditReport();
    const audited = report.apps.filter((a) => a.lastAudit);
    const shown = Object.fromEntries(await Promise.all(audited.map(async (a) => [a.app, await firstFindings(runtime.store.db, a.lastAudit!.id, pageFindings)] as const)));
    const runs = new Map(await Promise.all(audited.map(async (a) => [a.app, await remediationRuns(runtime.store.db, profile.profile.tenant, a.app, shown[a.app] ?? [])] as const)));
    const reconcilable = new Map<string, string>();
    for (const a of report.apps) {
      if (a.broken) continue;
      try {
        reconcilable.set(a.app, machineReaderFor(services.planner, profile, a.app));
      } catch (error) {
        if (!(error instanceof InvalidInputError)) throw error;
      }
    }
    const cut = audited.filter((a) => a.lastAudit!.findings > pageFindings).map((a) => `${esc(a.name)}: the first ${pageFindings} of ${a.lastAudit!.findings} findings are shown`);
    const note = cut.length ? `<p class="muted">${cut.join('; ')}; every finding is in <code>GET /api/v1/reconciliation</code>, a page at a time.</p>` : '';
    const extras = { runs, token: tokenFor(who), canRemediate: who.role === 'admin', reconcilable, ...(message ? { message } : {}) };
    return layout('Reconciliation', reconcileReportBody({ ...report, current: shown }, extras) + note, who, tokenFor(who)('/logout'));
  };
  const reconcileDone = { reconciled: 'reconciled', remediated: 'remediated', open: 'open' } as const;
  app.get<{ Querystring: { done?: keyof typeof reconcileDone; app?: string; run?: string; n?: number } }>(
    '/reconcile',
    { config: { access: operatorRoute() }, schema: { querystring: query({ done: { enum: Object.keys(reconcileDone) }, app: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 100 }, run: { type: 'string', pattern: '^run-[a-z0-9]+$', maxLength: 100 }, n: { type: 'integer', minimum: 0 } }) } },
    async (req, reply) => {
      const { done, app: appId = '', run = '', n = 0 } = req.query;
      const name = appId ? appNameOf(appId) : '';
      const message =
        done === 'reconciled' ? { ok: true, text: `${name} reconciled just now: ${n} finding${n === 1 ? '' : 's'}.` }
        : done === 'remediated' ? { ok: true, text: `Offboarding ${run} opened: it is on the Runs page and in the inbox of whoever does its first step.` }
        : done === 'open' ? { ok: true, text: `Offboarding ${run} was already open: it was not opened twice.` }
        : undefined;
      return html(reply, await reconcilePage(principalOf(req), message));
    },
  );
  // One reconciliation at a time per app in this process: a second click waits for nothing and is told so.
  const reconciling = new Set<string>();
  app.post('/reconcile/now', { config: { access: operatorRoute({ form: 'session' }) } }, async (req, reply) => {
    const who = principalOf(req);
    const appId = req.form!.fields.app?.[0] ?? '';
    if (!profile.profile.apps[appId]) return html(reply, await reconcilePage(who, { ok: false, text: `No app ${appId} in this tenant: nothing was read.` }), 400);
    if (reconciling.has(appId)) return html(reply, await reconcilePage(who, { ok: false, text: `${appNameOf(appId)} is being reconciled already; this page shows the result once it is done.` }), 409);
    reconciling.add(appId);
    let host: BrowserHost | undefined;
    try {
      const result = await reconcileAppNow(
        { registry: services.registry, planner: services.planner, secrets: services.secrets, loaded: profile, stores: runtime, browser: () => (host ??= new BrowserHost()), ...(options.reconcileIdpFrom ? { idpFrom: options.reconcileIdpFrom } : {}) },
        appId,
        Date.now(),
      );
      await runtime.engine.audit.append({ type: 'reconcile.requested', actor: who.actor, data: { app: appId, reconciliation: result.id, findings: result.findings.length, complete: result.completeness?.complete ?? true } }, Date.now());
      return reply.redirect(`/reconcile?done=reconciled&app=${encodeURIComponent(appId)}&n=${result.findings.length}`, 303);
    } catch (error) {
      if (!(error instanceof PatchbayError)) throw error;
      return html(reply, await reconcilePage(who, { ok: false, text: `${appNameOf(appId)} was not reconciled: ${error.message}` }), error instanceof InvalidInputError ? 400 : 502);
    } finally {
      reconciling.delete(appId);
      await host?.close();
    }
  });
  // An orphaned account's offboarding, from a finding of the app's last audit (never from a short read).
  app.post('/reconcile/remediate', { config: { access: operatorRoute({ role: 'admin', form: 'session' }) } }, async (req, reply) => {
    const who = principalOf(req);
    const { fields } = req.form!;
    const appId = fields.app?.[0] ?? '';
    const person = (fields.person?.[0] ?? '').trim();
    const refuse = async (status: number, text: string) => html(reply, await reconcilePage(who, { ok: false, text }), status);
    if (fields.kind?.[0] !== 'orphaned-account') return refuse(400, 'Only an orphaned account is offboarded from this page; patchbay reconcile --remediate opens the other runs.');
    if (!profile.profile.apps[appId]) return refuse(400, `No app ${appId} in this tenant: nothing was opened.`);
    const newest = await runtime.reconciliations.latest(profile.profile.tenant, appId);
    if (newest && !newest.completeness.complete) return refuse(409, `The newest reconciliation of ${appNameOf(appId)} read short, so nothing is remediated from it: reconcile it again first. Nothing was opened.`);
    const audit = await runtime.reconciliations.lastAudit(profile.profile.tenant, appId);
    const finding = audit && (await runtime.reconciliations.findingsOf(audit.id)).find((f) => f.kind === 'orphaned-account' && f.person.toLowerCase() === person.toLowerCase());
    if (!audit || !finding) return refuse(409, `${person || 'That person'} is not an orphaned account in the last audit of ${appNameOf(appId)} (it may have been closed since): nothing was opened.`);
    await settling;
    const opened = await remediateFinding(runtime.runs, profile, { kind: 'orphaned-account', person: finding.person, detail: finding.detail }, { app: appId, reconciliation: audit.id, idpSource: audit.idp.name }, who.actor, undefined, false);
    void settleSoon();
    return reply.redirect(`/reconcile?done=${opened.created ? 'remediated' : 'open'}&run=${encodeURIComponent(opened.run)}`, 303);
  });
  app.get<{ Querystring: { done?: string } }>('/tokens', { config: { access: operatorRoute({ role: 'admin' }) }, schema: { querystring: query({ done: { type: 'string', pattern: '^[0-9a-f]{12}$' } }) } }, async (req, reply) => {
    const who = principalOf(req);
    const message = req.query.done ? { ok: true, text: `Token ${req.query.done} revoked: it is refused from now on.` } : undefined;
    return html(reply, tokensPage(who, tokenFor(who), await access.listTokens(), Date.now(), message));
  });
  app.post<{ Params: { id: string } }>('/tokens/:id/revoke', { config: { access: operatorRoute({ role: 'admin', form: 'session' }) }, schema: { params: idParam } }, async (req, reply) => {
    const who = principalOf(req);
    const token = await access.token(req.params.id);
    if (!token) throw new NotFoundError('API token', req.params.id);
    await changeToken(() => access.revokeToken(token.id), (done) => (done ? { type: 'token.revoked', actor: who.actor, token: token.id, data: { name: token.name, tokenActor: token.actor } } : undefined));
    return reply.redirect(`/tokens?done=${encodeURIComponent(token.id)}`, 303);
  });
  app.get<{ Params: { sha: string } }>('/evidence/:sha', { config: { access: operatorRoute({ queue: 'evidence' }) }, schema: { params: { type: 'object', properties: { sha: { type: 'string', pattern: '^[0-9a-f]{64}$' } }, required: ['sha'] } } }, async (req, reply) => {
    const name = existsSync(runtime.evidenceDir) ? readdirSync(runtime.evidenceDir).find((f) => f.startsWith(req.params.sha) && !f.endsWith('.partial')) : undefined;
    if (!name) throw new NotFoundError('evidence file', req.params.sha);
    const ext = path.extname(name);
    // Only a screenshot is shown inline; anything else is a download, HTML kept from a drifted page as text.
    const type = ext === '.png' ? 'image/png' : ext === '.html' || ext === '.txt' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    return reply
      .type(type)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('content-disposition', ext === '.png' ? 'inline' : `attachment; filename="${req.params.sha.slice(0, 12)}${ext.replace(/[^.\w]/g, '')}"`)
      .send(createReadStream(path.join(runtime.evidenceDir, name)));
  });

  const address = await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
  return {
    url: address,
    app,
    access,
    routes,
    bridge,
    settled: async () => {
      await settleSoon();
    },
    drain: () => {
      draining = true;
    },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      live.stop();
      // An event stream never ends by itself: its connection is closed here, or closing the server would wait for it.
      for (const socket of streams) socket.destroy();
      // A graceful close waits for requests in flight, but not for ever: what is still open after 2 s is cut.
      const cut = setTimeout(() => app.server.closeAllConnections(), 2000);
      cut.unref();
      await app.close();
      clearTimeout(cut);
      await settling;
    },
  };
}

/** How many findings per app the reconciliation page shows. */
const pageFindings = 500;

/** Whether a raw request path is under /api/, whatever its spelling (errors answer JSON there). */
function apiPath(url: string): boolean {
  let p = url.split('?')[0] ?? '';
  try {
    p = decodeURIComponent(p);
  } catch {
    // A malformed escape: judged as written.
  }
  return /^\/+api(\/|$)/i.test(p.replace(/\\/g, '/'));
}

/** Carries out one task action as `actor` (the store checks queue membership and evidence). */
export async function act(runtime: Runtime, taskId: string, action: TaskAction, actor: string) {
  switch (action.action) {
    case 'complete':
      // Through the run service without driving (the server's loop drives): concurrent completions share a commit.
      return runtime.runs.completeTask(taskId, { by: actor, evidence: action.evidence, ...(action.alreadyDone ? { alreadyDone: true } : {}), ...(action.person ? { person: action.person } : {}) }, { drive: false });
    case 'fail':
      return runtime.runs.failTask(taskId, { by: actor, reason: action.reason, ...(action.person ? { person: action.person } : {}) }, { drive: false });
    case 'retry-robot':
      return runtime.tasks.handBack(taskId, { by: actor, ...(action.note ? { note: action.note } : {}) });
    case 'reassign':
      return runtime.tasks.reassign(taskId, { by: actor, ...(action.queue ? { queue: action.queue } : {}), ...(action.assignee ? { assignee: action.assignee } : {}) });
  }
}

/**
 * A form's fields (urlencoded or multipart), with an uploaded file saved to a temporary folder.
 * `check` sees the fields before any file is written (the form token comes first in our forms) and
 * again at the end if there was no file; it throws to refuse the form.
 */
async function readForm(req: FastifyRequest, check: (fields: Record<string, string[]>) => Promise<void>): Promise<{ fields: Record<string, string[]>; file?: string; cleanup: () => void }> {
  const fields: Record<string, string[]> = {};
  const add = (k: string, v: string) => (fields[k] ??= []).push(v);
  if (!req.isMultipart()) {
    const body = req.body;
    if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) throw new InvalidInputError({ pointer: '' }, 'a form post must be a form (application/x-www-form-urlencoded or multipart/form-data)');
    for (const [k, v] of Object.entries((body as Record<string, string | string[]>) ?? {})) for (const one of Array.isArray(v) ? v : [v]) add(k, String(one));
    await check(fields);
    return { fields, cleanup: () => undefined };
  }
  let folder: string | undefined;
  let file: string | undefined;
  let checked = false;
  const cleanup = () => folder && rmSync(folder, { recursive: true, force: true });
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (!checked) {
          await check(fields);
          checked = true;
        }
        if (!part.filename) {
          part.file.resume();
          continue;
        }
        folder ??= mkdtempSync(path.join(os.tmpdir(), 'patchbay-upload-'));
        file = path.join(folder, path.basename(part.filename).replace(/[^\w.-]/g, '_') || 'evidence');
        await pipeline(part.file, createWriteStream(file));
        if (part.file.truncated) throw new InvalidInputError({ pointer: '/file' }, 'the file is larger than 25 MB');
      } else {
        add(part.fieldname, String(part.value));
      }
    }
    if (!checked) await check(fields);
  } catch (error) {
    cleanup();
    throw error;
  }
  return { fields, ...(file ? { file } : {}), cleanup };
}

/** The kinds of file the pages take as evidence, told by their first bytes (not by their name). */
const uploadKinds: readonly { readonly kind: string; readonly extensions: readonly string[]; readonly test: (head: Buffer) => boolean }[] = [
  { kind: 'PNG image', extensions: ['.png'], test: (h) => h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { kind: 'JPEG image', extensions: ['.jpg', '.jpeg'], test: (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff },
  { kind: 'PDF', extensions: ['.pdf'], test: (h) => h.subarray(0, 5).toString('latin1') === '%PDF-' },
  // An export or a note: text only (UTF-8 without NUL bytes).
  { kind: 'text', extensions: ['.csv', '.txt', '.json'], test: (h) => !h.includes(0) && utf8(h) },
];

/** Whether bytes read as UTF-8 (a character cut at the end of the sample is fine: stream mode keeps it for later). */
function utf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** The largest evidence file the pages take, in bytes (the form parser stops at the same size). */
export const uploadMaxBytes = 25 * 1024 * 1024;

/**
 * Checks an uploaded evidence file: a PNG or JPEG screenshot, a PDF, or a text export (CSV, TXT,
 * JSON), whose name ends as its content is; empty files are refused. Throws InvalidInputError
 * (pointer /file) naming what was wrong.
 */
export function checkUpload(file: string): void {
  const name = path.basename(file);
  const size = statSync(file).size;
  if (size === 0) throw new InvalidInputError({ pointer: '/file' }, `${name} is empty`);
  if (size > uploadMaxBytes) throw new InvalidInputError({ pointer: '/file' }, `${name} is larger than 25 MB`);
  const ext = path.extname(name).toLowerCase();
  const kind = uploadKinds.find((k) => k.extensions.includes(ext));
  if (!kind) throw new InvalidInputError({ pointer: '/file' }, `${name}: only PNG or JPEG screenshots, PDFs and CSV, TXT or JSON exports are taken as evidence`);
  const head = readFileSync(file).subarray(0, 4096);
  if (!kind.test(head)) throw new InvalidInputError({ pointer: '/file' }, `${name} is not a ${kind.kind}, as its name says`);
}

/** Checks an uploaded file and keeps it with the evidence files (by content hash), as task evidence is kept. */
function keepUpload(evidenceDir: string, file: string, by: string): Evidence {
  checkUpload(file);
  const bytes = readFileSync(file);
  const name = path.basename(file);
  const kept = new EvidenceFiles(evidenceDir).keep(bytes, { name, kind: 'file', summary: '', by, at: Date.now() });
  return { ...kept, summary: `file ${name} (${bytes.length} bytes, sha256 ${kept.file!.sha256.slice(0, 12)}…)` };
}

/**
 * Where to go after sign-in: a path on this server only. Anything a browser could read as another
 * host (`//x`, `/\\x`, a scheme, an encoded slash or backslash, control characters) goes to /inbox.
 */
export function safeNext(next: string | undefined): string {
  if (!next || next.length > 2000 || !next.startsWith('/')) return '/inbox';
  let decoded: string;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return '/inbox';
  }
  const hostish = (p: string) => p.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(p);
  if (hostish(next) || hostish(decoded)) return '/inbox';
  const url = new URL(next, 'http://patchbay.invalid');
  return url.origin === 'http://patchbay.invalid' ? `${url.pathname}${url.search}` : '/inbox';
}
