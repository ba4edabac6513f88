import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { RunRecord } from '../engine/port.js';
import type { RunService } from '../engine/run-service.js';
import { PatchbayError } from '../errors.js';
import type { IdentifierStore } from '../store/identifiers.js';
import type { StoreDatabase } from '../store/sql.js';
import type { LoadedProfile } from '../tenant/profile.js';
import { ScimRefusal } from './errors.js';
import { BridgeFailureTasks } from './failures.js';
import type { EqFilter } from './filter.js';
import { type UserAttributes, activeValue, applyPatch, userSchema } from './patch.js';
import { type BridgeOperation, type BridgeResource, BridgeStore } from './store.js';

/** The Patchbay extension every User the bridge answers with carries: what the run behind it did. */
export const patchbaySchema = 'urn:ietf:params:scim:schemas:extension:patchbay:2.0:User';

/** Whether the app has done what the IdP asked: `pending` while the run works or waits, `done` once it completed, `failed` with the reason. */
export type ProvisioningState = 'pending' | 'done' | 'failed';

/** What a write did: the resource after it, and whether it was created. */
export interface BridgeWrite {
  readonly resource: BridgeResource;
  readonly created: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const keyOf = (obj: Record<string, unknown>, name: string) => Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
const field = (obj: Record<string, unknown>, name: string): unknown => obj[keyOf(obj, name)];
const emailLike = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The person's email from a User: the work email, else the primary, else the first, else the userName when it is an email. */
export function emailOf(user: UserAttributes): string | undefined {
  const emails = (Array.isArray(field(user, 'emails')) ? (field(user, 'emails') as unknown[]) : []).filter(isObject);
  const pick = emails.find((e) => String(field(e, 'type') ?? '').toLowerCase() === 'work') ?? emails.find((e) => field(e, 'primary') === true || String(field(e, 'primary')).toLowerCase() === 'true') ?? emails[0];
  const value = pick ? field(pick, 'value') : undefined;
  if (typeof value === 'string' && emailLike.test(value.trim())) return value.trim();
  const userName = field(user, 'userName');
  return typeof userName === 'string' && emailLike.test(userName.trim()) ? userName.trim() : undefined;
}

/** What a lifecycle run needs of a person: email and names. */
export function subjectOf(user: UserAttributes, email: string) {
  const name = isObject(field(user, 'name')) ? (field(user, 'name') as Record<string, unknown>) : {};
  const given = field(name, 'givenName');
  const family = field(name, 'familyName');
  return { email, ...(typeof given === 'string' && given.trim() ? { firstName: given.trim() } : {}), ...(typeof family === 'string' && family.trim() ? { lastName: family.trim() } : {}) };
}

/**
 * The SCIM bridge's service: SCIM Users in, lifecycle runs out, through the run service like any
 * other request (so the app's own chain of channels, people and verification applies). Each write
 * that changes what the person should have starts one run with an idempotency key of
 * `scim:<app>:<resource>:<operation>:<version>` (a creation: `scim:<app>:user:<userName>:onboard:<n>`),
 * computed from the state before the write, so an IdP's retry of a request whose answer was lost
 * (or whose server died) joins the run already started instead of starting another. A write that
 * changes nothing starts nothing. The bridge never talks to an app itself.
 */
export class ScimBridge {
  readonly store: BridgeStore;
  /** The tasks that tell the operator a bridge run failed (swept after each catch-up of the server's loop). */
  readonly failures: BridgeFailureTasks;

  constructor(
    store: StoreDatabase,
    private readonly runs: RunService,
    private readonly identifiers: IdentifierStore,
    private readonly profile: LoadedProfile,
    private readonly now: () => number = Date.now,
  ) {
    this.store = new BridgeStore(store);
    this.failures = new BridgeFailureTasks(store, runs, profile);
  }

  private get tenant() {
    return this.profile.profile.tenant;
  }

