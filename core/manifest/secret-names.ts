import type { ConnectorManifest } from '../schema/types/connector-manifest.js';
import { escapePointer } from '../schema/pointer.js';

/**
 * Secret names in a manifest's auth methods that look like a secret's value pasted in its place: a
 * name is how the tenant profile's `secrets` map refers to a credential (token, apiClientSecret), and
 * Patchbay prints names in plans and errors, so a value there would be shown to anyone reading them.
 * Looks like a value: longer than 40 characters, a run of four or more digits, or a vendor token prefix
 * (pat-, ghp_, xoxb-, sk_, …). Each problem is a JSON pointer and a reason that never repeats the name.
 */
export function secretNameProblems(manifest: ConnectorManifest): { pointer: string; reason: string }[] {
  const problems: { pointer: string; reason: string }[] = [];
  for (const [surfaceId, surface] of Object.entries(manifest.surfaces ?? {})) {
    const methods = (surface.auth as { value?: unknown } | undefined)?.value;
    if (!Array.isArray(methods)) continue;
    methods.forEach((method: Record<string, unknown>, i) => {
      for (const [key, value] of Object.entries(method)) {
        if ((key === 'secret' || key.endsWith('Secret')) && typeof value === 'string' && looksLikeValue(value)) {
          problems.push({
            pointer: `/surfaces/${escapePointer(surfaceId)}/auth/value/${i}/${escapePointer(key)}`,
            reason: "looks like a secret's value, not its name: name the secret here (token, apiToken) and put its value in the tenant profile's secrets (env:NAME or file:PATH)",
          });
        }
      }
    });
  }
  return problems;
}

const tokenPrefix = /^(pat|ghp|gho|ghs|github_pat|xox[abpr]|sk|pk|rk|shpat|glpat|EAA)[-_]/i;

function looksLikeValue(name: string): boolean {
  return name.length > 40 || /\d{4,}/.test(name) || tokenPrefix.test(name);
}
