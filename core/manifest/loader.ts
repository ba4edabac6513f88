import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { inject, injectable } from '#inversify';
import { InvalidInputError, PatchbayError } from '../errors.js';
import { displayPath } from '../paths.js';
import { parseJsonText, readJsonFile } from '../schema/json-file.js';
import type { BrowserRecipe } from '../schema/types/browser-recipe.js';
import type { Condition, ConnectorManifest } from '../schema/types/connector-manifest.js';
import type { Runbook } from '../schema/types/runbook.js';
import { SchemaValidator, escapePointer } from '../schema/validator.js';
import { factsOf } from './facts.js';
import { checkProvenance } from './provenance.js';
import { checkRecipe } from './recipe-checks.js';
import { checkCalls } from './call-checks.js';
import { schemaVersionOf, v1Refusal } from './migrate.js';
import { CatalogueCache, type FolderSnapshot } from './catalogue-cache.js';
import { secretNameProblems } from './secret-names.js';

/** A connector as loaded from connectors/<id>/: its manifest, runbooks and browser recipes, all validated. */
export interface LoadedConnector {
  readonly manifest: ConnectorManifest;
  readonly dir: string;
  readonly runbooks: ReadonlyMap<string, Runbook>;
  readonly recipes: ReadonlyMap<string, BrowserRecipe>;
}

/**
 * A connector folder that could not be loaded, and why in one line. With `folder` set, it is a
 * catalogue folder (one PATCHBAY_CONNECTORS names) that gave no connector at all: missing, a file,
 * unreadable, or holding no connector folder; its `id` is then the folder's path as people read it.
 */
export interface BrokenConnector {
  readonly id: string;
  readonly dir: string;
  readonly reason: string;
  readonly folder?: true;
}

/** The connectors of every catalogue folder: those that loaded, and those refused alone. */
export interface Catalogue {
  readonly connectors: LoadedConnector[];
  readonly broken: BrokenConnector[];
}

export const ManifestLoader = Symbol('ManifestLoader');
export interface ManifestLoader {
  /** Every connector under the folder (one sub-folder each), sorted by id; throws on the first bad one. */
  loadAll(connectorsDir: string): LoadedConnector[];
  /**
   * Every connector in the folders, in order (a folder of connector folders, or one connector
   * folder itself): a bad one is set aside in `broken` and never stops the others. The first folder is
   * the base (the built-in connectors): an added folder's connector of the same id replaces the base's;
   * an id in two added folders is refused (in `broken`). Sorted by id.
   */
  loadCatalogue(folders: readonly string[]): Catalogue;
  /** One connector folder. */
  load(dir: string): LoadedConnector;
  /** Every problem of one connector folder at once (empty when it loads), each as "file#pointer: reason". */
  problems(dir: string): string[];
}

/**
 * Loads connector folders and refuses anything inconsistent, naming the file and JSON pointer:
 * schema errors, broken provenance rules, and references to runbooks, recipes, operations,
 * plans or features that do not exist.
 */
@injectable()
export class FileManifestLoader implements ManifestLoader {
  /** Connectors that loaded before, by folder and content: a start validates only what changed. */
  private readonly cache = new CatalogueCache();

  constructor(@inject(SchemaValidator) private readonly validator: SchemaValidator) {}

  loadAll(connectorsDir: string): LoadedConnector[] {
    return readdirSync(connectorsDir)
      .filter((name) => statSync(path.join(connectorsDir, name)).isDirectory())
      .filter((name) => existsSync(path.join(connectorsDir, name, 'manifest.json')))
      .sort()
      .map((name) => this.load(path.join(connectorsDir, name)));
  }

