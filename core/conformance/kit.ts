import { declarativeApi } from '../channels/api/declarative.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { ConnectorApi, OperationInput, OperationResult } from '../registry/connector-api.js';
import { fold } from '../channels/proof.js';
import type { AppSettings } from '../schema/types/tenant-profile.js';
import type { SecretResolver } from '../tenant/secrets.js';
import { type StandIn, startStandIn } from './stand-in.js';

/** One check of the conformance kit and its verdict. */
export interface ConformanceCheck {
  readonly check: string;
  readonly status: 'pass' | 'fail' | 'skip';
  readonly detail: string;
}

/** Where the kit runs: the stand-in generated from the manifest, or a real tenant. */
export type ConformanceTarget =
  | { readonly kind: 'stand-in' }
  | { readonly kind: 'tenant'; readonly settings: AppSettings; readonly secrets: SecretResolver; readonly allowWrites: boolean; readonly user?: string };

const quickRetry = { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 50 };
const writes = ['createUser', 'updateUser', 'deactivateUser', 'deleteUser', 'grant', 'revoke'];

/**
 * The conformance kit for a connector's declared API calls. Against the stand-in generated from
 * its manifest it checks: credentials (a request without them is refused, the connector's are
 * accepted), paging to the end (every seeded account once, read complete), rate-limit obedience (a
 * 429 with Retry-After is waited out, no sooner), and each declared operation's done, already-done
 * and not-found paths. Against a real tenant it only reads (list to the end, a get of nobody) unless
 * writes are allowed and a user is named. A connector without declared calls has nothing to check
 * here (its module is checked by core/conformance/module-kit.ts), said as one failing check.
 */
export async function runConformance(connector: LoadedConnector, target: ConformanceTarget = { kind: 'stand-in' }): Promise<ConformanceCheck[]> {
  const checks: ConformanceCheck[] = [];
  const declared = Object.entries(connector.manifest.operations).filter(([, op]) => op.channels.some((r) => r.channel === 'api' && r.call)).map(([name]) => name);
  if (!declared.length) return [{ check: 'declared calls', status: 'fail', detail: 'the manifest declares no api calls: nothing to check (a connector module is checked by core/conformance/module-kit.ts)' }];
  if (target.kind === 'tenant') return tenantChecks(connector, declared, target);

  const standIn = await startStandIn(connector);
  try {
    const api = declarativeApi(connector, { fetch: standIn.fetch, retry: quickRetry })!;
    const call = (operation: string, email: string) => invoke(api, operation, email, standIn.settings, standIn.secrets);
    const record = async (check: string, run: () => Promise<string>) => {
      try {
        const detail = await run();
        checks.push({ check, status: detail.startsWith('skip: ') ? 'skip' : 'pass', detail: detail.replace(/^skip: /, '') });
      } catch (error) {
        checks.push({ check, status: 'fail', detail: (error as Error).message });
      }
    };
    const reset = () => {
      standIn.accounts.clear();
      standIn.requests.length = 0;
    };
    const read = declared.includes('getUser') ? 'getUser' : declared.includes('listUsers') ? 'listUsers' : undefined;

    await record('auth: a request without credentials is refused', async () => {
      if (!standIn.checksAuth) return 'skip: the stand-in cannot check this auth method (signed JWT, or none declared)';
      const response = await fetch(`${standIn.url}/`, { method: 'GET' });
      await response.body?.cancel();
      expect(response.status === 401, `the stand-in answered ${response.status} without credentials`);
      if (!read) return 'refused with 401';
      reset();
      standIn.seed(['auth@example.com']);
      const result = await call(read, 'auth@example.com');
      expect(result.outcome === 'done', `${read} with the connector's credentials ended ${result.outcome}: ${result.evidence}`);
      return `refused with 401; ${read} with the declared credentials succeeded`;
    });

    if (declared.includes('listUsers')) {
      await record('paging: listUsers reads every account to the end', async () => {
        reset();
        const emails = Array.from({ length: standIn.pageSize * 2 + 7 }, (_, i) => `person${i}@example.com`);
        standIn.seed(emails);
        const result = await call('listUsers', '');
        expect(result.outcome === 'done', `listUsers ended ${result.outcome}`);
        const seen = result.outcome === 'done' ? (result.accounts ?? []).map((a) => a.email) : [];
        expect(seen.length === emails.length && new Set(seen).size === emails.length, `read ${seen.length} accounts (${new Set(seen).size} distinct) of ${emails.length}`);
        const complete = result.outcome === 'done' ? (result.completeness?.complete ?? true) : false;
        expect(complete, 'the read says it is incomplete');
        return `${emails.length} accounts on ${standIn.requests.length} requests, complete`;
      });
    }

    if (read) {
      await record(`rate limits: ${read} waits out a 429 with Retry-After, then succeeds`, async () => {
        reset();
        standIn.seed(['rate@example.com']);
        standIn.rateLimitNext(1);
        const result = await call(read, 'rate@example.com');
        expect(result.outcome === 'done', `${read} ended ${result.outcome}`);
        const [limited, retried] = standIn.requests;
        expect(!!limited && !!retried, 'the call was not retried');
        const waited = retried!.at - limited!.at;
        expect(waited >= 950, `retried after ${waited} ms; the stand-in asked for 1000`);
        return `answered ${limited!.status}, retried after ${waited} ms`;
      });
    }

    for (const operation of declared) {
      if (operation === 'listUsers') continue;
      const isWrite = writes.includes(operation);
      await record(`${operation}: done`, async () => {
        reset();
        const email = 'subject@example.com';
        if (operation !== 'createUser') standIn.seed([email]);
        const result = await call(operation, email);
        expect(result.outcome === 'done', `ended ${result.outcome}: ${result.evidence}`);
        if (operation === 'deactivateUser') expect([...standIn.accounts.values()].every((a) => !a.active), 'the account is still active at the stand-in');
        if (operation === 'createUser') expect([...standIn.accounts.values()].some((a) => a.email === email), 'no account was created at the stand-in');
        return result.evidence;
      });
      if (isWrite && (operation === 'deactivateUser' || operation === 'createUser' || operation === 'deleteUser')) {
        await record(`${operation}: already done`, async () => {
          reset();
          const email = 'again@example.com';
          if (operation !== 'createUser') standIn.seed([email], operation !== 'deactivateUser');
          if (operation === 'deleteUser') standIn.accounts.clear();
          const result = await call(operation, email);
          if (operation === 'deleteUser') {
            expect(result.outcome === 'notFound' || result.outcome === 'alreadyDone', `a second delete ended ${result.outcome}`);
            return `a second delete is ${result.outcome}`;
          }
          if (operation === 'createUser') {
            const second = await call(operation, email);
            if (second.outcome !== 'alreadyDone') return 'skip: the declaration names no already-done status for an existing account';
            return second.evidence;
          }
          expect(result.outcome === 'alreadyDone', `deactivating an inactive account ended ${result.outcome}: declare \`read\` + \`when\` or an alreadyDone status`);
          return result.evidence;
        });
      }
      if (operation !== 'createUser') {
        await record(`${operation}: not found`, async () => {
          reset();
          standIn.seed(['someone-else@example.com']);
          const result = await call(operation, 'nobody@example.com');
          expectOwnRecord(operation, result, 'nobody@example.com');
          expect(result.outcome === 'notFound', `a person with no account ended ${result.outcome}: ${result.evidence}`);
          return result.evidence;
        });
      }
      if (operation === 'getUser') {
        await record('getUser: finds the person among others', async () => {
          reset();
          standIn.seed(['first@example.com', 'subject@example.com', 'last@example.com']);
          const result = await call(operation, 'subject@example.com');
          expectOwnRecord(operation, result, 'subject@example.com');
          expect(result.outcome === 'done', `ended ${result.outcome}: ${result.evidence}`);
          return result.evidence;
        });
      }
    }
    return checks;
  } finally {
    await standIn.close();
  }
}

