#!/usr/bin/env node
import path from 'node:path';
import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { DbosRole, Runtime, RunEngineKind, Services } from '../container.js';
import { chosenDatabaseUrl, defaultDataDir, describeSqliteError, storeExists } from '../store/location.js';
import { registerStoreCommands } from './store-commands.js';
import { registerRunCommands } from './run-commands.js';
import { registerServerCommands } from './server-commands.js';
import { registerReconcileCommand } from './reconcile-command.js';
import { registerIntakeCommands } from './intake-commands.js';
import { registerRecipeCommands } from './recipe-commands.js';
import { kindAliases, registerConnectorCommands } from './connector-commands.js';
import { InvalidInputError, PatchbayError, StaleGeneratedFileError, brokenBecause } from '../errors.js';
import { connectorsDir, docsDir, displayPath, isBuiltIn, packageVersion } from '../paths.js';
import { missingSettings } from '../planning/settings-needed.js';
import type { LoadedConnector } from '../manifest/loader.js';
import type { AppSettings } from '../schema/types/tenant-profile.js';
import { readJsonFile } from '../schema/json-file.js';
import { type SchemaKind, schemaKinds } from '../schema/kinds.js';
import { matrixCell, matrixColumns, matrixReport } from '../docs/matrix-page.js';
import type { Fact } from '../manifest/facts.js';
import { jsonTimes, renderPlan, renderTable } from './format.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import type { SecretResolver } from '../tenant/secrets.js';
import { type Logger, type ProcessRole, logSettings } from '../logging/logger.js';

/** The commands that run for long and log as a process (core/logging/): serve and worker. */
const processRoles: Readonly<Record<string, ProcessRole>> = { serve: 'server', worker: 'worker' };

const print = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};
/** --json: times as ISO 8601 strings (jsonTimes), two-space indented. */
const printJson = (value: unknown): void => print(JSON.stringify(value, jsonTimes, 2));

const engineNames: readonly RunEngineKind[] = ['embedded', 'dbos'];

/**
 * The run engine chosen with `--engine` or PATCHBAY_ENGINE (default embedded).
 * @throws InvalidInputError for another name, or for dbos without a PostgreSQL database.
 */
export function chosenEngine(flag: string | undefined, databaseUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): RunEngineKind {
  const value = flag ?? (env.PATCHBAY_ENGINE || 'embedded');
  const where = flag !== undefined ? '--engine' : 'PATCHBAY_ENGINE';
  if (!engineNames.includes(value as RunEngineKind)) throw new InvalidInputError({ file: where }, `must be embedded or dbos (got ${value})`);
  if (value === 'dbos' && !databaseUrl) throw new InvalidInputError({ file: where }, 'dbos runs on PostgreSQL: give --database postgres://… (or PATCHBAY_DATABASE_URL)');
  return value as RunEngineKind;
}

/** Opens the runtime: the data folder (or PostgreSQL), the engine, and on DBOS what this process does there. */
export type OpenRuntime = (dataDir: string, databaseUrl: string | undefined, engine?: RunEngineKind, dbos?: DbosRole) => Promise<Runtime>;

