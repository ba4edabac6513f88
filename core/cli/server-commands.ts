import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { BrowserHost } from '../channels/browser/browser-host.js';
import { InvalidInputError } from '../errors.js';
import { reconcile } from '../reconcile/findings.js';
import { displayPath, packageRoot } from '../paths.js';
import { redactUrl } from '../store/location.js';
import { AccessStore, type Role, type TokenInfo, type TokenScope, tokenScopes } from '../server/access.js';
import type { startServer as StartServer } from '../server/app.js';
import type { CliContext } from './run-commands.js';

const roles: readonly Role[] = ['operator', 'admin'];
const role = (value: string | undefined): Role => {
  if (!value || !roles.includes(value as Role)) throw new InvalidInputError({ file: 'command line', pointer: '/role' }, `--role must be operator or admin (got ${value ?? 'nothing'})`);
  return value as Role;
};
const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidInputError({ file: 'command line', pointer: '/port' }, `--port must be a port number (got ${value})`);
  return n;
};

/** A lifetime such as 90d, 12h or 30m, in ms (at most 3 years). */
export const lifetime = (value: string): number => {
  const match = /^(\d{1,5})([dhm])$/.exec(value.trim());
  const ms = match ? Number(match[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as 'd' | 'h' | 'm'] : Number.NaN;
  if (!(ms > 0) || ms > 3 * 365 * 86_400_000) throw new InvalidInputError({ file: 'command line', pointer: '/expires-in' }, `--expires-in must be a lifetime such as 90d, 12h or 30m, at most 3 years (got ${value})`);
  return ms;
};
const scopesOf = (value: string | undefined): TokenScope[] | undefined => {
  if (value === undefined) return undefined;
  const scopes = value.split(/[\s,]+/).filter(Boolean);
  const unknown = scopes.filter((s) => !tokenScopes.includes(s as TokenScope));
  if (unknown.length || !scopes.length) throw new InvalidInputError({ file: 'command line', pointer: '/scopes' }, `--scopes takes a comma-separated list of ${tokenScopes.join(', ')} (got ${value})`);
  return scopes as TokenScope[];
};
/** Where the server is reached: http(s) only; https means Secure cookies. */
const publicUrl = (value: string): URL => {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new InvalidInputError({ file: 'command line', pointer: '/public-url' }, `--public-url must be an http or https address (got ${value})`);
  return url;
};
const day = (ms: number | null) => (ms ? new Date(ms).toISOString().slice(0, 16).replace('T', ' ') : 'never');
const tokenLine = (t: TokenInfo, now: number) =>
  `${t.id}  ${t.name}  as ${t.actor} (${t.role})  scopes ${t.scopes.join(',')}  last used ${day(t.lastUsedAt)}  ${
    t.revokedAt ? 'REVOKED' : t.expiresAt !== null && t.expiresAt <= now ? 'EXPIRED' : `expires ${day(t.expiresAt)}`
  }${t.rotatedFrom ? `  (rotated from ${t.rotatedFrom})` : ''}`;

/** The server (fastify and every route) and the readers, loaded by the commands that start them: `patchbay --help` and `plan` do not. */
const startServer: typeof StartServer = async (...args) => (await import('../server/app.js')).startServer(...args);
const readers = () => import('../reconcile/readers.js');
/** The demo's Okta export (Alice no longer assigned): the IdP side of the demo's reconciliations. */
const demoIdpExport = path.join(packageRoot, 'test', 'fixtures', 'spendesk-console', 'okta-assignments.csv');

/** Waits for Ctrl-C or a stop signal; resolves with the signal's name. */
const untilStopped = () => new Promise<NodeJS.Signals>((resolve) => {
  process.once('SIGINT', () => resolve('SIGINT'));
  process.once('SIGTERM', () => resolve('SIGTERM'));
});

/**
 * The key that signs the pages' one-time form tokens, shared by every server behind one load balancer
 * (PATCHBAY_FORM_KEY: at least 32 bytes, as base64 or text); without it each server makes its own, and
 * a form served by one is refused by another.
 */
const formKey = (): Buffer | undefined => {
  const value = process.env.PATCHBAY_FORM_KEY;
  if (!value) return undefined;
  const decoded = /^[A-Za-z0-9+/]{43,}={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.from(value, 'utf8');
  return decoded;
};

/**
 * Why a token for `actor` would list no task (its person is in no queue of the tenant, and it may
 * not read every queue), in one sentence with what to do; undefined when it sees some queue's tasks.
 */
export function queueBlindness(loaded: { profile: { tenant: string; queues?: readonly { id: string; members: readonly string[] }[] }; file?: string }, actor: string, tokenRole: Role, scopes: readonly string[] | undefined): string | undefined {
  const effective = scopes ?? (tokenRole === 'admin' ? ['tasks:read', 'tasks:all-queues'] : ['tasks:read']);
  if (!effective.includes('tasks:read') || effective.includes('tasks:all-queues')) return undefined;
  const me = actor.toLowerCase();
  if ((loaded.profile.queues ?? []).some((q) => q.members.some((m) => m.toLowerCase() === me))) return undefined;
  return `${actor} is in no queue of tenant ${loaded.profile.tenant}, so GET /api/v1/tasks refuses this token (403) while no task is assigned to ${actor}; add them with patchbay queue add <queue> ${actor} --profile <file>, or give the token the tasks:all-queues scope (--role admin, or --scopes …,tasks:all-queues)`;
}

/** serve, token, operator and demo: the operator surfaces. */
export function registerServerCommands(
  program: Command,
  cli: CliContext & {
    version: string;
    profile: (file?: string) => ReturnType<ReturnType<CliContext['services']>['profiles']['load']>;
    /** The data folder the user asked for, if any (the demo starts from a fresh one otherwise). */
    chosenDataDir: () => string | undefined;
    runtimeAt: (dataDir: string) => ReturnType<CliContext['runtime']>;
  },
): void {
  program
    .command('serve')
    .description('serve the HTTP API and the task inbox pages on the embedded store (127.0.0.1:8080 unless told otherwise)')
    .option('--host <host>', 'address to bind (0.0.0.0 exposes it to the network: put TLS in front)', '127.0.0.1')
    .option('--port <port>', 'port to listen on', '8080')
    .option('--profile <file>', 'the tenant profile the server takes requests for (default: the embedded demo tenant)')
    .option('--behind-https', 'the server is reached over HTTPS (a TLS proxy in front): Secure cookies and HSTS')
    .option('--public-url <url>', 'the address people reach the server at; https:// implies --behind-https')
    .option('--trust-proxy <addresses>', "trust X-Forwarded-For from these proxies (comma-separated addresses or CIDRs): sign-in limits then count the client's address")
    .option('--idp-from <file>', "the IdP's side of \"Reconcile now\" on /reconcile from this export (CSV or xlsx), for a tenant whose IdP has no API address")
    .action(async (options: { host: string; port: string; profile?: string; behindHttps?: boolean; publicUrl?: string; trustProxy?: string; idpFrom?: string }) => {
      const url = options.publicUrl ? publicUrl(options.publicUrl) : undefined;
      const services = cli.services();
      const loaded = cli.profile(options.profile);
      const log = services.logger.child({ tenant: loaded.profile.tenant });
      const databaseUrl = cli.databaseUrl();
      // Where the store is, never with its password (redactUrl), and which engine: the first thing to check when a server misbehaves.
      const where = { engine: cli.engine(), databaseKind: databaseUrl ? 'postgres' : 'sqlite', ...(databaseUrl ? { database: redactUrl(databaseUrl) } : {}) };
      log.info({ ...where, version: cli.version }, 'patchbay serve: starting');
      const runtime = (await cli.runtime());
      const server = await startServer({
        services,
        runtime,
        profile: loaded,
        host: options.host,
        port: port(options.port),
        version: cli.version,
        behindHttps: options.behindHttps === true || url?.protocol === 'https:',
        ...(options.trustProxy ? { trustProxy: options.trustProxy } : {}),
        ...(formKey() ? { formKey: formKey() } : {}),
        ...(options.idpFrom ? { reconcileIdpFrom: path.resolve(options.idpFrom) } : {}),
      });
      log.info({ ...where, database: runtime.store.location, address: server.url }, `patchbay serve: ready on ${server.url}`);
      cli.print(`Patchbay on ${server.url}: the inbox at ${server.url}/inbox, the API at ${server.url}/api/v1 (OpenAPI: ${server.url}/api/v1/openapi.json). Ctrl-C stops it.`);
      // On DBOS a server starts, signals and reads runs; the workers on the same database execute them.
      if (cli.engine() === 'dbos') cli.print('Engine dbos: runs are executed by the patchbay worker processes on this database (start at least one).');
      const signal = await untilStopped();
      const stopping = Date.now();
      log.info({ signal }, 'patchbay serve: stopping: /readyz answers 503, the runs driven here are handed over after their step in flight, then requests in flight finish (2 s at most)');
      // While the runs this server drives finish their step in flight and go to another process (as a worker's do),
      // it still answers requests but says it is not ready, so a load balancer moves new ones to another server.
      server.drain();
      await runtime.engine.handOver?.();
      await server.close();
      log.info({ durationMs: Date.now() - stopping }, 'patchbay serve: stopped');
    });

  const token = program.command('token').description('API tokens for machines (an HR tool, a ticketing system)');
  token
    .command('create')
    .description('create a token; it is printed once and stored hashed')
    .requiredOption('--name <name>', 'what uses it, e.g. hr-tool')
    .requiredOption('--as <email>', 'the person its actions are taken as (queue membership is checked against it)')
    .option('--role <role>', 'operator or admin (an admin token sees every queue\'s tasks)', 'operator')
    .option('--scopes <list>', `what it may do, comma-separated: ${tokenScopes.join(', ')} (default: read and write runs and tasks, read the matrix and the reconciliation)`)
    .option('--expires-in <lifetime>', 'how long it lives: 90d, 12h, 30m', '90d')
    .option('--profile <file>', "the tenant profile whose queues the token's person is checked against (default: the embedded demo tenant)")
    .option('--json', 'print JSON')
    .action(async (options: { name: string; as: string; role: string; scopes?: string; expiresIn: string; profile?: string; json?: boolean }) => {
      const scopes = scopesOf(options.scopes);
      const expiresInMs = lifetime(options.expiresIn);
      const blind = queueBlindness(cli.profile(options.profile), options.as, role(options.role), scopes);
      const access = new AccessStore((await cli.runtime()).store);
      const created = await access.createToken({ name: options.name, actor: options.as, role: role(options.role), expiresInMs, ...(scopes ? { scopes } : {}) });
      if (options.json) cli.printJson(created);
      else cli.print(`${created.token}\n(token ${created.id} for ${options.name}, acting as ${options.as}, scopes ${created.scopes.join(',')}, expires ${day(created.expiresAt)} UTC; shown once, stored hashed)`);
      if (blind) process.stderr.write(`note: ${blind}\n`);
    });
  token
    .command('list')
    .description('every token: scopes, last use (to the minute), expiry, revocation; never a secret')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const tokens = await new AccessStore((await cli.runtime()).store).listTokens();
      if (options.json) cli.printJson(tokens);
      else cli.print(tokens.map((t) => tokenLine(t, Date.now())).join('\n') || 'no tokens');
    });
  token
    .command('revoke <id>')
    .action(async (id: string) => {
      if (!(await new AccessStore((await cli.runtime()).store).revokeToken(id))) throw new InvalidInputError({ file: 'command line', pointer: '/id' }, `no active token ${id}`);
      cli.print(`token ${id} revoked`);
    });
  token
    .command('rotate <id>')
    .description('replace a live token with a new secret (same name, actor and scopes; a fresh lifetime); the old one is revoked at once')
    .option('--expires-in <lifetime>', 'how long the new one lives: 90d, 12h, 30m', '90d')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { expiresIn: string; json?: boolean }) => {
      const expiresInMs = lifetime(options.expiresIn);
      const access = new AccessStore((await cli.runtime()).store);
      const live = await access.token(id);
      if (!live || live.revokedAt !== null || (live.expiresAt !== null && live.expiresAt <= Date.now())) {
        throw new InvalidInputError({ file: 'command line', pointer: '/id' }, `no live token ${id} (patchbay token list)`);
      }
      const rotated = await access.rotateToken(id, expiresInMs);
      if (options.json) cli.printJson({ ...rotated, replaced: id });
      else cli.print(`${rotated.token}\n(token ${rotated.id} replaces ${id}, which is revoked; expires ${day(rotated.expiresAt)} UTC; shown once, stored hashed)`);
    });

  const bridge = program.command('bridge').description('the SCIM bridge: identity providers (Okta, Entra ID) provision an app through Patchbay at /scim/v2/<app>/');
  bridge
    .command('token')
    .description("bridge tokens: one per app, for the IdP's provisioning settings")
    .command('create')
    .description('create a bearer token for one app\'s SCIM base; it is printed once and stored hashed (rotate and revoke it with patchbay token)')
    .requiredOption('--app <app>', 'the installed app the IdP provisions, e.g. spendesk')
    .option('--profile <file>', 'the tenant profile the server serves (default: the embedded demo tenant)')
    .option('--expires-in <lifetime>', 'how long it lives: 365d, 90d, 12h', '365d')
    .option('--json', 'print JSON')
    .action(async (options: { app: string; profile?: string; expiresIn: string; json?: boolean }) => {
      const apps = Object.keys(cli.profile(options.profile).profile.apps);
      if (!apps.includes(options.app)) throw new InvalidInputError({ file: 'command line', pointer: '/app' }, `no app ${options.app} is installed in the tenant (installed: ${apps.join(', ')})`);
      const created = await new AccessStore((await cli.runtime()).store).createBridgeToken(options.app, lifetime(options.expiresIn));
      if (options.json) cli.printJson({ ...created, app: options.app, base: `/scim/v2/${options.app}/` });
      else cli.print(`${created.token}\n(bridge token ${created.id} for ${options.app}'s SCIM base /scim/v2/${options.app}/, expires ${day(created.expiresAt)} UTC; shown once, stored hashed)`);
    });

  program
    .command('operator')
    .description('add an operator who signs in to the pages (or change their role or password)')
    .argument('<email>')
    .option('--role <role>', 'operator or admin', 'operator')
    .option('--password-file <file>', 'read the password from a file (default: PATCHBAY_OPERATOR_PASSWORD)')
    .action(async (email: string, options: { role: string; passwordFile?: string }) => {
      const password = options.passwordFile ? readFileSync(options.passwordFile, 'utf8').trim() : process.env.PATCHBAY_OPERATOR_PASSWORD;
      if (!password) throw new InvalidInputError({ file: 'command line', pointer: '/password-file' }, 'give the password with --password-file or PATCHBAY_OPERATOR_PASSWORD (never on the command line)');
      await new AccessStore((await cli.runtime()).store).setOperator(email, password, role(options.role));
      cli.print(`operator ${email.toLowerCase()} (${options.role}) can sign in`);
    });

  program
    .command('queue')
    .description("a tenant profile's queues: who completes their tasks")
    .command('add')
    .description("add people to a queue's members in a tenant profile file (servers read it when they start: restart them)")
    .argument('<queue>', 'the queue id (it-ops, finance-admins…)')
    .argument('<emails...>', 'the work emails of the people to add')
    .option('--profile <file>', 'the tenant profile to change (the embedded demo tenant cannot be changed)')
    .action((queue: string, emails: string[], options: { profile?: string }) => {
      if (!options.profile) throw new InvalidInputError({ file: 'command line', pointer: '/profile' }, 'give the tenant profile to change with --profile <file> (the embedded demo tenant cannot be changed)');
      const file = path.resolve(options.profile);
      cli.profile(file); // refused, naming file and pointer, unless it is a valid profile now
      for (const [i, email] of emails.entries()) if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new InvalidInputError({ file: 'command line', pointer: `/emails/${i}` }, `'${email}' is not an email address`);
      const raw = JSON.parse(readFileSync(file, 'utf8')) as { queues?: { id: string; name?: string; members: string[] }[] };
      const index = (raw.queues ?? []).findIndex((q) => q.id === queue);
      if (index < 0) throw new InvalidInputError({ file, pointer: '/queues' }, `no queue '${queue}' (queues: ${(raw.queues ?? []).map((q) => q.id).join(', ') || 'none'})`);
      const target = raw.queues![index]!;
      const added = [...new Set(emails.map((e) => e.trim().toLowerCase()))].filter((e) => !target.members.some((m) => m.toLowerCase() === e));
      if (added.length) {
        target.members.push(...added);
        cli.services().profiles.check(raw, file);
        // Written whole or not at all: a half-written profile would stop every server that reads it.
        const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
        writeFileSync(temporary, `${JSON.stringify(raw, null, 2)}\n`);
        renameSync(temporary, file);
      }
      const already = emails.length - added.length;
      cli.print(`${added.length ? `added ${added.join(', ')} to queue ${queue}${target.name ? ` (${target.name})` : ''} in ${displayPath(file)} (#/queues/${index}/members); restart patchbay serve and the workers to use it` : `nothing to change in ${displayPath(file)}`}${already ? `; ${already} already a member` : ''}`);
    });

  program
    .command('demo')
    .description('start the demo: the Spendesk console simulator, the server, demo operators and runs to work on')
    .option('--port <port>', 'the server port', '8080')
    .option('--console-port <port>', 'the console simulator port', '4010')
    .action(async (options: { port: string; consolePort: string }) => {
      await runDemo(cli, port(options.port), port(options.consolePort));
    });
}

/** What the demo uses of the CLI's context. */
type DemoCli = Parameters<typeof registerServerCommands>[1];

async function runDemo(cli: DemoCli, serverPort: number, consolePort: number): Promise<void> {
  const fixtures = path.join(packageRoot, 'dist', 'test', 'fixtures', 'spendesk-console');
  if (!existsSync(path.join(fixtures, 'server.js'))) {
    throw new InvalidInputError({ file: fixtures }, 'the demo needs the console simulator from the test fixtures: run it from a clone after npm ci');
  }
  const { startSpendeskConsole } = (await import(path.join(fixtures, 'server.js'))) as typeof import('../../test/fixtures/spendesk-console/server.js');
  const { readSeed } = (await import(path.join(fixtures, 'state.js'))) as typeof import('../../test/fixtures/spendesk-console/state.js');
  const seed = readSeed();
  const sim = await startSpendeskConsole({ seed, port: consolePort });
  // The robot's console account, as the tenant's secret references find it (in this process only).
  process.env.SPENDESK_ADMIN_EMAIL = seed.admin.email;
  process.env.SPENDESK_ADMIN_PASSWORD = seed.admin.password;
  // A fresh store for each demo, unless a data folder was chosen: the simulator starts from its seed each time too.
  const chosen = cli.chosenDataDir();
  const runtime = chosen ? (await cli.runtime()) : await cli.runtimeAt(mkdtempSync(path.join(os.tmpdir(), 'patchbay-demo-')));
  const tenantFile = path.join(path.dirname(runtime.evidenceDir), 'demo-tenant.json');
  const tenant = JSON.parse(readFileSync(path.join(packageRoot, 'test', 'fixtures', 'spendesk-console', 'tenant.json'), 'utf8')) as Record<string, any>;
  tenant.apps.spendesk.consoleUrl = sim.url;
  delete tenant.$schema;
  mkdirSync(path.dirname(tenantFile), { recursive: true });
  writeFileSync(tenantFile, `${JSON.stringify(tenant, null, 2)}\n`);
  const profile = cli.profile(tenantFile);
  const server = await startServer({ services: cli.services(), runtime, profile, port: serverPort, version: cli.version, tickMs: 5_000, reconcileIdpFrom: demoIdpExport });
  try {
    await seedDemo(cli, { server, sim, seed, runtime, profile });
  } catch (error) {
    // Nothing is left listening behind a demo that could not start: the error is said and the process ends.
    await server.close().catch(() => undefined);
    await sim.close().catch(() => undefined);
    throw error;
  }
  await untilStopped();
  await server.close();
  await sim.close();
}

/** The demo's operators, runs, SCIM bridge user and first reconciliation, then its banner. */
async function seedDemo(
  cli: DemoCli,
  parts: {
    server: Awaited<ReturnType<typeof startServer>>;
    sim: { url: string };
    seed: { admin: { email: string; password: string } };
    runtime: Awaited<ReturnType<DemoCli['runtime']>>;
    profile: ReturnType<DemoCli['profile']>;
  },
): Promise<void> {
  const { server, sim, seed, runtime, profile } = parts;
  const access = server.access;
  const operators: [string, Role][] = [
    ['it.oncall@acme.example', 'operator'],
    ['finance.admin@acme.example', 'operator'],
    ['it.lead@acme.example', 'admin'],
  ];
  const passwords = new Map<string, string>();
  for (const [email, r] of operators) {
    const password = `demo-${randomBytes(6).toString('base64url')}`;
    await access.setOperator(email, password, r);
    passwords.set(email, password);
  }
  const requests = [
    { playbook: 'offboard', app: 'spendesk', subject: { email: 'alice@acme.com' } },
    { playbook: 'offboard', app: 'spendesk', subject: { email: 'olivia@acme.com' } },
    { playbook: 'onboard', app: 'spendesk', subject: { email: 'new.joiner@acme.com', firstName: 'New', lastName: 'Joiner' } },
  ];
  for (const request of requests) await runtime.runs.start([{ source: 'demo', request }], profile, { requestedBy: 'demo' });
  // The SCIM bridge: Hugo as Okta would have provisioned him, and a token an IdP would hold.
  // A demo started again on its chosen data folder finds Hugo there already.
  const [known] = await server.bridge.find('spendesk', { attribute: 'userName', value: 'hugo@acme.com' });
  const hugo = known ?? await server.bridge.adopt('spendesk', { userName: 'hugo@acme.com', name: { givenName: 'Hugo', familyName: 'Bernard' }, emails: [{ value: 'hugo@acme.com', type: 'work', primary: true }], active: true }, 'demo seed');
  const bridgeToken = await access.createBridgeToken('spendesk');
  const deactivate = JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
  // A first reconciliation for the report: the console, read by its listing recipe, against an Okta export in which Alice is no longer assigned.
  process.stderr.write('reconciling the Spendesk console against the demo Okta export…\n');
  const host = new BrowserHost();
  const { readAccountsFile, readAppByBrowser } = await readers();
  const started = Date.now();
  try {
    const idp = await readAccountsFile(demoIdpExport, { side: 'idp', app: 'spendesk', readAt: Date.now() });
    const members = await readAppByBrowser(host, cli.services().registry, profile.profile, 'spendesk', cli.services().secrets, Date.now());
    const result = await runtime.reconciliations.record(profile.profile.tenant, reconcile(idp, members, { now: Date.now() }));
    process.stderr.write(`reconciled in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.counts.accounts} members, ${result.findings.length} finding${result.findings.length === 1 ? '' : 's'} (${server.url}/reconcile)\n`);
  } finally {
    await host.close();
  }
  const lines = [
    '',
    `Patchbay demo (data in ${path.dirname(runtime.evidenceDir)})`,
    `  Task inbox       ${server.url}/inbox`,
    `  API              ${server.url}/api/v1 (OpenAPI at /api/v1/openapi.json; patchbay token create --name me --as it.oncall@acme.example)`,
    `  Spendesk console ${sim.url} (the simulator the robot drives; its state at ${sim.url}/__state)`,
    `                   sign in as ${seed.admin.email} / ${seed.admin.password}`,
    "                   (the simulator's throwaway demo account from its seed file, not a real Spendesk credential)",
    `  SCIM bridge      ${server.url}/scim/v2/spendesk/ (bearer token ${bridgeToken.token})`,
    '',
    'Sign in as (passwords made for this start):',
    ...operators.map(([email, r]) => `  ${email.padEnd(28)} ${passwords.get(email)}  (${r})`),
    '',
    'What to try:',
    '  1. As it.oncall@acme.example, open "Remove alice@acme.com\'s Spendesk assignment in Okta", tick the steps, give evidence, complete it.',
    "     The browser then reads Alice's member page, removes her in the console and verifies it: open the run to see each screenshot.",
    '  2. Olivia is the Account Owner: the owner-transfer task goes to finance.admin@acme.example, and the console refuses to remove her',
    `     until the role has moved. In the console (${sim.url}), open Olivia, "Transfer ownership" to Bob, then complete the task:`,
    '     the browser removes her and verifies it. Complete the task without transferring and the refusal lands in the removal task.',
    '  3. The onboarding of new.joiner@acme.com waits on a person: JIT through Okta is disputed, so it waits for evidence of a first sign-in.',
    `  4. ${server.url}/reconcile: Alice is still a member though Okta no longer assigns her (an orphaned account), next to the apps`,
    '     nobody can read (gap nodes) and when each was last audited. Each finding links to the run that answers it (Alice\'s',
    '     offboarding above; an admin offboards an orphan from there, with no Okta step), and "Reconcile now" reads the console again.',
    '  5. Deactivate Hugo as Okta would, through the SCIM bridge: his Spendesk offboarding starts, and GET shows it pending until done.',
    `     curl -X PATCH ${server.url}/scim/v2/spendesk/Users/${hugo.id} -H 'Authorization: Bearer ${bridgeToken.token}' -H 'Content-Type: application/scim+json' -d '${deactivate}'`,
    '',
    'Ctrl-C stops the demo.',
  ];
  cli.print(lines.join('\n'));
}
