import { describeCondition } from '../manifest/effective.js';
import { type Fact, describeValue } from '../manifest/facts.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { AppliesWhen, ConnectorManifest } from '../schema/types/connector-manifest.js';
import { bullets, generatedNotice, numbered, page, table } from './markdown.js';
import { SourceIndex } from './sources.js';

const factHeaders = ['Fact', 'Value', 'Confidence', 'Checked', 'Sources', 'Note'];

/** One connector's page: what a reader of a Stitchflow guide expects, with every fact's source and confidence. */
export function renderConnectorPage(connector: LoadedConnector, implemented: ReadonlySet<string>): string {
  const m = connector.manifest;
  const caps = m.capabilities;
  const sources = new SourceIndex();
  const row = (label: string, fact: Fact | undefined) =>
    fact
      ? [
          label,
          describeValue(fact.value) + (fact.requires ? ` (${describeCondition(fact.requires, m)})` : ''),
          fact.confidence,
          fact.checkedAt,
          sources.cite(fact.sources),
          fact.note ?? '',
        ]
      : [label, 'not stated', 'unknown', '', '—', 'The manifest does not record this fact.'];
  const facts = (rows: readonly (readonly [string, Fact | undefined])[]) => table(factHeaders, rows.map(([label, fact]) => row(label, fact)));

  const quick = facts([
    ['Automation', { ...m.automation, value: `${m.automation.headline} (${m.automation.value})` } as Fact],
    ['User API: read', caps.userApi.read],
    ['User API: write', caps.userApi.write],
    ['SCIM', caps.scim.available],
    ['SSO protocols', caps.sso.protocols],
    ['JIT provisioning', caps.sso.jit],
    ['Webhooks', caps.webhooks.available],
    ['Bulk import', caps.bulkImport.available],
    ...(caps.lifecycleSources ?? []).map((s) => [s.name, s.available] as const),
  ]);

  const roles = caps.entitlements.roles;
  const rolesBlock = Array.isArray(roles.value)
    ? table(
        ['Role', 'Kind', 'Exclusive', 'Assignable', 'Default', 'Description'],
        roles.value.map((r) => [r.name, r.kind, yesNo(r.exclusive), yesNo(r.assignable), yesNo(r.default), r.description ?? '']),
      )
    : undefined;
  const fields = caps.userObject;
  const fieldsBlock =
    fields && Array.isArray(fields.value)
      ? table(['Field', 'Type', 'Required', 'Description'], fields.value.map((f) => [f.field, f.type, yesNo(f.required), f.description ?? '']))
      : undefined;

  return page([
    generatedNotice(`connectors/${m.id}/manifest.json`),
    `# ${m.name}`,
    `**${m.automation.headline}** · ${m.kind === 'idp' ? 'identity provider' : 'app'}${m.category ? ` · ${m.category}` : ''} · manifest reviewed ${m.reviewedAt}${m.website ? ` · <${m.website}>` : ''}`,
    m.summary?.join('\n\n'),
    '## Quick reference',
    quick,
    '## Authentication',
    facts([
      ['Method', caps.auth.method],
      ['Token lifetime (s)', caps.auth.tokenLifetimeSeconds],
      ['Scopes', caps.auth.scopes],
      ['Base URL', caps.userApi.baseUrl],
    ]),
    '## User object',
    facts([['Fields', fields]]),
    fieldsBlock,
    '## Roles, groups and policies',
    facts([
      ['Roles', roles],
      ['Groups / teams', caps.entitlements.groups],
      ['Per-user policies', caps.entitlements.policies],
    ]),
    rolesBlock,
    '## Rate limits',
    facts([
      ['Limits', caps.rateLimits.limits],
      ['Headers', caps.rateLimits.headers],
      ['Retry-After', caps.rateLimits.retryAfter],
      ['Concurrent requests', caps.rateLimits.concurrency],
    ]),
    '## Pagination',
    facts([
      ['Method', caps.pagination.method],
      ['Default page size', caps.pagination.defaultPageSize],
      ['Max page size', caps.pagination.maxPageSize],
      ['Next-page pointer', caps.pagination.pointer],
    ]),
    '## Events',
    facts([
      ['Webhooks', caps.webhooks.available],
      ['Events', caps.webhooks.events],
      ['User lifecycle events', caps.webhooks.userEvents],
      ['Signature', caps.webhooks.signature],
    ]),
    '## SCIM status',
    facts([
      ['Available', caps.scim.available],
      ['Version', caps.scim.version],
      ['Plan required', caps.scim.planRequired],
      ['Endpoint', caps.scim.endpoint],
      ['PATCH', caps.scim.patch],
      ['Filter', caps.scim.filter],
      ['Bulk', caps.scim.bulk],
      ['Max results', caps.scim.maxResults],
    ]),
    '## SSO',
    facts([
      ['Protocols', caps.sso.protocols],

      ['JIT provisioning', caps.sso.jit],
      ['What JIT carries', caps.sso.jitCarries],
    ]),
    '## Bulk import',
    facts([
      ['Available', caps.bulkImport.available],
      ['Format', caps.bulkImport.format],
      ['Columns', caps.bulkImport.columns],
    ]),
    caps.lifecycleSources?.length ? '## Other lifecycle sources' : undefined,
    ...(caps.lifecycleSources ?? []).map((s) =>
      page([
        `### ${s.name}`,
        `Switched on by the tenant feature \`${s.feature}\`. When on, it owns: ${s.owns.map((o) => `\`${o}\``).join(', ')}; Patchbay hands those to the checklist \`${s.runbook}\` instead. ${s.reason}`,
        facts([
          ['Available', s.available],
          ['Systems', s.systems],
        ]),
      ]).trimEnd(),
    ),
    caps.adminConsole ? '## Admin console' : undefined,
    caps.adminConsole ? facts(Object.entries(caps.adminConsole).map(([k, f]) => [humanize(k), f] as const)) : undefined,
    plansAndFeatures(m),
    '## Operations and channels',
    'Each operation lists its channels in the order the planner tries them; the planner skips a channel the tenant cannot use and says why.',
    table(
      ['Operation', 'Access', 'Channel chain', 'Runbook / recipe', 'Only if'],
      Object.entries(m.operations).map(([name, op]) => [
        `\`${name}\`: ${op.title}`,
        op.access,
        op.channels.map((r) => r.channel).join(' → '),
        op.channels.map((r) => r.runbook ?? r.recipe).filter(Boolean).join(', '),
        [op.condition, op.appliesWhen ? `decided on what the check reads: ${describeAppliesWhen(op.appliesWhen)}` : undefined].filter(Boolean).join('; '),
      ]),
    ),
    implemented.size ? `API module: implements ${[...implemented].map((n) => `\`${n}\``).join(', ')}.` : 'No code: this connector is data only.',
    m.playbooks ? '## Playbooks' : undefined,
    m.playbooks
      ? table(
          ['Playbook', 'Identity provider', 'Steps', 'Verification'],
          Object.entries(m.playbooks).map(([name, p]) => [name, p.idp, p.steps.join(' → '), p.verify ? `${p.verify}, expect ${p.expect}` : '—']),
        )
      : undefined,
    m.scenarios?.length ? '## Scenarios' : undefined,
    ...(m.scenarios ?? []).map((s) =>
      page([`### ${s.title}`, numbered(s.steps), s.watchOutFor?.length ? `**Watch out for**\n\n${bullets(s.watchOutFor)}` : undefined]).trimEnd(),
    ),
    watchOuts(m),
    connector.runbooks.size ? '## Runbooks (human checklists)' : undefined,
    ...[...connector.runbooks.values()].map((r) =>
      page([
        `### ${r.title} (\`${r.id}\`)`,
        [r.summary, `Queue \`${r.queue ?? 'the tenant default'}\`${r.slaHours ? `, due within ${r.slaHours} h` : ''}${r.batchable ? ', several people per task' : ''}.`].filter(Boolean).join(' '),
        numbered(r.steps.map((s) => `${s.text}${s.path ? ` *(${s.path})*` : ''}`)),
        `**Evidence asked for**\n\n${bullets(r.evidence.map((e) => `${e.label} (${e.kind}${e.required ? ', required' : ', optional'})`))}`,
        r.watchOutFor?.length ? `**Watch out for**\n\n${bullets(r.watchOutFor)}` : undefined,
      ]).trimEnd(),
    ),
    connector.recipes.size ? '## Browser recipes' : undefined,
    connector.recipes.size
      ? table(
          ['Recipe', 'Operation', 'Parameters', 'Steps'],
          [...connector.recipes.values()].map((r) => [
            `\`${r.id}\`: ${r.title}`,
            r.operation,
            Object.entries(r.parameters).map(([k, p]) => `${k} (${p.type})`).join(', '),
            r.steps.map((s) => s.name).join(' → '),
          ]),
        )
      : undefined,
    m.limitations?.length ? `## Limitations\n\n${bullets(m.limitations)}` : undefined,
    '## Sources',
    sources.render(),
  ]);
}

