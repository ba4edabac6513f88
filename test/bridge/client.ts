import type { PatchbayServer } from '../../core/server/app.js';
import type { StoreDatabase } from '../../core/store/sql.js';

/** One SCIM answer: status, parsed body (undefined when empty), headers. */
export interface ScimAnswer {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

/** A SCIM client as an IdP is one: a bearer token, application/scim+json, paths under one app's base. */
export class ScimClient {
  constructor(
    private readonly server: PatchbayServer,
    readonly app: string,
    private readonly token: string,
  ) {}

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ScimAnswer> {
    const response = await fetch(`${this.server.url}/scim/v2/${this.app}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, accept: 'application/scim+json', ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  get = (path: string) => this.request('GET', path);
  post = (path: string, body: unknown) => this.request('POST', path, body);
  put = (path: string, body: unknown) => this.request('PUT', path, body);
  patch = (path: string, body: unknown) => this.request('PATCH', path, body);
  delete = (path: string) => this.request('DELETE', path);
  filter = (filter: string) => this.get(`/Users?filter=${encodeURIComponent(filter)}`);
}

export const userSchema = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const patchbaySchema = 'urn:ietf:params:scim:schemas:extension:patchbay:2.0:User';
export const patchOp = (...Operations: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations });

/** A User as an IdP creates it. */
export const newUser = (email: string, givenName: string, familyName: string, more: Record<string, unknown> = {}) => ({
  schemas: [userSchema],
  userName: email,
  name: { givenName, familyName },
  emails: [{ primary: true, value: email, type: 'work' }],
  displayName: `${givenName} ${familyName}`,
  active: true,
  ...more,
});

/** The runs the store holds, by idempotency key prefix. */
export const runsWithKey = async (store: StoreDatabase, prefix: string): Promise<{ id: string; key: string }[]> => {
  // A key range rather than LIKE: exact on both databases whatever the prefix holds (the prefix's last character bumped by one).
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const rows = await store.db.selectFrom('runs').select(['id', 'idempotency_key']).where('idempotency_key', '>=', prefix).where('idempotency_key', '<', end).orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, key: r.idempotency_key }));
};
