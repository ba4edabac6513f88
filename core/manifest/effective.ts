import type { AppSettings } from '../schema/types/tenant-profile.js';
import type { Condition, ConnectorManifest } from '../schema/types/connector-manifest.js';
import { type Fact, factsOf } from './facts.js';

/** What a tenant has of one app: its plan and every feature resolved (the profile's word, else the manifest's default). */
export interface TenantAppState {
  readonly plan?: string;
  readonly features: ReadonlyMap<string, boolean>;
}

/** A fact as it holds for one tenant. */
export interface EffectiveFact {
  readonly pointer: string;
  readonly fact: Fact;
  /** false when the fact's `requires` is not met by the tenant. */
  readonly applies: boolean;
  /** The value for this tenant: a capability that does not apply is notSupported. */
  readonly value: unknown;
  /** Why the fact does not apply, in words. */
  readonly reason?: string;
}

/** The effective capability matrix: the manifest narrowed by a tenant's plan and features. */
export interface EffectiveMatrix {
  readonly connector: string;
  readonly state: TenantAppState;
  readonly facts: ReadonlyMap<string, EffectiveFact>;
}

export function tenantStateOf(manifest: ConnectorManifest, settings: AppSettings | undefined): TenantAppState {
  const features = new Map<string, boolean>();
  for (const feature of manifest.features ?? []) features.set(feature.id, settings?.features?.[feature.id] ?? feature.default);
  return { plan: settings?.plan, features };
}

/** Whether the tenant meets a condition; when not, `reason` says what is missing in the manifest's words. */
export function meets(condition: Condition | undefined, state: TenantAppState, manifest: ConnectorManifest): { met: boolean; reason?: string } {
  if (!condition) return { met: true };
  const planName = (id: string) => manifest.plans?.find((p) => p.id === id)?.name ?? id;
  const featureTitle = (id: string) => manifest.features?.find((f) => f.id === id)?.title ?? id;
  const missing: string[] = [];
  if (condition.plans && !(state.plan && condition.plans.includes(state.plan))) {
    const wanted = condition.plans.map(planName).join(' or ');
    missing.push(`plan ${wanted} (${state.plan ? `tenant is on ${planName(state.plan)}` : 'the profile names no plan'})`);
  }
  for (const feature of condition.features ?? []) {
    if (!state.features.get(feature)) missing.push(`"${featureTitle(feature)}" switched on`);
  }
  for (const feature of condition.notFeatures ?? []) {
    if (state.features.get(feature)) missing.push(`"${featureTitle(feature)}" switched off`);
  }
  return missing.length ? { met: false, reason: `needs ${missing.join(' and ')}` } : { met: true };
}

export function effectiveMatrix(manifest: ConnectorManifest, settings: AppSettings | undefined): EffectiveMatrix {
  const state = tenantStateOf(manifest, settings);
  const facts = new Map<string, EffectiveFact>();
  for (const { pointer, fact } of factsOf(manifest)) {
    const { met, reason } = meets(fact.requires, state, manifest);
    const isSupport = fact.value === 'supported' || fact.value === 'notSupported' || fact.value === 'unknown';
    facts.set(pointer, {
      pointer,
      fact,
      applies: met,
      value: met || !isSupport ? fact.value : 'notSupported',
      ...(met ? {} : { reason }),
    });
  }
  return { connector: manifest.id, state, facts };
}

/** A condition in words, for the docs: "on Premium or Enterprise, with "API access granted" on". */
export function describeCondition(condition: Condition | undefined, manifest: ConnectorManifest): string {
  if (!condition) return '';
  const parts: string[] = [];
  if (condition.plans) parts.push(`on ${condition.plans.map((id) => manifest.plans?.find((p) => p.id === id)?.name ?? id).join(' or ')}`);
  const title = (id: string) => `"${manifest.features?.find((f) => f.id === id)?.title ?? id}"`;
  if (condition.features) parts.push(`with ${condition.features.map(title).join(' and ')} on`);
  if (condition.notFeatures) parts.push(`with ${condition.notFeatures.map(title).join(' and ')} off`);
  return parts.join(', ');
}
