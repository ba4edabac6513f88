import { isDeepStrictEqual } from 'node:util';
import type { StoreDatabase } from '../store/sql.js';
import { type ScimBridge, type ProvisioningState, subjectOf } from './bridge.js';
import { ScimRefusal } from './errors.js';

/** An entitlement of an app that the bridge serves as a SCIM Group: a role the connector's manifest names as assignable. */
export interface Entitlement {
  /** The manifest's id of the role (the Group's `id`), e.g. `controller`. */
  readonly id: string;
  /** The name the app shows (the Group's `displayName`, and what the change run asks for), e.g. `Controller`. */
  readonly name: string;
}

/** One member of a Group, with the run that carried out the latest change of their membership. */
export interface GroupMember {
  readonly id: string;
  readonly userName: string;
  readonly runId: string | null;
  readonly provisioningState: ProvisioningState;
}

/** A Group as the bridge holds it: the entitlement and its members. */
export interface BridgeGroup extends Entitlement {
  readonly app: string;
  readonly members: readonly GroupMember[];
}

/** One membership change a PATCH asks for. */
interface Change {
  readonly member: string;
  readonly op: 'add' | 'remove';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const field = (obj: Record<string, unknown>, name: string): unknown => obj[Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name];
const memberFilter = /^members\s*\[\s*value\s+eq\s+"?([^"\]]+)"?\s*\]$/i;

/**
 * SCIM Groups for apps with entitlements (issue 18, item 1): each assignable role of the app's
 * manifest is one Group, which the IdP cannot create, rename or delete (the vendor fixes the
 * roles). Membership is the IdP's to change: adding a User starts a `change` run whose desired
 * access is every role the bridge holds for that User after the change (so it grants), removing
 * one starts a change run without it (so it revokes), through the same run service as the Users
 * writes. Idempotent per (app, group, member, op): the key is
 * `scim:<app>:group:<group>:<member>:<op>:<n>` with n the membership's change count, so a retried
 * PATCH joins its run and a change that changes nothing starts nothing.
 */
