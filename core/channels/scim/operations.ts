/** The operations the scim channel carries out; the registry refuses a manifest routing anything else to it. */
export const scimOperations: ReadonlySet<string> = new Set(['getUser', 'listUsers', 'createUser', 'updateUser', 'deactivateUser', 'deleteUser']);
