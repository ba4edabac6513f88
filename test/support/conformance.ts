import assert from 'node:assert/strict';
import { ScimClient } from '../../core/channels/scim/client.js';
import { scimOperations } from '../../core/channels/scim/operations.js';
import { createServices } from '../../core/container.js';
import { type Fact, describeValue, factsOf } from '../../core/manifest/facts.js';
import type { OperationInput, OperationResult } from '../../core/registry/connector-api.js';
import type { AppSettings } from '../../core/schema/types/tenant-profile.js';
import { EnvironmentSecretResolver } from '../../core/tenant/secrets.js';
import type { VendorDouble } from './vendor-doubles.js';

export interface ConformanceSubject {
  readonly connector: string;
  /** Starts the vendor stand-in (a real server on 127.0.0.1). */
  readonly double: () => Promise<VendorDouble>;
  /** The tenant settings that point the connector at the double; secrets resolve from `env`. */
  readonly settings: (double: VendorDouble) => AppSettings;
  readonly env: Record<string, string>;
  /** Extra input an identity provider needs (the target app). */
  readonly target?: OperationInput['target'];
}

/**
 * The conformance kit: chooses its checks from what the connector declares, and runs them against a
 * vendor stand-in. Use it in a test file:
 *
 *   conformance({ connector: 'okta', double: () => new OktaDouble().listen(), settings: (d) => ({ baseUrl: d.url, secrets: { token: 'env:T' } }), env: { T: 'x' } });
 */
export function conformance(subject: ConformanceSubject): void {
  const services = createServices();
  const connector = services.registry.get(subject.connector);
  const routed = (channel: 'api' | 'scim') => Object.entries(connector.manifest.operations).filter(([, op]) => op.channels.some((r) => r.channel === channel)).map(([name]) => name);
  const api = routed('api');
  const scim = routed('scim');
  const secrets = new EnvironmentSecretResolver(subject.env);
  const clock = (() => {
    let t = Date.now();
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  })();

  const call = (double: VendorDouble, operation: string, email: string): Promise<OperationResult> => {
    const settings = subject.settings(double);
    if (scim.includes(operation)) {
      const client = new ScimClient(subject.connector, settings, secrets, { clock });
      return operation === 'listUsers' ? client.listUsers() : operation === 'deactivateUser' ? client.deactivateUser(email) : client.getUser(email);
    }
    const handler = services.registry.api(subject.connector)!.operations[operation]!;
    return handler({ subject: { email }, settings, secrets, idempotencyKey: `conformance:${operation}:${email}`, ...(subject.target ? { target: subject.target } : {}) });
  };

  describe(`conformance: ${subject.connector}`, () => {
    let double: VendorDouble;
    beforeEach(async () => (double = await subject.double()));
    afterEach(() => double.close());

    it('implements every operation its manifest routes to api or scim', () => {
      const implemented = services.registry.implemented(subject.connector);
      assert.deepEqual(api.filter((op) => !implemented.has(op)), [], 'api operations without an implementation');
      assert.deepEqual(scim.filter((op) => !scimOperations.has(op)), [], 'scim operations the channel cannot carry out');
      assert.ok(api.length + scim.length > 0, 'a connector with no machine channel has nothing to conform to');
    });

    const lists = api.includes('listUsers') || scim.includes('listUsers');
    if (lists) {
      it('lists every user across all pages, without duplicates or gaps', async () => {
        const emails = Array.from({ length: 523 }, (_, i) => `person${i}@acme.com`);
        double.seed(emails);
        const result = await call(double, 'listUsers', '');
        assert.equal(result.outcome, 'done');
        const seen = result.outcome === 'done' ? result.accounts!.map((a) => a.email) : [];
        assert.equal(seen.length, emails.length, 'every user once');
        assert.deepEqual([...new Set(seen)].sort(), [...emails].sort());
      });
    }

    const reads = api.includes('getUser') || scim.includes('getUser') ? 'getUser' : lists ? 'listUsers' : undefined;
    if (reads) {
      it('honours a 429: waits as told, then succeeds', async () => {
        double.seed(['rate@acme.com']);
        double.rateLimitNext(1);
        const result = await call(double, reads, 'rate@acme.com');
        assert.equal(result.outcome, 'done');
      });
    }

    if (api.includes('deactivateUser') || scim.includes('deactivateUser')) {
      it('deactivates once; the second time is already done', async () => {
        double.seed(['leaver@acme.com']);
        assert.equal((await call(double, 'deactivateUser', 'leaver@acme.com')).outcome, 'done');
        assert.equal(double.isActive('leaver@acme.com'), false);
        assert.equal((await call(double, 'deactivateUser', 'leaver@acme.com')).outcome, 'alreadyDone');
      });
    }

    it('its generated docs page states every declared fact with its confidence and sources', () => {
      const page = services.docs.render().get(`connectors/${subject.connector}.md`)!;
      for (const { pointer, fact } of factsOf(connector.manifest)) {
        // Unknown facts are collapsed into the page's "Not documented" line; per-IdP values are a table of their own.
        if (fact.value === 'unknown') {
          assert.match(page, /\*\*Not documented:\*\* /, `${pointer}: unknown, but no "Not documented" line`);
          continue;
        }
        if (typeof fact.value === 'object' && !Array.isArray(fact.value)) {
          for (const source of fact.sources ?? []) assert.ok(page.includes(`<${source.url}>`), `${pointer}: source ${source.url} missing`);
          continue;
        }
        const value = describeValue((fact as Fact).value);
        assert.ok(page.includes(value.replace(/\|/g, '\\|').slice(0, 40)), `${pointer}: value "${value}" missing`);
        for (const source of fact.sources ?? []) assert.ok(page.includes(`<${source.url}>`), `${pointer}: source ${source.url} missing`);
      }
    });
  });
}
