import type { ApiCall, ConnectorManifest } from '../schema/types/connector-manifest.js';
import { escapePointer } from '../schema/pointer.js';

/** A declared API call that the schema accepts but that cannot run, at a JSON pointer in the manifest. */
export interface CallProblem {
  readonly pointer: string;
  readonly reason: string;
}

const placeholder = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

/** Every {name} used in a call's path, query, headers and body. */
export function placeholdersOf(call: ApiCall): Set<string> {
  const names = new Set<string>();
  const scan = (node: unknown): void => {
    if (typeof node === 'string') for (const [, name] of node.matchAll(placeholder)) names.add(name!);
    else if (Array.isArray(node)) node.forEach(scan);
    else if (node && typeof node === 'object') Object.values(node).forEach(scan);
  };
  scan(call.path);
  scan(call.query);
  scan(call.headers);
  scan(call.body);
  return names;
}

/** The surface a call goes to: the one it names, else the manifest's only surface. */
export function surfaceIdOf(manifest: ConnectorManifest, call: ApiCall): string | undefined {
  if (call.surface) return call.surface;
  const ids = Object.keys(manifest.surfaces ?? {});
  return ids.length === 1 ? ids[0] : undefined;
}

/**
 * What the schema cannot say about declared calls: each {placeholder} is bound in `params` and each
 * param is used; the surface exists; a param or a `when` rule that reads the account has a `read`
 * operation to read it with, itself declared; a list has a record mapping and a way to page.
 */
export function checkCalls(manifest: ConnectorManifest): CallProblem[] {
  const problems: CallProblem[] = [];
  const surfaces = Object.keys(manifest.surfaces ?? {});
  for (const [name, operation] of Object.entries(manifest.operations)) {
    operation.channels.forEach((route, i) => {
      const call = route.call;
      if (!call) return;
      const base = `/operations/${escapePointer(name)}/channels/${i}/call`;
      if (route.channel !== 'api') {
        problems.push({ pointer: `/operations/${escapePointer(name)}/channels/${i}/call`, reason: `only the api channel takes a call (this route is '${route.channel}')` });
        return;
      }
      const surface = surfaceIdOf(manifest, call);
      if (!surface) problems.push({ pointer: `${base}/surface`, reason: surfaces.length ? `name one of the surfaces (${surfaces.join(', ')})` : 'the manifest declares no surfaces: add one under /surfaces' });
      else if (!manifest.surfaces?.[surface]) problems.push({ pointer: `${base}/surface`, reason: `unknown surface '${surface}' (declared: ${surfaces.join(', ') || 'none'})` });
      const used = placeholdersOf(call);
      const params = call.params ?? {};
      for (const used1 of used) if (!params[used1]) problems.push({ pointer: `${base}/params`, reason: `{${used1}} is used but not bound in params` });
      for (const [param, binding] of Object.entries(params)) {
        if (!used.has(param)) problems.push({ pointer: `${base}/params/${escapePointer(param)}`, reason: `is bound but no {${param}} uses it` });
        if (binding.from === 'account' && !call.read) problems.push({ pointer: `${base}/params/${escapePointer(param)}/from`, reason: "binds from the account, so the call needs `read` (the operation that reads it, e.g. getUser)" });
      }
      if (call.when?.length && !call.read) problems.push({ pointer: `${base}/when`, reason: 'tests the account, so the call needs `read`' });
      if (call.read) {
        const read = manifest.operations[call.read];
        if (!read) problems.push({ pointer: `${base}/read`, reason: `unknown operation '${call.read}'` });
        else if (!read.channels.some((r) => r.channel === 'api' && r.call)) problems.push({ pointer: `${base}/read`, reason: `'${call.read}' has no declared api call to read the account with` });
        else if (call.read === name) problems.push({ pointer: `${base}/read`, reason: 'an operation cannot read itself first' });
      }
      if ((name === 'listUsers' || name === 'getUser') && !call.record) problems.push({ pointer: `${base}/record`, reason: `${name} needs a record mapping (id, email, active) to read accounts` });
      if (name === 'listUsers' && !call.page) problems.push({ pointer: `${base}/page`, reason: 'listUsers needs `page` (style "none" for a list in one answer)' });
    });
  }
  return problems;
}