/** The command-line program; `services` is created on first use so that `--help` needs no connectors. */
export function buildProgram(getServices: () => Services, getRuntime: OpenRuntime): Command {
  const program = new Command('patchbay')
    .description('Plan and run joiner / mover / leaver work across SaaS apps, including the ones with no API.')
    .option('--data-dir <dir>', 'where runs, tasks and the audit log are kept (default: PATCHBAY_DATA_DIR, else ~/.local/share/patchbay)')
    .option('--database <address>', 'keep the store in PostgreSQL instead of the data folder\'s SQLite file (default: PATCHBAY_DATABASE_URL): postgres://user@host:5432/db')
    .option('--engine <engine>', 'the run engine: embedded (runs journaled in the store) or dbos (DBOS Transact, PostgreSQL only) (default: PATCHBAY_ENGINE, else embedded)')
    .option('--log-level <level>', "serve and worker: the least severe level logged, one of fatal, error, warn, info, debug, trace, silent (default: PATCHBAY_LOG_LEVEL, else info)")
    .option('--log-format <format>', 'serve and worker: json (one object per line) or pretty (default: PATCHBAY_LOG_FORMAT, else pretty on a terminal and json otherwise)')
    .showHelpAfterError('(run patchbay help for the commands)')
    .exitOverride();
  const dataDir = () => (program.opts() as { dataDir?: string }).dataDir ?? defaultDataDir();
  const databaseUrl = () => chosenDatabaseUrl((program.opts() as { database?: string }).database);
  const engine = () => chosenEngine((program.opts() as { engine?: string }).engine, databaseUrl());
  // A bad --engine (or dbos without PostgreSQL), --log-level or --log-format is refused before any command starts, whatever it is.
  program.hook('preAction', () => {
    engine();
    logSettings(program.opts() as { logLevel?: string; logFormat?: string }, process.env, process.stderr.isTTY === true);
  });
  const context = {
    services: getServices,
    runtime: (dbos?: DbosRole) => getRuntime(dataDir(), databaseUrl(), engine(), dbos),
    // Commands that only read find nothing in a store that does not exist, and create none (PostgreSQL always exists).
    existingRuntime: async () => (databaseUrl() || storeExists(dataDir()) ? getRuntime(dataDir(), databaseUrl(), engine()) : undefined),
    databaseUrl,
    engine,
    print,
    printJson,
  };
  registerRunCommands(program, context);
  registerReconcileCommand(program, context);
  registerIntakeCommands(program, context);
  registerRecipeCommands(program, context);
  registerStoreCommands(program, { ...context, dataDir });
  registerServerCommands(program, {
    ...context,
    version: packageVersion(),
    profile: (file?: string) => getServices().profiles.load(file),
    chosenDataDir: () => (program.opts() as { dataDir?: string }).dataDir ?? process.env.PATCHBAY_DATA_DIR,
    runtimeAt: (dataDir: string) => getRuntime(dataDir, undefined),
  });

  const connectorsCommand = program
    .command('connectors')
    .description('list the connectors, what each app can be automated with, and whether it has code; broken ones with the reason (connectors migrate <dir>: v1 → v2)')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean }) => {
      const { registry } = getServices();
      const broken = registry.broken();
      // Where each comes from: the package's own catalogue, or a folder PATCHBAY_CONNECTORS adds (replacing a built-in one of its id).
      const origin = (dir: string) => {
        if (isBuiltIn(dir)) return 'built-in';
        return existsSync(path.join(connectorsDir, path.basename(dir), 'manifest.json')) ? `${displayPath(dir)} (replaces the built-in one)` : displayPath(dir);
      };
      const rows = registry.list().map(({ manifest: m, runbooks, recipes, dir }) => ({
        id: m.id,
        name: m.name,
        kind: m.kind,
        automation: m.automation.headline,
        operations: Object.keys(m.operations),
        runbooks: runbooks.size,
        recipes: recipes.size,
        api: [...registry.implemented(m.id)],
        from: origin(dir),
      }));
      // A broken connector or folder fails the command (exit 1), so that a CI step or a script notices.
      if (broken.length) process.exitCode = 1;
      if (options.json) {
        printJson([...rows.map((r) => ({ ...r, status: 'ok' })), ...broken.map((b) => ({ id: b.id, status: 'broken', reason: b.reason, dir: b.dir, ...(b.folder ? { folder: true } : {}) }))]);
        return;
      }
      // Where each comes from, as a column only when a folder was added: the built-in catalogue alone keeps the table narrow.
      const from = rows.some((r) => r.from !== 'built-in') || broken.some((b) => !b.folder);
      const cells = (row: string[], origin: string) => (from ? [...row, origin] : row);
      print(
        renderTable(
          cells(['id', 'name', 'kind', 'automation', 'operations', 'runbooks', 'recipes', 'api'], 'from'),
          [
            ...rows.map((r) => cells([r.id, r.name, r.kind, r.automation, String(r.operations.length), String(r.runbooks), String(r.recipes), r.api.join(', ') || '—'], r.from)),
            // The reasons are long (file#pointer: what is wrong): in full below the table, where they can wrap.
            ...broken.map((b) => cells([b.id, 'BROKEN', b.folder ? 'folder' : '', '—', '', '', '', ''], b.folder ? '' : displayPath(b.dir))),
          ],
        ),
      );
      if (!broken.length) return;
      const connectors = broken.filter((b) => !b.folder).length;
      const folders = broken.length - connectors;
      print(
        [
          '',
          'Broken, and why:',
          ...broken.map((b) => (b.folder ? b.reason : `${b.id}: ${brokenBecause(b.reason)}`)),
          '',
          [
            ...(connectors ? [`${connectors} broken connector${connectors > 1 ? 's' : ''} refused`] : []),
            ...(folders ? [`${folders} catalogue folder${folders > 1 ? 's' : ''} gave no connector`] : []),
          ].join(', ') + '; every other connector works.',
        ].join('\n'),
      );
    });
  registerConnectorCommands(program, connectorsCommand, { services: getServices, print, printJson });

  program
    .command('matrix')
    .description('show the capability matrix; with --profile, narrowed to what one tenant has')
    .option('--profile <file>', 'a tenant profile: show the effective matrix for its installed apps')
    .option('--json', 'print JSON with every fact, its confidence and sources')
    .option('--discover', 'with --profile: ask each configured SCIM server what it supports (/ServiceProviderConfig)')
    .action(async (options: { profile?: string; json?: boolean; discover?: boolean }) => {
      const { registry, profiles, secrets } = getServices();
      if (options.discover && !options.profile) throw new InvalidInputError({ file: 'command line', pointer: '/discover' }, '--discover needs --profile: the servers to ask are in the tenant profile');
      const loaded = options.profile ? profiles.load(options.profile) : undefined;
      const report = matrixReport(registry.list(), loaded?.profile);
      const discovered = options.discover && loaded ? await discoverScim(registry, loaded.profile, secrets) : [];
      if (options.json) {
        printJson(discovered.length ? { connectors: report, discovered } : report);
        return;
      }
      // Facts down, connectors across: stays readable in a terminal as columns of facts grow.
      print(
        renderTable(
          ['', ...report.map((r) => r.id)],
          matrixColumns.map((column) => [
            column.heading,
            ...report.map((r) => {
              const fact = r.facts[column.key] as (Fact & { effective?: { applies: boolean } }) | null;
              if (!fact) return '—';
              return fact.effective && !fact.effective.applies ? 'no (not for this tenant)' : matrixCell(fact);
            }),
          ]),
          18,
        ),
      );
      print(
        loaded
          ? `Effective for tenant ${loaded.profile.tenant} (${displayPath(loaded.file)}). doc = vendor documents it, 3p = third party only, disputed = sources disagree.`
          : 'doc = vendor documents it, 3p = third party only, disputed = sources disagree, † = depends on the tenant (see --profile). Sources: docs/connectors/<id>.md',
      );
      for (const d of discovered) {
        print(`\n${d.app}: what ${d.url} says about itself`);
        print(renderTable(['fact', 'value', 'confidence'], Object.entries(d.facts).map(([k, f]) => [k, String(f.value), f.confidence])));
      }
    });

  program
    .command('plan')
    .description('show the steps a lifecycle request would take, with the channel chosen for each and why; runs nothing')
    .argument('<playbook>', 'onboard (joiner), change (mover) or offboard (leaver)')
    .requiredOption('--app <id>', 'the connector, e.g. spendesk')
    .requiredOption('--user <email>', "the person's work email")
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant "acme")')
    .option('--json', 'print the plan as JSON (schemas/plan.schema.json)')
    .action((playbook: string, options: { app: string; user: string; profile?: string; json?: boolean }) => {
      const { planner, profiles, registry } = getServices();
      const request = { playbook, app: options.app, subject: { email: options.user } };
      const loaded = profiles.load(options.profile);
      const plan = planner.plan(request, loaded, 'command line');
      // One line per setting the app's declared calls need and the profile lacks: where to add it, and who needs it.
      const connector = registry.get(plan.app);
      const operations = [...new Set(plan.steps.filter((s) => s.app === plan.app).map((s) => s.operation))];
      for (const line of missingSettingLines(loaded.file, connector, loaded.profile.apps[plan.app] ?? {}, operations)) process.stderr.write(`${line}\n`);
      if (options.json) {
        printJson(plan);
        return;
      }
      print(renderPlan(plan, registry.get(plan.app).manifest.name));
    });

  program
    .command('validate')
    .description('check a manifest, tenant profile, lifecycle request, runbook, recipe or plan file')
    .argument('<file>', 'the JSON file')
    .addOption(new Option('--kind <kind>', 'what the file is (default: from its $schema, else its name)').choices([...schemaKinds, ...Object.keys(kindAliases)]))
    .action((file: string, options: { kind?: string }) => {
      const services = getServices();
      const data = readJsonFile(file);
      const kind = options.kind ? (kindAliases[options.kind] ?? (options.kind as SchemaKind)) : detectKind(file, data);
      // Every problem at once, one line each (file#pointer: reason): an author fixes them in one pass.
      const problems =
        kind === 'connector-manifest' ? services.loader.problems(path.dirname(path.resolve(file)))
        : kind === 'tenant-profile' ? services.profiles.problems(data, file)
        : services.validator.problems(kind, data).map((p) => `${displayPath(file)}#${p.pointer}: ${p.reason}`);
      if (problems.length === 1) throw new InvalidInputError({}, problems[0]!);
      if (problems.length) {
        for (const problem of problems) process.stderr.write(`${problem}\n`);
        throw new InvalidInputError({ file: displayPath(file) }, `${problems.length} problems (listed above)`);
      }
      print(`ok: ${displayPath(file)} is a valid ${kind}${describeValid(services, kind, file, data)}`);
    });

  program
    .command('docs')
    .description('write docs/ from the manifests and schemas (--check: only report stale pages)')
    .option('--check', 'exit 1 when a committed page differs from what the generator writes')
    .option('--out <dir>', 'the docs folder', docsDir)
    .action((options: { check?: boolean; out: string }) => {
      const { docs, registry } = getServices();
      // Pages for a partial catalogue would drop the broken connectors' pages (or a whole folder's): write nothing instead.
      const broken = registry.broken();
      if (broken.length) throw new InvalidInputError({}, `docs not written: ${broken.map((b) => b.reason).join('; ')}`);
      const out = path.resolve(options.out);
      // The package's docs/ are the built-in catalogue's: an added folder's pages belong in that catalogue's own docs.
      const added = registry.list().filter((c) => !isBuiltIn(c.dir));
      if (out === path.resolve(docsDir) && added.length) {
        throw new InvalidInputError({}, `docs not written: ${displayPath(docsDir)} holds the built-in catalogue's pages, and PATCHBAY_CONNECTORS adds ${added.map((c) => c.manifest.id).join(', ')}: give --out <folder> for their docs, or unset PATCHBAY_CONNECTORS`);
      }
      if (options.check) {
        const stale = docs.stale(out);
        if (stale.length) throw new StaleGeneratedFileError(stale.map((f) => displayPath(path.join(out, f))), 'npm run docs');
        print(`docs are up to date (${docs.render().size} pages)`);
        return;
      }
      const { written, removed } = docs.write(out);
      for (const file of written) print(`wrote ${displayPath(path.join(out, file))}`);
      for (const file of removed) print(`removed ${displayPath(path.join(out, file))}`);
      print(`${written.length} written, ${removed.length} removed, ${docs.render().size - written.length} unchanged`);
    });

  return program;
}

