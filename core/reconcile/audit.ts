import type { PlanningContext } from '../planning/context.js';
import type { LifecyclePlanner } from '../planning/service.js';
import type { LoadedProfile } from '../tenant/profile.js';
import { brokenBecause } from '../errors.js';
import type { ConnectorRegistry } from '../registry/registry.js';
import { judgeRoute } from '../planning/channels.js';
import type { TenantProfile } from '../schema/types/tenant-profile.js';
import type { Finding } from './findings.js';
import type { ReconcileHistory, ReconciliationRecord, StoredFinding } from './history.js';

const day = 86_400_000;
/** A quarterly access review, unless the tenant says otherwise. */
export const defaultAuditEveryDays = 90;

/** How Patchbay can read one app's accounts for this tenant, channel by channel. */
export interface AppReader {
  readonly channel: string;
  readonly usable: boolean;
  readonly reason: string;
}

/** One installed app as an auditor sees it: can it be read, when was it last audited, is that too long ago. */
export interface AppAudit {
  readonly app: string;
  readonly name: string;
  readonly readers: readonly AppReader[];
  /** No machine channel can read it here: only a person's export (or nothing) shows its accounts. */
  readonly gap: boolean;
  readonly everyDays: number;
  /** The newest reconciliation against a complete read of its accounts: its findings are the open ones. */
  readonly lastAudit?: ReconciliationRecord;
  /** The newest reconciliation of any kind (attestations and incomplete reads included). */
  readonly latest?: ReconciliationRecord;
  readonly overdue: boolean;
  /**
   * Its connector is broken (the registry's one-line reason): nothing can read or plan it until it is
   * fixed, so it has no readers and raises no finding; its earlier audits are still shown.
   */
  readonly broken?: string;
}

export interface AuditReport {
  readonly tenant: string;
  readonly at: number;
  readonly apps: readonly AppAudit[];
  /** Apps whose last audit is older than their policy allows (or that were never audited), gap nodes first. */
  readonly overdue: readonly Finding[];
  /**
   * Apps whose newest reconciliation read short, with why: shown before anything else. Their open
   * findings are still those of their last audit; the short read closed none.
   */
  readonly incomplete: readonly { readonly app: string; readonly name: string; readonly at: number; readonly reasons: readonly string[] }[];
  /** Every reconciliation in the window, oldest first: the trend of findings per app. */
  readonly history: readonly ReconciliationRecord[];
  /**
   * The open findings of each app: those of its last audit (a complete read of the app itself),
   * at most `currentLimit` per app; an incomplete or attestation reconciliation closes none.
   */
  readonly current: Readonly<Record<string, readonly StoredFinding[]>>;
}

/** Findings listed per app in a report; the counts stay exact. */
export const currentLimit = 1000;

/** The channels of the app's listUsers operation, judged for this tenant. */
export function readersOf(context: PlanningContext): AppReader[] {
  const operation = context.app.connector.manifest.operations.listUsers;
  if (!operation) return [];
  return operation.channels.map((route) => {
    const choice = judgeRoute(route, 'listUsers', operation, context.app, context.tenant, context.idp);
    return { channel: route.channel, usable: choice.usable, reason: choice.reason };
  });
}

/**
 * The audit state of every installed app (the identity provider aside) and the findings for those
 * whose last audit is older than their policy: `apps.<id>.auditEveryDays`, else
 * `policies.auditEveryDays`, else 90 days.
 */
