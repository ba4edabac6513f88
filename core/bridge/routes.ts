import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AccessDeniedError } from '../server/access.js';
import type { RouteAccess } from '../server/routes.js';
import { type ScimBridge, patchbaySchema } from './bridge.js';
import { ScimRefusal, errorBody } from './errors.js';
import { parseFilter } from './filter.js';
import type { BridgeGroup, ScimGroups } from './groups.js';
import { enterpriseSchema, userSchema } from './patch.js';
import type { BridgeResource } from './store.js';

/** Options of the bridge's routes. */
export interface BridgeRouteOptions {
  readonly bridge: ScimBridge;
  /** Groups for apps with entitlements (absent: the bridge serves Users only). */
  readonly groups?: ScimGroups;
  /** Lets runs catch up after a write (the server's loop). */
  readonly settleSoon: () => void;
  /** Requests per token per minute before 429 with Retry-After (default 600). */
  readonly requestsPerMinute?: number;
}

/** Who may call a bridge route: a bridge token scoped to the app the path names (see AccessStore.createBridgeToken). */
export const bridgeRoute: RouteAccess = { kind: 'bridge' };

const listSchema = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const scimType = 'application/scim+json; charset=utf-8';
/** Largest page a list answers (ServiceProviderConfig filter.maxResults). */
export const maxResults = 200;
/** Largest request body the bridge reads, in bytes (a User or a PatchOp is a few kB). */
export const bridgeBodyLimit = 64 * 1024;

type AppParams = { app: string };
type UserParams = { app: string; id: string };

/**
 * The SCIM 2.0 service provider endpoints (RFC 7644) under `/scim/v2/<app>/`, one base per
 * installed app, registered in their own encapsulated context so that every answer, errors
 * included, is a SCIM body (`application/scim+json`). Discovery (ServiceProviderConfig,
 * ResourceTypes, Schemas) and Users: list with an `eq` filter and paging, get, POST, PUT, PATCH,
 * DELETE. Writes go to the ScimBridge, which starts the runs.
 */