async function tenantChecks(connector: LoadedConnector, declared: readonly string[], target: Extract<ConformanceTarget, { kind: 'tenant' }>): Promise<ConformanceCheck[]> {
  const api = declarativeApi(connector)!;
  const checks: ConformanceCheck[] = [];
  const call = (operation: string, email: string) => invoke(api, operation, email, target.settings, target.secrets);
  const record = async (check: string, run: () => Promise<string>) => {
    try {
      checks.push({ check, status: 'pass', detail: await run() });
    } catch (error) {
      checks.push({ check, status: 'fail', detail: (error as Error).message });
    }
  };
  if (declared.includes('listUsers')) {
    await record('paging: listUsers reads to the end', async () => {
      const result = await call('listUsers', '');
      expect(result.outcome === 'done', `ended ${result.outcome}`);
      const done = result as Extract<OperationResult, { outcome: 'done' | 'alreadyDone' }>;
      expect(done.completeness?.complete ?? true, `incomplete: ${done.completeness?.reasons.join('; ')}`);
      return `${done.accounts?.length ?? 0} accounts, complete`;
    });
  }
  if (declared.includes('getUser')) {
    await record('getUser: not found', async () => {
      const email = `patchbay-conformance-${Date.now()}@example.invalid`;
      const result = await call('getUser', email);
      expectOwnRecord('getUser', result, email);
      expect(result.outcome === 'notFound', `a made-up person ended ${result.outcome}`);
      return result.evidence;
    });
  }
  for (const operation of declared.filter((op) => writes.includes(op))) {
    if (!target.allowWrites || !target.user) {
      checks.push({ check: `${operation}`, status: 'skip', detail: 'writes to a real tenant need --allow-writes and --user' });
      continue;
    }
    await record(`${operation}: on ${target.user}`, async () => {
      const result = await call(operation, target.user!);
      expect(result.outcome !== 'notFound', `${target.user} has no account`);
      return `${result.outcome}: ${result.evidence}`;
    });
  }
  return checks;
}

function invoke(api: ConnectorApi, operation: string, email: string, settings: AppSettings, secrets: { resolve(ref: string): string }): Promise<OperationResult> {
  const input: OperationInput = { subject: { email }, settings, secrets: secrets as SecretResolver, idempotencyKey: `conformance:${operation}:${email}:${Date.now()}` };
  return api.operations[operation]!(input);
}

/** Fails the check, naming the cause, when a read about one person answered with someone else's record. */
function expectOwnRecord(operation: string, result: OperationResult, email: string): void {
  const other = result.outcome !== 'notFound' ? result.accounts?.find((a) => fold(a.email) !== fold(email)) : undefined;
  expect(!other, `${operation} returned a record of another person (${other?.email}, id ${other?.id}) for ${email}: filter the list to the person's email, and never act on the first record`);
}

function expect(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export type { StandIn };