  /** Throws a 404 ScimRefusal unless the tenant has the app installed. */
  checkApp(app: string): void {
    if (!Object.hasOwn(this.profile.profile.apps, app)) throw new ScimRefusal(404, `no app ${app} is installed in tenant ${this.tenant}: the SCIM base is /scim/v2/<app>/ for an installed app`);
  }

  /** A live User of the app. @throws ScimRefusal 404 when there is none with that id. */
  async get(app: string, id: string): Promise<BridgeResource> {
    const found = await this.store.get(this.tenant, app, id);
    if (!found) throw new ScimRefusal(404, `no User ${id} in ${app}`);
    return found;
  }

  find(app: string, filter: EqFilter): Promise<BridgeResource[]> {
    return this.store.find(this.tenant, app, filter);
  }

  page(app: string, startIndex: number, count: number): Promise<{ total: number; items: BridgeResource[] }> {
    return this.store.page(this.tenant, app, startIndex, count);
  }

  /** POST /Users: a new User; an active one starts (or joins) an onboarding. 409 `uniqueness` when the userName is taken. */
  async create(app: string, body: unknown, source: string): Promise<BridgeWrite> {
    const attributes = this.attributesOf(body);
    const userName = field(attributes, 'userName') as string;
    if ((await this.store.find(this.tenant, app, { attribute: 'userName', value: userName })).length > 0) throw new ScimRefusal(409, `a User with userName ${JSON.stringify(userName)} already exists in ${app}`, 'uniqueness');
    const email = this.requireEmail(attributes);
    const active = attributes.active as boolean;
    const now = this.now();
    const draft: BridgeResource = { tenant: this.tenant, app, id: randomUUID(), userName, externalId: this.externalIdOf(attributes), email, attributes, active, version: 1, createdAt: now, lastModified: now, runId: null, runOperation: null, failure: null };
    const key = `scim:${app}:user:${userName.toLowerCase()}:onboard:${(await this.store.deletedWithUserName(this.tenant, app, userName)) + 1}`;
    const started = active ? await this.startRun(app, 'onboard', subjectOf(attributes, email), key, source, `${source}: created in the identity provider`) : undefined;
    if (typeof started === 'string') throw new ScimRefusal(400, started, 'invalidValue');
    const resource = { ...draft, ...(started ? { runId: started.id, runOperation: 'onboard' as const } : {}) };
    // Two creations of one userName at once (two servers): the unique index lets one in, the other is 409 uniqueness.
    await this.store.put(resource);
    await this.see(resource, source);
    return { resource, created: true };
  }

  /**
   * Records a User the app already has (an account a reconciliation saw, or the demo's seed) without
   * starting a run: it reads `done`. Throws a 409 ScimRefusal when the userName is taken.
   */
  async adopt(app: string, body: unknown, source: string): Promise<BridgeResource> {
    this.checkApp(app);
    const attributes = this.attributesOf(body);
    const userName = field(attributes, 'userName') as string;
    if ((await this.store.find(this.tenant, app, { attribute: 'userName', value: userName })).length > 0) throw new ScimRefusal(409, `a User with userName ${JSON.stringify(userName)} already exists in ${app}`, 'uniqueness');
    const now = this.now();
    const resource: BridgeResource = { tenant: this.tenant, app, id: randomUUID(), userName, externalId: this.externalIdOf(attributes), email: this.requireEmail(attributes), attributes, active: attributes.active as boolean, version: 1, createdAt: now, lastModified: now, runId: null, runOperation: null, failure: null };
    await this.store.put(resource);
    await this.see(resource, source);
    return resource;
  }

  /** PUT /Users/<id>: the whole User replaced (Okta's profile push). */
  async replace(app: string, id: string, body: unknown, source: string): Promise<BridgeWrite> {
    const before = await this.get(app, id);
    return this.write(before, this.attributesOf(body, before.active), source);
  }

  /** PATCH /Users/<id>: RFC 7644 §3.5.2 operations, in the IdPs' dialects (see applyPatch). */
  async patch(app: string, id: string, body: unknown, source: string): Promise<BridgeWrite> {
    const before = await this.get(app, id);
    const after = applyPatch(before.attributes, body);
    return this.write(before, this.attributesOf(after, before.active), source);
  }

