import { scimCalls } from '../channels/scim/operations.js';
import { describeCondition } from '../manifest/effective.js';
import { type Fact, describeValue, factsOf } from '../manifest/facts.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { ApiCall, AppliesWhen, AuthMethod, ConnectorManifest } from '../schema/types/connector-manifest.js';
import { bullets, generatedNotice, numbered, page, table } from './markdown.js';
import { SourceIndex } from './sources.js';
import path from 'node:path';
import { connectorsDir, isBuiltIn } from '../paths.js';
import { missingSettings } from '../planning/settings-needed.js';

/** Labels for facts by pointer, in the order a reader looks for them; others get a label from their pointer. */
const labels: readonly [string, string, string][] = [
  ['/automation', 'Overview', 'Automation'],
  ['/capabilities/userApi/read', 'User API', 'Read users'],
  ['/capabilities/userApi/write', 'User API', 'Write users'],
  ['/capabilities/userApi/manages', 'User API', 'Users are'],
  ['/capabilities/userApi/upsert', 'User API', 'Creating an existing user'],
  ['/capabilities/userApi/baseUrl', 'User API', 'Base URL'],
  ['/capabilities/auth/method', 'Authentication', 'Method'],
  ['/capabilities/auth/tokenLifetimeSeconds', 'Authentication', 'Token lifetime (s)'],
  ['/capabilities/auth/scopes', 'Authentication', 'Scopes'],
  ['/capabilities/userObject', 'User object', 'Fields'],
  ['/capabilities/scim/available', 'SCIM', 'Available'],
  ['/capabilities/scim/version', 'SCIM', 'Version'],
  ['/capabilities/scim/planRequired', 'SCIM', 'Plan required'],
  ['/capabilities/scim/endpoint', 'SCIM', 'Endpoint'],
  ['/capabilities/scim/patch', 'SCIM', 'PATCH'],
  ['/capabilities/scim/filter', 'SCIM', 'Filter'],
  ['/capabilities/scim/bulk', 'SCIM', 'Bulk'],
  ['/capabilities/scim/maxResults', 'SCIM', 'Max results'],
  ['/capabilities/sso/protocols', 'SSO', 'Protocols'],
  ['/capabilities/sso/jit', 'SSO', 'JIT provisioning'],
  ['/capabilities/sso/jitCarries', 'SSO', 'What JIT carries'],
  ['/capabilities/entitlements/roles', 'Roles and groups', 'Roles'],
  ['/capabilities/entitlements/groups', 'Roles and groups', 'Groups / teams'],
  ['/capabilities/entitlements/policies', 'Roles and groups', 'Per-user policies'],
  ['/capabilities/rateLimits/limits', 'Rate limits', 'Limits'],
  ['/capabilities/rateLimits/headers', 'Rate limits', 'Headers'],
  ['/capabilities/rateLimits/retryAfter', 'Rate limits', 'Retry-After'],
  ['/capabilities/rateLimits/concurrency', 'Rate limits', 'Concurrent requests'],
  ['/capabilities/pagination/method', 'Pagination', 'Method'],
  ['/capabilities/pagination/defaultPageSize', 'Pagination', 'Default page size'],
  ['/capabilities/pagination/maxPageSize', 'Pagination', 'Max page size'],
  ['/capabilities/pagination/pointer', 'Pagination', 'Next-page pointer'],
  ['/capabilities/webhooks/available', 'Events', 'Webhooks'],
  ['/capabilities/webhooks/events', 'Events', 'Events'],
  ['/capabilities/webhooks/userEvents', 'Events', 'User lifecycle events'],
  ['/capabilities/webhooks/signature', 'Events', 'Signature'],
  ['/capabilities/bulkImport/available', 'Bulk import', 'Available'],
  ['/capabilities/bulkImport/format', 'Bulk import', 'Format'],
  ['/capabilities/bulkImport/columns', 'Bulk import', 'Columns'],
];

