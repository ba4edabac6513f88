import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import type { Services } from '../container.js';
import { InvalidInputError } from '../errors.js';
import type { LoadedConnector } from '../manifest/loader.js';
import { displayPath } from '../paths.js';
import type { SchemaKind } from '../schema/validator.js';
import type { AppSettings, TenantProfile } from '../schema/types/tenant-profile.js';
import { renderTable } from './format.js';

interface Cli {
  readonly services: () => Services;
  readonly print: (text: string) => void;
  readonly printJson: (value: unknown) => void;
}

/** The names people use for document kinds (the README's words) and the schema each means. */
export const kindAliases: Readonly<Record<string, SchemaKind>> = {
  manifest: 'connector-manifest',
  connector: 'connector-manifest',
  profile: 'tenant-profile',
  tenant: 'tenant-profile',
  request: 'lifecycle-request',
  runbook: 'runbook',
  recipe: 'browser-recipe',
  plan: 'plan',
  task: 'task-action',
  action: 'task-action',
};

/**
 * The connector author's commands: `connectors migrate`, `conformance`, `init` and `new connector`.
 * `connectors` is the existing listing command, given so that `migrate` hangs under it.
 */
export function registerConnectorCommands(program: Command, connectors: Command, cli: Cli): void {
  connectors
    .command('migrate')
    .description('rewrite version 1 manifests as version 2 (a connector folder, or a folder of them)')
    .argument('<dir>', 'the folder')
    .action(async (dir: string) => {
      const { migrateFolder } = await import('../manifest/migrate.js');
      const { migrated, current } = migrateFolder(path.resolve(dir), (d) => readdirSync(d), (f) => existsSync(f));
      for (const file of migrated) cli.print(`migrated ${displayPath(file)}`);
      cli.print(`${migrated.length} migrated, ${current.length} already at version 2`);
    });

  program
    .command('conformance')
    .description("check a connector's declared API calls: credentials, paging to the end, rate limits, done / already done / not found (a TypeScript module: its wiring)")
    .argument('<connector>', 'the connector id')
    .option('--profile <file>', 'a tenant profile: its settings for the app are used with --against')
    .option('--against <url>', "a real tenant's API base URL (read-only unless --allow-writes); default: a stand-in generated from the manifest on 127.0.0.1")
    .option('--allow-writes', 'with --against: run write operations too, on --user')
    .option('--user <email>', 'with --allow-writes: the person whose account the writes change')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { profile?: string; against?: string; allowWrites?: boolean; user?: string; json?: boolean }) => {
      const services = cli.services();
      const connector = services.registry.get(id);
      const { runConformance } = await import('../conformance/kit.js');
      let target: Parameters<typeof runConformance>[1] = { kind: 'stand-in' };
      if (options.against) {
        const settings: AppSettings = { ...(options.profile ? services.profiles.load(options.profile).profile.apps[id] : undefined), baseUrl: options.against };
        target = { kind: 'tenant', settings, secrets: services.secrets, allowWrites: !!options.allowWrites, ...(options.user ? { user: options.user } : {}) };
      } else if (options.allowWrites) {
        throw new InvalidInputError({ file: 'command line', pointer: '/allow-writes' }, '--allow-writes goes with --against: the stand-in is always written to');
      }
      // A connector whose API is a TypeScript module declares no calls to generate a stand-in from: its wiring is
      // checked here, and the checks that need the vendor's API are said to need the stand-in its author writes.
      const declares = Object.values(connector.manifest.operations).some((op) => op.channels.some((r) => r.channel === 'api' && r.call));
      const module = !declares && services.registry.implemented(id).size > 0;
      if (module && options.against) throw new InvalidInputError({ file: 'command line', pointer: '/against' }, `${id}'s API is a TypeScript module, not declared calls: --against checks declared calls only (run the module kit, core/conformance/module-kit.ts, against its stand-in)`);
      const checks = module
        ? await (await import('../conformance/module-kit.js')).runModuleConformance({ connector, api: services.registry.api(id), implemented: services.registry.implemented(id), secrets: services.secrets })
        : await runConformance(connector, target);
      const failed = checks.filter((c) => c.status === 'fail').length;
      const against = options.against ?? (module ? 'none' : 'stand-in');
      if (options.json) cli.printJson({ connector: id, against, passed: failed === 0, checks });
      else {
        cli.print(renderTable(['check', 'result', 'detail'], checks.map((c) => [c.check, c.status, c.detail])));
        cli.print(`${id}: ${checks.length - failed} of ${checks.length} checks passed or skipped${failed ? `, ${failed} failed` : ''} (${module ? 'its wiring only: a module declares no calls to generate a stand-in from' : `against ${options.against ?? 'the stand-in generated from its manifest'}`})`);
      }
      if (failed) process.exitCode = 1;
    });

  program
    .command('init')
    .description('write a tenant profile for the apps you have, with every setting explained in a companion .md')
    .option('--apps <ids>', 'the installed apps, comma-separated (default: every app in the catalogue)')
    .option('--idp <id>', 'the identity provider connector (okta, entra-id, google-workspace)')
    .option('--tenant <id>', 'the tenant id', 'my-tenant')
    .option('--out <file>', 'where to write the profile', 'tenant.json')
    .option('--force', 'overwrite an existing file')
    .option('--members <emails>', "the operators who complete the it-ops queue's tasks, comma-separated work emails")
    .action((options: { apps?: string; idp?: string; tenant: string; out: string; force?: boolean; members?: string }) => {
      const { registry } = cli.services();
      const apps = options.apps ? options.apps.split(',').map((a) => a.trim()).filter(Boolean) : registry.list().filter((c) => c.manifest.kind === 'app').map((c) => c.manifest.id);
      const connectors = apps.map((id) => registry.get(id));
      const idp = options.idp ? registry.get(options.idp) : undefined;
      if (idp && idp.manifest.kind !== 'idp') throw new InvalidInputError({ file: 'command line', pointer: '/idp' }, `'${options.idp}' is not an identity provider`);
      const out = path.resolve(options.out);
      const notes = out.replace(/\.json$/, '') + '.md';
      if (!options.force && (existsSync(out) || existsSync(notes))) throw new InvalidInputError({ file: displayPath(existsSync(out) ? out : notes) }, 'exists already (pass --force to overwrite)');
      const { profile, explained } = initProfile(options.tenant, connectors, idp, (id) => registry.api(id));
      const members = (options.members ?? '').split(',').map((m) => m.trim()).filter(Boolean);
      if (members.length) (profile.queues ?? []).forEach((q) => (q as { members: string[] }).members.push(...members));
      cli.services().profiles.check(profile, out);
      writeFileSync(out, `${JSON.stringify(profile, null, 2)}\n`);
      writeFileSync(notes, explained);
      cli.print(`wrote ${displayPath(out)} (${apps.length} apps${idp ? `, identity provider ${idp.manifest.name}` : ''}) and ${displayPath(notes)}, which explains every setting`);
      const empty = emptyQueues(profile);
      if (empty.length) cli.print(emptyQueuesNote(empty, out));
    });

  program
    .command('new')
    .description('write a new connector: manifest skeleton, runbooks and a test')
    .argument('<what>', 'connector')
    .argument('<id>', 'the connector id (lower-case, dashes)')
    .addOption(new Option('--kind <kind>', 'manual (runbooks only), api (declared REST calls) or scim').choices(['manual', 'api', 'scim', 'manual-only']).default('manual'))
    .option('--dir <folder>', 'the catalogue folder to write into (default: the first PATCHBAY_CONNECTORS folder, else ./connectors)')
    .option('--name <name>', "the app's name")
    .action(async (what: string, id: string, options: { kind: string; dir?: string; name?: string }) => {
      if (what !== 'connector') throw new InvalidInputError({ file: 'command line' }, `patchbay new knows only 'connector', not '${what}'`);
      if (!/^[a-z0-9][a-z0-9-]*$/.test(id)) throw new InvalidInputError({ file: 'command line', pointer: '/id' }, `'${id}' must be lower-case letters, digits and dashes`);
      const { scaffoldConnector } = await import('../manifest/scaffold.js');
      const base = path.resolve(options.dir ?? (process.env.PATCHBAY_CONNECTORS ?? '').split(path.delimiter).find(Boolean) ?? 'connectors');
      const dir = path.join(base, id);
      if (existsSync(dir)) throw new InvalidInputError({ file: displayPath(dir) }, 'exists already');
      const kind = options.kind === 'manual-only' ? 'manual' : (options.kind as 'manual' | 'api' | 'scim');
      for (const [file, text] of scaffoldConnector(id, kind, options.name)) {
        mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        writeFileSync(path.join(dir, file), text);
        cli.print(`wrote ${displayPath(path.join(dir, file))}`);
      }
      cli.print(`Next: replace every TODO source with the vendor's page, then: PATCHBAY_CONNECTORS=${displayPath(base)} patchbay validate ${displayPath(path.join(dir, 'manifest.json'))}${kind === 'api' ? ` && patchbay conformance ${id}` : ''}`);
    });
}

