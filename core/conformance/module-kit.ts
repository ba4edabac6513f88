import { ScimClient } from '../channels/scim/client.js';
import { scimOperations } from '../channels/scim/operations.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { ConnectorApi, OperationInput, OperationResult } from '../registry/connector-api.js';
import type { AppSettings } from '../schema/types/tenant-profile.js';
import type { SecretResolver } from '../tenant/secrets.js';
import type { ConformanceCheck } from './kit.js';

/**
 * A stand-in for a vendor's API that a connector module (TypeScript, `connectors/<id>/index.ts`)
 * talks to: a real HTTP server on 127.0.0.1 that speaks the vendor's own shapes (Graph, the Okta
 * API, SCIM 2.0), written by the module's author from the vendor's documented requests and
 * responses. The stand-in generated from a manifest (core/conformance/stand-in.ts) serves declared
 * calls only: a module's requests are in its code, so its author brings the stand-in.
 */
export interface VendorStandIn {
  /** Where it listens (http://127.0.0.1:<port>). */
  readonly url: string;
  /** Replaces its accounts with these people, active. */
  seed(emails: readonly string[]): void;
  /** The next request is answered with the vendor's 429 (and its own Retry-After or reset headers), asking for this many seconds. */
  rateLimitNext(seconds: number): void;
  /** Whether the person's account is active; undefined when it has none. */
  isActive(email: string): boolean | undefined;
  close(): Promise<void>;
}

/** What the module kit needs to check one connector module against its stand-in. */
export interface ModuleConformanceSubject {
  readonly connector: LoadedConnector;
  /** The connector's operations as the registry merged them (registry.api(id)): the module's handlers first. */
  readonly api: ConnectorApi | undefined;
  /** The operations carried out over the API, by the module or a declared call (registry.implemented(id)). */
  readonly implemented: ReadonlySet<string>;
  /** Starts a fresh stand-in (each check gets its own). */
  readonly standIn: () => Promise<VendorStandIn>;
  /** The tenant settings that point the connector at the stand-in; secret references resolve through `secrets`. */
  readonly settings: (standIn: VendorStandIn) => AppSettings;
  readonly secrets: SecretResolver;
  /** Extra input an identity provider needs: the app whose assignments it reads or changes. */
  readonly target?: OperationInput['target'];
}

/** One check the module kit chooses from what the manifest routes to api or scim; `run` resolves to what it saw, or rejects saying what failed. */
export interface ModuleCheck {
  readonly check: string;
  /** Whether the check needs a stand-in (the wiring check does not). */
  readonly needsStandIn: boolean;
  run(standIn: VendorStandIn | undefined): Promise<string>;
}

/** How many accounts the paging check seeds: more than any vendor's first page (Graph 100, Okta 200, SCIM servers' defaults). */
export const pagingAccounts = 523;

/**
 * The conformance kit for connector modules: the checks that apply to a connector, chosen from what
 * its manifest routes to the api and scim channels.
 * - wiring: every operation routed to api has a handler, every scim route is one the channel carries out;
 * - paging: listUsers reads every one of {@link pagingAccounts} accounts once;
 * - rate limits: the read (getUser, else listUsers) waits out one 429 and then succeeds;
 * - deactivateUser: done once (the stand-in shows the account inactive), already done the second time.
 * Use it from a test (test/support/conformance.ts turns each check into a mocha test) or run them
 * all with {@link runModuleConformance}. A check rejects with an Error whose message says what failed.
 * Its clock does not wait: a 429's Retry-After is slept in no time.
 */
