import { describeCondition, effectiveMatrix } from '../manifest/effective.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import { type Fact, describeValue } from '../manifest/facts.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { ConnectorManifest } from '../schema/types/connector-manifest.js';
import { generatedNotice, page, table } from './markdown.js';

/** A column of the capability matrix: a heading and where its fact sits in a manifest. */
export interface MatrixColumn {
  readonly key: string;
  readonly heading: string;
  readonly fact: (m: ConnectorManifest) => Fact | undefined;
}

export const matrixColumns: readonly MatrixColumn[] = [
  { key: 'automation', heading: 'Automation', fact: (m) => ({ ...m.automation, value: m.automation.value }) as Fact },
  { key: 'userApiRead', heading: 'User API read', fact: (m) => m.capabilities.userApi.read },
  { key: 'userApiWrite', heading: 'User API write', fact: (m) => m.capabilities.userApi.write },
  { key: 'scim', heading: 'SCIM', fact: (m) => m.capabilities.scim.available },
  { key: 'sso', heading: 'SSO', fact: (m) => m.capabilities.sso.protocols },
  { key: 'jit', heading: 'JIT', fact: (m) => m.capabilities.sso.jit },
  { key: 'userEvents', heading: 'User events', fact: (m) => m.capabilities.webhooks.userEvents ?? m.capabilities.webhooks.available },
  { key: 'pagination', heading: 'Pagination', fact: (m) => m.capabilities.pagination.method },
  { key: 'rateLimits', heading: 'Rate limits', fact: (m) => m.capabilities.rateLimits.limits },
  { key: 'auth', heading: 'Auth', fact: (m) => m.capabilities.auth.method },
  { key: 'bulkImport', heading: 'Bulk import', fact: (m) => m.capabilities.bulkImport.available },
  { key: 'hrSync', heading: 'HR sync', fact: (m) => m.capabilities.lifecycleSources?.[0]?.available },
];

const mark: Record<Fact['confidence'], string> = { documented: 'doc', 'second-hand': '2nd-hand', 'third-party': '3p', disputed: 'disputed', unknown: '' };

/** A matrix cell: the value, how sure we are, and a dagger when it holds only for some tenants. */
export function matrixCell(fact: Fact | undefined): string {
  if (!fact) return '—';
  const value = describeValue(fact.value);
  const confidence = mark[fact.confidence];
  return `${value}${confidence ? ` (${confidence})` : ''}${fact.requires ? ' †' : ''}`;
}

export function renderMatrixPage(connectors: readonly LoadedConnector[]): string {
  const conditional = connectors.flatMap(({ manifest: m }) =>
    matrixColumns
      .map((c) => ({ c, f: c.fact(m) }))
      .filter(({ f }) => f?.requires)
      .map(({ c, f }) => `- **${m.name}, ${c.heading}**: ${describeCondition(f!.requires, m)}.`),
  );
  return page([
    generatedNotice('connectors/*/manifest.json'),
    '# Capability matrix',
    'What each connector\'s app can do for the user lifecycle, as its manifest records it. Confidence: **doc** the vendor documents it; **3p** only a third party says so; **disputed** sources contradict each other; a bare **unknown** means nobody documents it, which is not the same as **no**. A dagger (†) marks a fact that holds only for some tenants (see below). Every fact\'s sources are on the connector\'s page.',
    table(
      ['Connector', ...matrixColumns.map((c) => c.heading)],
      connectors.map(({ manifest: m }) => [`[${m.name}](connectors/${m.id}.md)`, ...matrixColumns.map((c) => matrixCell(c.fact(m)))]),
    ),
    conditional.length ? `## Facts that depend on the tenant\n\n${conditional.join('\n')}` : undefined,
    '## Channels per operation',
    table(
      ['Connector', 'Operation', 'Channel chain'],
      connectors.flatMap(({ manifest: m }) => Object.entries(m.operations).map(([name, op]) => [m.name, `\`${name}\``, op.channels.map((r) => r.channel).join(' → ')])),
    ),
  ]);
}

/** One connector's row of the matrix as data: every column's fact, and, for a tenant, whether it applies to them. */
export interface MatrixRow {
  readonly id: string;
  readonly name: string;
  readonly tenant?: string;
  readonly facts: Record<string, (Fact & { effective?: { value: unknown; applies: boolean; reason?: string } }) | null>;
}

/** The matrix for the CLI, the API and the pages; narrowed to a tenant's installed apps when given one. */
export function matrixReport(connectors: readonly LoadedConnector[], tenant?: TenantProfile): MatrixRow[] {
  return connectors
    .filter((c) => !tenant || c.manifest.id in tenant.apps || c.manifest.id === tenant.idp?.connector)
    .map(({ manifest }) => {
      const matrix = tenant ? effectiveMatrix(manifest, tenant.apps[manifest.id]) : undefined;
      const facts = Object.fromEntries(
        matrixColumns.map((column) => {
          const fact = column.fact(manifest);
          const pointer = fact && [...(matrix?.facts.values() ?? [])].find((f) => f.fact === fact);
          return [column.key, fact ? { ...fact, ...(pointer ? { effective: { value: pointer.value, applies: pointer.applies, ...(pointer.reason ? { reason: pointer.reason } : {}) } } : {}) } : null];
        }),
      );
      return { id: manifest.id, name: manifest.name, ...(tenant ? { tenant: tenant.tenant } : {}), facts };
    });
}
