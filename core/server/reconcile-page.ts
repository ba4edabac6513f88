import type { AuditReport } from '../reconcile/audit.js';
import type { ReconciliationRecord, StoredFinding } from '../reconcile/history.js';
import { remedies } from '../reconcile/remediate.js';
import { type FindingRun, findingKey, remediated } from '../reconcile/remediation-runs.js';
import { esc } from './html.js';

/**
 * What the server's /reconcile adds to the report: each finding's run, and the forms (one-time
 * tokens from `token`) to remediate a finding and to reconcile an app again. The static HTML report
 * (`patchbay report --html`) has none of it.
 */
export interface ReconcilePageExtras {
  /** Per app, the run that answers each finding (see remediationRuns), by findingKey. */
  readonly runs: ReadonlyMap<string, ReadonlyMap<string, FindingRun>>;
  /** The form token for a form posting to `action`. */
  readonly token: (action: string) => string;
  /** Whether the signed-in operator may open remediation runs from the page (admins). */
  readonly canRemediate: boolean;
  /** The apps a machine can read here, each with the reader "reconcile now" would use. */
  readonly reconcilable: ReadonlyMap<string, string>;
  readonly message?: { readonly ok: boolean; readonly text: string };
}

const form = (x: ReconcilePageExtras, action: string, fields: Record<string, string>, button: string, label?: string) =>
  `<form method="post" action="${action}" class="inline"><input type="hidden" name="_token" value="${esc(x.token(action))}">${Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('')}<button type="submit"${label ? ` aria-label="${esc(label)}"` : ''}>${esc(button)}</button></form>`;

/** A finding's remediation cell: its run (and whether that finished it), or a button to open one. */
function remediationCell(app: string, f: StoredFinding, x: ReconcilePageExtras): string {
  const run = x.runs.get(app)?.get(findingKey(f));
  const link = run ? `<a href="/runs/${esc(run.id)}">${esc(run.id)}</a>` : '';
  if (run && remediated(run)) return `<strong>Remediated</strong>: ${esc(run.playbook)} ${link} finished (${esc(run.outcome)}); the next reconciliation closes the finding.`;
  if (run && (run.status === 'running' || run.status === 'waiting')) return `${esc(run.playbook)} ${link}: ${esc(run.status)}`;
  const again = run ? `${esc(run.playbook)} ${link} ${esc(run.status)}${run.outcome && run.outcome !== run.status ? ` (${esc(run.outcome)})` : ''}. ` : '';
  if (f.kind !== 'orphaned-account') return f.kind in remedies ? `${again}<span class="muted"><code>patchbay reconcile --remediate</code> opens the change with the IdP's wanted access</span>` : `${again}<span class="muted">for a person to look at</span>`;
  if (!x.canRemediate) return `${again}<span class="muted">an admin can open the offboarding here</span>`;
  return `${again}${form(x, '/reconcile/remediate', { app, kind: f.kind, person: f.person }, run ? 'Offboard again' : 'Offboard', `Offboard ${f.person} from ${app}`)}`;
}

const day = 86_400_000;
const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/**
 * Findings per app over time as an inline SVG line chart (no script: the pages' CSP allows none).
 * Each point has a title the browser shows on hover; the same figures are in a table below it.
 */
