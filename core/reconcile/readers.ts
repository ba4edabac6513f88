import { InvalidInputError, brokenBecause } from '../errors.js';
import type { ConnectorRegistry } from '../registry/registry.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import { type SecretResolver, SecretUnavailableError } from '../tenant/secrets.js';
import { idpSettings } from '../planning/service.js';
import type { BrowserHost } from '../channels/browser/browser-host.js';
import { runRecipe } from '../channels/browser/recipe-runner.js';
import { recipeSecrets } from '../channels/browser/executor.js';
import { scimEndpoint } from '../channels/scim/endpoint.js';
import { ScimClient, toAccount } from '../channels/scim/client.js';
import { approvalRunbookId } from '../engine/approval.js';
import type { Plan } from '../schema/types/plan.js';
import type { StoreDatabase } from '../store/sql.js';
import type { OperationResult } from '../registry/connector-api.js';
import type { AppReaderName } from './reader-names.js';
import { type AccountRecord, type Completeness, completeRead, type Snapshot } from './snapshot.js';

/** Files an admin exported (CSV, xlsx) are read in their own module. */
export { readAccountsFile } from './account-files.js';

/** The IdP's assignments of the app (Okta: the app's users; Entra ID: the enterprise app's users and assigned groups' members; Google Workspace: the app's group or organisational unit), through any IdP module that offers listAppUsers. */
export async function readIdpAssignments(registry: ConnectorRegistry, profile: TenantProfile, app: string, secrets: SecretResolver, now: number): Promise<Snapshot> {
  const idp = profile.idp?.connector;
  const handler = idp ? registry.api(idp)?.operations.listAppUsers : undefined;
  const broken = idp ? registry.brokenReason(idp) : undefined;
  if (broken !== undefined) throw new InvalidInputError({ file: 'tenant profile', pointer: '/idp/connector' }, `identity provider connector ${idp} is broken: ${brokenBecause(broken)}; give --idp-from <file>`);
  if (!idp || !handler) throw new InvalidInputError({ file: 'tenant profile', pointer: '/idp' }, 'no identity provider with an API module that lists app assignments; give --idp-from <file>');
  const result = await handler({ subject: { email: '' }, settings: idpSettings(profile), secrets, idempotencyKey: `reconcile:${now}`, target: { app, settings: profile.apps[app] ?? {} } });
  const listed = result.outcome === 'notFound' ? [] : (result.accounts ?? []);
  const accounts = listed.filter((a) => a.email.trim()).map((a) => ({ email: a.email, userName: a.email, active: a.active }));
  const unnamed = listed.length - accounts.length;
  const completeness = withReasons(completenessOf(result), unnamed ? [`${unnamed} assignments have no user name and cannot be matched`] : []);
  return { side: 'idp', app, source: { kind: 'idp', name: `${registry.get(idp).manifest.name} assignments of ${app}`, readAt: now }, accounts, completeness };
}

/** A list operation's completeness: what it said, or complete when it says nothing (a connector that reads one answer). */
function completenessOf(result: OperationResult): Completeness {
  return result.outcome === 'notFound' ? completeRead : (result.completeness ?? completeRead);
}

/** Adds reasons (each makes the read incomplete). */
function withReasons(completeness: Completeness, reasons: readonly string[]): Completeness {
  return reasons.length ? { complete: false, reasons: [...completeness.reasons, ...reasons] } : completeness;
}

/** The app's accounts through its API module (listUsers). */
export async function readAppByApi(registry: ConnectorRegistry, profile: TenantProfile, app: string, secrets: SecretResolver, now: number): Promise<Snapshot> {
  const handler = registry.api(app)?.operations.listUsers;
  if (!handler) throw new InvalidInputError({ file: 'command line', pointer: '/via' }, `${app} has no API module that lists its users; use --via browser or --from <file>`);
  const result = await handler({ subject: { email: '' }, settings: profile.apps[app] ?? {}, secrets, idempotencyKey: `reconcile:${now}` });
  const accounts = result.outcome === 'notFound' ? [] : (result.accounts ?? []).map((a) => ({ email: a.email, active: a.active, ...(a.roles ? { roles: a.roles } : {}), ...(a.groups ? { teams: a.groups } : {}) }));
  return { side: 'app', app, source: { kind: 'api', name: `${registry.get(app).manifest.name} API`, readAt: now }, accounts, completeness: completenessOf(result) };
}

/**
 * The console's listing recipe and the robot's sign-in it needs, resolved before Chromium starts or
 * anything is read: a missing console URL, recipe or secret is bad input (InvalidInputError, exit 2)
 * naming the profile's pointer, with the secret's reference and never a value.
 */