  /** DELETE /Users/<id>: offboards an active User (a User already deactivated was offboarded then), then forgets it. */
  async delete(app: string, id: string, source: string): Promise<void> {
    const before = await this.get(app, id);
    if (before.active) {
      const { resource } = await this.write(before, { ...before.attributes, active: false }, source);
      if (resource.failure) throw new ScimRefusal(400, resource.failure, 'invalidValue');
    }
    await this.store.markDeleted(this.tenant, app, id, this.now());
  }

  /** The state of one run, read now (`failed` too when it is gone from the store). */
  async runState(runId: string): Promise<ProvisioningState> {
    try {
      const status = (await this.runs.engine.get(runId)).status;
      return status === 'completed' ? 'done' : status === 'failed' || status === 'cancelled' ? 'failed' : 'pending';
    } catch {
      return 'failed';
    }
  }

  /** The Patchbay extension of a resource: its run's state, read now. */
  async provisioning(resource: BridgeResource): Promise<Record<string, unknown>> {
    if (resource.failure) return { provisioningState: 'failed', operation: resource.runOperation, reason: resource.failure };
    if (!resource.runId) return { provisioningState: 'done' };
    let run: RunRecord;
    try {
      run = await this.runs.engine.get(resource.runId);
    } catch {
      return { provisioningState: 'failed', runId: resource.runId, operation: resource.runOperation, reason: `run ${resource.runId} is no longer in the store` };
    }
    const state: ProvisioningState = run.status === 'completed' ? 'done' : run.status === 'failed' || run.status === 'cancelled' ? 'failed' : 'pending';
    const base = { provisioningState: state, runId: run.id, operation: resource.runOperation };
    if (state === 'pending') return { ...base, ...(run.waitingFor ? { waitingFor: run.waitingFor } : {}) };
    if (state === 'failed') return { ...base, reason: await this.failureOf(run) };
    return { ...base, outcome: run.outcome };
  }

  private async failureOf(run: RunRecord): Promise<string> {
    const failed = (await this.runs.timeline(run.id)).steps.filter((s) => s.status === 'failed').at(-1);
    return `the ${run.playbook} run ${run.status}${failed ? ` at step ${failed.stepId}${failed.detail ? `: ${failed.detail}` : ''}` : ''}`;
  }

  /** One change to an existing User: stored with a new version, and the run its lifecycle change asks for. */
  private async write(before: BridgeResource, after: UserAttributes, source: string): Promise<BridgeWrite> {
    const userName = field(after, 'userName') as string;
    if (userName.toLowerCase() !== before.userName.toLowerCase() && (await this.store.find(this.tenant, before.app, { attribute: 'userName', value: userName })).some((r) => r.id !== before.id)) {
      throw new ScimRefusal(409, `a User with userName ${JSON.stringify(userName)} already exists in ${before.app}`, 'uniqueness');
    }
    if (isDeepStrictEqual(after, before.attributes)) return { resource: before, created: false };
    const email = this.requireEmail(after);
    const active = after.active as boolean;
    const operation: BridgeOperation | undefined =
      before.active && !active ? 'offboard' : !before.active && active ? 'onboard' : active && !isDeepStrictEqual(subjectOf(after, email), subjectOf(before.attributes, before.email)) ? 'change' : undefined;
    const version = before.version + 1;
    let run: Pick<BridgeResource, 'runId' | 'runOperation' | 'failure'> = { runId: before.runId, runOperation: before.runOperation, failure: before.failure };
    if (operation) {
      // An offboarding acts on the account as the app knows it: the email before the change.
      const subject = operation === 'offboard' ? subjectOf(before.attributes, before.email) : subjectOf(after, email);
      const started = await this.startRun(before.app, operation, subject, `scim:${before.app}:${before.id}:${operation}:${version}`, source, `${source}: ${operation === 'offboard' ? 'deactivated' : operation === 'onboard' ? 'reactivated' : 'profile changed'} in the identity provider`);
      run = typeof started === 'string' ? { runId: null, runOperation: operation, failure: started } : { runId: started.id, runOperation: operation, failure: null };
    }
    const resource: BridgeResource = { ...before, userName, externalId: this.externalIdOf(after), email, attributes: after, active, version, lastModified: this.now(), ...run };
    await this.store.put(resource);
    await this.see(resource, source);
    return { resource, created: false };
  }

