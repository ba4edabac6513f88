import type { PatchbayServer } from '../../core/server/app.js';
import type { Database } from '../../core/store/database.js';

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
export const runsWithKey = (db: Database, prefix: string) =>
  db.prepare('SELECT id, idempotency_key AS key FROM runs WHERE idempotency_key LIKE ?').all(`${prefix}%`) as { id: string; key: string }[];