export function moduleChecks(subject: ModuleConformanceSubject): ModuleCheck[] {
  const { connector } = subject;
  const routed = (channel: 'api' | 'scim') => Object.entries(connector.manifest.operations).filter(([, op]) => op.channels.some((r) => r.channel === channel)).map(([name]) => name);
  const api = routed('api');
  const scim = routed('scim');
  const clock = (() => {
    let t = Date.now();
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  })();
  const call = (standIn: VendorStandIn, operation: string, email: string): Promise<OperationResult> => {
    const settings = subject.settings(standIn);
    if (scim.includes(operation)) {
      const client = new ScimClient(connector.manifest.id, settings, subject.secrets, { clock });
      return operation === 'listUsers' ? client.listUsers() : operation === 'deactivateUser' ? client.deactivateUser(email) : client.getUser(email);
    }
    const handler = subject.api?.operations[operation];
    if (!handler) throw new Error(`no handler for ${operation}`);
    return handler({ subject: { email }, settings, secrets: subject.secrets, idempotencyKey: `conformance:${operation}:${email}`, ...(subject.target ? { target: subject.target } : {}) });
  };
  const need = (standIn: VendorStandIn | undefined): VendorStandIn => {
    if (!standIn) throw new Error('this check needs the vendor stand-in');
    return standIn;
  };

  const checks: ModuleCheck[] = [
    {
      check: 'wiring: every operation routed to api or scim is carried out',
      needsStandIn: false,
      run: async () => {
        const missing = api.filter((op) => !subject.implemented.has(op));
        expect(!missing.length, `api operations without an implementation: ${missing.join(', ')}`);
        const unknown = scim.filter((op) => !scimOperations.has(op));
        expect(!unknown.length, `scim operations the channel cannot carry out: ${unknown.join(', ')}`);
        expect(api.length + scim.length > 0, 'a connector with no machine channel has nothing to conform to');
        return `${api.length} api and ${scim.length} scim operations, each carried out`;
      },
    },
  ];
  const lists = api.includes('listUsers') || scim.includes('listUsers');
  if (lists) {
    checks.push({
      check: 'paging: listUsers reads every account across all pages',
      needsStandIn: true,
      run: async (s) => {
        const standIn = need(s);
        const emails = Array.from({ length: pagingAccounts }, (_, i) => `person${i}@acme.com`);
        standIn.seed(emails);
        const result = await call(standIn, 'listUsers', '');
        expect(result.outcome === 'done', `listUsers ended ${result.outcome}: ${result.evidence}`);
        const seen = result.outcome === 'done' ? (result.accounts ?? []).map((a) => a.email) : [];
        const distinct = new Set(seen);
        expect(seen.length === emails.length && distinct.size === emails.length && emails.every((e) => distinct.has(e)), `read ${seen.length} accounts (${distinct.size} distinct) of ${emails.length}`);
        return `${emails.length} accounts, each once`;
      },
    });
  }
  const read = api.includes('getUser') || scim.includes('getUser') ? 'getUser' : lists ? 'listUsers' : undefined;
  if (read) {
    checks.push({
      check: `rate limits: ${read} waits out a 429, then succeeds`,
      needsStandIn: true,
      run: async (s) => {
        const standIn = need(s);
        standIn.seed(['rate@acme.com']);
        standIn.rateLimitNext(1);
        const result = await call(standIn, read, 'rate@acme.com');
        expect(result.outcome === 'done', `${read} after a 429 ended ${result.outcome}: ${result.evidence}`);
        return `${read} done after one 429`;
      },
    });
  }
  if (api.includes('deactivateUser') || scim.includes('deactivateUser')) {
    checks.push({
      check: 'deactivateUser: done once, already done the second time',
      needsStandIn: true,
      run: async (s) => {
        const standIn = need(s);
        standIn.seed(['leaver@acme.com']);
        const first = await call(standIn, 'deactivateUser', 'leaver@acme.com');
        expect(first.outcome === 'done', `the first deactivation ended ${first.outcome}: ${first.evidence}`);
        expect(standIn.isActive('leaver@acme.com') === false, 'the account is still active at the stand-in');
        const second = await call(standIn, 'deactivateUser', 'leaver@acme.com');
        expect(second.outcome === 'alreadyDone', `the second deactivation ended ${second.outcome}: ${second.evidence}`);
        return `${first.evidence}; then ${second.outcome}`;
      },
    });
  }
  return checks;
}

/**
 * Runs every check of {@link moduleChecks}, each on a fresh stand-in (closed after it), and returns
 * their verdicts in the shape `patchbay conformance` prints. Without `standIn` the checks that need
 * one are skipped, saying so.
 */
export async function runModuleConformance(subject: Omit<ModuleConformanceSubject, 'standIn' | 'settings'> & Partial<Pick<ModuleConformanceSubject, 'standIn' | 'settings'>>): Promise<ConformanceCheck[]> {
  const results: ConformanceCheck[] = [];
  const checks = moduleChecks({ settings: () => ({}), standIn: async () => Promise.reject(new Error('no stand-in')), ...subject });
  for (const check of checks) {
    if (check.needsStandIn && !subject.standIn) {
      results.push({ check: check.check, status: 'skip', detail: `needs a stand-in of ${subject.connector.manifest.name}'s API: the module's author provides one (core/conformance/module-kit.ts, VendorStandIn)` });
      continue;
    }
    const standIn = check.needsStandIn ? await subject.standIn!() : undefined;
    try {
      results.push({ check: check.check, status: 'pass', detail: await check.run(standIn) });
    } catch (error) {
      results.push({ check: check.check, status: 'fail', detail: (error as Error).message });
    } finally {
      await standIn?.close();
    }
  }
  return results;
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}
