import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { BrowserHost } from '../channels/browser/browser-host.js';
import { InvalidInputError } from '../errors.js';
import { displayPath } from '../paths.js';
import { type AuditReport, auditReportFor, readersOf } from '../reconcile/audit.js';
import type { ReconcileHistory } from '../reconcile/history.js';
import { IdentifierStore } from '../store/identifiers.js';
import { type Finding, type Reconciliation, reconcile } from '../reconcile/findings.js';
import { type Remediation, remediate, remedies } from '../reconcile/remediate.js';
import { type AppReaderName, type ReaderContext, appReaders, readAccountsFile, readIdpAssignments } from '../reconcile/readers.js';
import type { Snapshot } from '../reconcile/snapshot.js';
import { layout } from '../server/html.js';
import { reconcileReportBody } from '../server/reconcile-page.js';
import { renderTable } from './format.js';
import type { CliContext } from './run-commands.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const mapping = (pairs: readonly string[] = []) =>
  Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new InvalidInputError({ file: 'command line', pointer: '/map' }, `--map wants field=Header, got "${pair}"`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );

const age = (ms: number) =>
  !Number.isFinite(ms) ? 'never' : ms < 60_000 ? 'just read' : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : ms < 172_800_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 86_400_000)} days`;
const since = (r: Reconciliation, f: Finding) => {
  const open = r.at - f.firstSeenAt;
  if (open <= 0) return 'new';
  return `${open < 60_000 ? 'under a minute' : age(open)} (since ${new Date(f.firstSeenAt).toISOString().slice(0, 10)})`;
};

export function renderReconciliation(r: Reconciliation): string {
  const lines = [
    `Reconciled ${r.app}: ${r.counts.identities} IdP identities (${r.idp.name}) against ${r.counts.accounts} accounts (${r.appSource.name}); ${r.counts.matched} matched.`,
  ];
  if (r.appSource.kind === 'attestation') lines.push('Attestations show only the work done through Patchbay: accounts made or removed outside it are not seen, and this is not an audit.');
  if (!r.findings.length) return [...lines, 'No findings: every active account is assigned, and every assignment has its account.'].join('\n');
  const byKind = new Map<string, number>();
  for (const f of r.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  lines.push(`${r.findings.length} findings: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}.`, '');
  lines.push(renderTable(['Finding', 'Person', 'What the sources show', 'Evidence age', 'Open for'], r.findings.map((f: Finding) => [f.kind, f.person, f.detail, age(f.ageMs), since(r, f)]), 60));
  return lines.join('\n');
}

/** The audit report in the terminal: one line per app, then what is overdue. */
export function renderAuditReport(report: AuditReport): string {
  const day = 86_400_000;
  const daysAgo = (ms: number) => (ms < day ? 'today' : `${Math.floor(ms / day)} days ago`);
  const rows = report.apps.map((a) => [
    `${a.name}${a.gap ? ' (gap node)' : ''}`,
    a.readers.filter((r) => r.usable).map((r) => (r.channel === 'human' ? "an admin's export" : r.channel)).join(', ') || 'nothing',
    a.lastAudit ? `${new Date(a.lastAudit.at).toISOString().slice(0, 10)} (${daysAgo(report.at - a.lastAudit.at)})` : 'never',
    `${a.everyDays} days`,
    a.latest ? String(a.latest.findings) : '—',
    a.overdue ? 'OVERDUE' : 'ok',
  ]);
  const lines = [`Audit report for ${report.tenant}: ${report.apps.length} apps, ${report.overdue.length} overdue, ${report.history.length} reconciliations in the last year.`, ''];
  lines.push(renderTable(['App', 'Read by', 'Last audit', 'Policy', 'Findings', 'Status'], rows, 40));
  if (report.overdue.length) lines.push('', ...report.overdue.map((f) => `- ${f.detail}`));
  return lines.join('\n');
}

/** Writes the report as one self-contained HTML page (inline CSS and SVG), all or nothing. */
export function writeHtmlReport(file: string, report: AuditReport): void {
  const target = path.resolve(file);
  mkdirSync(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, layout(`Reconciliation report: ${report.tenant}`, reconcileReportBody(report)));
  renameSync(temporary, target);
}

type ReconcileOptions = {
  app?: string;
  all?: boolean;
  profile?: string;
  idpFrom?: string;
  from?: string;
  via?: string;
  map?: string[];
  idpMap?: string[];
  remediate?: boolean;
  by?: string;
  html?: string;
  json?: boolean;
};

const machineReaders: readonly AppReaderName[] = ['api', 'scim', 'browser'];
const vias = Object.keys(appReaders);

/** `patchbay reconcile` and `patchbay report`: what the IdP says against what the app has, the runs that fix it, and the audit over time. */
export function registerReconcileCommand(program: Command, cli: CliContext): void {
  program
    .command('reconcile')
    .description('find accounts that drifted: active in the app but not assigned in the IdP, assigned but missing, ambiguous, access not as wanted')
    .option('--app <id>', 'the connector, e.g. spendesk')
    .option('--all', "every installed app a machine can read (its API, SCIM or console) against the IdP's API; gap nodes are named, not read")
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--idp-from <file>', 'the IdP side from a CSV or xlsx export instead of the IdP API (roles, teams and policy columns there are the wanted access)')
    .option('--from <file>', "the app side from a CSV or xlsx export (the admin's members list)")
    .option('--via <reader>', `read the app side through ${vias.join(', ')} (attestations: what people said in completed tasks)`)
    .option('--map <field=Header>', 'a column of --from for a field (email, userName, externalId, status, roles, teams, policy)', collect)
    .option('--idp-map <field=Header>', 'the same for --idp-from', collect)
    .option('--remediate', 'open an offboarding run for every orphaned account and a change run for every access drift (behind an approval when the profile asks; an open run for the same person is not opened twice)')
    .option('--by <operator>', 'who asks, for the runs --remediate opens (default: PATCHBAY_OPERATOR, else patchbay-reconcile)')
    .option('--html <file>', 'also write the HTML report (every app, overdue audits, findings over time)')
    .option('--json', 'print JSON')
    .action(async (options: ReconcileOptions) => {
      const services = cli.services();
      const loaded = services.profiles.load(options.profile);
      const { profile } = loaded;
      const line = { file: 'command line' };
      if (!!options.app === !!options.all) throw new InvalidInputError({ ...line, pointer: '/app' }, 'give one app with --app <id>, or --all');
      if (options.all && (options.from || options.via || options.idpFrom)) throw new InvalidInputError({ ...line, pointer: '/all' }, '--all reads every app by its own reader and the IdP by its API: --from, --via and --idp-from are for one app');
      if (options.app && !!options.from === !!options.via) throw new InvalidInputError({ ...line, pointer: '/from' }, `give the app side with exactly one of --from <file> or --via ${vias.join('|')}`);
      if (options.via && !vias.includes(options.via)) throw new InvalidInputError({ ...line, pointer: '/via' }, `--via must be ${vias.join(', ')} (got ${options.via})`);
      const progress = (text: string) => !options.json && process.stderr.write(`${text}\n`);
      const now = Date.now();

      // Which apps, each with its reader: the one named, or for --all the first machine reader each app has here.
      const plan: { app: string; via?: string; skipped?: string }[] = [];
      if (options.app) {
        services.registry.get(options.app);
        services.planner.context(options.app, loaded);
        plan.push({ app: options.app, ...(options.via ? { via: options.via } : {}) });
      } else {
        if (!profile.idp?.baseUrl) throw new InvalidInputError({ file: displayPath(loaded.file), pointer: '/idp/baseUrl' }, "--all reads the IdP's assignments through its API, and the tenant profile gives no IdP address");
        for (const id of Object.keys(profile.apps)) {
          const context = services.planner.context(id, loaded);
          if (context.app.connector.manifest.kind === 'idp') continue;
          const reader = readersOf(context).find((r) => r.usable && (machineReaders as readonly string[]).includes(r.channel));
          if (!reader) plan.push({ app: id, skipped: `gap node: nothing here can read it; reconcile it from its admin's export with --app ${id} --from <file>` });
          else if (!profile.apps[id]?.idpAppId) plan.push({ app: id, skipped: `its id in the IdP is not in the tenant profile (apps.${id}.idpAppId), so its assignments cannot be read` });
          else plan.push({ app: id, via: reader.channel });
        }
      }

      const results: Awaited<ReturnType<ReconcileHistory['record']>>[] = [];
      const opened: Remediation[] = [];
      const failed: { app: string; error: string }[] = [];
      let host: BrowserHost | undefined;
      try {
        const readerContext: ReaderContext = {
          registry: services.registry,
          profile,
          secrets: services.secrets,
          browser: () => (host ??= new BrowserHost()),
          db: () => cli.runtime().db,
        };
        const readBoth = async (appId: string, via: string | undefined): Promise<{ idp: Snapshot; app: Snapshot }> => {
          progress(options.idpFrom ? `reading ${options.idpFrom}…` : `reading the IdP's assignments of ${appId}…`);
          const idp: Snapshot = options.idpFrom
            ? await readAccountsFile(options.idpFrom, { side: 'idp', app: appId, map: mapping(options.idpMap) })
            : await readIdpAssignments(services.registry, profile, appId, services.secrets, now);
          progress(`  ${idp.accounts.length} assignments`);
          let app: Snapshot;
          if (options.from) {
            progress(`reading ${options.from}…`);
            app = await readAccountsFile(options.from, { side: 'app', app: appId, map: mapping(options.map) });
          } else {
            const reader = appReaders[via as AppReaderName];
            progress(reader.describe(appId));
            app = await reader.read(readerContext, appId, now);
          }
          progress(`  ${app.accounts.length} accounts`);
          return { idp, app };
        };
        for (const { app: appId, via } of plan.filter((p) => !p.skipped)) {
          let sides: { idp: Snapshot; app: Snapshot };
          try {
            sides = await readBoth(appId, via);
          } catch (error) {
            // One app: the error is the answer. Every app: one unreadable app does not stop the others.
            if (!options.all) throw error;
            failed.push({ app: appId, error: (error as Error).message });
            progress(`  ${appId}: could not read: ${(error as Error).message}`);
            continue;
          }
          const { idp, app } = sides;
          // The store is opened once both sides are read: a bad file or an unreachable console leaves nothing behind.
          const runtime = cli.runtime();
          const result = runtime.reconciliations.record(profile.tenant, reconcile(idp, app, { now }));
          new IdentifierStore(runtime.db).fromReconciliation(profile.tenant, idp, app, now);
          results.push(result);
          if (options.remediate) opened.push(...(await remediate(runtime.runs, loaded, result, idp, options.by ?? process.env.PATCHBAY_OPERATOR ?? 'patchbay-reconcile', progress)));
        }
      } finally {
        await host?.close();
      }
      if (options.html) writeHtmlReport(options.html, auditReportFor(services.planner, loaded, cli.runtime().reconciliations, now));
      const skipped = plan.filter((p) => p.skipped).map((p) => ({ app: p.app, why: p.skipped! }));
      if (options.json) {
        const extra = { ...(options.remediate ? { remediation: opened } : {}), ...(options.html ? { html: path.resolve(options.html) } : {}) };
        cli.printJson(options.all ? { reconciliations: results, skipped, failed, ...extra } : { ...results[0]!, ...extra });
        if (failed.length) process.exitCode = 1;
        return;
      }
      cli.print(results.map(renderReconciliation).join('\n\n'));
      for (const s of skipped) cli.print(`${s.app}: not reconciled: ${s.why}`);
      for (const f of failed) cli.print(`${f.app}: not reconciled: could not read it: ${f.error}`);
      if (failed.length) process.exitCode = 1;
      for (const o of opened) {
        const what = `${remedies[o.kind] === 'offboard' ? 'offboarding' : 'change'} ${o.run} for ${o.person}`;
        const state = o.status === 'waiting' && o.waitingFor ? ` (waiting: ${o.waitingFor})` : ` (${o.status})`;
        cli.print(o.created ? `opened ${what}${state}` : `${what} is already open${state}`);
      }
      if (options.html) cli.print(`wrote ${options.html}`);
    });

  program
    .command('report')
    .description("the audit report: every installed app, how it can be read, its last audit against the policy (gap nodes first), findings over time")
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--html <file>', 'write the HTML report, with the chart of findings per app over time')
    .option('--json', 'print JSON')
    .action((options: { profile?: string; html?: string; json?: boolean }) => {
      const services = cli.services();
      const loaded = services.profiles.load(options.profile);
      const report = auditReportFor(services.planner, loaded, cli.runtime().reconciliations, Date.now());
      if (options.html) writeHtmlReport(options.html, report);
      if (options.json) cli.printJson(report);
      else cli.print(renderAuditReport(report) + (options.html ? `\n\nwrote ${options.html}` : ''));
    });
}
