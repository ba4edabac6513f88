import { inject, injectable } from '#inversify';
import { effectiveMatrix } from '../manifest/effective.js';
import type { LoadedConnector } from '../manifest/loader.js';
import { brokenBecause } from '../errors.js';
import { ConnectorRegistry } from '../registry/registry.js';
import type { LifecycleRequest } from '../schema/types/lifecycle-request.js';
import type { Plan } from '../schema/types/plan.js';
import { SchemaValidator } from '../schema/validator.js';
import type { LoadedProfile } from '../tenant/profile.js';
import type { AppContext, PlanningContext } from './context.js';
import { planLifecycle } from './planner.js';

export const LifecyclePlanner = Symbol('LifecyclePlanner');
export interface LifecyclePlanner {
  /** Validates the request (`source` names it in errors), gathers what the tenant has, and plans. */
  plan(request: unknown, profile: LoadedProfile, source?: string): Plan;
  /** What the planner knows of one installed app for this tenant. */
  context(appId: string, profile: LoadedProfile): PlanningContext;
}

/** Gathers the planning context from the registry and the tenant profile, then calls the pure planner. */
@injectable()
export class DefaultLifecyclePlanner implements LifecyclePlanner {
  constructor(
    @inject(SchemaValidator) private readonly validator: SchemaValidator,
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
  ) {}

  /** Contexts per profile and app: many requests against one profile share the work of narrowing the manifest. */
  private readonly contexts = new WeakMap<LoadedProfile, Map<string, PlanningContext>>();

  plan(request: unknown, profile: LoadedProfile, source = 'request'): Plan {
    const valid = this.validator.validate<LifecycleRequest>('lifecycle-request', request, source);
    let byApp = this.contexts.get(profile);
    if (!byApp) this.contexts.set(profile, (byApp = new Map()));
    let context = byApp.get(valid.app);
    if (!context) byApp.set(valid.app, (context = this.context(valid.app, profile)));
    return planLifecycle(valid, context);
  }

  context(appId: string, { profile, file }: LoadedProfile): PlanningContext {
    this.registry.get(appId);
    // An app of the catalogue the profile does not list is planned too: its plan and features are
    // unknown, and the plan's notes say so (planLifecycle); nothing is refused for want of an entry.
    void file;
    const app = this.appContext(appId, profile.apps[appId] ?? {});
    const idpId = profile.idp?.connector;
    const broken = idpId ? this.registry.brokenReason(idpId) : undefined;
    if (idpId && broken !== undefined) {
      // A broken identity provider refuses only itself: every app is still planned, its IdP steps by people.
      const refused = this.registry.refusedConnector(idpId);
      const because = `identity provider connector ${idpId} is broken: ${brokenBecause(broken)}`;
      return { tenant: profile, app, brokenIdp: { id: idpId, because, ...(refused ? { context: this.appContext(idpId, idpSettings(profile), refused) } : {}) } };
    }
    const idp = idpId ? this.appContext(idpId, idpSettings(profile)) : undefined;
    return { tenant: profile, app, ...(idp ? { idp } : {}) };
  }

  private appContext(id: string, settings: LoadedProfile['profile']['apps'][string], refused?: LoadedConnector): AppContext {
    const connector = refused ?? this.registry.get(id);
    const api = refused ? undefined : this.registry.api(id);
    return {
      connector,
      settings,
      matrix: effectiveMatrix(connector.manifest, settings),
      api: { implemented: this.registry.implemented(id), requiredSecrets: api?.requiredSecrets ?? [], requiredSettings: api?.requiredSettings ?? [] },
    };
  }
}

/** The identity provider's settings: its entry under apps (if any), with idp.baseUrl and idp.secrets on top. */
export function idpSettings(profile: LoadedProfile['profile']): LoadedProfile['profile']['apps'][string] {
  const id = profile.idp?.connector;
  const own = (id && profile.apps[id]) || {};
  return { ...own, ...(profile.idp?.baseUrl ? { baseUrl: profile.idp.baseUrl } : {}), secrets: { ...own.secrets, ...profile.idp?.secrets } };
}