export async function auditReport(args: {
  profile: TenantProfile;
  contexts: readonly PlanningContext[];
  /** Apps of the profile whose connector is broken, each with its reason: listed as broken, never read. */
  broken?: readonly { readonly app: string; readonly reason: string }[];
  history: ReconcileHistory;
  now: number;
  windowDays?: number;
}): Promise<AuditReport> {
  const { profile, history, now } = args;
  const apps: AppAudit[] = [];
  for (const { app, reason } of args.broken ?? []) {
    const everyDays = profile.apps[app]?.auditEveryDays ?? profile.policies?.auditEveryDays ?? defaultAuditEveryDays;
    const lastAudit = await history.lastAudit(profile.tenant, app);
    const latest = await history.latest(profile.tenant, app);
    apps.push({ app, name: app, readers: [], gap: false, everyDays, ...(lastAudit ? { lastAudit } : {}), ...(latest ? { latest } : {}), overdue: !lastAudit || now - lastAudit.at > everyDays * day, broken: reason });
  }
  for (const context of args.contexts.filter((c) => c.app.connector.manifest.kind !== 'idp')) {
    const id = context.app.connector.manifest.id;
    const readers = readersOf(context);
    const everyDays = context.app.settings.auditEveryDays ?? profile.policies?.auditEveryDays ?? defaultAuditEveryDays;
    const lastAudit = await history.lastAudit(profile.tenant, id);
    const latest = await history.latest(profile.tenant, id);
    apps.push({
      app: id,
      name: context.app.connector.manifest.name,
      readers,
      gap: !readers.some((r) => r.usable && r.channel !== 'human'),
      everyDays,
      ...(lastAudit ? { lastAudit } : {}),
      ...(latest ? { latest } : {}),
      overdue: !lastAudit || now - lastAudit.at > everyDays * day,
    });
  }
  // A broken app is said once, as broken: an overdue finding would send someone to read what cannot be read.
  const overdue = apps
    .filter((a) => a.overdue && !a.broken)
    .sort((a, b) => Number(b.gap) - Number(a.gap) || (a.lastAudit?.at ?? 0) - (b.lastAudit?.at ?? 0))
    .map((a) => overdueFinding(a, now));
  const since = now - (args.windowDays ?? 365) * day;
  const current: Record<string, StoredFinding[]> = {};
  for (const a of apps) if (a.lastAudit) current[a.app] = await history.findingsOf(a.lastAudit.id, currentLimit);
  const incomplete = apps.filter((a) => a.latest && !a.latest.completeness.complete).map((a) => ({ app: a.app, name: a.name, at: a.latest!.at, reasons: a.latest!.completeness.reasons }));
  // Incomplete reads first, in JSON as on the page.
  return { tenant: profile.tenant, at: now, incomplete, apps, overdue, history: await history.list(profile.tenant, { since }), current };
}

/** The report for every app installed in the profile, as the planner judges them; an app whose connector is broken is listed as broken, and the rest are reported. */
export async function auditReportFor(planner: LifecyclePlanner, loaded: LoadedProfile, history: ReconcileHistory, now: number, registry: ConnectorRegistry): Promise<AuditReport> {
  const ids = Object.keys(loaded.profile.apps);
  const reasonOf = (id: string) => registry.brokenReason(id);
  const broken = ids.filter((id) => reasonOf(id) !== undefined).map((app) => ({ app, reason: brokenBecause(reasonOf(app)!) }));
  const contexts = ids.filter((id) => reasonOf(id) === undefined).map((id) => planner.context(id, loaded));
  return auditReport({ profile: loaded.profile, contexts, broken, history, now });
}

function overdueFinding(a: AppAudit, now: number): Finding {
  const readable = a.readers.filter((r) => r.usable && r.channel !== 'human').map((r) => r.channel);
  const how = a.gap
    ? `${a.name} is a gap node: Patchbay cannot read its accounts here (${a.readers.filter((r) => r.channel !== 'human').map((r) => `${r.channel}: ${r.reason}`).join('; ') || 'no listing operation'}), so only an export by its admin audits it`
    : `${a.name} can be read by ${readable.join(' and ')} (patchbay reconcile --app ${a.app} --via ${readable[0] === 'browser' ? 'browser' : 'api'})`;
  const when = a.lastAudit
    ? `its last audit was ${new Date(a.lastAudit.at).toISOString().slice(0, 10)} (${Math.floor((now - a.lastAudit.at) / day)} days ago, from ${a.lastAudit.appSource.name})`
    : 'it has never been audited';
  return {
    kind: 'audit-overdue',
    app: a.app,
    person: '(every account)',
    detail: `${how}; ${when}; the policy asks every ${a.everyDays} days`,
    evidence: a.lastAudit ? [{ source: a.lastAudit.appSource, saw: `${a.lastAudit.counts.accounts} accounts, ${a.lastAudit.findings} findings` }] : [],
    // Never audited: the age is unbounded (JSON shows it as null).
    ageMs: a.lastAudit ? now - a.lastAudit.at : Number.POSITIVE_INFINITY,
    firstSeenAt: a.lastAudit ? a.lastAudit.at + a.everyDays * day : now,
  };
}
