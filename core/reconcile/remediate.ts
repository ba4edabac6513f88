import { PatchbayError } from '../errors.js';
import type { RunService } from '../engine/run-service.js';
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
}

/**
 * Opens a run for every finding that has a remedy: an offboarding for an orphaned account, a
 * change to the IdP's wanted access for a drift. The finding is the run's reason, so an approver
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
    const request = {
      playbook: remedies[finding.kind],
      app: result.app,
      subject: { email: finding.person },
      reason: `${result.id ? `reconciliation ${result.id}` : 'reconciliation'}: ${finding.detail}`,
      ...(access ? { access } : {}),
    };
    const [started] = await runs.start([{ source: `reconcile of ${result.app}`, request }], profile, { requestedBy });
    const { run, created } = started!;
    opened.push({ person: finding.person, kind: finding.kind, run: run.id, created, status: run.status, waitingFor: run.waitingFor });
  }
  return opened;
}
