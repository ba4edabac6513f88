import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';

/** A user as the in-memory store keeps it: what SCIMMY's User schema accepted. */
export type StoredUser = Record<string, any> & { id: string; userName: string; active?: boolean };

/** The store the one declared User resource reads and writes; each server replaces it (SCIMMY's declarations are process-wide). */
let store = new Map<string, StoredUser>();
let declared = false;

function declareUsers(): void {
  if (declared) return;
  declared = true;
  SCIMMY.Config.set({ patch: true, filter: true, sort: false, bulk: false, etag: false, changePassword: false });
  SCIMMY.Resources.declare(SCIMMY.Resources.User)
    // As SCIMMY's documentation shows it: the filter's own matcher decides which users a filter selects.
    .egress((resource: any) => {
      const all = [...store.values()];
      if (resource.id) {
        const user = store.get(resource.id);
        if (!user) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${resource.id} not found`);
        return user;
      }
      return resource.filter ? resource.filter.match(all) : all;
    })
    .ingress((resource: any, instance: any) => {
      const id = resource.id ?? randomUUID();
      if (resource.id && !store.has(id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${id} not found`);
      const record = { ...JSON.parse(JSON.stringify(instance)), id } as StoredUser;
      delete record.meta;
      store.set(id, record);
      return record;
    })
    .degress((resource: any) => {
      if (!store.delete(resource.id)) throw new SCIMMY.Types.Error(404, null as unknown as string, `Resource ${resource.id} not found`);
    });
}

/**
 * A real third-party SCIM 2.0 server for tests: SCIMMY 1.3.5 (its User resource, schema and filter
 * matcher) mounted with scimmy-routers 1.3.2 on Express 4, on 127.0.0.1, with users in memory.
 * Its `userName eq` filter compares case-sensitively although its /Schemas says caseExact false.
 */
export class ScimmyServer {
  readonly users = new Map<string, StoredUser>();
  readonly log: string[] = [];
  private server: Server | undefined;

  constructor(private readonly token = 'scim-token') {}

  add(userName: string, extra: Record<string, unknown> = {}): StoredUser {
    const user: StoredUser = { id: randomUUID(), userName, active: true, emails: [{ value: userName, type: 'work', primary: true }], ...extra };
    this.users.set(user.id, user);
    return user;
  }

  async listen(): Promise<string> {
    declareUsers();
    const { default: express } = (await import('express' as string)) as { default: any };
    const app = express();
    app.use((req: { method: string; url: string }, _res: unknown, next: () => void) => {
      store = this.users;
      this.log.push(`${req.method} ${req.url}`);
      next();
    });
    app.use(
      '/scim/v2',
      new SCIMMYRouters({
        type: 'bearer',
        docUri: 'https://example.test/scim-auth',
        handler: (request: { header(name: string): string | undefined }) => {
          if (request.header('Authorization') !== `Bearer ${this.token}`) throw new Error('Authorization not detected!');
          return 'patchbay';
        },
      }) as never,
    );
    await new Promise<void>((resolve) => (this.server = app.listen(0, '127.0.0.1', resolve)));
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}/scim/v2`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server?.closeAllConnections?.();
      this.server ? this.server.close(() => resolve()) : resolve();
    });
  }
}
