import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package's root folder: this file is compiled to dist/core/paths.js. */
export const packageRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export const schemasDir = path.join(packageRoot, 'schemas');
/** Connector folders: the package's own, or PATCHBAY_CONNECTORS for a platform engineer working on connectors elsewhere. */
export const connectorsDir = process.env.PATCHBAY_CONNECTORS ? path.resolve(process.env.PATCHBAY_CONNECTORS) : path.join(packageRoot, 'connectors');
export const docsDir = path.join(packageRoot, 'docs');
export const generatedTypesDir = path.join(packageRoot, 'core', 'schema', 'types');

/** A path as people read it in messages: relative to the working folder when it is inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** The package's version, as package.json gives it. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}