export function browserListing(registry: ConnectorRegistry, profile: TenantProfile, app: string, secrets: SecretResolver) {
  const recipe = [...registry.get(app).recipes.values()].find((r) => r.operation === 'listUsers' && r.reads);
  const settings = profile.apps[app] ?? {};
  if (!recipe || !settings.consoleUrl) throw new InvalidInputError({ file: 'tenant profile', pointer: `/apps/${app}/consoleUrl` }, `${app} has no listing recipe or no console URL; use --from <file>`);
  try {
    return { recipe, consoleUrl: settings.consoleUrl, params: recipeSecrets(recipe, app, settings, secrets) };
  } catch (error) {
    if (!(error instanceof SecretUnavailableError)) throw error;
    const name = Object.entries(settings.secrets ?? {}).find(([, ref]) => ref === error.ref)?.[0];
    throw new InvalidInputError(
      { file: 'tenant profile', pointer: `/apps/${app}/secrets${name ? `/${name}` : ''}` },
      `reading the ${app} console needs the robot's console sign-in: ${error.message}; set it, or read an export with --from <file>`,
      { cause: error },
    );
  }
}

/** The app's accounts read from its admin console by the connector's listing recipe (one with `reads`, for listUsers). */
export async function readAppByBrowser(host: BrowserHost, registry: ConnectorRegistry, profile: TenantProfile, app: string, secrets: SecretResolver, now: number): Promise<Snapshot> {
  const { recipe, consoleUrl, params } = browserListing(registry, profile, app, secrets);
  const result = await host.withContext((context) => runRecipe(context, { recipe, consoleUrl, params }));
  if (result.status !== 'done') throw new InvalidInputError({ file: `recipe ${recipe.id}` }, `reading the console stopped (${result.status}): ${result.detail}`);
  const reads = recipe.reads!;
  const active = new Set<string>(reads.activeValues ?? []);
  const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);
  const rows = result.records[reads.records] ?? [];
  const accounts = rows
    .filter((r) => r[reads.email]?.trim())
    .map((r) => ({
      email: r[reads.email]!,
      active: reads.activeField ? active.has(r[reads.activeField] ?? '') : true,
      roles: list(r.roles),
      teams: list(r.teams),
    }));
  // The recipe reads the table it is shown; a row it could not read makes the read incomplete.
  // Whether the console had further pages is the recipe's to know: a listing recipe reads them all
  // or its console shows every member on one page (the recipe runner does not report pagination controls).
  const unread = rows.length - accounts.length;
  const completeness = unread ? { complete: false, reasons: [`${unread} rows of the console's table have no ${reads.email}`] } : completeRead;
  return { side: 'app', app, source: { kind: 'browser', name: `${registry.get(app).manifest.name} console (${recipe.id} recipe)`, readAt: now }, accounts, completeness };
}

type AttestationRow = { email: string; stepId: string; by: string | null; taskId: string; at: number; playbook: string; runId: string; plan: string };

/**
 * What people attested in completed tasks: each person's latest "done" on an action or a
 * verification in the app (an onboarding or change says the account is there, an offboarding that
 * it is gone), with who said it, when, and in which task. It covers only the work that went through
 * Patchbay: for an app nobody can read, it is what is known between two audits, not an audit.
 * Its completeness is complete over that work (every completed task is in the store); the history
 * never counts it as an audit, and it never closes a finding from a read of the app itself.
 */
export async function readAttestations(store: StoreDatabase, tenant: string, app: string, now: number): Promise<Snapshot> {
  // Oldest first, so that each person's latest attestation is the one kept. Tasks closed in the same
  // millisecond (a clock that did not move) are ordered by their run's newest audit event: the audit
  // log's sequence is the one order both databases keep of what happened (no rowid on PostgreSQL).
  const rows: AttestationRow[] = (
    await store.db
      .selectFrom('task_items as i')
      .innerJoin('tasks as t', 't.id', 'i.task_id')
      .innerJoin('runs as r', 'r.id', 'i.run_id')
      .select((eb) => [
        'i.email',
        'i.step_id as stepId',
        'i.closed_by as by',
        't.id as taskId',
        eb.fn.coalesce('t.closed_at', 'r.finished_at', 'r.updated_at').as('at'),
        'r.playbook',
        'r.id as runId',
        'r.plan',
        eb.fn.coalesce(eb.selectFrom('audit as a').select((e) => e.fn.max('a.seq').as('seq')).whereRef('a.run_id', '=', 'r.id'), eb.lit(0)).as('runSeq'),
      ])
      .where('r.tenant', '=', tenant)
      .where('r.app', '=', app)
      .where('i.status', 'in', ['done', 'already-done'])
      .where('t.runbook', '<>', approvalRunbookId)
      .orderBy('at')
      .orderBy('runSeq')
      .orderBy('t.created_at')
      .orderBy('t.id')
      .execute()
  ).map(({ runSeq: _order, ...row }) => ({ ...row, at: Number(row.at) }));
  const roles = new Map<string, Map<string, { role: string; app: string }>>();
  const stepOf = (row: AttestationRow) => {
    let steps = roles.get(row.runId);
    if (!steps) roles.set(row.runId, (steps = new Map((JSON.parse(row.plan) as Plan).steps.map((s) => [s.id, { role: s.role, app: s.app }]))));
    return steps.get(row.stepId.replace(/~\d+$/, ''));
  };
  const latest = new Map<string, AccountRecord>();
  const tasks = new Set<string>();
  for (const row of rows) {
    const step = stepOf(row);
    if (!step || step.app !== app || (step.role !== 'action' && step.role !== 'verify')) continue;
    tasks.add(row.taskId);
    const gone = row.playbook === 'offboard';
    const what = gone ? 'removal' : row.playbook === 'onboard' ? 'account' : 'access change';
    latest.set(row.email.toLowerCase(), {
      email: row.email,
      active: !gone,
      evidence: `${what} attested by ${row.by ?? 'someone'} on ${new Date(row.at).toISOString().slice(0, 10)} in task ${row.taskId} (${row.playbook} run ${row.runId})`,
    });
  }
  return { side: 'app', app, source: { kind: 'attestation', name: `attestations in ${tasks.size} completed tasks`, readAt: now }, accounts: [...latest.values()], completeness: completeRead };
}

