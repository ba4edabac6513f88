import type { RunRecord } from '../engine/port.js';
import type { RunService } from '../engine/run-service.js';
import { queueFor } from '../planning/channels.js';
import type { Runbook } from '../schema/types/runbook.js';
import type { StoreDatabase } from '../store/sql.js';
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
  constructor(
    private readonly store: StoreDatabase,
    private readonly runs: RunService,
    private readonly profile: LoadedProfile,
  ) {}

  /** Opens the task of every failed bridge run that has none yet; returns the task ids opened. */
  async sweep(): Promise<string[]> {
    // The key range is the `scim:` prefix (':' + 1 is ';'): an index range on both databases, where LIKE would fold case on SQLite only.
    const failed = await this.store.db
      .selectFrom('runs')
      .select('id')
      .where('idempotency_key', '>=', 'scim:')
      .where('idempotency_key', '<', 'scim;')
      .where('status', '=', 'failed')
      .where('tenant', '=', this.profile.profile.tenant)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('scim_failure_tasks as f').select('f.run_id').whereRef('f.run_id', '=', 'runs.id'))))
      .orderBy('id')
      .execute();
    const opened: string[] = [];
    for (const r of failed) {
      const taskId = await this.open(await this.runs.engine.get(r.id));
      if (taskId !== undefined) opened.push(taskId);
    }
    return opened;
  }

  /**
   * The task of one failed run, opened once: the task and its record in one transaction, the
   * record's primary key (the run) deciding between two sweeps at once (two servers), the loser's
   * task rolled back with it.
   */
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
    try {
      return await this.store.transaction(async () => {
        if (await this.store.db.selectFrom('scim_failure_tasks').select('run_id').where('run_id', '=', run.id).executeTakeFirst()) return undefined;
        const { taskId } = await this.runs.tasks.openFor({
          run,
          stepId: 'scim-bridge/failed',
          queue,
          batch: false,
          content: { runbook, appName: run.app, system: 'the identity provider', stepTitle: 'Bring the identity provider and the app back in agreement', reason: what, watchOutFor: [] },
        });
        const recorded = await this.store.db
          .insertInto('scim_failure_tasks')
          .values({ run_id: run.id, task_id: taskId, created_at: this.runs.engine.clock.now() })
          .onConflict((oc) => oc.column('run_id').doNothing())
          .executeTakeFirst();
        if (Number(recorded.numInsertedOrUpdatedRows ?? 0) === 0) throw new AlreadyOpened();
        return taskId;
      });
    } catch (error) {
      if (error instanceof AlreadyOpened) return undefined;
      throw error;
    }
  }
}

/** Another sweep recorded the run's task first: this one's task is rolled back. */
class AlreadyOpened extends Error {}