export function findingsChart(history: readonly ReconciliationRecord[], apps: readonly { app: string; name: string }[]): string {
  if (!history.length) return '<p class="muted">No reconciliation yet: the chart starts with the first <code>patchbay reconcile</code>.</p>';
  const width = 720;
  const height = 260;
  const pad = { left: 44, right: 16, top: 12, bottom: 36 };
  const first = history[0]!.at;
  const last = history.at(-1)!.at;
  const span = Math.max(last - first, day);
  const top = Math.max(1, ...history.map((r) => r.findings));
  const x = (at: number) => pad.left + ((at - first) / span) * (width - pad.left - pad.right);
  const y = (n: number) => height - pad.bottom - (n / top) * (height - pad.top - pad.bottom);
  const names = new Map(apps.map((a) => [a.app, a.name]));
  const byApp = new Map<string, ReconciliationRecord[]>();
  for (const r of history) byApp.set(r.app, [...(byApp.get(r.app) ?? []), r]);
  const ticks = [0, Math.round(top / 2), top].filter((v, i, all) => all.indexOf(v) === i);
  const series = [...byApp].map(([app, records], i) => {
    const colour = palette[i % palette.length]!;
    const points = records.map((r) => `${x(r.at).toFixed(1)},${y(r.findings).toFixed(1)}`).join(' ');
    // An incomplete reconciliation is a hollow point: it is drawn, but it is not an audit.
    const dots = records
      .map((r) => {
        const short = !r.completeness.complete;
        return `<circle cx="${x(r.at).toFixed(1)}" cy="${y(r.findings).toFixed(1)}" r="3.5" fill="${short ? '#fff' : colour}" stroke="${colour}"><title>${esc(names.get(app) ?? app)} ${esc(stamp(r.at))}: ${r.findings} findings (${esc(r.appSource.name)})${short ? ' — INCOMPLETE READ, not an audit' : ''}</title></circle>`;
      })
      .join('');
    return { app, colour, svg: `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points}"/>${dots}` };
  });
  const axis = [
    `<line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#888"/>`,
    ...ticks.map((v) => `<text x="${pad.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${v}</text><line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`),
    `<text x="${pad.left}" y="${height - 12}" font-size="11">${esc(date(first))}</text>`,
    `<text x="${width - pad.right}" y="${height - 12}" font-size="11" text-anchor="end">${esc(date(last))}</text>`,
  ].join('');
  const legend = series.map((s) => `<span class="legend"><span class="swatch" style="background:${s.colour}"></span>${esc(names.get(s.app) ?? s.app)}</span>`).join(' ');
  const rows = history
    .map((r) => `<tr><td>${esc(stamp(r.at))}</td><td>${esc(names.get(r.app) ?? r.app)}</td><td>${esc(r.appSource.name)}${r.completeness.complete ? '' : ' <strong class="overdue">(incomplete read)</strong>'}</td><td>${r.counts.accounts}</td><td>${r.findings}</td><td>${esc(Object.entries(r.byKind).map(([k, n]) => `${n} ${k}`).join(', ') || '—')}</td></tr>`)
    .join('');
  return `<figure><svg role="img" aria-label="Findings per app over time" viewBox="0 0 ${width} ${height}" width="100%" style="max-width:${width}px">${axis}${series.map((s) => s.svg).join('')}</svg>
<figcaption>${legend}</figcaption></figure>
<details><summary>The figures behind the chart</summary><table aria-label="Reconciliations"><thead><tr><th>When</th><th>App</th><th>Read from</th><th>Accounts</th><th>Findings</th><th>By kind</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}

/**
 * The reconciliation report's body: first the apps whose newest read was incomplete (and why),
 * then the apps and their audits, what is overdue, the trend, and the open findings (those of each
 * app's last audit, which neither an incomplete read nor attestations close).
 */
export function reconcileReportBody(report: AuditReport, extras?: ReconcilePageExtras): string {
  const ago = (from: number) => {
    const days = Math.floor((report.at - from) / day);
    return days < 1 ? 'today' : days === 1 ? 'yesterday' : `${days} days ago`;
  };
  const apps = report.apps
    .map((a) => {
      const readers = a.broken ? `<strong class="overdue">broken: ${esc(a.broken)}</strong>` : a.readers.length ? a.readers.map((r) => `${r.usable ? '✓' : '✗'} ${esc(r.channel)}<span class="muted">: ${esc(r.reason)}</span>`).join('<br>') : '<span class="muted">no listing operation</span>';
      const last = a.lastAudit ? `${esc(date(a.lastAudit.at))} (${ago(a.lastAudit.at)})<br><span class="muted">${esc(a.lastAudit.appSource.name)}</span>` : 'never';
      const newest = a.latest && a.latest.id !== a.lastAudit?.id ? a.latest : undefined;
      const note = newest
        ? `<br><span class="muted">newest: ${newest.findings} from ${newest.completeness.complete ? (newest.appSource.kind === 'attestation' ? 'attestations only' : 'a read') : '<strong class="overdue">an incomplete read</strong>'} on ${esc(date(newest.at))}</span>`
        : '';
      const findings = `${a.lastAudit ? a.lastAudit.findings : '—'}${note}`;
      const via = extras?.reconcilable.get(a.app);
      const now = extras ? `<td>${via ? form(extras, '/reconcile/now', { app: a.app }, 'Reconcile now', `Reconcile ${a.name} now (${via})`) : '<span class="muted">from an export only</span>'}</td>` : '';
      return `<tr><td>${esc(a.name)}${a.gap ? ' <strong>(gap node)</strong>' : ''}</td><td>${readers}</td><td class="${a.overdue ? 'overdue' : ''}">${last}${a.overdue ? '<br>overdue' : ''}</td><td>every ${a.everyDays} days</td><td>${findings}</td>${now}</tr>`;
    })
    .join('');
  const overdue = report.overdue.length
    ? `<ul>${report.overdue.map((f) => `<li class="overdue">${esc(f.detail)}</li>`).join('')}</ul>`
    : '<p role="status">Every app was audited within its policy.</p>';
  const current = Object.entries(report.current)
    .map(([app, findings]) => {
      const name = report.apps.find((a) => a.app === app)?.name ?? app;
      const audit = report.apps.find((a) => a.app === app)?.lastAudit;
      if (!findings.length) return `<h3>${esc(name)}</h3><p role="status">No findings at the last audit.</p>`;
      const more = audit && audit.findings > findings.length ? `<p class="muted">The first ${findings.length} of ${audit.findings}; <code>patchbay reconcile --json</code> lists every one.</p>` : '';
      const rows = findings
        .map((f) => {
          const done = extras && remediated(extras.runs.get(app)?.get(findingKey(f)));
          return `<tr${done ? ' class="remediated"' : ''}><td>${esc(f.kind)}</td><td>${esc(f.person)}</td><td>${esc(f.detail)}</td><td>${esc(date(f.firstSeenAt))} (${ago(f.firstSeenAt)})</td>${extras ? `<td>${remediationCell(app, f, extras)}</td>` : ''}</tr>`;
        })
        .join('');
      return `<h3>${esc(name)}</h3><div class="scroll"><table aria-label="Findings in ${esc(name)}"><thead><tr><th>Finding</th><th>Person</th><th>What the sources show</th><th>Open since</th>${extras ? '<th>Remediation</th>' : ''}</tr></thead><tbody>${rows}</tbody></table></div>${more}`;
    })
    .join('');
  const incomplete = report.incomplete.length
    ? `<section role="alert" aria-label="Incomplete reads"><h2>Incomplete reads</h2><p>The newest reconciliation of these apps read short. It closed no finding, is not an audit, and is not remediated.</p><ul>${report.incomplete
        .map((i) => `<li><strong>${esc(i.name)}</strong>, ${esc(stamp(i.at))}: <ul>${i.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul></li>`)
        .join('')}</ul></section>`
    : '';
  return `<h1>Reconciliation report: ${esc(report.tenant)}</h1>
${extras?.message ? `<p role="${extras.message.ok ? 'status' : 'alert'}">${esc(extras.message.text)}</p>` : ''}
${incomplete}
<p class="muted">Made ${esc(stamp(report.at))} UTC. An audit is a reconciliation against a complete read of the app's accounts (its API, SCIM, its console, or an export); attestations from completed tasks show only the work done through Patchbay, and an incomplete read closes nothing.</p>
<h2>Audits overdue</h2>${overdue}
<h2>Apps</h2><div class="scroll"><table aria-label="Apps"><thead><tr><th>App</th><th>How Patchbay can read it</th><th>Last audit</th><th>Policy</th><th>Open findings</th>${extras ? '<th>Reconcile</th>' : ''}</tr></thead><tbody>${apps}</tbody></table></div>
<h2>Findings per app over time</h2>${findingsChart(report.history, report.apps)}
<h2>Open findings</h2>${current || '<p class="muted">No audit yet.</p>'}`;
}