export async function registerBridgeRoutes(app: FastifyInstance, options: BridgeRouteOptions): Promise<void> {
  const { bridge } = options;
  await app.register(async (scim) => {
    scim.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string', bodyLimit: bridgeBodyLimit }, (_req, body, done) => {
      try {
        done(null, (body as string).length === 0 ? undefined : JSON.parse(body as string));
      } catch {
        done(new ScimRefusal(400, 'the body is not well-formed JSON', 'invalidSyntax'), undefined);
      }
    });
    scim.setErrorHandler((error, req, reply) => {
      const send = (status: number, detail: string, type?: ScimRefusal['scimType']) => reply.code(status).type(scimType).send(errorBody(status, detail, type));
      if (error instanceof ScimRefusal) return send(error.status, error.detail, error.scimType);
      if (error instanceof AccessDeniedError) {
        if (error.status === 401) reply.header('www-authenticate', 'Bearer realm="patchbay-scim"');
        return send(error.status, error.message);
      }
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 429) return send(429, 'too many requests for this token: retry after the Retry-After header\'s seconds');
      if (status === 413) return send(413, `the body is larger than ${bridgeBodyLimit} bytes`);
      if (status === 415) return send(415, 'the bridge takes application/scim+json or application/json');
      if (status && status < 500) return send(status, (error as Error).message, status === 400 ? 'invalidSyntax' : undefined);
      // Ids only: a SCIM body holds personal data, which stays out of the log.
      req.log.error({ error: (error as Error).message }, 'patchbay serve: SCIM bridge: internal error');
      return send(500, 'something went wrong in the SCIM bridge; the change, if any, was not half-made');
    });

    const config = {
      access: bridgeRoute,
      rateLimit: {
        max: options.requestsPerMinute ?? 600,
        timeWindow: 60_000,
        keyGenerator: (req: FastifyRequest) => `scim:${req.principal?.tokenId ?? req.ip}`,
      },
    };
    const base = '/:app';
    // Under /scim/v2, a path the bridge does not serve (Groups, Bulk, /Me) answers a SCIM Error too.
    scim.setNotFoundHandler((req, reply) => reply.code(404).type(scimType).send(errorBody(404, `the SCIM bridge serves no ${req.method} ${req.url.split('?')[0]} (it serves Users, Groups where the app has roles, ServiceProviderConfig, ResourceTypes and Schemas)`)));
    const ok = (reply: FastifyReply, body: unknown, status = 200) => reply.code(status).type(scimType).send(body);
    const appOf = (req: FastifyRequest) => {
      const { app: name } = req.params as AppParams;
      bridge.checkApp(name);
      return name;
    };
    const location = (req: FastifyRequest, r: BridgeResource) => `${req.protocol}://${req.host}/scim/v2/${encodeURIComponent(r.app)}/Users/${encodeURIComponent(r.id)}`;
    const user = async (req: FastifyRequest, r: BridgeResource) => {
      const { userName, active, ...rest } = r.attributes;
      const extensions = Object.keys(rest).filter((k) => /^urn:/i.test(k));
      return {
        schemas: [userSchema, ...extensions, patchbaySchema],
        id: r.id,
        userName,
        ...rest,
        active,
        [patchbaySchema]: await bridge.provisioning(r),
        meta: { resourceType: 'User', created: new Date(r.createdAt).toISOString(), lastModified: new Date(r.lastModified).toISOString(), version: `W/"${r.version}"`, location: location(req, r) },
      };
    };
    const withEtag = (reply: FastifyReply, r: BridgeResource) => reply.header('etag', `W/"${r.version}"`);
    // RFC 7644 §3.14: a write with If-Match applies only to the version named (weak ETags compared as given).
    const precondition = async (req: FastifyRequest, app: string, id: string) => {
      const wanted = req.headers['if-match'];
      if (!wanted) return;
      const current = await bridge.get(app, id);
      const etag = `W/"${current.version}"`;
      if (wanted.trim() !== '*' && !wanted.split(',').map((t) => t.trim()).includes(etag)) throw new ScimRefusal(412, `the User is at version ${etag}, not ${wanted}: read it again`);
    };
    const hasGroups = (app: string) => (options.groups?.entitlementsOf(app).length ?? 0) > 0;
    const groupsOf = () => {
      if (!options.groups) throw new ScimRefusal(404, 'the bridge serves no Groups here');
      return options.groups;
    };
    const group = (req: FastifyRequest, g: BridgeGroup) => ({
      schemas: [groupSchema, patchbayGroupSchema],
      id: g.id,
      displayName: g.name,
      members: g.members.map((m) => ({ value: m.id, display: m.userName, type: 'User', $ref: `${req.protocol}://${req.host}/scim/v2/${encodeURIComponent(g.app)}/Users/${encodeURIComponent(m.id)}` })),
      [patchbayGroupSchema]: { members: g.members.map((m) => ({ value: m.id, provisioningState: m.provisioningState, ...(m.runId ? { runId: m.runId } : {}) })) },
      meta: { resourceType: 'Group', location: `${req.protocol}://${req.host}/scim/v2/${encodeURIComponent(g.app)}/Groups/${encodeURIComponent(g.id)}` },
    });
    const source = (req: FastifyRequest, what: string) => `SCIM ${what} (bridge token ${req.principal?.tokenId ?? '?'})`;

    scim.get<{ Params: AppParams }>(`${base}/ServiceProviderConfig`, { config }, async (req, reply) => {
      appOf(req);
      return ok(reply, serviceProviderConfig(`${req.protocol}://${req.host}`));
    });
    scim.get<{ Params: AppParams }>(`${base}/ResourceTypes`, { config }, async (req, reply) => {
      const name = appOf(req);
      return ok(reply, listOf([resourceType(name), ...(hasGroups(name) ? [groupResourceType(name)] : [])], 1));
    });
    scim.get<{ Params: AppParams & { name: string } }>(`${base}/ResourceTypes/:name`, { config }, async (req, reply) => {
      const name = appOf(req);
      if (req.params.name === 'Group' && hasGroups(name)) return ok(reply, groupResourceType(name));
      if (req.params.name !== 'User') throw new ScimRefusal(404, `no resource type ${req.params.name} (the bridge serves User${hasGroups(name) ? ' and Group' : ''})`);
      return ok(reply, resourceType(name));
    });
    const schemasOf = (app: string) => (hasGroups(app) ? [...schemas, groupSchemaDefinition] : schemas);
    scim.get<{ Params: AppParams }>(`${base}/Schemas`, { config }, async (req, reply) => {
      const name = appOf(req);
      return ok(reply, listOf(schemasOf(name), 1));
    });
    scim.get<{ Params: AppParams & { urn: string } }>(`${base}/Schemas/:urn`, { config }, async (req, reply) => {
      const name = appOf(req);
      const found = schemasOf(name).find((s) => s.id === req.params.urn);
      if (!found) throw new ScimRefusal(404, `no schema ${req.params.urn}`);
      return ok(reply, found);
    });

    scim.get<{ Params: AppParams; Querystring: Record<string, string | string[]> }>(`${base}/Users`, { config }, async (req, reply) => {
      const name = appOf(req);
      const q = req.query;
      const one = (k: string) => {
        const v = q[k];
        if (Array.isArray(v)) throw new ScimRefusal(400, `${k} is given more than once`, 'invalidValue');
        return v;
      };
      const startIndex = positive(one('startIndex'), 'startIndex', 1);
      const count = Math.min(positive(one('count'), 'count', maxResults, 0), maxResults);
      const filter = one('filter');
      if (filter !== undefined) {
        const found = await bridge.find(name, parseFilter(filter));
        const shown = found.slice(startIndex - 1, startIndex - 1 + count);
        return ok(reply, listOf(await Promise.all(shown.map((r) => user(req, r))), startIndex, found.length));
      }
      const { total, items } = await bridge.page(name, startIndex, count);
      return ok(reply, listOf(await Promise.all(items.map((r) => user(req, r))), startIndex, total));
    });
    scim.get<{ Params: UserParams }>(`${base}/Users/:id`, { config }, async (req, reply) => {
      const r = await bridge.get(appOf(req), req.params.id);
      return ok(withEtag(reply, r), await user(req, r));
    });
    scim.post<{ Params: AppParams }>(`${base}/Users`, { config, bodyLimit: bridgeBodyLimit }, async (req, reply) => {
      const { resource } = await bridge.create(appOf(req), req.body, source(req, 'POST /Users'));
      options.settleSoon();
      return ok(withEtag(reply, resource).header('location', location(req, resource)), await user(req, resource), 201);
    });
    scim.put<{ Params: UserParams }>(`${base}/Users/:id`, { config, bodyLimit: bridgeBodyLimit }, async (req, reply) => {
      await precondition(req, appOf(req), req.params.id);
      const { resource } = await bridge.replace(appOf(req), req.params.id, req.body, source(req, `PUT /Users/${req.params.id}`));
      options.settleSoon();
      return ok(withEtag(reply, resource), await user(req, resource));
    });
    scim.patch<{ Params: UserParams }>(`${base}/Users/:id`, { config, bodyLimit: bridgeBodyLimit }, async (req, reply) => {
      await precondition(req, appOf(req), req.params.id);
      const { resource } = await bridge.patch(appOf(req), req.params.id, req.body, source(req, `PATCH /Users/${req.params.id}`));
      options.settleSoon();
      return ok(withEtag(reply, resource), await user(req, resource));
    });
    scim.delete<{ Params: UserParams }>(`${base}/Users/:id`, { config }, async (req, reply) => {
      await precondition(req, appOf(req), req.params.id);
      await bridge.delete(appOf(req), req.params.id, source(req, `DELETE /Users/${req.params.id}`));
      options.settleSoon();
      return reply.code(204).send();
    });

    // Groups: the app's roles, fixed by its vendor; the IdP changes their members only.
    scim.get<{ Params: AppParams; Querystring: Record<string, string | string[]> }>(`${base}/Groups`, { config }, async (req, reply) => {
      const name = appOf(req);
      const filter = req.query.filter;
      if (Array.isArray(filter)) throw new ScimRefusal(400, 'filter is given more than once', 'invalidValue');
      let displayName: string | undefined;
      if (filter !== undefined) {
        const m = /^\s*displayName\s+eq\s+(?:"((?:[^"\\]|\\.)*)"|(\S+))\s*$/i.exec(filter);
        if (!m) throw new ScimRefusal(400, `the Groups filter must be displayName eq "<name>" (got ${JSON.stringify(filter)})`, 'invalidFilter');
        displayName = m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : m[2];
      }
      const found = await groupsOf().list(name, displayName);
      const startIndex = positive(Array.isArray(req.query.startIndex) ? undefined : req.query.startIndex, 'startIndex', 1);
      const count = Math.min(positive(Array.isArray(req.query.count) ? undefined : req.query.count, 'count', maxResults, 0), maxResults);
      return ok(reply, listOf(found.slice(startIndex - 1, startIndex - 1 + count).map((g) => group(req, g)), startIndex, found.length));
    });
    scim.get<{ Params: UserParams }>(`${base}/Groups/:id`, { config }, async (req, reply) => ok(reply, group(req, await groupsOf().get(appOf(req), req.params.id))));
    scim.patch<{ Params: UserParams }>(`${base}/Groups/:id`, { config, bodyLimit: bridgeBodyLimit }, async (req, reply) => {
      const g = await groupsOf().patch(appOf(req), req.params.id, req.body, source(req, `PATCH /Groups/${req.params.id}`));
      options.settleSoon();
      return ok(reply, group(req, g));
    });
    // The roles are the vendor's: the IdP can neither make, replace nor delete one. RFC 7644 §3.12: 501 for what the provider does not do.
    const fixed = async (req: FastifyRequest, what: string) => {
      const name = appOf(req);
      await groupsOf().list(name);
      throw new ScimRefusal(501, `${name}'s Groups are its roles, fixed by the vendor: the bridge cannot ${what} one. Push group membership with PATCH /Groups/<id>, or map an existing role`);
    };
    scim.post<{ Params: AppParams }>(`${base}/Groups`, { config, bodyLimit: bridgeBodyLimit }, async (req) => fixed(req, 'create'));
    scim.put<{ Params: UserParams }>(`${base}/Groups/:id`, { config, bodyLimit: bridgeBodyLimit }, async (req) => fixed(req, 'replace'));
    scim.delete<{ Params: UserParams }>(`${base}/Groups/:id`, { config }, async (req) => fixed(req, 'delete'));
  }, { prefix: '/scim/v2' });
}

