import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { BrowserHost } from '../channels/browser/browser-host.js';
import { InvalidInputError } from '../errors.js';
import { type AuditReport, auditReportFor } from '../reconcile/audit.js';
import { type Finding, type Reconciliation, reconcile } from '../reconcile/findings.js';
import { remediate, remedies } from '../reconcile/remediate.js';
import { readAccountsFile, readAppByApi, readAppByBrowser, readAttestations, readIdpAssignments } from '../reconcile/readers.js';
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

/** `patchbay reconcile` and `patchbay report`: what the IdP says against what the app has, the runs that fix it, and the audit over time. */
export function registerReconcileCommand(program: Command, cli: CliContext): void {
  program
    .command('reconcile')
    .description('find accounts that drifted: active in the app but not assigned in the IdP, assigned but missing, ambiguous, access not as wanted')
    .requiredOption('--app <id>', 'the connector, e.g. spendesk')
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--idp-from <file>', 'the IdP side from a CSV or xlsx export instead of the IdP API (roles, teams and policy columns there are the wanted access)')
    .option('--from <file>', "the app side from a CSV or xlsx export (the admin's members list)")
    .option('--via <reader>', "read the app side through browser (its console), api, or attestations (what people said in completed tasks)")
    .option('--map <field=Header>', 'a column of --from for a field (email, userName, externalId, status, roles, teams, policy)', collect)
    .option('--idp-map <field=Header>', 'the same for --idp-from', collect)
    .option('--remediate', 'open an offboarding run for every orphaned account and a change run for every access drift (behind an approval when the profile asks; an open run for the same person is not opened twice)')
    .option('--by <operator>', 'who asks, for the runs --remediate opens (default: PATCHBAY_OPERATOR, else patchbay-reconcile)')
    .option('--html <file>', 'also write the HTML report (every app, overdue audits, findings over time)')
    .option('--json', 'print JSON')
    .action(
      async (options: { app: string; profile?: string; idpFrom?: string; from?: string; via?: string; map?: string[]; idpMap?: string[]; remediate?: boolean; by?: string; html?: string; json?: boolean }) => {
        const services = cli.services();
        const loaded = services.profiles.load(options.profile);
        const { profile } = loaded;
        services.registry.get(options.app);
        services.planner.context(options.app, loaded);
        if (!!options.from === !!options.via) throw new InvalidInputError({ file: 'command line', pointer: '/from' }, 'give the app side with exactly one of --from <file> or --via browser|api|attestations');
        if (options.via && !['browser', 'api', 'attestations'].includes(options.via)) throw new InvalidInputError({ file: 'command line', pointer: '/via' }, `--via must be browser, api or attestations (got ${options.via})`);
        const progress = (text: string) => !options.json && process.stderr.write(`${text}\n`);
        const now = Date.now();
        progress(options.idpFrom ? `reading ${options.idpFrom}…` : `reading the IdP's assignments of ${options.app}…`);
        const idp: Snapshot = options.idpFrom
          ? await readAccountsFile(options.idpFrom, { side: 'idp', app: options.app, map: mapping(options.idpMap) })
          : await readIdpAssignments(services.registry, profile, options.app, services.secrets, now);
        progress(`  ${idp.accounts.length} assignments`);
        let app: Snapshot;
        if (options.from) {
          progress(`reading ${options.from}…`);
          app = await readAccountsFile(options.from, { side: 'app', app: options.app, map: mapping(options.map) });
        } else if (options.via === 'browser') {
          progress(`reading the ${options.app} console in Chromium…`);
          const host = new BrowserHost();
          try {
            app = await readAppByBrowser(host, services.registry, profile, options.app, services.secrets, now);
          } finally {
            await host.close();
          }
        } else if (options.via === 'api') {
          progress(`reading the ${options.app} API…`);
          app = await readAppByApi(services.registry, profile, options.app, services.secrets, now);
        } else {
          progress(`reading the attestations of completed ${options.app} tasks…`);
          app = readAttestations(cli.runtime().db, profile.tenant, options.app, now);
        }
        progress(`  ${app.accounts.length} accounts`);
        // The store is opened once both sides are read: a bad file or an unreachable console leaves nothing behind.
        const runtime = cli.runtime();
        const result = runtime.reconciliations.record(profile.tenant, reconcile(idp, app, { now }));
        const opened = options.remediate ? await remediate(runtime.runs, loaded, result, idp, options.by ?? process.env.PATCHBAY_OPERATOR ?? 'patchbay-reconcile', progress) : [];
        if (options.html) writeHtmlReport(options.html, auditReportFor(services.planner, loaded, runtime.reconciliations, now));
        if (options.json) {
          cli.printJson({ ...result, ...(options.remediate ? { remediation: opened } : {}), ...(options.html ? { html: path.resolve(options.html) } : {}) });
          return;
        }
        cli.print(renderReconciliation(result));
        for (const o of opened) {
          const what = `${remedies[o.kind] === 'offboard' ? 'offboarding' : 'change'} ${o.run} for ${o.person}`;
          const state = o.status === 'waiting' && o.waitingFor ? ` (waiting: ${o.waitingFor})` : ` (${o.status})`;
          cli.print(o.created ? `opened ${what}${state}` : `${what} is already open${state}`);
        }
        if (options.html) cli.print(`wrote ${options.html}`);
      },
    );

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
