import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ContainerModule } from '#inversify';
import { type VendorStandIn, runModuleConformance } from '../../core/conformance/module-kit.js';
import { createServices } from '../../core/container.js';
import { ConnectorApi, type OperationResult } from '../../core/registry/connector-api.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import { runCli, scratchDir } from '../support/fixtures.js';

/*
 * The module conformance kit in core, on a connector module written here (Pinboard, a made-up app
 * whose user API pages by ?page=N, 100 a page) against a stand-in written here: a module that
 * does it right passes every check; one that reads only the first page and says "done" to a second
 * deactivation fails exactly those checks, saying what it saw.
 */
const checkedAt = '2026-11-29';
const doc = (says: string) => ({ confidence: 'documented', checkedAt, sources: [{ url: 'https://developer.pinboard.example.com/users', title: 'Pinboard API: users', kind: 'vendor', says, readAt: checkedAt }] });
const unknown = { value: 'unknown', confidence: 'unknown', checkedAt };

function catalogue(): string {
  const dir = scratchDir('patchbay-module-kit-');
  const manifest = {
    schemaVersion: 2,
    id: 'pinboard',
    name: 'Pinboard',
    kind: 'app',
    reviewedAt: checkedAt,
    automation: { value: 'api', headline: 'User API: list, read and deactivate', ...doc('Users can be listed, read and deactivated.') },
    capabilities: {
      auth: { method: { value: 'bearer-token', ...doc('Bearer token.') } },
      userApi: { read: { value: 'supported', ...doc('GET /users.') }, write: { value: 'supported', ...doc('POST /users/{email}/deactivate.') } },
      scim: { available: { value: 'notSupported', ...doc('No SCIM.') } },
      sso: { protocols: unknown, jit: unknown },
      webhooks: { available: unknown },
      pagination: { method: { value: 'page', ...doc('?page=N, 100 a page.') } },
      rateLimits: { limits: unknown },
      entitlements: { roles: unknown },
      bulkImport: { available: unknown },
    },
    operations: {
      listUsers: { title: 'List users', access: 'read', channels: [{ channel: 'api' }] },
      getUser: { title: 'Read the user', access: 'read', channels: [{ channel: 'api' }] },
      deactivateUser: { title: 'Deactivate the user', access: 'write', channels: [{ channel: 'api' }] },
    },
    playbooks: { offboard: { idp: 'none', steps: ['deactivateUser'], verify: 'getUser', expect: 'inactive' } },
  };
  mkdirSync(path.join(dir, 'pinboard'), { recursive: true });
  writeFileSync(path.join(dir, 'pinboard', 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** Pinboard's API as its (made-up) docs describe it, on 127.0.0.1. */
class PinboardStandIn implements VendorStandIn {
  url = '';
  private readonly users = new Map<string, boolean>();
  private throttle: number | undefined;
  private server: Server | undefined;

  seed(emails: readonly string[]): void {
    this.users.clear();
    for (const email of emails) this.users.set(email, true);
  }
  rateLimitNext(seconds: number): void {
    this.throttle = seconds;
  }
  isActive(email: string): boolean | undefined {
    return this.users.get(email);
  }
  async listen(): Promise<this> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      if (req.headers.authorization !== 'Bearer pinboard-token') return send(401, { error: 'unauthorized' });
      if (this.throttle !== undefined) {
        const seconds = this.throttle;
        this.throttle = undefined;
        return send(429, { error: 'slow down' }, { 'retry-after': String(seconds) });
      }
      if (req.method === 'GET' && url.pathname === '/users') {
        const page = Number(url.searchParams.get('page') ?? 1);
        const all = [...this.users].map(([email, active]) => ({ email, active }));
        const items = all.slice((page - 1) * 100, page * 100);
        return send(200, { users: items, next: page * 100 < all.length ? page + 1 : null });
      }
      const match = /^\/users\/([^/]+)(\/deactivate)?$/.exec(url.pathname);
      const email = match && decodeURIComponent(match[1]!);
      if (!email || !this.users.has(email)) return send(404, { error: 'no such user' });
      if (req.method === 'GET' && !match![2]) return send(200, { email, active: this.users.get(email) });
      if (req.method === 'POST' && match![2]) {
        const changed = this.users.get(email) === true;
        this.users.set(email, false);
        return send(200, { email, changed });
      }
      return send(405, { error: 'method not allowed' });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

/** A Pinboard module; `careless` reads only the first page and calls every deactivation done. */
function pinboardApi(careless: boolean): ConnectorApi {
  const call = async (input: { settings: { baseUrl?: string; secrets?: Record<string, string> }; secrets: { resolve(ref: string): string } }, pathname: string, method = 'GET') => {
    for (;;) {
      const response = await fetch(`${input.settings.baseUrl}${pathname}`, { method, headers: { authorization: `Bearer ${input.secrets.resolve(input.settings.secrets!.token!)}` } });
      if (response.status === 429) {
        await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get('retry-after')) * 1000));
        continue;
      }
      return { status: response.status, body: (await response.json()) as any };
    }
  };
  return {
    connector: 'pinboard',
    requiredSecrets: ['token'],
    requiredSettings: ['baseUrl'],
    operations: {
      listUsers: async (input): Promise<OperationResult> => {
        const accounts = [];
        for (let page: number | null = 1; page; ) {
          const { body } = await call(input, `/users?page=${page}`);
          accounts.push(...body.users.map((u: { email: string; active: boolean }) => ({ id: u.email, email: u.email, active: u.active })));
          page = careless ? null : body.next;
        }
        return { outcome: 'done', evidence: `${accounts.length} users`, accounts };
      },
      getUser: async (input): Promise<OperationResult> => {
        const { status, body } = await call(input, `/users/${encodeURIComponent(input.subject.email)}`);
        return status === 404 ? { outcome: 'notFound', evidence: 'no such user' } : { outcome: 'done', evidence: `${body.email} ${body.active ? 'active' : 'inactive'}` };
      },
      deactivateUser: async (input): Promise<OperationResult> => {
        const { status, body } = await call(input, `/users/${encodeURIComponent(input.subject.email)}/deactivate`, 'POST');
        if (status === 404) return { outcome: 'notFound', evidence: 'no such user' };
        return { outcome: body.changed || careless ? 'done' : 'alreadyDone', evidence: `${body.email} deactivated` };
      },
    },
  };
}

const dir = catalogue();
const subject = (careless: boolean) => {
  const services = createServices({ connectorsDir: dir, modules: [new ContainerModule(({ bind }) => void bind(ConnectorApi).toConstantValue(pinboardApi(careless)))] });
  assert.deepEqual(services.registry.broken(), []);
  return {
    connector: services.registry.get('pinboard'),
    api: services.registry.api('pinboard'),
    implemented: services.registry.implemented('pinboard'),
    standIn: () => new PinboardStandIn().listen(),
    settings: (s: VendorStandIn) => ({ baseUrl: s.url, secrets: { token: 'env:PINBOARD_TOKEN' } }),
    secrets: new EnvironmentSecretResolver({ PINBOARD_TOKEN: 'pinboard-token' }),
  };
};

describe('the module conformance kit (core/conformance/module-kit.ts)', () => {
  it('a module that pages to the end, obeys Retry-After and says "already done" passes every check', async () => {
    const checks = await runModuleConformance(subject(false));
    assert.deepEqual(checks.map((c) => [c.check, c.status]), [
      ['wiring: every operation routed to api or scim is carried out', 'pass'],
      ['paging: listUsers reads every account across all pages', 'pass'],
      ['rate limits: getUser waits out a 429, then succeeds', 'pass'],
      ['deactivateUser: done once, already done the second time', 'pass'],
    ]);
  });

  it('a module that reads one page and calls a second deactivation done fails those two checks, saying what it saw', async () => {
    const checks = await runModuleConformance(subject(true));
    const byName = new Map(checks.map((c) => [c.check.split(':')[0], c]));
    assert.equal(byName.get('paging')!.status, 'fail');
    assert.equal(byName.get('paging')!.detail, 'read 100 accounts (100 distinct) of 523');
    assert.equal(byName.get('deactivateUser')!.status, 'fail');
    assert.match(byName.get('deactivateUser')!.detail, /^the second deactivation ended done/);
    assert.equal(byName.get('rate limits')!.status, 'pass');
  });

  it('without a stand-in, only the wiring is checked and the rest is said to need one', async () => {
    const { standIn: _standIn, settings: _settings, ...rest } = subject(false);
    const checks = await runModuleConformance(rest);
    assert.deepEqual(checks.map((c) => c.status), ['pass', 'skip', 'skip', 'skip']);
    assert.match(checks[1]!.detail, /needs a stand-in of Pinboard's API/);
  });

  it('patchbay conformance on a module connector checks its wiring, and refuses --against with one line', () => {
    // The shipped catalogue's modules: whichever connector has an API module and no declared calls.
    const services = createServices();
    const module = services.registry.list().find((c) => services.registry.implemented(c.manifest.id).size > 0 && !Object.values(c.manifest.operations).some((op) => op.channels.some((r) => r.channel === 'api' && r.call)))!;
    const id = module.manifest.id;
    const result = runCli(['conformance', id, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { against: string; passed: boolean; checks: { check: string; status: string }[] };
    assert.equal(report.against, 'none');
    assert.equal(report.checks[0]!.status, 'pass');
    assert.ok(report.checks.slice(1).every((c) => c.status === 'skip'));
    const refused = runCli(['conformance', id, '--against', 'http://127.0.0.1:9']);
    assert.equal(refused.status, 2);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    assert.match(refused.stderr, /--against checks declared calls only/);
  });
});
