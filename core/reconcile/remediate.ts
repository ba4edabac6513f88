import { PatchbayError } from '../errors.js';
import type { RunService } from '../engine/run-service.js';
import type { Plan } from '../schema/types/plan.js';
import type { LoadedProfile } from '../tenant/profile.js';
import type { Finding, Reconciliation } from './findings.js';
import type { Snapshot } from './snapshot.js';

/**
 * A reconciliation over a read that ended short is not acted on: a finding it shows may be a page
 * nobody read. The message is one line: the app, the first reason, and that nothing was opened.
 */
export class IncompleteReadError extends PatchbayError {
  readonly code = 'incomplete-read';
  constructor(
    readonly app: string,
    readonly reasons: readonly string[],
    readonly reconciliation?: number,
  ) {
    super(
      `not remediating ${app}: ${reconciliation ? `reconciliation ${reconciliation}` : 'the reconciliation'} rests on an incomplete read (${reasons[0] ?? 'no reason given'}${reasons.length > 1 ? `; and ${reasons.length - 1} more` : ''}); nothing was opened`.replace(/\s*\n\s*/g, ' '),
    );
  }
}

/** The playbook that fixes each kind of finding; the others are for a person to look at. */
export const remedies = { 'orphaned-account': 'offboard', 'access-drift': 'change' } as const;

export interface Remediation {
  readonly person: string;
  readonly kind: keyof typeof remedies;
  readonly run: string;
  /** false when the person's run for that playbook was already open: it is not opened twice. */
  readonly created: boolean;
  readonly status: string;
  readonly waitingFor: string | null;
  /** The plan's steps left out because the finding shows them not needed, each with why (an orphan's IdP step). */
  readonly skipped?: readonly string[];
}

/**
 * The plan without its IdP step(s), each replaced by a note saying why (`why` completes "Skipped
 * “Unassign Spendesk in Okta”: …"); the steps that depended on a dropped step depend on what it
 * depended on. A plan with no IdP step is returned as it is.
 */
export function withoutIdpStep(plan: Plan, why: string): Plan {
  const dropped = new Map(plan.steps.filter((s) => s.role === 'idp').map((s) => [s.id, s]));
  if (!dropped.size) return plan;
  const steps = plan.steps.filter((s) => !dropped.has(s.id)).map((s) => ({ ...s, dependsOn: s.dependsOn.flatMap((d) => dropped.get(d)?.dependsOn ?? [d]) }));
  return { ...plan, steps, notes: [...plan.notes, ...[...dropped.values()].map((s) => `Skipped “${s.title}”: ${why}.`)] };
}

/** Why an orphaned account's offboarding has no IdP step: the IdP side read shows no assignment to remove. */
export const orphanSkipReason = (person: string, idpSource: string, reconciliation?: number) =>
  `${reconciliation ? `reconciliation ${reconciliation}` : 'the reconciliation'} read ${idpSource} and found no assignment for ${person} (an orphaned account), so there is none to remove`;

/**
 * Opens the run that fixes one finding: an offboarding for an orphaned account (without the IdP
 * step, see withoutIdpStep), a change to `access` for a drift. The engine returns the person's open
 * run of the same playbook instead of a second one. `drive: false` only records the run, for a
 * server's own loop to drive (see RunService.start).
 */
export async function remediateFinding(
  runs: RunService,
  profile: LoadedProfile,
  finding: { readonly kind: keyof typeof remedies; readonly person: string; readonly detail: string },
  source: { readonly app: string; readonly reconciliation?: number; readonly idpSource: string },
  requestedBy: string,
  access?: { roles?: string[]; groups?: string[]; policy?: string },
  drive = true,
): Promise<Remediation> {
  const request = {
    playbook: remedies[finding.kind],
    app: source.app,
    subject: { email: finding.person },
    reason: `${source.reconciliation ? `reconciliation ${source.reconciliation}` : 'reconciliation'}: ${finding.detail}`,
    ...(access ? { access } : {}),
  };
  const skip = finding.kind === 'orphaned-account' ? orphanSkipReason(finding.person, source.idpSource, source.reconciliation) : undefined;
  let skipped: string[] = [];
  const adjust = (plan: Plan) => {
    const changed = skip ? withoutIdpStep(plan, skip) : plan;
    skipped = changed.notes.slice(plan.notes.length);
    return changed;
  };
  const [started] = await runs.start([{ source: `reconcile of ${source.app}`, request }], profile, { requestedBy, adjust, drive });
  const { run, created } = started!;
  return { person: finding.person, kind: finding.kind, run: run.id, created, status: run.status, waitingFor: run.waitingFor, ...(created && skipped.length ? { skipped } : {}) };
}

/**
 * Opens a run for every finding that has a remedy: an offboarding for an orphaned account (with
 * no IdP step: the IdP read shows no assignment), a change to the IdP's wanted access for a drift. The finding is the run's reason, so an approver
 * (when the tenant's policy asks for one) sees why; the engine returns the open run of the same
 * person and playbook instead of a second one. A reconciliation over an incomplete read is refused
 * with IncompleteReadError before anything is opened.
 */
export async function remediate(runs: RunService, profile: LoadedProfile, result: Reconciliation & { readonly id?: number }, idp: Snapshot, requestedBy: string, progress?: (text: string) => void): Promise<Remediation[]> {
  if (result.completeness && !result.completeness.complete) throw new IncompleteReadError(result.app, result.completeness.reasons, result.id);
  const fixable = result.findings.filter((f): f is Finding & { kind: keyof typeof remedies } => f.kind in remedies);
  if (fixable.length) progress?.(`opening ${fixable.length} run${fixable.length === 1 ? '' : 's'}…`);
  const wantedOf = new Map(idp.accounts.map((a) => [(a.email ?? a.userName ?? '').toLowerCase(), a]));
  const opened: Remediation[] = [];
  for (const finding of fixable) {
    const wanted = finding.kind === 'access-drift' ? wantedOf.get(finding.person.toLowerCase()) : undefined;
    const access = wanted && { ...(wanted.roles ? { roles: [...wanted.roles] } : {}), ...(wanted.teams ? { groups: [...wanted.teams] } : {}), ...(wanted.policy ? { policy: wanted.policy } : {}) };
    opened.push(await remediateFinding(runs, profile, finding, { app: result.app, ...(result.id ? { reconciliation: result.id } : {}), idpSource: idp.source.name }, requestedBy, access));
  }
  return opened;
}