function labelOf(pointer: string, m: ConnectorManifest): [string, string] {
  const known = labels.find(([p]) => p === pointer);
  if (known) return [known[1], known[2]];
  const parts = pointer.split('/').slice(2);
  if (parts[0] === 'adminConsole') return ['Admin console', humanize(parts[1] ?? '')];
  if (parts[0] === 'lifecycleSources') {
    const source = m.capabilities.lifecycleSources?.[Number(parts[1])];
    return ['Other lifecycle sources', `${source?.name ?? parts[1]}: ${parts[2] === 'available' ? 'available' : humanize(parts[2] ?? '')}`];
  }
  return [humanize(parts[0] ?? 'Other'), parts.slice(1).map(humanize).join(' / ')];
}

/** A fact's value in words: "documented as absent" for absent, the condition it holds under. */
function valueOf(fact: Fact, m: ConnectorManifest): string {
  const value = fact.value === 'absent' ? 'documented as absent' : describeValue(fact.value);
  return value + (fact.requires ? ` (${describeCondition(fact.requires, m)})` : '');
}

/**
 * One connector's page, for a reader who would otherwise go to the vendor's pages: the facts that
 * are known first, grouped, each with its confidence and numbered sources (the quote beside the
 * fact, the source listed once at the end with the date it was read); everything nobody documents
 * in one "Not documented" line; SSO per identity provider; the declared API calls as a table of
 * method, path and what counts as done; then the human and browser routes.
 */