/** Asks every installed app routed over SCIM, with a base URL in the profile, what its server supports. */
async function discoverScim(registry: Services['registry'], profile: TenantProfile, secrets: SecretResolver) {
  const [{ ScimClient }, { scimEndpoint }, { withScimDiscovery }, { effectiveMatrix }] = await Promise.all([
    import('../channels/scim/client.js'), import('../channels/scim/endpoint.js'), import('../manifest/discovery.js'), import('../manifest/effective.js'),
  ]);
  const results: { app: string; url: string; facts: Record<string, { value: unknown; confidence: string; sources?: unknown }> }[] = [];
  for (const [app, given] of Object.entries(profile.apps)) {
    // A broken connector refuses only itself: `plan --app` says why; discovery goes on with the others.
    if (registry.brokenReason(app) !== undefined) continue;
    const manifest = registry.get(app).manifest;
    if (!Object.values(manifest.operations).some((op) => op.channels.some((r) => r.channel === 'scim'))) continue;
    // The profile's baseUrl, else the manifest's SCIM address filled from the tenant's settings.
    const endpoint = scimEndpoint(manifest, given);
    if (!('url' in endpoint)) continue;
    const settings = { ...given, baseUrl: endpoint.url };
    const config = await new ScimClient(app, settings, secrets).discover();
    const matrix = withScimDiscovery(effectiveMatrix(manifest, settings), config, settings.baseUrl, new Date().toISOString().slice(0, 10));
    const facts = Object.fromEntries(['patch', 'filter', 'bulk', 'maxResults'].flatMap((k) => {
      const f = matrix.facts.get(`/capabilities/scim/${k}`);
      return f ? [[k, { value: f.value, confidence: f.fact.confidence, sources: f.fact.sources }]] : [];
    }));
    results.push({ app, url: settings.baseUrl, facts });
  }
  return results;
}

