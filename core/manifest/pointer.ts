// JSON Pointer (RFC 6901), read side: kept apart so that planning reads settings without loading the HTTP client.

/** One RFC 6901 reference token unescaped (~1 is /, ~0 is ~). */
export const unescapePointerToken = (token: string): string => token.replace(/~1/g, '/').replace(/~0/g, '~');

/** The value at an RFC 6901 pointer ("" is the document itself), or undefined when a step is missing. */
export function getPointer(document: unknown, pointer: string): unknown {
  if (pointer === '') return document;
  let node = document;
  for (const token of pointer.slice(1).split('/').map(unescapePointerToken)) {
    if (Array.isArray(node)) node = /^(0|[1-9][0-9]*)$/.test(token) ? node[Number(token)] : undefined;
    else if (node && typeof node === 'object') node = (node as Record<string, unknown>)[token];
    else return undefined;
  }
  return node;
}