export function renderConnectorPage(connector: LoadedConnector, implemented: ReadonlySet<string>): string {
  const m = connector.manifest;
  const caps = m.capabilities;
  const sources = new SourceIndex();
  const cite = (fact: Fact) => sources.cite(fact.sources);
  const all = [...factsOf(m)].filter(({ pointer }) => !pointer.startsWith('/capabilities/sso/idps/'));
  const known = all.filter(({ fact }) => fact.value !== 'unknown');
  const unknown = all.filter(({ fact }) => fact.value === 'unknown');

  // One table, in reading order: a manual-only app's page stays short.
  const knownRows = known.map(({ pointer, fact }) => {
    const [section, label] = labelOf(pointer, m);
    const value = pointer === '/automation' ? `${m.automation.headline} (${m.automation.value})` : valueOf(fact, m);
    return [section === 'Overview' ? label : `${section}: ${label}`, value, fact.confidence, cite(fact), fact.note ?? ''];
  });
  const knownBlocks = [table(['Fact', 'Value', 'Confidence', 'Sources', 'Note'], knownRows)];
  // An app's single sign-on with each identity provider nobody documents joins the same line.
  const idps = Object.entries(caps.sso.idps ?? {});
  const knownIdps = idps.filter(([, fact]) => fact.value !== 'unknown');
  const unknownIdps = m.kind === 'idp' ? [] : Object.keys(idpNames).filter((id) => !knownIdps.some(([known]) => known === id));
  const unknownLabels = [
    ...unknown.map(({ pointer }) => labelOf(pointer, m)).map(([s, l]) => `${s === 'Overview' ? '' : `${s}: `}${l.toLowerCase()}`),
    ...(unknownIdps.length ? [`SSO with ${unknownIdps.map((id) => idpNames[id]).join(' / ')}`] : []),
  ];
  const notDocumented = unknownLabels.length ? `**Not documented:** ${unknownLabels.join(', ')}.` : undefined;

  const roles = caps.entitlements.roles;
  const rolesBlock = Array.isArray(roles.value)
    ? table(['Role', 'Kind', 'Exclusive', 'Assignable', 'Default', 'Description'], roles.value.map((r) => [r.name, r.kind, yesNo(r.exclusive), yesNo(r.assignable), yesNo(r.default), r.description ?? '']))
    : undefined;
  const fields = caps.userObject;
  const fieldsBlock =
    fields && Array.isArray(fields.value)
      ? table(['Field', 'Type', 'Required', 'On create', 'On update', 'Description'], fields.value.map((f) => [f.field, f.type, yesNo(f.required), yesNo(f.onCreate), yesNo(f.onUpdate), f.description ?? '']))
      : undefined;

  const idpBlock = knownIdps.length
    ? page([
        '## Single sign-on per identity provider',
        table(
          ['Identity provider', 'Protocols', 'JIT', 'SCIM through it', 'Confidence', 'Sources', 'Note'],
          knownIdps.map(([id, fact]) => {
            const v = fact.value as Exclude<typeof fact.value, 'unknown'>;
            return [idpNames[id] ?? id, v.protocols.join(', ') || 'no SSO', describeValue(v.jit), v.scim + (v.listing ? ` (${v.listing})` : ''), fact.confidence, cite(fact as Fact), fact.note ?? ''];
          }),
        ),
      ]).trimEnd()
    : undefined;

  const surfaces = Object.entries(m.surfaces ?? {});
  const surfaceBlock = surfaces.length
    ? page([
        '## API surfaces',
        table(
          ['Surface', 'Kind', 'Base URL', 'Auth', 'Headers', 'Rate limits', 'Paging', 'Sources'],
          surfaces.map(([id, s]) => [
            `\`${id}\``,
            s.kind,
            `\`${s.baseUrl.value}\``,
            Array.isArray(s.auth.value) ? s.auth.value.map(describeAuth).join('; ') : 'unknown',
            Object.entries(s.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ') || '—',
            s.rateLimits ? `${s.rateLimits.value === 'absent' ? 'documented as absent' : describeValue(s.rateLimits.value)}${s.limitedStatuses ? ` (limited: ${s.limitedStatuses.join(', ')})` : ''}` : 'unknown',
            s.pagination && Array.isArray(s.pagination.value) ? s.pagination.value.map((p) => `${p.style}${p.endpoints ? ` on ${p.endpoints.join(', ')}` : ''}${p.maxPageSize ? `, max ${p.maxPageSize}` : ''}`).join('; ') : 'unknown',
            [s.baseUrl, s.auth, s.rateLimits, s.pagination].filter((f): f is NonNullable<typeof f> => !!f && f.value !== 'unknown').map((f) => cite(f as Fact)).join(', '),
          ]),
        ),
      ]).trimEnd()
    : undefined;

  const operationRows = Object.entries(m.operations).map(([name, op]) => {
    const call = op.channels.find((r) => r.channel === 'api' && r.call)?.call;
    // A SCIM route's request is the channel's, the same for every SCIM app: shown when no declared call comes first.
    const scim = !call && op.channels.some((r) => r.channel === 'scim') ? scimCalls[name] : undefined;
    return [
      `\`${name}\``,
      call ? call.method : scim ? `${scim.method} (SCIM)` : '—',
      call ? `\`${call.path}\`` : scim ? `\`${scim.path}\`` : '—',
      call ? doneWhen(call) : scim ? scim.doneWhen : op.title,
      op.channels.map((r) => r.channel + (r.runbook ? ` (${r.runbook})` : r.recipe ? ` (${r.recipe})` : '')).join(' → '),
      [op.condition, op.appliesWhen ? `decided on what the check reads: ${describeAppliesWhen(op.appliesWhen)}` : undefined].filter(Boolean).join('; '),
    ];
  });
  const declared = Object.values(m.operations).some((op) => op.channels.some((r) => r.call));
  const viaScim = Object.values(m.operations).some((op) => op.channels.some((r) => r.channel === 'scim'));
  const moduleOps = [...implemented].filter((n) => !m.operations[n]?.channels.some((r) => r.call));

  // Declared requests in full: what a reader needs to reproduce one with curl.
  const requestRows = Object.entries(m.operations).flatMap(([name, op]) => {
    const call = op.channels.find((r) => r.channel === 'api' && r.call)?.call;
    if (!call) return [];
    const code = (value: unknown) => `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
    return [[
      `\`${name}\``,
      Object.entries(call.query ?? {}).map(([k, v]) => `${k}=${v}`).join('&') || '—',
      Object.entries(call.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ') || '—',
      call.body !== undefined ? code(call.body) : '—',
      Object.entries(call.params ?? {}).map(([k, b]) => `{${k}} ← ${b.from === 'const' ? JSON.stringify(b.value) : `${b.from} ${b.pointer}`}`).join(', ') || '—',
      call.read ? `\`${call.read}\`` : '—',
    ]];
  });
  const needsBaseUrl = Object.values(m.surfaces ?? {}).some((s) => s.baseUrl.value.includes('{baseUrl}'));
  const settings = [
    ...(needsBaseUrl ? ['`baseUrl` (the API address)'] : []),
    ...missingSettings(m, {}).map((n) => `\`${n.pointer.slice(1).replace(/\//g, '.')}\` (${n.uses.join(', ')} for ${n.operations.map((o) => `\`${o}\``).join(', ')})`),
  ];
  const settingsBlock = settings.length ? `**Tenant settings** the declared calls need, in the profile's \`apps.${m.id}\` entry: ${settings.join('; ')}.` : undefined;
  // Where the page comes from: the repository's connectors as repository paths; a connector from a PATCHBAY_CONNECTORS folder by its own path.
  const manifestFile = path.join(connector.dir, 'manifest.json');
  const inRepository = isBuiltIn(manifestFile);
  const notice = inRepository ? generatedNotice(`connectors/${path.relative(connectorsDir, manifestFile).split(path.sep).join('/')}`) : generatedNotice(manifestFile, 'patchbay docs');

  return page([
    notice,
    `# ${m.name}`,
    `**${m.automation.headline}** · ${m.kind === 'idp' ? 'identity provider' : 'app'}${m.category ? ` · ${m.category}` : ''} · manifest reviewed ${m.reviewedAt}${m.website ? ` · <${m.website}>` : ''}`,
    m.summary?.join('\n\n'),
    '## What is known',
    ...knownBlocks,
    notDocumented,
    fieldsBlock,
    rolesBlock,
    idpBlock,
    surfaceBlock,
    ...(caps.lifecycleSources ?? []).map((s) => `**${s.name}** (tenant feature \`${s.feature}\`): when on, it owns ${s.owns.map((o) => `\`${o}\``).join(', ')}; Patchbay hands those to the checklist \`${s.runbook}\`. ${s.reason}`),
    plansAndFeatures(m),
    '## Operations',
    `Channels in the order the planner tries them.${declared ? ' Method and path are declared in the manifest and run by the api channel.' : ''}${viaScim ? ' SCIM requests are the scim channel\'s, under the SCIM base URL.' : ''}`,
    table(['Operation', 'Method', 'Path', 'Done when', 'Channels', 'Only if'], operationRows),
    requestRows.length ? table(['Declared request', 'Query', 'Headers', 'Body', 'Placeholders', 'Reads first'], requestRows) : undefined,
    settingsBlock,
    moduleOps.length ? `API module (code): ${moduleOps.map((n) => `\`${n}\``).join(', ')}.` : undefined,
    m.playbooks
      ? table(['Playbook', 'Identity provider', 'Steps', 'Verification'], Object.entries(m.playbooks).map(([name, p]) => [name, p.idp, p.steps.join(' → '), p.verify ? `${p.verify}, expect ${p.expect}` : '—']))
      : undefined,
    m.scenarios?.length ? '## Scenarios' : undefined,
    ...(m.scenarios ?? []).map((s) => page([`### ${s.title}`, numbered(s.steps), s.watchOutFor?.length ? `**Watch out for**\n\n${bullets(s.watchOutFor)}` : undefined]).trimEnd()),
    watchOuts(m),
    connector.runbooks.size ? '## Runbooks (human checklists)' : undefined,
    connector.runbooks.size
      ? table(
          ['Runbook', 'Queue', 'Steps', 'Evidence'],
          [...connector.runbooks.values()].map((r) => [
            `\`${r.id}\`: ${r.title}`,
            `${r.queue ?? 'tenant default'}${r.slaHours ? `, ${r.slaHours} h` : ''}`,
            r.steps.map((st, i) => `${i + 1}. ${st.text}${st.path ? ` (${st.path})` : ''}`).join('\n'),
            r.evidence.map((e) => `${e.label}${e.required ? '' : ' (optional)'}`).join('; '),
          ]),
        )
      : undefined,
    connector.recipes.size ? '## Browser recipes' : undefined,
    connector.recipes.size
      ? table(
          ['Recipe', 'Operation', 'Parameters', 'Steps'],
          [...connector.recipes.values()].map((r) => [`\`${r.id}\`: ${r.title}`, r.operation, Object.entries(r.parameters).map(([k, p]) => `${k} (${p.type})`).join(', '), r.steps.map((st) => st.name).join(' → ')]),
        )
      : undefined,
    m.limitations?.length ? `## Limitations\n\n${bullets(m.limitations)}` : undefined,
    '## Sources',
    sources.render(),
  ]);
}

