/**
 * SCIM values as servers really send them. RFC 7643 §2.3.2 says a boolean is JSON `true` or
 * `false`, but servers that store what an IdP sent answer `"False"` or `"false"` (Microsoft Entra
 * sends strings in PATCH values: scimmyjs/scimmy#51, bytebase/bytebase#19073), and some send `0`/`1`
 * (Snipe-IT before grokability/snipe-it#13948). Read each as the boolean it means.
 */
const truthy = new Set(['true', '1', 'yes', 'y', 'on', 't']);
const falsy = new Set(['false', '0', 'no', 'n', 'off', 'f']);

/** A SCIM boolean as sent: true/false, "True"/"false" (any case, trimmed), 1/0, "1"/"0". Undefined when it is none of these. */
export function scimBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (truthy.has(word)) return true;
    if (falsy.has(word)) return false;
  }
  return undefined;
}

/**
 * Whether a SCIM user is active. `active` absent means active (RFC 7643 §4.1.1 leaves it to the
 * server; every server we know treats a missing value as active). A value that is no boolean is
 * read as active too: an offboarding must never take "maybe" for "already inactive".
 */
export function isActive(value: unknown): boolean {
  return scimBoolean(value) !== false;
}
