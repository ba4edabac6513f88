/** The operations the scim channel carries out; the registry refuses a manifest routing anything else to it. */
export const scimOperations: ReadonlySet<string> = new Set(['getUser', 'listUsers', 'createUser', 'updateUser', 'deactivateUser', 'deleteUser']);

/**
 * What the scim channel sends for each operation and what counts as done (RFC 7644 paths under the
 * app's SCIM base URL), for the docs: the same for every SCIM connector, because the channel, not
 * the manifest, carries it out (core/channels/scim/client.ts). Every write reads the user first.
 */
export const scimCalls: Readonly<Record<string, { readonly method: string; readonly path: string; readonly doneWhen: string }>> = {
  listUsers: { method: 'GET', path: '/Users?startIndex&count', doneWhen: 'every page (scim), to totalResults' },
  getUser: { method: 'GET', path: '/Users/{id}, /Users?filter=userName eq', doneWhen: 'found; absent only by id (404) or a complete list' },
  createUser: { method: 'POST', path: '/Users', doneWhen: '201 done; already done when the user is found first' },
  updateUser: { method: 'PUT', path: '/Users/{id}', doneWhen: '2xx done; every schema and extension kept' },
  deactivateUser: { method: 'PATCH', path: '/Users/{id}', doneWhen: 'active=false (PUT where PATCH is not supported); already done when active is false' },
  deleteUser: { method: 'DELETE', path: '/Users/{id}', doneWhen: '2xx done; already done when the user is proven absent or DELETE answers 404' },
};
