import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Tables } from '../store/tables.js';
import { ScimRefusal } from './errors.js';

/** The attributes a Users filter may test with `eq`, as the bridge indexes them. */
export type FilterAttribute = 'userName' | 'externalId' | 'id' | 'email';

/** One `eq` comparison: `userName eq "alice@acme.com"`. */
export interface EqFilter {
  readonly attribute: FilterAttribute;
  readonly value: string;
}

// The spellings IdPs send for each attribute (RFC 7644 §3.4.2.2: attribute names are case-insensitive).
const attributes: Record<string, FilterAttribute> = {
  username: 'userName',
  externalid: 'externalId',
  id: 'id',
  'emails.value': 'email',
  'emails[type eq "work"].value': 'email',
  'emails[type eq work].value': 'email',
  emails: 'email',
  'urn:ietf:params:scim:schemas:core:2.0:user:username': 'userName',
  'urn:ietf:params:scim:schemas:core:2.0:user:externalid': 'externalId',
};

/**
 * Parses the filters identity providers send to find a user before provisioning: one `eq` on
 * `userName`, `externalId`, `id`, or a work email (`emails[type eq "work"].value`, `emails.value`).
 * The value is a JSON string (`"alice@acme.com"`, RFC 7644 §3.4.2.2) or, as Entra ID sometimes
 * sends, unquoted. Anything else (other operators, `and`/`or`, other attributes) throws a 400
 * ScimRefusal `invalidFilter` naming what was not understood: the bridge answers only what it can
 * answer exactly.
 */
export function parseFilter(text: string): EqFilter {
  const trimmed = text.trim();
  if (trimmed.length > 1000) throw new ScimRefusal(400, 'the filter is longer than 1000 characters', 'invalidFilter');
  // attribute path (may hold a bracketed value filter), the operator, the value.
  const match = /^([A-Za-z0-9:._-]+(?:\[[^\]]*\])?(?:\.[A-Za-z]+)?)\s+([A-Za-z]+)\s+(.+)$/.exec(trimmed);
  if (!match) throw new ScimRefusal(400, `filter ${JSON.stringify(trimmed)}: expected <attribute> eq <value>`, 'invalidFilter');
  const [, path, op, raw] = match as unknown as [string, string, string, string];
  if (op.toLowerCase() !== 'eq') throw new ScimRefusal(400, `filter ${JSON.stringify(trimmed)}: only the eq operator is supported (got ${op})`, 'invalidFilter');
  const attribute = attributes[path.toLowerCase().replace(/\[\s*type\s+eq\s+/i, '[type eq ').replace(/\s*\]/, ']')];
  if (!attribute) throw new ScimRefusal(400, `filter ${JSON.stringify(trimmed)}: filtering on ${path} is not supported (userName, externalId, id, emails[type eq "work"].value)`, 'invalidFilter');
  return { attribute, value: filterValue(raw.trim(), trimmed) };
}

function filterValue(raw: string, filter: string): string {
  if (raw.startsWith('"')) {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ScimRefusal(400, `filter ${JSON.stringify(filter)}: the value is not a well-formed quoted string`, 'invalidFilter');
    }
    if (typeof value !== 'string') throw new ScimRefusal(400, `filter ${JSON.stringify(filter)}: the value must be a string`, 'invalidFilter');
    return value;
  }
  // Entra ID's unquoted form: one token, no spaces or quotes.
  if (/^[^\s"()[\]]+$/.test(raw)) return raw;
  throw new ScimRefusal(400, `filter ${JSON.stringify(filter)}: the value must be one quoted string`, 'invalidFilter');
}

const fold = (s: string) => s.trim().toLowerCase();

/**
 * A parsed filter as a condition on the bridge's `scim_resources` rows, for the query layer (so it
 * reads the same on SQLite and PostgreSQL): userName and emails compare case-insensitively through
 * their folded columns (RFC 7643 §2.1: userName is caseExact false), id and externalId exactly. The
 * value is always a bound parameter, never SQL text.
 */
export function filterCondition(eb: ExpressionBuilder<Tables, 'scim_resources'>, filter: EqFilter): Expression<SqlBool> {
  switch (filter.attribute) {
    case 'userName':
      return eb('user_name_folded', '=', fold(filter.value));
    case 'email':
      return eb('email_folded', '=', fold(filter.value));
    case 'externalId':
      return eb('external_id', '=', filter.value);
    case 'id':
      return eb('id', '=', filter.value);
  }
}