  loadCatalogue(folders: readonly string[]): Catalogue {
    const connectors: LoadedConnector[] = [];
    const broken: BrokenConnector[] = [];
    // Where each id was found: the first folder (the catalogue's base, the built-in connectors) and the added ones.
    const base = new Map<string, string>();
    const added = new Map<string, string[]>();
    folders.forEach((folder, index) => {
      const listed = connectorDirs(folder);
      if (typeof listed === 'string') {
        broken.push({ id: displayPath(folder), dir: folder, reason: `PATCHBAY_CONNECTORS: ${displayPath(folder)}: ${listed}`, folder: true });
        return;
      }
      for (const dir of listed) {
        const id = path.basename(dir);
        if (index === 0) base.set(id, dir);
        else added.set(id, [...(added.get(id) ?? []), dir]);
      }
    });
    const load = (id: string, dir: string) => {
      try {
        connectors.push(this.load(dir));
      } catch (error) {
        if (!(error instanceof PatchbayError)) throw error;
        broken.push({ id, dir, reason: error.message });
      }
    };
    for (const [id, dir] of base) {
      const over = added.get(id);
      // An added folder's connector replaces a built-in one of its id (a copy being worked on): what
      // PATCHBAY_CONNECTORS points at is what runs (`patchbay connectors` shows where each comes from).
      if (!over) load(id, dir);
    }
    for (const [id, dirs] of added) {
      if (dirs.length > 1) {
        // Two added folders with one id: which one runs would depend on the order of a variable. Neither does.
        const builtIn = base.has(id) ? ` (the built-in ${id} is not used either while this is so)` : '';
        broken.push({ id, dir: dirs[0]!, reason: `defined in ${dirs.length} PATCHBAY_CONNECTORS folders (${dirs.map(displayPath).join(', ')}): keep one or rename the others${builtIn}` });
        continue;
      }
      load(id, dirs[0]!);
    }
    connectors.sort((a, b) => a.manifest.id.localeCompare(b.manifest.id));
    return { connectors, broken };
  }

  problems(dir: string): string[] {
    const file = path.join(dir, 'manifest.json');
    const where = (pointer: string) => `${displayPath(file)}#${pointer}`;
    let data: unknown;
    try {
      data = readJsonFile(file);
    } catch (error) {
      return [(error as Error).message];
    }
    if (schemaVersionOf(data) < 2) return [v1Refusal(file).message];
    const schemaProblems = this.validator.problems('connector-manifest', data);
    if (schemaProblems.length) return schemaProblems.map((p) => `${where(p.pointer)}: ${p.reason}`);
    const manifest = data as ConnectorManifest;
    const out: string[] = [];
    const note = (pointer: string, reason: string) => void out.push(`${where(pointer)}: ${reason}`);
    if (manifest.id !== path.basename(dir)) note('/id', `must be '${path.basename(dir)}', the name of its folder`);
    for (const problem of checkProvenance(manifest)) note(problem.pointer, problem.reason);
    // Each runbook and recipe on its own: a broken one reports its own errors, and references are
    // checked against the files that exist, so that one bad runbook does not make the others look missing.
    const runbooks = this.documentProblems<Runbook>(path.join(dir, 'runbooks'), 'runbook', out);
    const recipes = this.documentProblems<BrowserRecipe>(path.join(dir, 'recipes'), 'browser-recipe', out);
    checkReferences(manifest, runbooks, recipes, note as (pointer: string, reason: string) => never);
    for (const problem of checkCalls(manifest)) note(problem.pointer, problem.reason);
    for (const problem of secretNameProblems(manifest)) note(problem.pointer, problem.reason);
    return out;
  }

  /**
   * The documents of one sub-folder by id (from the file's name), each broken one's problems added to
   * `out` ("file#pointer: reason", every schema error): a broken document still counts as present.
   */
  private documentProblems<T>(folder: string, kind: 'runbook' | 'browser-recipe', out: string[]): Map<string, T> {
    const documents = new Map<string, T>();
    const names = existsSync(folder) ? readdirSync(folder).filter((n) => n.endsWith('.json')).sort() : [];
    for (const name of names) {
      const file = path.join(folder, name);
      const id = name.replace(/\.json$/, '');
      let data: unknown;
      try {
        data = readJsonFile(file);
      } catch (error) {
        out.push((error as Error).message);
        documents.set(id, undefined as T);
        continue;
      }
      const found = this.validator.problems(kind, data);
      for (const p of found) out.push(`${displayPath(file)}#${p.pointer}: ${p.reason}`);
      const declared = (data as { id?: unknown })?.id;
      if (!found.length && declared !== id) out.push(`${displayPath(file)}#/id: must be '${id}', the file's name`);
      documents.set(id, data as T);
    }
    return documents;
  }

