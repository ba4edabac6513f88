import type { RunRecord } from '../engine/port.js';
import type { RunService } from '../engine/run-service.js';
import { queueFor } from '../planning/channels.js';
import type { Runbook } from '../schema/types/runbook.js';
import type { Database } from '../store/database.js';
import { StatementCache } from '../store/database.js';
import type { LoadedProfile } from '../tenant/profile.js';

/** The runbook id of the task that tells the operator a bridge run failed while the IdP shows the change made. */
export const bridgeFailureRunbookId = 'scim-bridge-run-failed';

const words = { onboard: 'onboarding', offboard: 'offboarding', change: 'change' } as const;

/** The IdP's side of a failed run, in words: what the identity provider now shows. */
function idpBelief(run: RunRecord): string {
  const roles = run.request.access?.roles;
  if (run.playbook === 'onboard') return `the person assigned to ${run.app} (active)`;
  if (run.playbook === 'offboard') return `the person unassigned from ${run.app} (deactivated or deleted)`;
  return roles ? `the person with the roles ${roles.length ? roles.join(', ') : '(none)'} in ${run.app}` : `the person's new profile in ${run.app}`;
}

/**
 * Tells the operator when a run the SCIM bridge started has failed (issue 18, item 3): the
 * identity provider shows the change as made (it got a 2xx and `provisioningState`, which it does
 * not read), so the app and the IdP now disagree. One human task per failed run, in the app's queue,
 * with a runbook built here (like the approval runbook): what the IdP shows, what failed and where,
 * and the two ways back (make the change in the app, or revert it in the IdP). Bridge runs are
 * found by their idempotency key (`scim:` prefix); `scim_failure_tasks` (migration 13) keeps the
 * task made for each run, so a sweep never makes a second.
 */
export class BridgeFailureTasks {
  private readonly statements: StatementCache;

  constructor(
    db: Database,
    private readonly runs: RunService,
    private readonly profile: LoadedProfile,
  ) {
    this.statements = new StatementCache(db);
  }

  /** Opens the task of every failed bridge run that has none yet; returns the task ids opened. */
  async sweep(): Promise<string[]> {
    const failed = this.statements
      .get(
        `SELECT id FROM runs WHERE idempotency_key >= 'scim:' AND idempotency_key < 'scim;' AND status = 'failed'
         AND tenant = ? AND id NOT IN (SELECT run_id FROM scim_failure_tasks)`,
      )
      .all(this.profile.profile.tenant) as { id: string }[];
    const opened: string[] = [];
    for (const r of failed) {
      const taskId = await this.open(await this.runs.engine.get(r.id));
      if (taskId !== undefined) opened.push(taskId);
    }
    return opened;
  }

  /** The task of one failed run, opened once (in one transaction with its record). */
  private async open(run: RunRecord): Promise<string | undefined> {
    const profile = this.profile.profile;
    const queue = queueFor(undefined, profile.apps[run.app] ?? {}, profile);
    const failedStep = (await this.runs.timeline(run.id)).steps.filter((s) => s.status === 'failed').at(-1);
    const what = `the ${words[run.playbook as keyof typeof words] ?? run.playbook} run ${run.id} failed${failedStep ? ` at step ${failedStep.stepId}${failedStep.detail ? `: ${failedStep.detail}` : ''}` : ''}`;
    const runbook: Runbook = {
      id: bridgeFailureRunbookId,
      title: 'The identity provider shows a change to {email} in {app} that failed',
      queue,
      slaHours: 24,
      steps: [
        { text: `The identity provider shows ${idpBelief(run)}: it asked through the SCIM bridge and counts the change as made.`, detail: `Asked: ${run.request.reason ?? 'no reason recorded'}.` },
        { text: `Read what failed: ${what}.`, detail: 'The run page has the timeline and any screenshots.' },
        { text: `Either make the change in ${run.app} by hand, or revert it in the identity provider (assignment, status or group) so that both show the same again.` },
        { text: 'Complete this task saying which you did.' },
      ],
      evidence: [{ id: 'resolution', label: 'What you did: made the change in the app, or reverted it in the IdP', kind: 'text', required: true }],
      watchOutFor: ['Until this is done the IdP and the app disagree, and the IdP will not send the change again on its own.'],
    };
    return this.runs.engine.transaction(async () => {
      if (this.statements.get('SELECT 1 FROM scim_failure_tasks WHERE run_id = ?').get(run.id)) return undefined;
      const { taskId } = await this.runs.tasks.openFor({
        run,
        stepId: 'scim-bridge/failed',
        queue,
        batch: false,
        content: { runbook, appName: run.app, system: 'the identity provider', stepTitle: 'Bring the identity provider and the app back in agreement', reason: what, watchOutFor: [] },
      });
      this.statements.get('INSERT INTO scim_failure_tasks (run_id, task_id, created_at) VALUES (?, ?, ?)').run(run.id, taskId, this.runs.engine.clock.now());
      return taskId;
    });
  }
}