function detectKind(file: string, data: unknown): SchemaKind {
  const declared = (data as { $schema?: unknown })?.$schema;
  if (typeof declared === 'string') {
    const kind = schemaKinds.find((k) => declared.endsWith(`${k}.schema.json`));
    if (kind) return kind;
  }
  const base = path.basename(file);
  const folder = path.basename(path.dirname(file));
  if (base === 'manifest.json') return 'connector-manifest';
  if (folder === 'runbooks') return 'runbook';
  if (folder === 'recipes') return 'browser-recipe';
  const byName = schemaKinds.find((k) => base.includes(k) || base.includes(k.split('-').pop()!));
  if (byName) return byName;
  throw new InvalidInputError({ file: displayPath(file) }, `cannot tell what this file is: add "$schema" or pass --kind (${schemaKinds.join(', ')})`);
}

/** Validates beyond the schema where there is more to check, and says what was found. */
/**
 * One line per tenant setting an app's declared calls need and its profile entry lacks: the profile
 * file and JSON pointer, the manifest file that needs it, for which operations and how.
 */
function missingSettingLines(profileFile: string, connector: LoadedConnector, settings: AppSettings, operations?: readonly string[]): string[] {
  const id = connector.manifest.id;
  return missingSettings(connector.manifest, settings, operations).map((m) => `${displayPath(profileFile)}#/apps/${id}${m.pointer}: not set; ${displayPath(path.join(connector.dir, 'manifest.json'))} needs it for ${m.operations.join(', ')} (${m.uses.join(', ')}), so those steps go past api`);
}