  load(dir: string): LoadedConnector {
    const snapshot = this.cache.snapshot(dir);
    const kept = snapshot && this.cache.read(dir, snapshot.digest);
    if (kept) return kept;
    const connector = this.check(dir, snapshot);
    if (snapshot) this.cache.write(connector, snapshot.digest);
    return connector;
  }

  /**
   * Loads one connector folder with every check (what `load` keeps in the cache): from the snapshot's
   * texts when there is one (what was hashed is what is checked), else from the files.
   */
  private check(dir: string, snapshot?: FolderSnapshot): LoadedConnector {
    const read = (relative: string): unknown => {
      const text = snapshot?.files.get(relative);
      return text === undefined ? readJsonFile(path.join(dir, relative)) : parseJsonText(path.join(dir, relative), text);
    };
    const file = path.join(dir, 'manifest.json');
    const data = read('manifest.json');
    if (schemaVersionOf(data) < 2) throw v1Refusal(file);
    const manifest = this.validator.validate<ConnectorManifest>('connector-manifest', data, file);
    const fail = (pointer: string, reason: string): never => {
      throw new InvalidInputError({ file: displayPath(file), pointer }, reason);
    };
    if (manifest.id !== path.basename(dir)) fail('/id', `must be '${path.basename(dir)}', the name of its folder`);
    for (const problem of checkProvenance(manifest)) fail(problem.pointer, problem.reason);

    const runbooks = this.loadDocuments<Runbook>(path.join(dir, 'runbooks'), 'runbook', snapshot);
    const recipes = this.loadDocuments<BrowserRecipe>(path.join(dir, 'recipes'), 'browser-recipe', snapshot);
    checkReferences(manifest, runbooks, recipes, fail);
    for (const problem of checkCalls(manifest)) fail(problem.pointer, problem.reason);
    for (const problem of secretNameProblems(manifest)) fail(problem.pointer, problem.reason);
    for (const [id, recipe] of recipes) {
      const recipeFile = displayPath(path.join(dir, 'recipes', `${id}.json`));
      if (!manifest.operations[recipe.operation]) {
        throw new InvalidInputError({ file: recipeFile, pointer: '/operation' }, `operation '${recipe.operation}' is not in ${manifest.id}'s manifest`);
      }
      const [problem] = checkRecipe(recipe);
      if (problem) throw new InvalidInputError({ file: recipeFile, pointer: problem.pointer }, problem.reason);
    }
    return { manifest, dir, runbooks, recipes };
  }

  /**
   * The documents of one sub-folder of a connector (`runbooks`, `recipes`), each validated: from the
   * snapshot's texts when one is given, else from the files.
   */
  private loadDocuments<T extends { id: string }>(folder: string, kind: 'runbook' | 'browser-recipe', snapshot?: FolderSnapshot): Map<string, T> {
    const documents = new Map<string, T>();
    const sub = path.basename(folder);
    const names = snapshot
      ? [...snapshot.files.keys()].filter((k) => k.startsWith(`${sub}/`)).map((k) => k.slice(sub.length + 1))
      : existsSync(folder)
        ? readdirSync(folder).filter((n) => n.endsWith('.json')).sort()
        : [];
    for (const name of names) {
      const file = path.join(folder, name);
      const text = snapshot?.files.get(`${sub}/${name}`);
      const document = this.validator.validate<T>(kind, text === undefined ? readJsonFile(file) : parseJsonText(file, text), file);
      if (`${document.id}.json` !== name) {
        throw new InvalidInputError({ file: displayPath(file), pointer: '/id' }, `must be '${name.replace(/\.json$/, '')}', the file's name`);
      }
      documents.set(document.id, document);
    }
    return documents;
  }
}

/**
 * The connector folders one catalogue folder holds (itself when it has a manifest.json, else its
 * sub-folders that have one, sorted), or why it gives none: missing, a file, unreadable, or empty of connectors.
 */
