import assert from 'node:assert/strict';
import { type VendorStandIn, moduleChecks } from '../../core/conformance/module-kit.js';
import { createServices } from '../../core/container.js';
import { type Fact, describeValue, factsOf } from '../../core/manifest/facts.js';
import type { OperationInput } from '../../core/registry/connector-api.js';
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
 * The module conformance kit (core/conformance/module-kit.ts) as mocha tests, one per check it
 * chooses from what the connector declares, each against a fresh vendor double; and a check of the
 * connector's generated docs page. Use it in a test file:
 *
 *   conformance({ connector: 'okta', double: () => new OktaDouble().listen(), settings: (d) => ({ baseUrl: d.url, secrets: { token: 'env:T' } }), env: { T: 'x' } });
 */
export function conformance(subject: ConformanceSubject): void {
  const services = createServices();
  const connector = services.registry.get(subject.connector);
  const checks = moduleChecks({
    connector,
    api: services.registry.api(subject.connector),
    implemented: services.registry.implemented(subject.connector),
    standIn: subject.double,
    settings: (standIn: VendorStandIn) => subject.settings(standIn as VendorDouble),
    secrets: new EnvironmentSecretResolver(subject.env),
    ...(subject.target ? { target: subject.target } : {}),
  });

  describe(`conformance: ${subject.connector}`, () => {
    let double: VendorDouble;
    beforeEach(async () => (double = await subject.double()));
    afterEach(() => double.close());

    for (const check of checks) it(check.check, async () => void (await check.run(double)));

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
