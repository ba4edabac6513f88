import { getPointer } from '../manifest/pointer.js';
import { surfaceIdOf } from '../manifest/call-checks.js';
import type { ApiCall, ConnectorManifest } from '../schema/types/connector-manifest.js';
import type { AppSettings } from '../schema/types/tenant-profile.js';

/**
 * One tenant setting the manifest's declared calls read and the profile lacks. `pointer` is inside
 * the app's entry of the profile (`/settings/accountId` under `/apps/<id>`); `operations` are the
 * operations whose calls need it; `uses` says how (`{accountId}`, `the base URL`).
 */
export interface MissingSetting {
  readonly pointer: string;
  readonly operations: readonly string[];
  readonly uses: readonly string[];
}

/**
 * The settings a tenant must give for the declared api calls of `operations` (every operation when
 * omitted) that `settings` lacks: params bound `from: settings`, and `{settings.name}` in the
 * surface's base URL or token URL. A call with `read` needs what its read needs too. `{baseUrl}` is
 * not counted: planning says it apart, as it does for modules.
 */
export function missingSettings(manifest: ConnectorManifest, settings: AppSettings, operations?: readonly string[]): MissingSetting[] {
  const calls = new Map<string, ApiCall>();
  for (const [name, operation] of Object.entries(manifest.operations)) {
    const call = operation.channels.find((r) => r.channel === 'api' && r.call)?.call;
    if (call) calls.set(name, call);
  }
  const found = new Map<string, { operations: Set<string>; uses: Set<string> }>();
  const need = (pointer: string, operation: string, use: string) => {
    const value = getPointer(settings, pointer);
    if (value !== undefined && value !== null && value !== '') return;
    const entry = found.get(pointer) ?? { operations: new Set<string>(), uses: new Set<string>() };
    entry.operations.add(operation);
    entry.uses.add(use);
    found.set(pointer, entry);
  };
  const visit = (operation: string, call: ApiCall, seen: Set<string>) => {
    for (const [param, binding] of Object.entries(call.params ?? {})) {
      if (binding.from === 'settings' && binding.pointer !== undefined) need(binding.pointer, operation, `{${param}}`);
    }
    const surface = manifest.surfaces?.[surfaceIdOf(manifest, call) ?? ''];
    const templates: [string, string][] = [[surface?.baseUrl.value ?? '', 'the base URL']];
    for (const method of Array.isArray(surface?.auth.value) ? surface.auth.value : []) if (method.tokenUrl) templates.push([method.tokenUrl, 'the token URL']);
    for (const [template, use] of templates) {
      for (const [, name] of template.matchAll(/\{settings\.([A-Za-z][A-Za-z0-9_]*)\}/g)) need(`/settings/${name}`, operation, use);
    }
    if (call.read && !seen.has(call.read) && calls.has(call.read)) visit(operation, calls.get(call.read)!, new Set([...seen, call.read]));
  };
  for (const [name, call] of calls) if (!operations || operations.includes(name)) visit(name, call, new Set([name]));
  return [...found].map(([pointer, e]) => ({ pointer, operations: [...e.operations], uses: [...e.uses] }));
}