function connectorDirs(folder: string): string[] | string {
  if (existsSync(path.join(folder, 'manifest.json'))) return [folder];
  if (!existsSync(folder)) return 'no such connector folder';
  try {
    if (!statSync(folder).isDirectory()) return 'is a file, not a connector folder (name a folder of connector folders, or one connector folder with its manifest.json)';
    const dirs = readdirSync(folder)
      .filter((name) => statSync(path.join(folder, name)).isDirectory() && existsSync(path.join(folder, name, 'manifest.json')))
      .sort()
      .map((name) => path.join(folder, name));
    return dirs.length ? dirs : 'no connectors in this folder (neither it nor any sub-folder has a manifest.json)';
  } catch (error) {
    return `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

function checkReferences(
  manifest: ConnectorManifest,
  runbooks: ReadonlyMap<string, Runbook>,
  recipes: ReadonlyMap<string, BrowserRecipe>,
  fail: (pointer: string, reason: string) => never,
): void {
  const plans = new Set((manifest.plans ?? []).map((p) => p.id));
  const features = new Set((manifest.features ?? []).map((f) => f.id));
  const operations = manifest.operations;
  const known = (set: Set<string>) => (set.size ? [...set].join(', ') : 'none declared');

  const checkCondition = (condition: Condition | undefined, pointer: string) => {
    if (!condition) return;
    condition.plans?.forEach((plan, i) => {
      if (!plans.has(plan)) fail(`${pointer}/plans/${i}`, `unknown plan '${plan}' (declared: ${known(plans)})`);
    });
    for (const key of ['features', 'notFeatures'] as const) {
      condition[key]?.forEach((feature, i) => {
        if (!features.has(feature)) fail(`${pointer}/${key}/${i}`, `unknown feature '${feature}' (declared: ${known(features)})`);
      });
    }
  };

  for (const { pointer, fact } of factsOf(manifest)) checkCondition(fact.requires, `${pointer}/requires`);
  manifest.features?.forEach((feature, i) =>
    feature.plans?.forEach((plan, j) => {
      if (!plans.has(plan)) fail(`/features/${i}/plans/${j}`, `unknown plan '${plan}' (declared: ${known(plans)})`);
    }),
  );

  for (const [name, operation] of Object.entries(operations)) {
    const base = `/operations/${escapePointer(name)}`;
    operation.channels.forEach((route, i) => {
      if (route.runbook && !runbooks.has(route.runbook)) {
        fail(`${base}/channels/${i}/runbook`, `no runbook '${route.runbook}' in runbooks/ (found: ${[...runbooks.keys()].join(', ') || 'none'})`);
      }
      if (route.recipe && !recipes.has(route.recipe)) {
        fail(`${base}/channels/${i}/recipe`, `no recipe '${route.recipe}' in recipes/ (found: ${[...recipes.keys()].join(', ') || 'none'})`);
      }
      if (operation.channels.findIndex((r) => r.channel === route.channel) !== i) {
        fail(`${base}/channels/${i}/channel`, `channel '${route.channel}' is named twice in the chain`);
      }
    });
    operation.watchOutFor?.forEach((w, i) => checkCondition(w.when, `${base}/watchOutFor/${i}/when`));
  }

  manifest.capabilities.lifecycleSources?.forEach((source, i) => {
    const base = `/capabilities/lifecycleSources/${i}`;
    if (!features.has(source.feature)) fail(`${base}/feature`, `unknown feature '${source.feature}' (declared: ${known(features)})`);
    if (!runbooks.has(source.runbook)) fail(`${base}/runbook`, `no runbook '${source.runbook}' in runbooks/`);
    source.owns.forEach((op, j) => {
      if (!operations[op]) fail(`${base}/owns/${j}`, `unknown operation '${op}'`);
    });
  });

  for (const [playbook, definition] of Object.entries(manifest.playbooks ?? {})) {
    const base = `/playbooks/${playbook}`;
    definition.steps.forEach((op, i) => {
      if (!operations[op]) fail(`${base}/steps/${i}`, `unknown operation '${op}' (declared: ${Object.keys(operations).join(', ')})`);
    });
    if (definition.verify) {
      const verify = operations[definition.verify];
      if (!verify) fail(`${base}/verify`, `unknown operation '${definition.verify}'`);
      else if (verify.access !== 'read') fail(`${base}/verify`, `'${definition.verify}' writes; verification must read`);
      if (!definition.expect) fail(`${base}/expect`, 'is required when verify is set');
    }
  }
}
