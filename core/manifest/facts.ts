import type { Condition, ConnectorManifest, Provenance, Source } from '../schema/types/connector-manifest.js';
import { escapePointer } from '../schema/pointer.js';

/** A fact of the capability matrix: its value with provenance. */
export type Fact = Provenance & { value: unknown };

/** A fact and where it sits in the manifest, as a JSON pointer (/capabilities/sso/jit). */
export interface LocatedFact {
  readonly pointer: string;
  readonly fact: Fact;
}

export type { Condition, Provenance, Source };

/** Every fact in a manifest, in document order: the automation headline, then the capabilities. */
export function* factsOf(manifest: ConnectorManifest): Generator<LocatedFact> {
  yield { pointer: '/automation', fact: manifest.automation as Fact };
  yield* walk(manifest.capabilities, '/capabilities');
}

function* walk(node: unknown, pointer: string): Generator<LocatedFact> {
  if (isFact(node)) {
    yield { pointer, fact: node };
    return;
  }
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* walk(item, `${pointer}/${i}`);
  } else if (node && typeof node === 'object') {
    for (const [key, child] of Object.entries(node)) yield* walk(child, `${pointer}/${escapePointer(key)}`);
  }
}

export function isFact(node: unknown): node is Fact {
  return !!node && typeof node === 'object' && !Array.isArray(node) && 'confidence' in node && 'value' in node;
}

/** The fact at a pointer under /capabilities, or undefined when the manifest does not state it. */
export function factAt(manifest: ConnectorManifest, pointer: string): Fact | undefined {
  let node: unknown = manifest;
  for (const token of pointer.split('/').slice(1)) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[token.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return isFact(node) ? node : undefined;
}

/** A fact's value as people read it: lists joined, limits spelled out. */
export function describeValue(value: unknown): string {
  if (value === 'unknown') return 'unknown';
  if (value === 'supported') return 'yes';
  if (value === 'notSupported') return 'no';
  if (Array.isArray(value)) {
    if (value.length === 0) return 'none';
    return value.map((item) => (typeof item === 'object' && item ? describeItem(item as Record<string, unknown>) : String(item))).join(', ');
  }
  return String(value);
}

function describeItem(item: Record<string, unknown>): string {
  if (typeof item.requests === 'number' && typeof item.perSeconds === 'number') {
    const per = item.perSeconds === 60 ? 'min' : item.perSeconds === 1 ? 's' : `${item.perSeconds} s`;
    return `${item.requests}/${per} per ${String(item.scope)}${item.appliesTo ? ` (${String(item.appliesTo)})` : ''}`;
  }
  if (typeof item.name === 'string') return item.name;
  if (typeof item.field === 'string') return item.field;
  return JSON.stringify(item);
}
