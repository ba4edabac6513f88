import type { Command } from 'commander';
import { BrowserHost } from '../channels/browser/browser-host.js';
import { InvalidInputError } from '../errors.js';
import { type Finding, type Reconciliation, reconcile } from '../reconcile/findings.js';
import { readAccountsFile, readAppByApi, readAppByBrowser, readIdpAssignments } from '../reconcile/readers.js';
import type { Snapshot } from '../reconcile/snapshot.js';
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

const age = (ms: number) => (ms < 60_000 ? 'just read' : ms < 3_600_000 ? `${Math.round(ms / 60_000)} min` : ms < 172_800_000 ? `${Math.round(ms / 3_600_000)} h` : `${Math.round(ms / 86_400_000)} days`);

export function renderReconciliation(r: Reconciliation): string {
  const lines = [
    `Reconciled ${r.app}: ${r.counts.identities} IdP identities (${r.idp.name}) against ${r.counts.accounts} accounts (${r.appSource.name}); ${r.counts.matched} matched.`,
  ];
  if (!r.findings.length) return [...lines, 'No findings: every active account is assigned, and every assignment has its account.'].join('\n');
  const byKind = new Map<string, number>();
  for (const f of r.findings) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  lines.push(`${r.findings.length} findings: ${[...byKind].map(([k, n]) => `${n} ${k}`).join(', ')}.`, '');
  lines.push(renderTable(['Finding', 'Person', 'What the sources show', 'Evidence age'], r.findings.map((f: Finding) => [f.kind, f.person, f.detail, age(f.ageMs)]), 60));
  return lines.join('\n');
}

/** `patchbay reconcile`: what the IdP says against what the app has, and the runs that fix it. */
export function registerReconcileCommand(program: Command, cli: CliContext): void {
  program
    .command('reconcile')
    .description("find accounts that drifted: active in the app but not assigned in the IdP, assigned but missing, ambiguous")
    .requiredOption('--app <id>', 'the connector, e.g. spendesk')
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant)')
    .option('--idp-from <file>', 'the IdP side from a CSV or xlsx export instead of the IdP API')
    .option('--from <file>', "the app side from a CSV or xlsx export (the admin's members list)")
    .option('--via <channel>', 'read the app side through browser (its console) or api')
    .option('--map <field=Header>', 'a column of --from for a field (email, userName, externalId, status, roles, teams, policy)', collect)
    .option('--idp-map <field=Header>', 'the same for --idp-from', collect)
    .option('--remediate', 'open an offboarding run for every orphaned account (an open run for the same person is not opened twice)')
    .option('--by <operator>', 'who asks, for the runs --remediate opens (default: PATCHBAY_OPERATOR, else patchbay-reconcile)')
    .option('--json', 'print JSON')
    .action(async (options: { app: string; profile?: string; idpFrom?: string; from?: string; via?: string; map?: string[]; idpMap?: string[]; remediate?: boolean; by?: string; json?: boolean }) => {
      const services = cli.services();
      const loaded = services.profiles.load(options.profile);
      const { profile } = loaded;
      services.registry.get(options.app);
      if (!!options.from === !!options.via) throw new InvalidInputError({ file: 'command line', pointer: '/from' }, 'give the app side with exactly one of --from <file> or --via browser|api');
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
        throw new InvalidInputError({ file: 'command line', pointer: '/via' }, `--via must be browser or api (got ${options.via})`);
      }
      progress(`  ${app.accounts.length} accounts`);
      const result = reconcile(idp, app, { now });
      const opened: { person: string; run: string; created: boolean }[] = [];
      if (options.remediate) {
        const runtime = cli.runtime();
        for (const finding of result.findings.filter((f) => f.kind === 'orphaned-account')) {
          const [started] = await runtime.runs.start(
            [{ source: `reconcile of ${options.app}`, request: { playbook: 'offboard', app: options.app, subject: { email: finding.person } } }],
            loaded,
            { requestedBy: options.by ?? process.env.PATCHBAY_OPERATOR ?? 'patchbay-reconcile' },
          );
          opened.push({ person: finding.person, run: started!.run.id, created: started!.created });
        }
      }
      if (options.json) {
        cli.printJson({ ...result, ...(options.remediate ? { remediation: opened } : {}) });
        return;
      }
      cli.print(renderReconciliation(result));
      for (const o of opened) cli.print(o.created ? `opened offboarding ${o.run} for ${o.person}` : `offboarding ${o.run} for ${o.person} is already open`);
    });
}
