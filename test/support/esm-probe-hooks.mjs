// The resolve hook of esm-probe.mjs. It runs on the module loader's own thread, hence writeSync.
import { writeSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  writeSync(2, `load "${resolved.url}"\n`);
  return resolved;
}
