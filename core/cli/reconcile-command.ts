import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { BrowserHost } from '../channels/browser/browser-host.js';
import { InvalidInputError, brokenBecause } from '../errors.js';
import { displayPath } from '../paths.js';
import { type AuditReport, auditReportFor, readersOf } from '../reconcile/audit.js';
import type { ReconcileHistory } from '../reconcile/history.js';
import { type Finding, type Reconciliation } from '../reconcile/findings.js';
import { IncompleteReadError, type Remediation, remediate, remedies } from '../reconcile/remediate.js';
import type { ReaderContext } from '../reconcile/readers.js';
import { type AppReaderName, appReaderNames, machineReaders } from '../reconcile/reader-names.js';
import type { Snapshot } from '../reconcile/snapshot.js';
import type { ConnectorRegistry } from '../registry/registry.js';
import { jsonTimes, renderTable } from './format.js';
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

const headerRowNumber = (value: string) => {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidInputError({ file: 'command line', pointer: '/header-row' }, `--header-row wants a row number (1 or more), got "${value}"`);
  return Number(value);
};

const age = (ms: number) =>
  !Number.isFinite(ms) ? 'never' : ms < 60_000 ? 'just read' : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : ms < 172_800_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 86_400_000)} days`;
const since = (r: Reconciliation, f: Finding) => {
  const open = r.at - f.firstSeenAt;
  if (open <= 0) return 'new';
  return `${open < 60_000 ? 'under a minute' : age(open)} (since ${new Date(f.firstSeenAt).toISOString().slice(0, 10)})`;
};

/** Findings shown in the terminal's table; the rest are counted, and listed in --json and --html. */
export const terminalFindings = 200;

/**
 * One reconciliation for the terminal. An incomplete one says so first, with each reason, and
 * what stays open (`lastAudit`: the app's last audit, whose findings this one does not close).
 */
export function renderReconciliation(r: Reconciliation, lastAudit?: { at: number; findings: number }): string {
  const lines: string[] = [];
  const incomplete = r.completeness && !r.completeness.complete;
  if (incomplete) {
    lines.push(`INCOMPLETE READ of ${r.app}: it closes no finding, is not an audit, and --remediate will not act on it.`);
    for (const reason of r.completeness!.reasons) lines.push(`  - ${reason}`);
    lines.push(
      lastAudit
        ? `  The ${lastAudit.findings} findings of the last audit (${new Date(lastAudit.at).toISOString().slice(0, 10)}) stay open.`
        : '  There is no complete audit of this app yet.',
    );
  }
  lines.push(`Reconciled ${r.app}: ${r.counts.identities} IdP identities (${r.idp.name}) against ${r.counts.accounts} accounts (${r.appSource.name}); ${r.counts.matched} matched.`);
  if (r.appSource.kind === 'attestation') lines.push('Attestations show only the work done through Patchbay: accounts made or removed outside it are not seen, and this is not an audit.');
  if (!r.findings.length) return [...lines, incomplete ? 'No findings in what was read.' : 'No findings: every active account is assigned, and every assignment has its account.'].join('\n');
  const byKind = new Map<string, number>();
  for (const f of r.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  lines.push(`${r.findings.length} findings${incomplete ? ' in what was read (unconfirmed)' : ''}: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}.`, '');
  const shown = r.findings.length > terminalFindings ? r.findings.slice(0, terminalFindings) : r.findings;
  lines.push(renderTable(['Finding', 'Person', 'What the sources show', 'Evidence age', 'Open for'], shown.map((f: Finding) => [f.kind, f.person, f.detail, age(f.ageMs), since(r, f)]), 60));
  if (shown.length < r.findings.length) lines.push(`… and ${r.findings.length - shown.length} more findings (--json or --html lists every one).`);
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
    a.lastAudit ? String(a.lastAudit.findings) : '—',
    a.broken ? 'BROKEN' : a.overdue ? 'OVERDUE' : 'ok',
  ]);
  const lines: string[] = [];
  for (const i of report.incomplete) {
    lines.push(`INCOMPLETE: the newest reconciliation of ${i.name} (${new Date(i.at).toISOString().slice(0, 16).replace('T', ' ')}) read short; it closed nothing and is not an audit.`);
    for (const reason of i.reasons) lines.push(`  - ${reason}`);
  }
  if (lines.length) lines.push('');
  const broken = report.apps.filter((a) => a.broken).length;
  lines.push(`Audit report for ${report.tenant}: ${report.apps.length} apps, ${report.overdue.length} overdue${broken ? `, ${broken} broken` : ''}, ${report.history.length} reconciliations in the last year.`, '');
  lines.push(renderTable(['App', 'Read by', 'Last audit', 'Policy', 'Findings', 'Status'], rows, 40));
  // A broken connector's reason in full, one line each, below the table (a cell would cut it).
  for (const a of report.apps.filter((x) => x.broken)) lines.push(`${a.app}: broken: ${a.broken}`);
  if (report.overdue.length) lines.push('', ...report.overdue.map((f) => `- ${f.detail}`));
  return lines.join('\n');
}

/** Writes the report as one self-contained HTML page (inline CSS and SVG), all or nothing. */
export async function writeHtmlReport(file: string, report: AuditReport): Promise<void> {
  const [{ layout }, { reconcileReportBody }] = await Promise.all([import('../server/html.js'), import('../server/reconcile-page.js')]);
  const target = path.resolve(file);
  mkdirSync(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  writeFileSync(temporary, layout(`Reconciliation report: ${report.tenant}`, reconcileReportBody(report)));
  renameSync(temporary, target);
}

/**
 * Prints JSON as JSON.stringify(value, jsonTimes, 2) would (times as ISO 8601), but writes an array of more than a thousand
 * elements one element at a time (in writes of about a megabyte), so that a reconciliation with a
 * million findings never becomes one string longer than V8 allows.
 */
export function printJsonStreaming(value: unknown, write: (text: string) => void = (text) => void process.stdout.write(text)): void {
  let buffer = '';
  const out = (text: string) => {
    buffer += text;
    if (buffer.length > 1_000_000) {
      write(buffer);
      buffer = '';
    }
  };
  const large = (v: unknown, depth: number): boolean =>
    depth < 4 && typeof v === 'object' && v !== null && (Array.isArray(v) ? v.length > 1000 || v.some((x) => large(x, depth + 1)) : Object.values(v).some((x) => large(x, depth + 1)));
  const plain = (v: unknown, indent: string) => JSON.stringify(v, jsonTimes, 2).replace(/\n/g, `\n${indent}`);
  const walk = (v: unknown, indent: string): void => {
    if (!large(v, 0)) return out(plain(v, indent));
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      out('[');
      v.forEach((item, i) => {
        out(`${i ? ',' : ''}\n${inner}`);
        if (item === undefined || typeof item === 'function') out('null');
        else walk(item, inner);
      });
      return out(`\n${indent}]`);
    }
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined && typeof x !== 'function');
    out('{');
    entries.forEach(([key, x], i) => {
      out(`${i ? ',' : ''}\n${inner}${JSON.stringify(key)}: `);
      walk(jsonTimes(key, x), inner);
    });
    out(`\n${indent}}`);
  };
  walk(value, '');
  out('\n');
  write(buffer);
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
  headerRow?: number;
  remediate?: boolean;
  by?: string;
  html?: string;
  json?: boolean;
};

const vias: readonly string[] = appReaderNames;

/** `patchbay reconcile` and `patchbay report`: what the IdP says against what the app has, the runs that fix it, and the audit over time. */
export function registerReconcileCommand(program: Command, cli: CliContext): void {
  program
    .command('reconcile')
    .description('find accounts that drifted: active in the app but not assigned in the IdP, assigned but missing, ambiguous, access not as wanted')
    .option('--app <id>', 'the connector, e.g. spendesk')
    .option('--all', "every installed app a machine can read (its API, SCIM or console) against the IdP's API; gap nodes are named, not read")
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--idp-from <file|idp>', "the IdP side from a CSV or xlsx export (roles, teams and policy columns there are the wanted access), or the tenant's IdP by name (okta, entra, google: its API, the default)")
    .option('--from <file>', "the app side from a CSV or xlsx export (the admin's members list)")
    .option('--via <reader>', `read the app side through ${vias.join(', ')} (attestations: what people said in completed tasks)`)
    .option('--map <field=Header>', 'a column of --from for a field (email, userName, externalId, status, roles, teams, policy)', collect)
    .option('--idp-map <field=Header>', 'the same for --idp-from', collect)
    .option('--header-row <n>', 'the row of --from that holds the headers, as a spreadsheet numbers it (default: the first row naming an email, userName or externalId column)', headerRowNumber)
    .option('--remediate', 'open an offboarding run for every orphaned account and a change run for every access drift (behind an approval when the profile asks; an open run for the same person is not opened twice); refused, exit 1, when a side was read short')
    .option('--by <operator>', 'who asks, for the runs --remediate opens (default: PATCHBAY_OPERATOR, else patchbay-reconcile)')
    .option('--html <file>', 'also write the HTML report (every app, overdue audits, findings over time)')
    .option('--json', 'print JSON')
    .action(async (options: ReconcileOptions) => {
      // The readers, the store's tables and the bridge: loaded by this command only, not by `patchbay --help`.
      const [{ appReaders, readAccountsFile, readIdpAssignments }, { recordReconciliation }] = await Promise.all([import('../reconcile/readers.js'), import('../reconcile/reconcile-app.js')]);
      const services = cli.services();
      const loaded = services.profiles.load(options.profile);
      const { profile } = loaded;
      const line = { file: 'command line' };
      // --idp-from okta|entra|google names the tenant's IdP: read its API, as without the flag.
      if (options.idpFrom && idpKeyword(options.idpFrom, services.registry, profile)) delete options.idpFrom;
      if (!!options.app === !!options.all) throw new InvalidInputError({ ...line, pointer: '/app' }, 'give one app with --app <id>, or --all');
      if (options.all && (options.from || options.via || options.idpFrom)) throw new InvalidInputError({ ...line, pointer: '/all' }, '--all reads every app by its own reader and the IdP by its API: --from, --via and --idp-from are for one app');
      if (options.app && !!options.from === !!options.via) throw new InvalidInputError({ ...line, pointer: '/from' }, `give the app side with exactly one of --from <file> or --via ${vias.join('|')}`);
      if (options.via && !vias.includes(options.via)) throw new InvalidInputError({ ...line, pointer: '/via' }, `--via must be ${vias.join(', ')} (got ${options.via})`);
      const progress = (text: string) => !options.json && process.stderr.write(`${text}\n`);
      const now = Date.now();

      // Which apps, each with its reader: the one named, or for --all the first machine reader each app has here.
      const plan: { app: string; via?: string; skipped?: string; broken?: string }[] = [];
      if (options.app) {
        services.registry.get(options.app);
        services.planner.context(options.app, loaded);
        plan.push({ app: options.app, ...(options.via ? { via: options.via } : {}) });
      } else {
        const idpBroken = profile.idp ? services.registry.brokenReason(profile.idp.connector) : undefined;
        if (idpBroken !== undefined) throw new InvalidInputError({ file: displayPath(loaded.file), pointer: '/idp/connector' }, `--all reads the IdP's assignments through its API, and identity provider connector ${profile.idp!.connector} is broken: ${brokenBecause(idpBroken)}`);
        const idpApi = profile.idp ? services.registry.api(profile.idp.connector) : undefined;
        if (idpApi?.requiredSettings?.includes('baseUrl') && !profile.idp?.baseUrl) throw new InvalidInputError({ file: displayPath(loaded.file), pointer: '/idp/baseUrl' }, "--all reads the IdP's assignments through its API, and the tenant profile gives no IdP address");
        for (const id of Object.keys(profile.apps)) {
          // A broken connector refuses only its app: it is not read (nothing read short becomes a finding), the others are.
          const broken = services.registry.brokenReason(id);
          if (broken !== undefined) {
            plan.push({ app: id, broken: brokenBecause(broken) });
            continue;
          }
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
      const refused: IncompleteReadError[] = [];
      const audits = new Map<string, { at: number; findings: number }>();
      const failed: { app: string; error: string }[] = [];
      let host: BrowserHost | undefined;
      try {
        const readerContext: ReaderContext = {
          registry: services.registry,
          profile,
          secrets: services.secrets,
          browser: () => (host ??= new BrowserHost()),
          store: async () => (await cli.runtime()).store,
        };
        const readBoth = async (appId: string, via: string | undefined): Promise<{ idp: Snapshot; app: Snapshot }> => {
          // What the app's reader needs (a console sign-in) is checked before either side is read.
          if (!options.from) appReaders[via as AppReaderName].check?.(readerContext, appId);
          progress(options.idpFrom ? `reading ${options.idpFrom}…` : `reading the IdP's assignments of ${appId}…`);
          const idp: Snapshot = options.idpFrom
            ? await readAccountsFile(options.idpFrom, { side: 'idp', app: appId, map: mapping(options.idpMap) })
            : await readIdpAssignments(services.registry, profile, appId, services.secrets, now);
          progress(`  ${idp.accounts.length} assignments`);
          let app: Snapshot;
          if (options.from) {
            progress(`reading ${options.from}…`);
            app = await readAccountsFile(options.from, { side: 'app', app: appId, map: mapping(options.map), ...(options.headerRow ? { headerRow: options.headerRow } : {}) });
          } else {
            const reader = appReaders[via as AppReaderName];
            progress(reader.describe(appId));
            app = await reader.read(readerContext, appId, now);
          }
          progress(`  ${app.accounts.length} accounts`);
          return { idp, app };
        };
        for (const { app: appId, via } of plan.filter((p) => !p.skipped && !p.broken)) {
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
          const runtime = (await cli.runtime());
          const result = await recordReconciliation(runtime, profile.tenant, idp, app, now, progress);
          results.push(result);
          if (result.completeness && !result.completeness.complete) {
            const audit = await runtime.reconciliations.lastAudit(profile.tenant, appId);
            if (audit) audits.set(appId, { at: audit.at, findings: audit.findings });
            progress(`  ${appId}: incomplete read: ${result.completeness.reasons.join('; ')}`);
          }
          if (options.remediate) {
            try {
              for (const o of await remediate(runtime.runs, loaded, result, idp, options.by ?? process.env.PATCHBAY_OPERATOR ?? 'patchbay-reconcile', progress)) opened.push(o);
            } catch (error) {
              if (!(error instanceof IncompleteReadError)) throw error;
              refused.push(error);
            }
          }
        }
      } finally {
        await host?.close();
      }
      if (options.html) await writeHtmlReport(options.html, await auditReportFor(services.planner, loaded, (await cli.runtime()).reconciliations, now, services.registry));
      const skipped = plan.filter((p) => p.skipped).map((p) => ({ app: p.app, why: p.skipped! }));
      const broken = plan.filter((p) => p.broken).map((p) => ({ app: p.app, reason: p.broken! }));
      // An incomplete reconciliation says so before anything else, in JSON as in the terminal.
      const shown = results.map((r) => ({ completeness: r.completeness, ...r }));
      const incomplete = results.filter((r) => r.completeness && !r.completeness.complete).map((r) => ({ app: r.app, id: r.id, reasons: r.completeness!.reasons }));
      // --remediate over a short read: the reconciliation is reported and stored, nothing is opened, exit 1, one line why.
      const refuse = () => {
        if (!refused.length) return;
        for (const r of refused.slice(0, -1)) process.stderr.write(`patchbay: ${r.message}\n`);
        throw refused.at(-1)!;
      };
      if (options.json) {
        const extra = { ...(options.remediate ? { remediation: opened } : {}), ...(options.html ? { html: path.resolve(options.html) } : {}) };
        printJsonStreaming(options.all ? { incomplete, reconciliations: shown, skipped, broken, failed, ...extra } : { ...shown[0]!, ...extra });
        // A read that ended short, an app that could not be read or whose connector is broken, is not a clean answer: exit 1.
        if (failed.length || incomplete.length || broken.length) process.exitCode = 1;
        refuse();
        return;
      }
      cli.print(results.map((r) => renderReconciliation(r, audits.get(r.app))).join('\n\n'));
      for (const s of skipped) cli.print(`${s.app}: not reconciled: ${s.why}`);
      for (const b of broken) cli.print(`${b.app}: not reconciled: its connector is broken: ${b.reason}`);
      for (const f of failed) cli.print(`${f.app}: not reconciled: could not read it: ${f.error}`);
      if (failed.length || incomplete.length || broken.length) process.exitCode = 1;
      for (const o of opened) {
        const what = `${remedies[o.kind] === 'offboard' ? 'offboarding' : 'change'} ${o.run} for ${o.person}`;
        const state = o.status === 'waiting' && o.waitingFor ? ` (waiting: ${o.waitingFor})` : ` (${o.status})`;
        cli.print(o.created ? `opened ${what}${state}` : `${what} is already open${state}`);
        for (const s of o.skipped ?? []) cli.print(`  ${s}`);
      }
      if (options.html) cli.print(`wrote ${options.html}`);
      refuse();
    });

  program
    .command('report')
    .description("the audit report: every installed app, how it can be read, its last audit against the policy (gap nodes first), findings over time")
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--html <file>', 'write the HTML report, with the chart of findings per app over time')
    .option('--json', 'print JSON')
    .action(async (options: { profile?: string; html?: string; json?: boolean }) => {
      const services = cli.services();
      const loaded = services.profiles.load(options.profile);
      const report = await auditReportFor(services.planner, loaded, (await cli.runtime()).reconciliations, Date.now(), services.registry);
      if (options.html) await writeHtmlReport(options.html, report);
      if (options.json) cli.printJson(report);
      else cli.print(renderAuditReport(report) + (options.html ? `\n\nwrote ${options.html}` : ''));
    });
}

/**
 * Whether `--idp-from` names an identity provider rather than a file: a connector of kind idp whose
 * id is the word or starts with it (entra → entra-id, google → google-workspace). One that is not
 * the tenant's IdP is refused, naming the one it has.
 */
function idpKeyword(value: string, registry: ConnectorRegistry, profile: { idp?: { connector: string } }): boolean {
  if (/[./\\]/.test(value)) return false;
  const word = value.toLowerCase();
  const named = registry.list().find((c) => c.manifest.kind === 'idp' && (c.manifest.id === word || c.manifest.id.startsWith(`${word}-`)));
  if (!named) return false;
  if (profile.idp?.connector !== named.manifest.id) {
    throw new InvalidInputError({ file: 'command line', pointer: '/idpFrom' }, `--idp-from ${value}: the tenant's identity provider is ${profile.idp ? registry.get(profile.idp.connector).manifest.name : 'not set (idp.connector)'}, not ${named.manifest.name}`);
  }
  return true;
}
