import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../paths.js';
import type { BrowserRecipe } from '../schema/types/browser-recipe.js';
import type { ConnectorManifest } from '../schema/types/connector-manifest.js';
import type { Runbook } from '../schema/types/runbook.js';
import { schemaDigest } from '../schema/validator.js';
import type { LoadedConnector } from './loader.js';

/** Where validated connectors are kept: inside the package's dist/, beside the compiled validators. */
export const catalogueCacheDir = path.join(packageRoot, 'dist', '.catalogue-cache');

/** Entries kept before the oldest half is removed (a test run loads hundreds of throwaway folders). */
const keep = 400;

let codeDigest: string | undefined;

/**
 * A digest of the loader's own code (every module in this folder): a connector that loaded under
 * one set of checks is checked again when the checks change, even without a version change.
 */
function loaderDigest(): string {
  if (codeDigest) return codeDigest;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const hash = createHash('sha256');
  for (const file of readdirSync(here).filter((f) => f.endsWith('.js')).sort()) hash.update(file).update(readFileSync(path.join(here, file)));
  return (codeDigest = hash.digest('hex'));
}

/** The JSON files a connector folder is loaded from, relative to it, sorted. */
function sourceFiles(dir: string): string[] {
  const files = ['manifest.json'];
  for (const sub of ['runbooks', 'recipes']) {
    const folder = path.join(dir, sub);
    if (existsSync(folder)) files.push(...readdirSync(folder).filter((n) => n.endsWith('.json')).sort().map((n) => `${sub}/${n}`));
  }
  return files;
}

/**
 * A connector folder's files read once: each JSON file's text by its path relative to the folder
 * (`manifest.json`, `runbooks/<id>.json`, `recipes/<id>.json`), and the digest of exactly those
 * bytes. The loader checks these texts, never the files again, so a file changed while a command
 * starts cannot be checked in one version and kept under the digest of another.
 */
export interface FolderSnapshot {
  readonly digest: string;
  readonly files: ReadonlyMap<string, string>;
}

interface Entry {
  readonly digest: string;
  readonly manifest: ConnectorManifest;
  readonly runbooks: [string, Runbook][];
  readonly recipes: [string, BrowserRecipe][];
}

/**
 * Connectors that loaded once, kept as JSON so that a command does not validate the whole catalogue
 * again at every start (validation is most of `patchbay plan`'s start-up). One file per connector
 * folder, named by a digest of its absolute path; inside, a digest of everything the result depends
 * on: the schemas (`schemaDigest`), the loader's code, and the name and bytes of every file read.
 * Only a connector that loaded is kept, so every refusal is worked out afresh with its message.
 * A cache that cannot be read or written is no cache: nothing throws from here.
 */
export class CatalogueCache {
  constructor(private readonly folder: string = catalogueCacheDir) {}

  /** A connector folder's files and their digest, or undefined when one cannot be read (the loader then says why). */
  snapshot(dir: string): FolderSnapshot | undefined {
    try {
      const hash = createHash('sha256').update(schemaDigest()).update(loaderDigest()).update(path.resolve(dir));
      const files = new Map<string, string>();
      for (const file of sourceFiles(dir)) {
        const bytes = readFileSync(path.join(dir, file));
        hash.update(`\0${file}\0`).update(bytes);
        files.set(file, bytes.toString('utf8'));
      }
      return { digest: hash.digest('hex'), files };
    } catch {
      return undefined;
    }
  }

  /** The digest of a connector folder's current content, or undefined when a file cannot be read. */
  digest(dir: string): string | undefined {
    return this.snapshot(dir)?.digest;
  }

  /** The connector as it loaded when its folder had this digest; undefined when not kept. */
  read(dir: string, digest: string): LoadedConnector | undefined {
    try {
      const entry = JSON.parse(readFileSync(this.fileOf(dir), 'utf8')) as Entry;
      if (entry.digest !== digest) return undefined;
      // An entry of another shape (written by hand, or by another version) is no entry.
      const valid = entry.manifest !== null && typeof entry.manifest === 'object' && entry.manifest.id === path.basename(dir) && Array.isArray(entry.runbooks) && Array.isArray(entry.recipes);
      if (!valid) return undefined;
      return { manifest: entry.manifest, dir, runbooks: new Map(entry.runbooks), recipes: new Map(entry.recipes) };
    } catch {
      return undefined;
    }
  }

  /** Keeps a connector that loaded (written to a temporary file, then renamed: never half a file). */
  write(connector: LoadedConnector, digest: string): void {
    try {
      mkdirSync(this.folder, { recursive: true });
      const entry: Entry = { digest, manifest: connector.manifest, runbooks: [...connector.runbooks], recipes: [...connector.recipes] };
      const file = this.fileOf(connector.dir);
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify(entry));
      renameSync(temporary, file);
      this.prune();
    } catch {
      // Not kept: the next start validates again.
    }
  }

  private fileOf(dir: string): string {
    return path.join(this.folder, `${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 24)}.json`);
  }

  private prune(): void {
    const names = readdirSync(this.folder);
    if (names.length <= keep) return;
    const byAge = names.map((name) => ({ name, at: statSync(path.join(this.folder, name)).mtimeMs })).sort((a, b) => a.at - b.at);
    for (const { name } of byAge.slice(0, names.length - keep / 2)) rmSync(path.join(this.folder, name), { force: true });
  }
}
