import type { EffectiveMatrix } from '../manifest/effective.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { AppSettings, TenantProfile } from '../schema/types/tenant-profile.js';

/** Everything the planner knows of one app for one tenant. Plain data: planning does no I/O. */
export interface AppContext {
  readonly connector: LoadedConnector;
  readonly settings: AppSettings;
  readonly matrix: EffectiveMatrix;
  /** Operations the connector's API module implements, and the secrets it needs. */
  readonly api: { readonly implemented: ReadonlySet<string>; readonly requiredSecrets: readonly string[]; readonly requiredSettings: readonly string[] };
}

export interface PlanningContext {
  readonly tenant: TenantProfile;
  readonly app: AppContext;
  /** The tenant's identity provider; absent when the profile names none, or names a broken connector (see `brokenIdp`). */
  readonly idp?: AppContext;
  /**
   * The profile's identity provider is a broken connector: no step goes through it, and its own
   * steps fall to a person. `because` is the sentence plans show ("identity provider connector <id>
   * is broken: <reason>"); `context` is there when its manifest and runbooks loaded (only its API
   * wiring was refused), so that a person follows its own console checklist.
   */
  readonly brokenIdp?: { readonly id: string; readonly because: string; readonly context?: AppContext };
}
