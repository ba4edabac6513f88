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
  /** Checks a parsed profile against its schema and the connectors; throws InvalidInputError (file#pointer) on the first problem. */
  check(data: unknown, file: string): TenantProfile;
  /** Every problem of a parsed profile at once (empty when it is valid), each as "file#pointer: reason": for `patchbay validate`. */
  problems(data: unknown, file: string): string[];
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
    this.checkAgainstCatalogue(profile, (pointer, reason) => {
      throw new InvalidInputError({ file: displayPath(file), pointer }, reason);
    });
    return profile;
  }

  problems(data: unknown, file: string): string[] {
    const where = (pointer: string) => `${displayPath(file)}#${pointer}`;
    const schema = this.validator.problems('tenant-profile', data);
    if (schema.length) return schema.map((p) => `${where(p.pointer)}: ${p.reason}`);
    const out: string[] = [];
    this.checkAgainstCatalogue(data as TenantProfile, (pointer, reason) => void out.push(`${where(pointer)}: ${reason}`));
    return out;
  }

  /** Calls `fail` for each way a schema-valid profile does not fit the catalogue; goes on when `fail` returns. */
  private checkAgainstCatalogue(profile: TenantProfile, fail: (pointer: string, reason: string) => void): void {
    const queues = new Set((profile.queues ?? []).map((q) => q.id));

    const idp = profile.idp && this.registry.list().find((c) => c.manifest.id === profile.idp!.connector);
    // A broken identity provider is not refused here: planning, which needs it, says why it is broken.
    if (profile.idp && !idp && this.registry.brokenReason(profile.idp.connector) === undefined) fail('/idp/connector', this.registry.unknown(profile.idp.connector).message);
    if (profile.idp && idp) {
      if (idp.manifest.kind !== 'idp') fail('/idp/connector', `'${idp.manifest.id}' is not an identity provider`);
      const missing = (this.registry.api(idp.manifest.id)?.requiredSecrets ?? []).filter((name) => !profile.idp!.secrets?.[name]);
      if (profile.idp.baseUrl && missing.length) fail(`/idp/secrets/${missing[0]}`, `is required with baseUrl: ${idp.manifest.name}'s API needs ${missing.join(' and ')}`);
    }
    for (const [id, settings] of Object.entries(profile.apps)) {
      const base = `/apps/${escapePointer(id)}`;
      const connector = this.registry.list().find((c) => c.manifest.id === id);
      // A broken connector refuses only itself: planning it says why; the tenant's other apps work.
      if (!connector && this.registry.brokenReason(id) !== undefined) continue;
      if (!connector) {
        fail(base, this.registry.unknown(id).message);
        continue;
      }
      const manifest = connector.manifest;
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
  }
}