/** The queues of a profile nobody is a member of: their tasks can be completed by no one. */
export function emptyQueues(profile: TenantProfile): string[] {
  return (profile.queues ?? []).filter((q) => !q.members?.length).map((q) => q.id);
}

/** What `init` says about queues without members: which, and what to put there. */
export function emptyQueuesNote(queues: readonly string[], file: string): string {
  return (
    `Note: queue${queues.length > 1 ? 's' : ''} ${queues.map((q) => `'${q}'`).join(', ')} ${queues.length > 1 ? 'have' : 'has'} no members, so nobody can complete ${queues.length > 1 ? 'their' : 'its'} tasks: ` +
    `add the work emails of the operators who do them to "members" in ${displayPath(file)} (or run init again with --members a@example.com,b@example.com).`
  );
}

/**
 * A tenant profile for these apps with what each needs said in Markdown beside it (JSON has no
 * comments): plans and features with their defaults, the settings and secrets the api and scim
 * channels read, the console URL browser recipes drive. Unset values are left out, so the planner
 * says what is missing rather than using a placeholder.
 */
export function initProfile(tenant: string, apps: readonly LoadedConnector[], idp: LoadedConnector | undefined, api: (id: string) => { requiredSecrets: readonly string[]; requiredSettings?: readonly string[] } | undefined): { profile: TenantProfile; explained: string } {
  const lines = [`# Tenant profile \`${tenant}\``, '', 'Written by `patchbay init`. Each setting of the JSON file, what it means and what to put there. Settings left out are unknown to Patchbay: the planner says so and skips what needs them.', '', '- `queues`: where human tasks go; every runbook names one (`it-ops` by default). `members` lists the work emails of the operators who complete a queue\'s tasks: a queue without members has nobody to do them, so add yours (`patchbay init --members a@example.com,b@example.com` writes them).', '- `policies.browserAutomation`: `forbidden` until you allow driving admin consoles with a browser.'];
  const profile: TenantProfile = { $schema: 'https://patchbay.dev/schemas/tenant-profile.schema.json', tenant, apps: {}, queues: [{ id: 'it-ops', name: 'IT operations', members: [] }], policies: { browserAutomation: 'forbidden' } } as unknown as TenantProfile;
  const secretRef = (app: string, name: string) => `env:${`${app}_${name}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
  if (idp) {
    const needs = api(idp.manifest.id);
    (profile as { idp?: unknown }).idp = { connector: idp.manifest.id, ...(needs?.requiredSecrets.length ? { secrets: Object.fromEntries(needs.requiredSecrets.map((s) => [s, secretRef(idp.manifest.id, s)])) } : {}) };
    lines.push('', `## Identity provider: ${idp.manifest.name}`, '', `- \`idp.connector\`: \`${idp.manifest.id}\`.`);
    for (const s of needs?.requiredSecrets ?? []) lines.push(`- \`idp.secrets.${s}\`: a reference (\`env:NAME\` or \`file:PATH\`) to the secret ${idp.manifest.name}'s API needs; never the secret itself.`);
    if (needs?.requiredSettings?.includes('baseUrl')) lines.push(`- \`idp.baseUrl\`: your ${idp.manifest.name} address (not set: add it).`);
  }
  for (const connector of apps) {
    const m = connector.manifest;
    const settings: Record<string, unknown> = { queue: 'it-ops' };
    lines.push('', `## ${m.name} (\`apps.${m.id}\`)`, '', `${m.automation.headline}.`, '');
    lines.push('- `queue`: the queue for its human tasks.');
    if (m.plans?.length) lines.push(`- \`plan\`: not set, so plan-dependent facts are unknown for you. One of: ${m.plans.map((p) => `\`${p.id}\` (${p.name})`).join(', ')}.`);
    if (m.features?.length) {
      settings.features = Object.fromEntries(m.features.map((f) => [f.id, f.default]));
      for (const f of m.features) lines.push(`- \`features.${f.id}\`: ${f.title}${f.description ? ` — ${f.description}` : ''} (the manifest's default: ${f.default ? 'on' : 'off'}; set what your tenant has).`);
    }
    const needs = api(m.id);
    if (needs?.requiredSecrets.length) {
      settings.secrets = Object.fromEntries(needs.requiredSecrets.map((s) => [s, secretRef(m.id, s)]));
      for (const s of needs.requiredSecrets) lines.push(`- \`secrets.${s}\`: where the API credential is (\`${secretRef(m.id, s)}\` reads that environment variable; \`file:PATH\` a file).`);
    }
    const templates = Object.values(m.surfaces ?? {}).map((s) => s.baseUrl.value);
    const scimRouted = Object.values(m.operations).some((o) => o.channels.some((r) => r.channel === 'scim'));
    const scimTemplate = Object.values(m.surfaces ?? {}).find((s) => s.kind === 'scim')?.baseUrl.value;
    if (scimRouted) settings.secrets = { ...(settings.secrets as Record<string, string> | undefined), token: secretRef(m.id, 'token') };
    if (scimRouted) lines.push(`- \`secrets.token\`: where the SCIM bearer token is (\`${secretRef(m.id, 'token')}\` reads that environment variable; \`file:PATH\` a file).`);
    if (scimTemplate && !scimTemplate.includes('{baseUrl}') && !needs?.requiredSettings?.includes('baseUrl') && !templates.some((t) => t.includes('{baseUrl}'))) {
      lines.push(`- \`baseUrl\`: optional; the manifest's SCIM address is ${scimTemplate}. Set it only to reach another host (a proxy, a government cloud).`);
    } else if (needs?.requiredSettings?.includes('baseUrl') || templates.some((t) => t.includes('{baseUrl}')) || scimRouted) {
      lines.push(`- \`baseUrl\`: your ${m.name} API${templates.length ? ` (the manifest builds ${templates.join(', ')} from it)` : ' or SCIM'} address. Not set: add it to use the API.`);
    }
    const named = new Set(templates.flatMap((t) => [...t.matchAll(/\{settings\.([A-Za-z0-9_]+)\}/g)].map((x) => x[1]!)));
    for (const n of named) lines.push(`- \`settings.${n}\`: used in the API address; not set: add it.`);
    if (connector.recipes.size) lines.push(`- \`consoleUrl\` and \`browserAutomation\`: the admin console's address, and \`allowed\` to let ${connector.recipes.size} browser recipes drive it.`);
    if (m.operations.getUser?.channels.some((r) => r.channel === 'idp') || idp) lines.push(`- \`idpAppId\`: ${m.name}'s id in your identity provider, for assignments and sign-in evidence (not set: add it).`);
    profile.apps[m.id] = settings as AppSettings;
  }
  return { profile, explained: `${lines.join('\n')}\n` };
}