export class ScimGroups {
  constructor(
    private readonly store: StoreDatabase,
    private readonly bridge: ScimBridge,
    private readonly tenant: string,
    /** The entitlements of an installed app, from its connector's manifest (empty: no Groups). */
    readonly entitlementsOf: (app: string) => readonly Entitlement[],
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws a 404 ScimRefusal unless the app has entitlements the bridge serves as Groups. */
  private entitlements(app: string): readonly Entitlement[] {
    const found = this.entitlementsOf(app);
    if (!found.length) throw new ScimRefusal(404, `${app} has no roles or teams the bridge can serve as Groups: its SCIM base serves Users only`);
    return found;
  }

  /** Every Group of an app, or those whose displayName is `displayName` (case-insensitively, RFC 7643 §4.2). */
  async list(app: string, displayName?: string): Promise<BridgeGroup[]> {
    const groups: BridgeGroup[] = [];
    for (const e of this.entitlements(app)) if (displayName === undefined || e.name.toLowerCase() === displayName.toLowerCase()) groups.push(await this.groupOf(app, e));
    return groups;
  }

  /** One Group of the app. @throws ScimRefusal 404 when the app has no such role. */
  async get(app: string, id: string): Promise<BridgeGroup> {
    const entitlement = this.entitlements(app).find((e) => e.id === id);
    if (!entitlement) throw new ScimRefusal(404, `no Group ${id} in ${app}`);
    return this.groupOf(app, entitlement);
  }

  /**
   * PATCH /Groups/<id>: members added (`add`, path `members` or a value object with `members`),
   * removed (`remove` with `members[value eq "<id>"]`, or `members` with a value list, or all),
   * or replaced (`replace` of `members`). The op names are read case-insensitively (Entra's `Add`).
   * A displayName other than the role's is refused (400 mutability). Members must be the app's
   * bridge Users. Every change is checked before any run starts; a run that cannot be planned
   * answers 400 with why (changes before it stand, each with its run).
   */
  async patch(app: string, id: string, body: unknown, source: string): Promise<BridgeGroup> {
    const group = await this.get(app, id);
    if (!isObject(body) || !Array.isArray(field(body, 'Operations'))) throw new ScimRefusal(400, 'the body must be a PatchOp with Operations', 'invalidSyntax');
    const current = new Set(group.members.map((m) => m.id));
    const wanted = new Set(current);
    const ids = (value: unknown, where: string): string[] => {
      const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
      return list.map((v) => {
        const member = isObject(v) ? field(v, 'value') : undefined;
        if (typeof member !== 'string' || !member) throw new ScimRefusal(400, `${where}: each member needs a value (a User id)`, 'invalidValue');
        return member;
      });
    };
    const rename = (value: unknown) => {
      if (value !== undefined && (typeof value !== 'string' || value.toLowerCase() !== group.name.toLowerCase())) {
        throw new ScimRefusal(400, `the Group ${group.name} is a role of ${app}: its displayName cannot change`, 'mutability');
      }
    };
    for (const [i, operation] of (field(body, 'Operations') as unknown[]).entries()) {
      const where = `Operations[${i}]`;
      if (!isObject(operation)) throw new ScimRefusal(400, `${where} is not an object`, 'invalidSyntax');
      const op = String(field(operation, 'op') ?? '').toLowerCase();
      const path = field(operation, 'path');
      const value = field(operation, 'value');
      if (!['add', 'remove', 'replace'].includes(op)) throw new ScimRefusal(400, `${where}: op must be add, remove or replace`, 'invalidSyntax');
      if (path === undefined) {
        if (op === 'remove' || !isObject(value)) throw new ScimRefusal(400, `${where}: ${op} without a path needs a value object`, 'noTarget');
        rename(field(value, 'displayName'));
        const members = field(value, 'members');
        if (members !== undefined) {
          if (op === 'replace') wanted.clear();
          for (const m of ids(members, where)) wanted.add(m);
        }
        continue;
      }
      if (typeof path !== 'string') throw new ScimRefusal(400, `${where}: path must be a string`, 'invalidPath');
      const filtered = memberFilter.exec(path.trim());
      if (filtered && op === 'remove') {
        wanted.delete(filtered[1]!);
      } else if (path.trim().toLowerCase() === 'members') {
        if (op === 'replace') wanted.clear();
        if (op === 'remove') {
          if (value === undefined) wanted.clear();
          else for (const m of ids(value, where)) wanted.delete(m);
        } else for (const m of ids(value, where)) wanted.add(m);
      } else if (path.trim().toLowerCase() === 'displayname' && op !== 'remove') {
        rename(value);
      } else {
        throw new ScimRefusal(400, `${where}: the bridge changes a Group's members only (path ${JSON.stringify(path)})`, 'invalidPath');
      }
    }
    const changes: Change[] = [...[...wanted].filter((m) => !current.has(m)).map((member) => ({ member, op: 'add' as const })), ...[...current].filter((m) => !wanted.has(m)).map((member) => ({ member, op: 'remove' as const }))];
    for (const c of changes) if (c.op === 'add') await this.bridge.get(app, c.member);
    for (const c of changes) await this.apply(app, group, c, source);
    return this.get(app, id);
  }

  /** One membership change: its change run started (or joined), then recorded. */
  private async apply(app: string, group: Entitlement, change: Change, source: string): Promise<void> {
    const user = await this.bridge.store.get(this.tenant, app, change.member);
    const row = await this.store.db
      .selectFrom('scim_group_members')
      .select('changes')
      .where('tenant', '=', this.tenant)
      .where('app', '=', app)
      .where('group_id', '=', group.id)
      .where('member_id', '=', change.member)
      .executeTakeFirst();
    const n = (row?.changes ?? 0) + 1;
    let runId: string | null = null;
    if (user) {
      const after = (await this.rolesOf(app, change.member)).filter((r) => r !== group.name);
      if (change.op === 'add') after.push(group.name);
      const key = `scim:${app}:group:${group.id}:${change.member}:${change.op}:${n}`;
      const started = await this.bridge.startRun(
        app,
        'change',
        subjectOf(user.attributes, user.email),
        key,
        source,
        `${source}: ${change.op === 'add' ? 'added to' : 'removed from'} the group ${group.name} in the identity provider`,
        { roles: after },
      );
      if (typeof started === 'string') throw new ScimRefusal(400, started, 'invalidValue');
      // The person's change already open (one per person and app) was joined: it does not carry this
      // membership, so the bridge records nothing and says so rather than answer a change that will not happen.
      if (started.idempotencyKey !== key && !isDeepStrictEqual([...(started.request.access?.roles ?? [])].sort(), [...after].sort())) {
        throw new ScimRefusal(409, `a change of ${user.userName} in ${app} is already open (run ${started.id}) with other roles: send this membership again once it has finished`);
      }
      runId = started.id;
    }
    // A member whose User is gone from the bridge leaves the Group without a run: there is no account to change.
    await this.store.db
      .insertInto('scim_group_members')
      .values({ tenant: this.tenant, app, group_id: group.id, member_id: change.member, member: change.op === 'add' ? 1 : 0, changes: n, run_id: runId, updated_at: this.now() })
      .onConflict((oc) =>
        oc.columns(['tenant', 'app', 'group_id', 'member_id']).doUpdateSet((eb) => ({
          member: eb.ref('excluded.member'),
          changes: eb.ref('excluded.changes'),
          run_id: eb.ref('excluded.run_id'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
  }

  /** The role names the bridge holds for a User of an app. */
  private async rolesOf(app: string, member: string): Promise<string[]> {
    const ids = await this.store.db
      .selectFrom('scim_group_members')
      .select('group_id')
      .where('tenant', '=', this.tenant)
      .where('app', '=', app)
      .where('member_id', '=', member)
      .where('member', '=', 1)
      .orderBy('group_id')
      .execute();
    const byId = new Map(this.entitlementsOf(app).map((e) => [e.id, e.name]));
    return ids.map((r) => byId.get(r.group_id)).filter((n): n is string => n !== undefined);
  }

  private async groupOf(app: string, e: Entitlement): Promise<BridgeGroup> {
    const rows = await this.store.db
      .selectFrom('scim_group_members')
      .select(['member_id', 'run_id'])
      .where('tenant', '=', this.tenant)
      .where('app', '=', app)
      .where('group_id', '=', e.id)
      .where('member', '=', 1)
      .orderBy('updated_at')
      .orderBy('member_id')
      .execute();
    const members: GroupMember[] = [];
    for (const r of rows) {
      const user = await this.bridge.store.get(this.tenant, app, r.member_id);
      members.push({ id: r.member_id, userName: user?.userName ?? r.member_id, runId: r.run_id, provisioningState: r.run_id ? await this.bridge.runState(r.run_id) : 'done' });
    }
    return { ...e, app, members };
  }
}

/** The entitlements of a connector's manifest the bridge serves as Groups: its roles marked assignable. */
export function entitlementsOfManifest(manifest: { capabilities?: { entitlements?: { roles?: { value?: unknown } } } }): Entitlement[] {
  const roles = manifest.capabilities?.entitlements?.roles?.value;
  if (!Array.isArray(roles)) return [];
  return roles
    .filter((r): r is { id: string; name: string; assignable: boolean } => isObject(r) && r.assignable === true && typeof r.id === 'string' && typeof r.name === 'string')
    .map((r) => ({ id: r.id, name: r.name }));
}
