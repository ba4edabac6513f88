import { bridgeFromReconciliation } from '../bridge/reconcile.js';
import type { BrowserHost } from '../channels/browser/browser-host.js';
import { InvalidInputError } from '../errors.js';
import type { LifecyclePlanner } from '../planning/service.js';
import type { ConnectorRegistry } from '../registry/registry.js';
import { IdentifierStore } from '../store/identifiers.js';
import type { StoreDatabase } from '../store/sql.js';
import type { LoadedProfile } from '../tenant/profile.js';
import type { SecretResolver } from '../tenant/secrets.js';
import { readersOf } from './audit.js';
import { reconcile } from './findings.js';
import type { ReconcileHistory } from './history.js';
import { type AppReaderName, machineReaders } from './reader-names.js';
import { appReaders, readAccountsFile, readIdpAssignments } from './readers.js';
import type { Snapshot } from './snapshot.js';

/**
 * Keeps one reconciliation of both sides: the findings in the history (first-seen dates carried
 * over), the identifiers each side showed, and the SCIM bridge's Users corrected from a complete
 * read of the app. Returns the stored reconciliation.
 */
export async function recordReconciliation(
  stores: { readonly store: StoreDatabase; readonly reconciliations: ReconcileHistory },
  tenant: string,
  idp: Snapshot,
  app: Snapshot,
  now: number,
  progress: (line: string) => void = () => {},
): Promise<Awaited<ReturnType<ReconcileHistory['record']>>> {
  const result = await stores.reconciliations.record(tenant, reconcile(idp, app, { now }));
  await new IdentifierStore(stores.store).fromReconciliation(tenant, idp, app, now);
  await bridgeFromReconciliation(stores.store, tenant, app, now, progress);
  return result;
}

/** What reconciling one app unattended needs (the server's "reconcile now"). */
export interface ReconcileNowContext {
  readonly registry: ConnectorRegistry;
  readonly planner: LifecyclePlanner;
  readonly secrets: SecretResolver;
  readonly loaded: LoadedProfile;
  readonly stores: { readonly store: StoreDatabase; readonly reconciliations: ReconcileHistory };
  /** Chromium, started on first use; the caller closes it. */
  readonly browser: () => BrowserHost;
  /** The IdP side from an export (CSV or xlsx) instead of the IdP's API. */
  readonly idpFrom?: string;
}

/**
 * Which machine reader reads `app` here (the first usable of machineReaders), or why none does:
 * InvalidInputError naming the profile's pointer.
 */
export function machineReaderFor(planner: LifecyclePlanner, loaded: LoadedProfile, app: string): AppReaderName {
  const reader = readersOf(planner.context(app, loaded)).find((r) => r.usable && (machineReaders as readonly string[]).includes(r.channel));
  if (!reader) throw new InvalidInputError({ file: 'tenant profile', pointer: `/apps/${app}` }, `nothing here can read ${app} (a gap node): reconcile it from its admin's export with patchbay reconcile --app ${app} --from <file>`);
  return reader.channel as AppReaderName;
}

/**
 * Reconciles one app as a machine can, unattended: the IdP side from `idpFrom` or the IdP's API
 * (refused, with what is missing, when the profile gives no IdP address), the app side by its first
 * usable machine reader (whose needs, a console sign-in, are checked before either side is read).
 * Nothing is stored when a read fails. @throws InvalidInputError, or the reader's error.
 */
export async function reconcileAppNow(c: ReconcileNowContext, app: string, now: number): Promise<Awaited<ReturnType<ReconcileHistory['record']>>> {
  const { profile } = c.loaded;
  const via = machineReaderFor(c.planner, c.loaded, app);
  if (!c.idpFrom) {
    const idp = profile.idp;
    const api = idp ? c.registry.api(idp.connector) : undefined;
    if (!idp || !api?.operations.listAppUsers) throw new InvalidInputError({ file: 'tenant profile', pointer: '/idp' }, "no identity provider with an API that lists app assignments: the server reads the IdP's side from an export given with patchbay serve --idp-from <file>");
    if (api.requiredSettings?.includes('baseUrl') && !idp.baseUrl) throw new InvalidInputError({ file: 'tenant profile', pointer: '/idp/baseUrl' }, "the IdP's assignments are read through its API, and the tenant profile gives no IdP address (or start the server with --idp-from <file>)");
  }
  const readerContext = { registry: c.registry, profile, secrets: c.secrets, browser: c.browser, store: async () => c.stores.store };
  const reader = appReaders[via];
  reader.check?.(readerContext, app);
  const idp = c.idpFrom ? await readAccountsFile(c.idpFrom, { side: 'idp', app }) : await readIdpAssignments(c.registry, profile, app, c.secrets, now);
  const read = await reader.read(readerContext, app, now);
  return recordReconciliation(c.stores, profile.tenant, idp, read, now);
}
