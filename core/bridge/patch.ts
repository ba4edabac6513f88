import { ScimRefusal } from './errors.js';

/** A SCIM User's attributes as the bridge keeps them: everything but `id`, `meta` and `schemas`. */
export type UserAttributes = Record<string, unknown>;

export const userSchema = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const enterpriseSchema = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const patchOpSchema = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

type Op = 'add' | 'replace' | 'remove';

/** One path, resolved: the attribute (under an extension schema if named), an optional `[type eq "x"]` selector and sub-attribute. */
interface Path {
  readonly schema?: string;
  readonly attribute: string;
  readonly selector?: { readonly attribute: string; readonly value: string };
  readonly sub?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `"True"`/`"False"` (Entra ID sends booleans as strings in PATCH values) read as booleans for
 * `active`; anything else but a boolean there is an invalidValue.
 */
export function activeValue(value: unknown, where: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  throw new ScimRefusal(400, `${where}: active must be true or false (got ${JSON.stringify(value)})`, 'invalidValue');
}

function parsePath(text: string, where: string): Path {
  let rest = text.trim();
  let schema: string | undefined;
  const urn = /^(urn:[A-Za-z0-9:._-]+:User):(.+)$/i.exec(rest);
  if (urn) {
    schema = urn[1]!.toLowerCase() === userSchema.toLowerCase() ? undefined : urn[1]!;
    rest = urn[2]!;
  }
  const m = /^([A-Za-z][\w$-]*)(?:\[\s*([A-Za-z]+)\s+eq\s+("(?:[^"\\]|\\.)*"|[^\s\]]+)\s*\])?(?:\.([A-Za-z][\w$-]*))?$/i.exec(rest);
  if (!m) throw new ScimRefusal(400, `${where}: the path ${JSON.stringify(text)} is not one the bridge understands (attribute, attribute.sub, or attribute[type eq "x"].sub)`, 'invalidPath');
  const selectorValue = m[3] === undefined ? undefined : m[3].startsWith('"') ? (JSON.parse(m[3]) as string) : m[3];
  return { ...(schema ? { schema } : {}), attribute: m[1]!, ...(m[2] ? { selector: { attribute: m[2], value: selectorValue! } } : {}), ...(m[4] ? { sub: m[4] } : {}) };
}

/** The key in `obj` matching `name` case-insensitively (RFC 7643 §2.1), or `name` when none does. */
function keyOf(obj: Record<string, unknown>, name: string): string {
  return Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

function container(user: UserAttributes, path: Path, create: boolean): Record<string, unknown> | undefined {
  if (!path.schema) return user;
  const key = keyOf(user, path.schema);
  if (!isObject(user[key])) {
    if (!create) return undefined;
    user[key] = {};
  }
  return user[key] as Record<string, unknown>;
}

function normalise(attribute: string, value: unknown, where: string): unknown {
  return attribute.toLowerCase() === 'active' ? activeValue(value, where) : value;
}

function setPath(user: UserAttributes, path: Path, value: unknown, op: Op, where: string): void {
  const target = container(user, path, true)!;
  const key = keyOf(target, path.attribute);
  if (path.selector) {
    // A multi-valued attribute's member chosen by a value filter, created when missing (Entra's add of emails[type eq "work"].value).
    const list = Array.isArray(target[key]) ? (target[key] as unknown[]) : [];
    target[key] = list;
    let member = list.find((m) => isObject(m) && String(m[keyOf(m, path.selector!.attribute)]).toLowerCase() === path.selector!.value.toLowerCase()) as Record<string, unknown> | undefined;
    if (!member) {
      member = { [path.selector.attribute]: path.selector.value };
      if (list.length === 0 && path.attribute.toLowerCase() === 'emails') member.primary = true;
      list.push(member);
    }
    if (path.sub) member[keyOf(member, path.sub)] = value;
    else if (isObject(value)) Object.assign(member, value);
    else throw new ScimRefusal(400, `${where}: a value for ${path.attribute}[…] must be an object`, 'invalidValue');
    return;
  }
  if (path.sub) {
    if (!isObject(target[key])) target[key] = {};
    (target[key] as Record<string, unknown>)[keyOf(target[key] as Record<string, unknown>, path.sub)] = value;
    return;
  }
  if (op === 'add' && Array.isArray(target[key]) && Array.isArray(value)) target[key] = [...(target[key] as unknown[]), ...value];
  else if (op === 'add' && isObject(target[key]) && isObject(value)) target[key] = { ...(target[key] as object), ...value };
  else target[key] = normalise(path.attribute, value, where);
}

function removePath(user: UserAttributes, path: Path): void {
  const target = container(user, path, false);
  if (!target) return;
  const key = keyOf(target, path.attribute);
  if (path.selector) {
    const list = Array.isArray(target[key]) ? (target[key] as unknown[]) : [];
    const matches = (m: unknown) => isObject(m) && String(m[keyOf(m, path.selector!.attribute)]).toLowerCase() === path.selector!.value.toLowerCase();
    if (path.sub) for (const m of list.filter(matches)) delete (m as Record<string, unknown>)[keyOf(m as Record<string, unknown>, path.sub)];
    else target[key] = list.filter((m) => !matches(m));
    return;
  }
  if (path.sub && isObject(target[key])) delete (target[key] as Record<string, unknown>)[keyOf(target[key] as Record<string, unknown>, path.sub)];
  else if (!path.sub) delete target[key];
}

const readOnly = new Set(['id', 'meta', 'schemas']);

/**
 * Applies an RFC 7644 §3.5.2 PatchOp to a copy of `user` and returns it. Accepts what identity
 * providers send besides the RFC's own form: Entra ID's capitalised `op` (`Replace`, `Add`),
 * `"True"`/`"False"` for `active`, a `value` object without `path` whose keys may themselves be
 * paths (`name.givenName`, `urn:…:enterprise:2.0:User:department`), and value-filtered paths
 * (`emails[type eq "work"].value`). Throws a 400 ScimRefusal (invalidSyntax, invalidPath,
 * invalidValue, mutability) naming the operation (`Operations/2`) that was refused; nothing is
 * applied then.
 */
export function applyPatch(user: UserAttributes, body: unknown): UserAttributes {
  if (!isObject(body)) throw new ScimRefusal(400, 'a PATCH body must be a PatchOp object', 'invalidSyntax');
  const ops = body[keyOf(body, 'Operations')];
  if (!Array.isArray(ops) || ops.length === 0) throw new ScimRefusal(400, 'a PatchOp needs a non-empty Operations list', 'invalidSyntax');
  if (ops.length > 1000) throw new ScimRefusal(400, 'a PatchOp may hold at most 1000 operations', 'tooMany');
  const next = structuredClone(user);
  ops.forEach((raw, i) => {
    const where = `Operations/${i}`;
    if (!isObject(raw)) throw new ScimRefusal(400, `${where}: an operation must be an object`, 'invalidSyntax');
    const op = String(raw[keyOf(raw, 'op')] ?? '').toLowerCase() as Op;
    if (!['add', 'replace', 'remove'].includes(op)) throw new ScimRefusal(400, `${where}: op must be add, replace or remove (got ${JSON.stringify(raw[keyOf(raw, 'op')] ?? null)})`, 'invalidSyntax');
    const pathText = raw[keyOf(raw, 'path')];
    const value = raw[keyOf(raw, 'value')];
    if (pathText !== undefined && typeof pathText !== 'string') throw new ScimRefusal(400, `${where}: path must be a string`, 'invalidPath');
    if (op === 'remove') {
      if (!pathText) throw new ScimRefusal(400, `${where}: remove needs a path`, 'noTarget');
      const path = parsePath(pathText, where);
      if (readOnly.has(path.attribute.toLowerCase()) || path.attribute.toLowerCase() === 'username') throw new ScimRefusal(400, `${where}: ${path.attribute} cannot be removed`, 'mutability');
      removePath(next, path);
      return;
    }
    if (value === undefined) throw new ScimRefusal(400, `${where}: ${op} needs a value`, 'invalidValue');
    if (pathText) {
      const path = parsePath(pathText, where);
      if (readOnly.has(path.attribute.toLowerCase()) && !path.schema) throw new ScimRefusal(400, `${where}: ${path.attribute} is read-only`, 'mutability');
      setPath(next, path, value, op, where);
      return;
    }
    // No path: the value's keys are attributes, or paths themselves (Entra ID).
    if (!isObject(value)) throw new ScimRefusal(400, `${where}: without a path the value must be an object of attributes`, 'invalidValue');
    for (const [name, v] of Object.entries(value)) {
      if (readOnly.has(name.toLowerCase())) continue;
      const isExtension = /^urn:/i.test(name) && !/:User:/i.test(name);
      if (isExtension && isObject(v)) {
        const key = keyOf(next, name);
        next[key] = { ...(isObject(next[key]) ? (next[key] as object) : {}), ...v };
        continue;
      }
      setPath(next, parsePath(name, where), v, op, where);
    }
  });
  return next;
}
