import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The package's root folder: this file is compiled to dist/core/paths.js. */
export const packageRoot = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export const schemasDir = path.join(packageRoot, 'schemas');
/** The built-in connector catalogue: the package's own connectors/. */
export const connectorsDir = path.join(packageRoot, 'connectors');

/** Whether a file or folder lies in the built-in catalogue (connectorsDir), not in a folder PATCHBAY_CONNECTORS adds. */
export function isBuiltIn(file: string): boolean {
  const relative = path.relative(connectorsDir, file);
  return !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * Every catalogue folder: the built-in one, then each folder PATCHBAY_CONNECTORS names (a
 * path list separated by the platform's delimiter, `:` on Unix), which adds connectors, never
 * replaces the built-in ones. Each folder holds connector folders, or is one connector folder.
 */
export function connectorFolders(env: NodeJS.ProcessEnv = process.env): string[] {
  const extra = (env.PATCHBAY_CONNECTORS ?? '').split(path.delimiter).filter(Boolean).map((p) => path.resolve(p));
  return [connectorsDir, ...extra.filter((p) => p !== connectorsDir)];
}
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