  /** Starts (or joins, by its key) one run, with the access it should leave (a Group change); a string says why it could not be planned. */
  async startRun(app: string, playbook: BridgeOperation, subject: { email: string }, idempotencyKey: string, source: string, reason: string, access?: { roles: string[] }): Promise<RunRecord | string> {
    try {
      const [result] = await this.runs.start([{ source, request: { playbook, app, subject, idempotencyKey, reason, ...(access ? { access } : {}) } }], this.profile, { requestedBy: `scim-bridge:${app}`, drive: false });
      return result!.run;
    } catch (error) {
      if (error instanceof PatchbayError) return `Patchbay could not start the ${playbook} of ${subject.email} in ${app}: ${error.message}`;
      throw error;
    }
  }

  /** A User body checked and normalised: userName a non-empty string, `active` a boolean (default: `keep`, else true), no id/meta/schemas. */
  private attributesOf(body: unknown, keep = true): UserAttributes {
    if (!isObject(body)) throw new ScimRefusal(400, 'the body must be a SCIM User object', 'invalidSyntax');
    const schemas = field(body, 'schemas');
    if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === userSchema.toLowerCase()))) {
      throw new ScimRefusal(400, `schemas must include ${userSchema}`, 'invalidValue');
    }
    const attributes: UserAttributes = {};
    // password is write-only (RFC 7643 §4.1.1, returned "never"): the bridge neither keeps nor answers it.
    for (const [k, v] of Object.entries(body)) if (!['id', 'meta', 'schemas', 'password'].includes(k.toLowerCase()) && k !== patchbaySchema) attributes[k] = v;
    const userNameKey = keyOf(attributes, 'userName');
    const userName = attributes[userNameKey];
    if (typeof userName !== 'string' || !userName.trim()) throw new ScimRefusal(400, 'userName is required and must be a non-empty string', 'invalidValue');
    if (userName.length > 256) throw new ScimRefusal(400, 'userName is longer than 256 characters', 'invalidValue');
    if (userNameKey !== 'userName') delete attributes[userNameKey];
    attributes.userName = userName.trim();
    const activeKey = keyOf(attributes, 'active');
    const active = attributes[activeKey] === undefined ? keep : activeValue(attributes[activeKey], 'active');
    if (activeKey !== 'active') delete attributes[activeKey];
    attributes.active = active;
    const externalId = field(attributes, 'externalId');
    if (externalId !== undefined && externalId !== null && typeof externalId !== 'string') throw new ScimRefusal(400, 'externalId must be a string', 'invalidValue');
    return attributes;
  }

  private externalIdOf(attributes: UserAttributes): string | null {
    const value = field(attributes, 'externalId');
    return typeof value === 'string' && value ? value : null;
  }

  private requireEmail(attributes: UserAttributes): string {
    const email = emailOf(attributes);
    if (!email) throw new ScimRefusal(400, 'the User has no email: send emails[type eq "work"].value, or a userName that is an email', 'invalidValue');
    return email;
  }

  /** Feeds the identifiers the IdP sent (userName, externalId, email) to the known identifiers of the person in the app. */
  private async see(resource: BridgeResource, source: string): Promise<void> {
    await this.identifiers.see(this.tenant, resource.email, resource.app, { userNames: [resource.userName], emails: [resource.email], ...(resource.externalId ? { externalIds: [resource.externalId] } : {}) }, `SCIM bridge: ${source}`, resource.lastModified);
  }
}
