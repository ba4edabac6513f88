import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { injectable } from '#inversify';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { InvalidInputError } from '../errors.js';
import { displayPath, packageRoot, schemasDir } from '../paths.js';
import { type SchemaKind, schemaKinds } from './kinds.js';
import { escapePointer } from './pointer.js';

export { type SchemaKind, schemaKinds } from './kinds.js';
export { escapePointer } from './pointer.js';

export const SchemaValidator = Symbol('SchemaValidator');
export interface SchemaValidator {
  /** Returns the data typed as T when it is valid; throws InvalidInputError naming the file and JSON pointer. */
  validate<T>(kind: SchemaKind, data: unknown, file?: string): T;
  /** Every place the data breaks its schema (empty when valid), each with its JSON pointer: for `validate` reporting all errors at once. */
  problems(kind: SchemaKind, data: unknown): { pointer: string; reason: string }[];
}

const schemaId = (kind: string) => `https://patchbay.dev/schemas/${kind}.schema.json`;

const require = createRequire(import.meta.url);

/** Where compiled validators are kept: inside the package's dist/ (never a shared folder: the file is code). */
export const schemaCacheDir = path.join(packageRoot, 'dist', '.schema-cache');

let digest: string | undefined;

/**
 * A digest of everything a compiled validator depends on: ajv's version and every schema file's
 * name and bytes (hex, 16 characters). Computed once per process.
 */
export function schemaDigest(): string {
  if (digest) return digest;
  const hash = createHash('sha256');
  hash.update(String((require('ajv/package.json') as { version: string }).version));
  for (const file of readdirSync(schemasDir).filter((f) => f.endsWith('.schema.json')).sort()) hash.update(file).update(readFileSync(path.join(schemasDir, file)));
  return (digest = hash.digest('hex').slice(0, 16));
}

/**
 * The validator of one schema kind compiled to standalone code (ajv's standalone mode), one file per
 * kind in a folder named by the schemas' digest: compiling every schema costs most of a command's
 * start, and loading all of them does too, so a command loads only the kinds it validates. A missing
 * or stale file is written afresh (atomically, for every kind at once); a folder that cannot be
 * written just means compiling in memory (undefined).
 */
function compiledValidator(kind: SchemaKind): ValidateFunction | undefined {
  const folder = path.join(schemaCacheDir, schemaDigest());
  const file = path.join(folder, `${kind}.cjs`);
  if (existsSync(file)) {
    try {
      const validate = (require(file) as { default?: unknown }).default;
      if (typeof validate === 'function') return validate as ValidateFunction;
      delete require.cache[file]; // Empty or not a validator: rewritten below, then loaded afresh.
    } catch {
      // A damaged cache file is rewritten below.
    }
  }
  try {
    writeCompiledValidators(folder);
    return (require(file) as { default: ValidateFunction }).default;
  } catch {
    return undefined;
  }
}

function writeCompiledValidators(folder: string): void {
  const ajv = compiler(false, true);
  const standalone = (require('ajv/dist/standalone/index.js') as { default: (ajv: Ajv2020, refs?: string | Record<string, string>) => string }).default;
  mkdirSync(folder, { recursive: true });
  for (const kind of schemaKinds) {
    // Runtime helpers by absolute path, so the module loads wherever the cache is.
    const code = standalone(ajv, { default: schemaId(kind) }).replace(/require\("([^"]+)"\)/g, (_, id: string) => `require(${JSON.stringify(require.resolve(id))})`);
    const temporary = path.join(folder, `${kind}.cjs.${process.pid}.tmp`);
    writeFileSync(temporary, code);
    renameSync(temporary, path.join(folder, `${kind}.cjs`));
  }
  // Validators of earlier schemas are never read again.
  for (const entry of readdirSync(schemaCacheDir)) if (entry !== path.basename(folder)) rmSync(path.join(schemaCacheDir, entry), { recursive: true, force: true });
}

/** Compiles the schemas into the cache now (run after the build), so that the first command starts fast. */
export function warmSchemaCache(): boolean {
  return schemaKinds.every((kind) => compiledValidator(kind) !== undefined);
}

/** Validates against the JSON Schemas in schemas/, compiled once (ajv, draft 2020-12, formats on) and cached as standalone code. */
@injectable()
export class AjvSchemaValidator implements SchemaValidator {
  private readonly validators = new Map<SchemaKind, ValidateFunction>();
  private ajv: Ajv2020 | undefined;
  private thorough: Ajv2020 | undefined;

  private validator(kind: SchemaKind): ValidateFunction {
    // Loaded (or without a cache compiled) on first use: a command that validates only manifests never loads the rest.
    let validate = this.validators.get(kind);
    if (!validate) {
      validate = compiledValidator(kind) ?? (this.ajv ??= compiler(false)).getSchema(schemaId(kind));
      if (!validate) throw new Error(`schema ${kind}.schema.json is missing from ${schemasDir}`);
      this.validators.set(kind, validate);
    }
    return validate;
  }