function positive(text: string | undefined, name: string, fallback: number, min = 1): number {
  if (text === undefined || text === '') return fallback;
  if (!/^-?\d{1,9}$/.test(text)) throw new ScimRefusal(400, `${name} must be an integer (got ${JSON.stringify(text)})`, 'invalidValue');
  // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0.
  return Math.max(Number(text), min);
}

const listOf = (resources: readonly unknown[], startIndex: number, total = resources.length) => ({ schemas: [listSchema], totalResults: total, startIndex, itemsPerPage: resources.length, Resources: resources });

function serviceProviderConfig(origin: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: `${origin}/api/v1/openapi.json`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [{ type: 'oauthbearertoken', name: 'Bearer token', description: 'A bridge token for one app: patchbay bridge token create --app <app>', primary: true }],
    meta: { resourceType: 'ServiceProviderConfig', location: '/ServiceProviderConfig' },
  };
}

function resourceType(app: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    description: `People with an account in ${app}, provisioned through Patchbay`,
    schema: userSchema,
    schemaExtensions: [
      { schema: enterpriseSchema, required: false },
      { schema: patchbaySchema, required: false },
    ],
    meta: { resourceType: 'ResourceType', location: `/scim/v2/${app}/ResourceTypes/User` },
  };
}

const groupSchema = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** The Patchbay extension of a Group: each member's latest change and its run. */
export const patchbayGroupSchema = 'urn:ietf:params:scim:schemas:extension:patchbay:2.0:Group';

