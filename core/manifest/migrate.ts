import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidInputError } from '../errors.js';
import { displayPath } from '../paths.js';

/** The manifest format this build reads. */
export const manifestSchemaVersion = 2;

/** The IdP connector ids that v1's free-text `sso.idps` names map to. */
const idpIds: readonly [RegExp, string][] = [
  [/okta/i, 'okta'],
  [/entra|azure/i, 'entra-id'],
  [/google/i, 'google-workspace'],
  [/onelogin/i, 'onelogin'],
];

/** A manifest's format version: 1 when it has none (v1 had no `schemaVersion`). */
export function schemaVersionOf(data: unknown): number {
  const version = (data as { schemaVersion?: unknown } | null)?.schemaVersion;
  return typeof version === 'number' ? version : 1;
}

/** The one-line refusal of a v1 manifest, naming the command that rewrites it. */
export function v1Refusal(file: string): InvalidInputError {
  return new InvalidInputError(
    { file: displayPath(file), pointer: '/schemaVersion' },
    `is a version 1 manifest; this Patchbay reads version ${manifestSchemaVersion}: run \`patchbay connectors migrate ${displayPath(path.dirname(file))}\``,
  );
}

/**
 * Rewrites a v1 manifest as v2, changing nothing it need not:
 * - `schemaVersion: 2` after `$schema`;
 * - every source gets `readAt`, its fact's `checkedAt` (v1 dated facts, not sources);
 * - `capabilities.sso.idps`, a list of names, becomes one fact per identity provider with the app's
 *   protocols and JIT as v1 stated them for all, and SCIM through that IdP unknown.
 * Returns a new object; the input is not modified.
 */
export function migrateManifest(v1: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(v1);
  datesOnSources(copy, undefined);
  const caps = copy.capabilities as Record<string, Record<string, unknown>> | undefined;
  const sso = caps?.sso;
  const idps = sso?.idps as { value?: unknown; [k: string]: unknown } | undefined;
  if (sso && idps && Array.isArray(idps.value)) {
    const protocols = Array.isArray((sso.protocols as { value?: unknown })?.value) ? ((sso.protocols as { value: string[] }).value) : [];
    const jit = (sso.jit as { value?: string })?.value ?? 'unknown';
    const perIdp: Record<string, unknown> = {};
    for (const name of idps.value as string[]) {
      const id = idpIds.find(([pattern]) => pattern.test(name))?.[1];
      if (!id) continue;
      const { value: _list, ...provenance } = idps;
      perIdp[id] = { ...provenance, value: { protocols, jit, scim: 'unknown' }, note: `${name}: migrated from the v1 list of IdPs${provenance.note ? `; ${String(provenance.note)}` : ''}` };
    }
    sso.idps = perIdp;
  }
  const out: Record<string, unknown> = {};
  if ('$schema' in copy) out.$schema = copy.$schema;
  out.schemaVersion = manifestSchemaVersion;
  for (const [key, value] of Object.entries(copy)) if (key !== '$schema' && key !== 'schemaVersion') out[key] = value;
  return out;
}

function datesOnSources(node: unknown, checkedAt: string | undefined): void {
  if (Array.isArray(node)) {
    for (const item of node) datesOnSources(item, checkedAt);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const record = node as Record<string, unknown>;
  const date = typeof record.checkedAt === 'string' ? record.checkedAt : checkedAt;
  if (Array.isArray(record.sources)) {
    for (const source of record.sources as Record<string, unknown>[]) if (source && typeof source === 'object' && !source.readAt && date) source.readAt = date;
  }
  for (const [key, child] of Object.entries(record)) if (key !== 'sources') datesOnSources(child, date);
}

/**
 * `patchbay connectors migrate <dir>`: rewrites <dir>/manifest.json (or, for a folder of
 * connectors, each <dir>/<id>/manifest.json) from v1 to v2. Returns the files rewritten and those
 * already at v2. Throws InvalidInputError when there is no manifest to migrate.
 */
export function migrateFolder(dir: string, readdir: (dir: string) => string[], exists: (file: string) => boolean): { migrated: string[]; current: string[] } {
  const own = path.join(dir, 'manifest.json');
  const files = exists(own) ? [own] : readdir(dir).map((name) => path.join(dir, name, 'manifest.json')).filter(exists);
  if (!files.length) throw new InvalidInputError({ file: displayPath(dir) }, 'holds no manifest.json (give a connector folder, or a folder of them)');
  const migrated: string[] = [];
  const current: string[] = [];
  for (const file of files) {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (cause) {
      throw new InvalidInputError({ file: displayPath(file) }, `invalid JSON (${(cause as Error).message})`, { cause });
    }
    if (schemaVersionOf(data) >= manifestSchemaVersion) {
      current.push(file);
      continue;
    }
    writeFileSync(file, `${JSON.stringify(migrateManifest(data), null, 2)}\n`);
    migrated.push(file);
  }
  return { migrated, current };
}
