import path from 'node:path';
import { inject, injectable } from '#inversify';
import { InvalidInputError } from '../errors.js';
import { displayPath, packageRoot } from '../paths.js';
import { ConnectorRegistry } from '../registry/registry.js';
import { readJsonFile } from '../schema/json-file.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import { SchemaValidator, escapePointer } from '../schema/validator.js';

/** The profile used when none is given: the demo tenant "acme", shipped with Patchbay. */
export const defaultProfileFile = path.join(packageRoot, 'core', 'tenant', 'default-profile.json');

export interface LoadedProfile {
  readonly profile: TenantProfile;
  readonly file: string;
}

export const TenantProfiles = Symbol('TenantProfiles');
export interface TenantProfiles {
  /** Loads and checks a profile file (the embedded default when none is named). */
  load(file?: string): LoadedProfile;
  /** Checks a parsed profile against its schema and the connectors. */
  check(data: unknown, file: string): TenantProfile;
}

/**
 * Loads tenant profiles and checks them against the connectors: the IdP is an identity provider,
 * every app, plan and feature exists, a feature is only switched on for a plan that has it, and
 * queues named exist.
 */
@injectable()
export class FileTenantProfiles implements TenantProfiles {
  constructor(
    @inject(SchemaValidator) private readonly validator: SchemaValidator,
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
  ) {}

  load(file: string = defaultProfileFile): LoadedProfile {
    return { profile: this.check(readJsonFile(file), file), file };
  }

  check(data: unknown, file: string): TenantProfile {
    const profile = this.validator.validate<TenantProfile>('tenant-profile', data, file);
    const fail = (pointer: string, reason: string): never => {
      throw new InvalidInputError({ file: displayPath(file), pointer }, reason);
    };
    const known = this.registry.list().map((c) => c.manifest.id);
    const queues = new Set((profile.queues ?? []).map((q) => q.id));

    if (profile.idp) {
      const idp = this.registry.list().find((c) => c.manifest.id === profile.idp!.connector);
      if (!idp) fail('/idp/connector', `unknown connector '${profile.idp.connector}' (known: ${known.join(', ')})`);
      else if (idp.manifest.kind !== 'idp') fail('/idp/connector', `'${idp.manifest.id}' is not an identity provider`);
      const missing = (this.registry.api(profile.idp.connector)?.requiredSecrets ?? []).filter((name) => !profile.idp!.secrets?.[name]);
      if (profile.idp.baseUrl && missing.length) fail(`/idp/secrets/${missing[0]}`, `is required with baseUrl: ${idp!.manifest.name}'s API needs ${missing.join(' and ')}`);
    }
    for (const [id, settings] of Object.entries(profile.apps)) {
      const base = `/apps/${escapePointer(id)}`;
      const connector = this.registry.list().find((c) => c.manifest.id === id);
      if (!connector) fail(base, `unknown connector '${id}' (known: ${known.join(', ')})`);
      const manifest = connector!.manifest;
      const plans = manifest.plans ?? [];
      if (settings.plan && !plans.some((p) => p.id === settings.plan)) {
        fail(`${base}/plan`, `unknown plan '${settings.plan}' for ${manifest.name} (plans: ${plans.map((p) => p.id).join(', ') || 'none declared'})`);
      }
      for (const [featureId, on] of Object.entries(settings.features ?? {})) {
        const feature = manifest.features?.find((f) => f.id === featureId);
        const pointer = `${base}/features/${escapePointer(featureId)}`;
        if (!feature) {
          fail(pointer, `unknown feature '${featureId}' for ${manifest.name} (features: ${(manifest.features ?? []).map((f) => f.id).join(', ') || 'none declared'})`);
        } else if (on && feature.plans && settings.plan && !feature.plans.includes(settings.plan)) {
          const names = feature.plans.map((p) => plans.find((x) => x.id === p)?.name ?? p).join(' or ');
          fail(pointer, `"${feature.title}" is only available on ${names}; the tenant is on ${plans.find((p) => p.id === settings.plan)?.name}`);
        }
      }
      // An address without the credential to use it cannot work: say so now, not at the first run.
      const scim = Object.values(manifest.operations).some((op) => op.channels.some((r) => r.channel === 'scim'));
      if (scim && settings.baseUrl && !settings.secrets?.token) fail(`${base}/secrets/token`, 'is required with baseUrl: the SCIM bearer token reference (env:NAME or file:PATH)');
      const api = this.registry.api(id);
      if (api && settings.baseUrl) {
        const missing = api.requiredSecrets.filter((name) => !settings.secrets?.[name]);
        if (missing.length) fail(`${base}/secrets/${missing[0]}`, `is required with baseUrl: ${manifest.name}'s API needs ${missing.join(' and ')}`);
      }
      if (settings.queue && queues.size && !queues.has(settings.queue)) {
        fail(`${base}/queue`, `unknown queue '${settings.queue}' (queues: ${[...queues].join(', ')})`);
      }
    }
    profile.queues?.forEach((queue, i) => {
      if (queue.escalateTo && !queues.has(queue.escalateTo)) fail(`/queues/${i}/escalateTo`, `unknown queue '${queue.escalateTo}'`);
    });
    const approvers = profile.policies?.approvers;
    if (approvers && !queues.has(approvers)) fail('/policies/approvers', `unknown queue '${approvers}' (queues: ${[...queues].join(', ') || 'none declared'})`);
    return profile;
  }
}