/**
 * The app's accounts over its SCIM endpoint (every page of /Users), with no code per app, and
 * whether the read is sure it saw them all (see readScimList: duplicates across pages, a 0-based
 * startIndex, a page that makes no progress, a list that changed while read). What discovery
 * noticed (no /ServiceProviderConfig…) is said once, in the source's name.
 */
export async function readAppByScim(registry: ConnectorRegistry, profile: TenantProfile, app: string, secrets: SecretResolver, now: number): Promise<Snapshot> {
  const given = profile.apps[app] ?? {};
  // The profile's baseUrl, else the manifest's SCIM address filled from the tenant's settings.
  const endpoint = scimEndpoint(registry.get(app).manifest, given);
  if (!('url' in endpoint)) throw new InvalidInputError({ file: 'tenant profile', pointer: `/apps/${app}/baseUrl` }, `${app} has no SCIM base URL (${endpoint.missing}); use --via api, --via browser or --from <file>`);
  const settings = { ...given, baseUrl: endpoint.url };
  const listing = await new ScimClient(app, settings, secrets).readAll();
  const accounts = listing.resources.map((user) => {
    const account = toAccount(user);
    return { id: account.id, email: account.email, ...(typeof user.userName === 'string' ? { userName: user.userName } : {}), ...(typeof user.externalId === 'string' ? { externalId: user.externalId } : {}), active: account.active };
  });
  const said = listing.notes.length ? ` (${listing.notes.join('; ')})` : '';
  return { side: 'app', app, source: { kind: 'scim', name: `SCIM Users at ${settings.baseUrl}${said}`, readAt: now }, accounts, completeness: listing.completeness };
}

/** What the app-side readers may need; each takes what it uses, and the costly parts start on first use. */
export interface ReaderContext {
  readonly registry: ConnectorRegistry;
  readonly profile: TenantProfile;
  readonly secrets: SecretResolver;
  /** Chromium, for console readers. */
  readonly browser: () => BrowserHost;
  /** The store, for attestations. */
  readonly store: () => Promise<StoreDatabase>;
}

/** One way a machine can know an app's accounts: the app side of a reconciliation. */
export interface AppReader {
  /** What it is doing, for progress lines ("reading the spendesk console in Chromium…"). */
  describe(app: string): string;
  /** Checks, before anything is read, what the reader will need (a console sign-in); throws InvalidInputError. */
  check?(context: ReaderContext, app: string): void;
  read(context: ReaderContext, app: string, now: number): Promise<Snapshot>;
}

export type { AppReaderName } from './reader-names.js';

/** The readers by name (`--via`); a file the admin exported is read by readAccountsFile. */
export const appReaders: Readonly<Record<AppReaderName, AppReader>> = {
  api: { describe: (app) => `reading the ${app} API…`, read: (c, app, now) => readAppByApi(c.registry, c.profile, app, c.secrets, now) },
  scim: { describe: (app) => `reading ${app} over SCIM…`, read: (c, app, now) => readAppByScim(c.registry, c.profile, app, c.secrets, now) },
  browser: { describe: (app) => `reading the ${app} console in Chromium…`, check: (c, app) => void browserListing(c.registry, c.profile, app, c.secrets), read: (c, app, now) => readAppByBrowser(c.browser(), c.registry, c.profile, app, c.secrets, now) },
  attestations: { describe: (app) => `reading the attestations of completed ${app} tasks…`, read: async (c, app, now) => readAttestations(await c.store(), c.profile.tenant, app, now) },
};