function groupResourceType(app: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: 'Group',
    name: 'Group',
    endpoint: '/Groups',
    description: `The roles of ${app}: membership grants or revokes the role through Patchbay`,
    schema: groupSchema,
    schemaExtensions: [{ schema: patchbayGroupSchema, required: false }],
    meta: { resourceType: 'ResourceType', location: `/scim/v2/${app}/ResourceTypes/Group` },
  };
}

const attribute = (name: string, more: Record<string, unknown> = {}) => ({ name, type: 'string', multiValued: false, required: false, caseExact: false, mutability: 'readWrite', returned: 'default', uniqueness: 'none', ...more });

/** The schemas the bridge describes (RFC 7643 §7): the User attributes IdPs map, and the Patchbay extension. */
const schemas = [
  {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: userSchema,
    name: 'User',
    description: 'User Account',
    attributes: [
      attribute('userName', { required: true, uniqueness: 'server' }),
      attribute('externalId', { caseExact: true }),
      attribute('name', { type: 'complex', subAttributes: [attribute('givenName'), attribute('familyName'), attribute('formatted')] }),
      attribute('displayName'),
      attribute('title'),
      attribute('active', { type: 'boolean' }),
      attribute('emails', { type: 'complex', multiValued: true, subAttributes: [attribute('value'), attribute('type'), attribute('primary', { type: 'boolean' })] }),
    ],
    meta: { resourceType: 'Schema', location: `/Schemas/${userSchema}` },
  },
  {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id: patchbaySchema,
    name: 'PatchbayUser',
    description: 'What Patchbay has done for the User in the app: the run the latest change started and its state',
    attributes: [
      attribute('provisioningState', { mutability: 'readOnly', canonicalValues: ['pending', 'done', 'failed'] }),
      attribute('runId', { mutability: 'readOnly', caseExact: true }),
      attribute('operation', { mutability: 'readOnly', canonicalValues: ['onboard', 'offboard', 'change'] }),
      attribute('waitingFor', { mutability: 'readOnly' }),
      attribute('reason', { mutability: 'readOnly' }),
    ],
    meta: { resourceType: 'Schema', location: `/Schemas/${patchbaySchema}` },
  },
];

/** The Group schema (RFC 7643 §4.2) as the bridge serves it: displayName fixed by the vendor, members the IdP's. */
const groupSchemaDefinition = {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
  id: groupSchema,
  name: 'Group',
  description: 'Group: a role of the app',
  attributes: [
    attribute('displayName', { required: true, mutability: 'readOnly', uniqueness: 'server' }),
    attribute('members', { type: 'complex', multiValued: true, subAttributes: [attribute('value', { mutability: 'immutable', caseExact: true }), attribute('display', { mutability: 'readOnly' }), attribute('type', { mutability: 'immutable' })] }),
  ],
  meta: { resourceType: 'Schema', location: `/Schemas/${groupSchema}` },
};