function describeValid(services: Services, kind: SchemaKind, file: string, data: unknown): string {
  switch (kind) {
    case 'connector-manifest': {
      // The whole folder: provenance rules and references to runbooks and recipes.
      const loaded = services.loader.load(path.dirname(path.resolve(file)));
      return ` (${Object.keys(loaded.manifest.operations).length} operations, ${loaded.runbooks.size} runbooks, ${loaded.recipes.size} recipes)`;
    }
    case 'tenant-profile': {
      const profile = services.profiles.check(data, file);
      // Valid, but an app's declared calls need a setting it lacks: said now, one line each, not at run time.
      for (const [id, settings] of Object.entries(profile.apps)) {
        const connector = services.registry.list().find((c) => c.manifest.id === id);
        if (!connector) continue;
        for (const line of missingSettingLines(file, connector, settings)) process.stderr.write(`${line}\n`);
      }
      return ` (tenant ${profile.tenant}, ${Object.keys(profile.apps).length} apps)`;
    }
    default:
      services.validator.validate(kind, data, file);
      return '';
  }
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  let services: Services | undefined;
  let runtime: Runtime | undefined;
  // The composition root (inversify, ajv, every channel) is loaded only by commands that use it: not by --help.
  const args = argv.slice(2);
  const helpOnly = args.length === 0 || args.includes('--help') || args.includes('-h') || args[0] === 'help' || args.includes('--version') || args.includes('-V');
  const container = helpOnly ? undefined : await import('../container.js');
  // serve and worker log (core/logging/): their logger is made once the command is known, before its action opens anything.
  let logger: Logger | undefined;
  const getServices = () => (services ??= container ? container.createServices(logger ? { logger } : {}) : (() => { throw new Error('services are not loaded for help'); })());
  let opening: Promise<Runtime> | undefined;
  // A reader that stops early (`patchbay connectors | head -5`) closes stdout: what is left to print is
  // dropped, the command ends as it would have, and the exit is 0, as with any Unix filter; not a stack.
  let stdoutClosed = false;
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    stdoutClosed = true;
    // The error arrives on a later tick, possibly after main() has returned its code.
    process.exitCode = 0;
  };
  process.stdout.on('error', onStdoutError);
  const program = buildProgram(getServices, (dataDir, databaseUrl, runEngine, dbos) =>
    (opening ??= getServices().openRuntime({ dataDir, ...(databaseUrl ? { databaseUrl } : {}), ...(runEngine ? { runEngine } : {}), ...(dbos ? { dbos } : {}) }).then((r) => (runtime = r))));
  program.hook('preAction', async (_program, action) => {
    const role = action.parent === program ? processRoles[action.name()] : undefined;
    if (!role) return;
    const { createLogger } = await import('../logging/pino-logger.js');
    logger = createLogger({ role, ...logSettings(program.opts() as { logLevel?: string; logFormat?: string }, process.env, process.stderr.isTTY === true) });
  });
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' && !stdoutClosed ? process.exitCode : 0;
  } catch (error) {
    if (stdoutClosed) return 0;
    if (error instanceof CommanderError) {
      // Commander has printed the message already; help and version are not errors.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (typeof (error as { code?: unknown })?.code === 'string' && (error as { code: string }).code.startsWith('SQLITE_')) {
      process.stderr.write(`patchbay: the store ${describeSqliteError(error)}\n`);
      return 2;
    }
    if (error instanceof PatchbayError) {
      process.stderr.write(`patchbay: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`patchbay: internal error: ${(error as Error)?.message ?? String(error)}\n`);
    if (process.env.PATCHBAY_DEBUG) process.stderr.write(`${(error as Error)?.stack}\n`);
    return 1;
  } finally {
    await runtime?.close();
  }
}

process.exitCode = await main();

