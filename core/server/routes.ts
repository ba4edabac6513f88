import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { NotFoundError } from '../errors.js';
import { AccessDeniedError, type AccessStore, type Principal, type Role, type TokenScope } from './access.js';

/**
 * Who may call a route, declared on the route itself (`config.access`) and enforced by one hook
 * after the router has matched the decoded path, so no spelling of a path can reach a handler
 * around its rule. A route without a declaration cannot be registered.
 *
 * - `public`: anyone (the sign-in page, the OpenAPI document).
 * - `token`: an API token (`Authorization: Bearer pb_…`) that is live (not revoked, not expired)
 *   and holds `scope`; no scope: any live token (its own token routes).
 * - `operator`: a signed-in operator session, of `role` when given (admins pass every role check).
 * - `bridge`: a SCIM bridge token (`patchbay bridge token create --app <app>`) holding the scope
 *   `scim:<app>` of the app the path's `:app` names; no other route takes such a token.
 *
 * `queue` scopes the resource the path names to the caller's queues: `task` (the `:id` is a task)
 * or `evidence` (the `:sha` is an evidence file some task or run step refers to). What the caller
 * may not see answers 404, as if it did not exist. Admin operators, and tokens with
 * `tasks:all-queues`, see every queue. `form` makes the route a form post that needs a one-time
 * token bound to the session (or, for sign-in, to the pre-session cookie) and to the form's action.
 */
export type RouteAccess =
  | { readonly kind: 'public'; readonly form?: 'pre-session' }
  | { readonly kind: 'token'; readonly scope?: TokenScope; readonly queue?: 'task' }
  | { readonly kind: 'operator'; readonly role?: Role; readonly queue?: 'task' | 'evidence'; readonly form?: 'session' }
  | { readonly kind: 'bridge' };

export const publicRoute: RouteAccess = { kind: 'public' };
export const tokenRoute = (scope?: TokenScope, more: { queue?: 'task' } = {}): RouteAccess => ({ kind: 'token', ...(scope ? { scope } : {}), ...more });
export const operatorRoute = (more: { role?: Role; queue?: 'task' | 'evidence'; form?: 'session' } = {}): RouteAccess => ({ kind: 'operator', ...more });

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route: required on every route (see RouteAccess). */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The caller, set by the access hook from the credential the route's declaration asks for. */
    principal?: Principal;
    /** A form post's fields and uploaded file, read and checked (form token) before the handler. */
    form?: { fields: Record<string, string[]>; file?: string; cleanup: () => void };
  }
}

/** A registered route and its declared access (what the route-enumeration test walks). */
export interface DeclaredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

/** What the access hook needs from the server. */
export interface AccessPolicy {
  readonly store: AccessStore;
  /** The operator session cookie's value on a request. */
  sessionOf(req: FastifyRequest): string | undefined;
  /** Whether the principal may see the task / the evidence file (404 otherwise). */
  canSeeTask(who: Principal, taskId: string): Promise<boolean>;
  canSeeEvidence(who: Principal, sha: string): Promise<boolean>;
}

/**
 * Installs the declaration check (onRoute) and the enforcement (onRequest) on `app`; call before
 * any route is added. Returns the list of declared routes, filled as routes register.
 */
export function enforceDeclaredAccess(app: FastifyInstance, policy: AccessPolicy): DeclaredRoute[] {
  const declared: DeclaredRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const access = route.config?.access;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!access) throw new Error(`route ${methods.join(',')} ${route.url} declares no access (config.access: public, token or operator)`);
    if (access.kind === 'token' && access.queue && access.scope !== 'tasks:read' && access.scope !== 'tasks:write') throw new Error(`route ${route.url}: a queue-scoped token route reads tasks`);
    for (const method of methods) declared.push({ method, url: route.url, access });
  });
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return;
    const access = req.routeOptions.config?.access;
    // Unreachable while onRoute refuses undeclared routes; denying keeps it so if that changes.
    if (!access) throw new AccessDeniedError('this route declares no access', 403);
    if (access.kind === 'public') return;
    const params = req.params as Record<string, string>;
    if (access.kind === 'bridge') {
      const who = await policy.store.bearer(req.headers.authorization);
      if (!isBridgeToken(who) || !who.scopes!.includes(`scim:${params.app ?? ''}` as TokenScope)) throw new AccessDeniedError(`the token is not a SCIM bridge token for ${params.app ?? 'this app'}`, 403);
      req.principal = who;
      return;
    }
    if (access.kind === 'token') {
      const who = await policy.store.bearer(req.headers.authorization);
      if (isBridgeToken(who)) throw new AccessDeniedError('a SCIM bridge token is for /scim/v2/<app>/ only', 403);
      if (access.scope && !who.scopes?.includes(access.scope)) throw new AccessDeniedError(`the API token lacks the ${access.scope} scope`, 403);
      req.principal = who;
      if (access.queue === 'task' && !(await policy.canSeeTask(who, params.id ?? ''))) throw new NotFoundError('task', params.id ?? '');
      return;
    }
    const who = await policy.store.session(policy.sessionOf(req));
    if (!who) return signInFirst(req, reply);
    if (access.role === 'admin' && who.role !== 'admin') throw new AccessDeniedError(`this page is for admins; ${who.actor} is an ${who.role}`, 403);
    req.principal = who;
    if (access.queue === 'task' && !(await policy.canSeeTask(who, params.id ?? ''))) throw new NotFoundError('task', params.id ?? '');
    if (access.queue === 'evidence' && !(await policy.canSeeEvidence(who, params.sha ?? ''))) throw new NotFoundError('evidence file', params.sha ?? '');
  });
  return declared;
}

/** Whether a token is a SCIM bridge token (its scopes are `scim:<app>` only). */
const isBridgeToken = (who: Principal) => (who.scopes ?? []).some((s) => s.startsWith('scim:'));

/** A page asks the browser to sign in first; any other method is refused outright. */
function signInFirst(req: FastifyRequest, reply: FastifyReply) {
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new AccessDeniedError('sign in first', 401);
  return reply.redirect(`/login?next=${encodeURIComponent(req.url)}`);
}

/**
 * The path a form posts to, from the matched route and its decoded parameters: the action a form
 * token is bound to, the same whatever spelling of the path the request used.
 */
export function formAction(req: FastifyRequest): string {
  const params = req.params as Record<string, string>;
  return req.routeOptions.url!.replace(/:(\w+)/g, (_, name: string) => params[name] ?? '');
}