  problems(kind: SchemaKind, data: unknown): { pointer: string; reason: string }[] {
    const validate = (this.thorough ??= compiler(true)).getSchema(schemaId(kind))!;
    if (validate(data)) return [];
    const byPointer = new Map<string, ErrorObject[]>();
    // An object with a real error anywhere inside also reports its properties as "not allowed" (the failed
    // branch evaluated nothing): those echoes are dropped, at every level above the real error (a bad
    // source kind two levels down made its fact's confidence and checkedAt "not allowed").
    const broken = new Set<string>();
    for (const e of validate.errors ?? []) {
      if (e.keyword === 'if' || e.keyword === 'unevaluatedProperties') continue;
      for (let at = e.instancePath; at !== ''; at = at.replace(/\/[^/]*$/, '')) broken.add(at.replace(/\/[^/]*$/, ''));
    }
    for (const error of validate.errors ?? []) {
      if (error.keyword === 'if') continue;
      if (error.keyword === 'unevaluatedProperties' && broken.has(error.instancePath)) continue;
      const pointer = pointerOf(error);
      byPointer.set(pointer, [...(byPointer.get(pointer) ?? []), error]);
    }
    // One line per place, the deepest places only (a parent's anyOf failure repeats its child's).
    const pointers = [...byPointer.keys()].filter((p) => ![...byPointer.keys()].some((q) => q !== p && q.startsWith(`${p}/`)));
    return pointers.map((pointer) => describeSchemaErrors(byPointer.get(pointer)!));
  }

  validate<T>(kind: SchemaKind, data: unknown, file?: string): T {
    const validate = this.validator(kind);
    if (validate(data)) return data as T;
    const { pointer, reason } = describeSchemaErrors(validate.errors ?? []);
    throw new InvalidInputError({ file: file && displayPath(file), pointer }, reason);
  }
}

/**
 * A compiler with every schema added. Ajv itself (about ninety modules) is loaded only here: a
 * command whose validators come from the cache never loads more than ajv's small runtime helpers.
 */
function compiler(allErrors: boolean, source = false): Ajv2020 {
  const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  const addFormats = (require('ajv-formats') as typeof import('ajv-formats')).default;
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, allErrors, ...(source ? { code: { source: true } } : {}) });
  addFormats(ajv, ['email', 'uri', 'date', 'date-time']);
  for (const file of readdirSync(schemasDir).filter((f) => f.endsWith('.schema.json')).sort()) {
    ajv.addSchema(JSON.parse(readFileSync(path.join(schemasDir, file), 'utf8')));
  }
  return ajv;
}

/**
 * Turns ajv's errors into one pointer and one reason: the deepest place that failed, and for a
 * value that had alternatives, what each alternative wanted.
 */
export function describeSchemaErrors(errors: readonly ErrorObject[]): { pointer: string; reason: string } {
  const located = errors
    .filter((e) => e.keyword !== 'if')
    .map((e) => ({ error: e, pointer: pointerOf(e) }));
  if (located.length === 0) return { pointer: '', reason: 'does not match its schema' };
  const depth = (p: string) => (p === '' ? 0 : p.split('/').length);
  const deepest = Math.max(...located.map((l) => depth(l.pointer)));
  const here = located.filter((l) => depth(l.pointer) === deepest);
  const alternatives = here.filter((l) => l.error.keyword !== 'anyOf' && l.error.keyword !== 'oneOf');
  const reasons = [...new Set(alternatives.map((l) => reasonOf(l.error)))];
  const isChoice = here.some((l) => l.error.keyword === 'anyOf' || l.error.keyword === 'oneOf');
  const reason = isChoice && reasons.length > 1 ? `${reasons.join(', or ')}` : (reasons[0] ?? reasonOf(here[0]!.error));
  return { pointer: here[0]!.pointer, reason };
}

function pointerOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  const child =
    error.keyword === 'required'
      ? params.missingProperty
      : error.keyword === 'additionalProperties'
        ? params.additionalProperty
        : error.keyword === 'unevaluatedProperties'
          ? params.unevaluatedProperty
          : undefined;
  return child === undefined ? error.instancePath : `${error.instancePath}/${escapePointer(String(child))}`;
}

/**
 * The schemas' patterns that people meet most, said in words ("must start with /" rather than the
 * regular expression); any other pattern is quoted as it is.
 */
const patternInWords: Readonly<Record<string, string>> = {
  '^(/([^~/]|~[01])*)*$': 'must be a JSON Pointer: empty (the whole document) or starting with /, e.g. /data/0/id (~1 stands for /, ~0 for ~)',
  '^/': 'must start with /',
  '^https?://[^/?#\\s]+': 'must be an http:// or https:// address with a host',
  '^[1-5][0-9][0-9]$': 'must be an HTTP status code (100 to 599)',
  '^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$': "must say where the secret lives, never the secret itself: env:NAME (an environment variable) or file:PATH",
  '^[a-z0-9][a-z0-9-]*$': 'must be a lower-case identifier: letters, digits and dashes (remove-user)',
};

function reasonOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return 'is not allowed here';
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'format':
      return `must be a valid ${String(params.format)}`;
    case 'pattern':
      return patternInWords[String(params.pattern)] ?? `must match ${String(params.pattern)}`;
    case 'propertyNames':
      return `has an invalid property name '${String(params.propertyName)}'`;
    default:
      return error.message ?? `fails ${error.keyword}`;
  }
}