function plansAndFeatures(m: ConnectorManifest): string | undefined {
  if (!m.plans?.length && !m.features?.length) return undefined;
  return page([
    '## Plans and tenant features',
    m.plans?.length ? `Plans: ${m.plans.map((p) => `${p.name} (\`${p.id}\`)`).join(', ')}.` : undefined,
    m.features?.length
      ? table(
          ['Feature', 'Id', 'Plans', 'Default', 'Meaning'],
          m.features.map((f) => [f.title, `\`${f.id}\``, f.plans?.map((p) => m.plans?.find((x) => x.id === p)?.name ?? p).join(', ') ?? 'any', f.default ? 'on' : 'off', f.description ?? '']),
        )
      : undefined,
  ]).trimEnd();
}

function watchOuts(m: ConnectorManifest): string | undefined {
  const items = Object.entries(m.operations).flatMap(([name, op]) =>
    (op.watchOutFor ?? []).map((w) => `${w.blocking ? '**Blocking.** ' : ''}${w.text}${w.when ? ` *(${describeCondition(w.when, m)})*` : ''} — \`${name}\``),
  );
  return items.length ? `## Watch out for\n\n${bullets(items)}` : undefined;
}

const yesNo = (v: boolean | undefined) => (v === undefined ? '' : v ? 'yes' : 'no');
const humanize = (key: string) => key.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`).replace(/^./, (c) => c.toUpperCase());

/** An appliesWhen test in words: "roles includes Account Owner or Organisation Owner, or pendingApprovals > 0". */
function describeAppliesWhen(when: AppliesWhen): string {
  return when.anyOf
    .map((t) => [t.includesAny ? `${t.field} includes ${t.includesAny.join(' or ')}` : undefined, t.greaterThan !== undefined ? `${t.field} > ${t.greaterThan}` : undefined].filter(Boolean).join(' and ') || `${t.field} is read`)
    .join(', or ');
}