const idpNames: Record<string, string> = { okta: 'Okta', 'entra-id': 'Microsoft Entra ID', 'google-workspace': 'Google Workspace', onelogin: 'OneLogin' };

function describeAuth(method: AuthMethod): string {
  switch (method.type) {
    case 'custom-scheme':
      return `\`Authorization: ${method.scheme} …\``;
    case 'api-key':
      return `API key in ${method.in} \`${method.name}\``;
    case 'oauth2-client-credentials':
    case 'oauth2-refresh-token':
      return `${method.type}${method.scopes ? ` (${method.scopes.join(' ')})` : ''}`;
    default:
      return method.type;
  }
}

/** What counts as done for a declared call: its statuses and already-done rules, in words. */
function doneWhen(call: ApiCall): string {
  const words = { done: 'done', alreadyDone: 'already done', notFound: 'not found' } as const;
  const statuses = Object.entries(call.outcomes ?? {}).map(([status, outcome]) => `${status} ${words[outcome]}`);
  const rules = (call.when ?? []).map((r) => `${words[r.outcome]} when ${r.account} ${'equals' in r ? `is ${JSON.stringify(r.equals)}` : r.in ? `is one of ${r.in.map((v) => JSON.stringify(v)).join(', ')}` : `includes ${JSON.stringify(r.includes)}`} (read by ${call.read})`);
  const answers = (call.answer ?? []).map((r) => `${r.outcome === 'failed' ? 'failed' : words[r.outcome]} when the answer's ${r.pointer} ${'equals' in r ? `is ${JSON.stringify(r.equals)}` : `is one of ${r.in!.map((v) => JSON.stringify(v)).join(', ')}`}`);
  const list = call.page ? `every page (${call.page.style})` : call.items !== undefined ? `the record whose email is the person's, at ${call.items || 'the root'}` : undefined;
  return [...(statuses.length ? statuses : ['2xx done']), ...answers, ...rules, ...(list ? [list] : [])].join('; ');
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

/** The operations' warnings, less those a scenario above already printed word for word. */
function watchOuts(m: ConnectorManifest): string | undefined {
  const shown = new Set((m.scenarios ?? []).flatMap((s) => s.watchOutFor ?? []));
  const items = Object.entries(m.operations).flatMap(([name, op]) =>
    (op.watchOutFor ?? []).filter((w) => !shown.has(w.text)).map((w) => `${w.blocking ? '**Blocking.** ' : ''}${w.text}${w.when ? ` *(${describeCondition(w.when, m)})*` : ''} — \`${name}\``),
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
