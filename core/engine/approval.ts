import { inject, injectable } from '#inversify';
import { type TaskSignal, TaskStore } from '../channels/human/task-store.js';
import { queueFor } from '../planning/channels.js';
import { ConnectorRegistry } from '../registry/registry.js';
import type { Runbook } from '../schema/types/runbook.js';
import { approvalRunbookId } from './approval-state.js';
import type { RunContext, RunRecord } from './port.js';

/** What an approver decided, as the workflow needs it. */
export type ApprovalVerdict = { readonly approved: true; readonly by: string } | { readonly approved: false; readonly summary: string };

export { approvalRunbookId, approvalState } from './approval-state.js';

const words = { onboard: 'onboarding', change: 'access change', offboard: 'offboarding' } as const;

/**
 * The tenant's approval policy, enforced before a run's first step: a task in the approvers' queue
 * that shows why the run was asked for and every step it will take. Completing it approves (with
 * the reason as evidence), failing it rejects and the run ends without touching anything. The
 * person who asked for the run cannot approve it, nor the person it was asked for on behalf of (the
 * task store refuses, whichever route the approval comes by); that is the four-eyes rule.
 */
@injectable()
export class ApprovalGate {
  constructor(
    @inject(TaskStore) private readonly tasks: TaskStore,
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
  ) {}

  async decide(ctx: RunContext, run: RunRecord): Promise<ApprovalVerdict> {
    const { plan, profile, request } = run;
    const appName = this.registry.get(run.app).manifest.name;
    const queue = profile.policies?.approvers ?? queueFor(undefined, profile.apps[run.app] ?? {}, profile);
    const requestedBy = `${request.requestedBy ?? 'an unnamed requester'}${request.onBehalfOf ? ` on behalf of ${request.onBehalfOf}` : ''}`;
    const runbook: Runbook = {
      id: approvalRunbookId,
      title: `Approve the ${words[request.playbook]} of {email} in {app}`,
      queue,
      slaHours: 24,
      steps: [
        { text: `Check why it was asked for: ${request.reason ?? 'no reason was given'}`, detail: `Asked by ${requestedBy}.` },
        { text: `Check the ${plan.steps.length} steps it will take, below, and that the person is the one meant.` },
        { text: 'Approve with Complete and say on what grounds (a ticket, the manager, the finding), or reject with Fail and a reason.' },
      ],
      evidence: [{ id: 'grounds', label: 'On what grounds it is approved (ticket, manager, finding)', kind: 'text', required: true }],
      watchOutFor: ['Nothing runs until this is decided; a rejection ends the run without a change.', 'The person who asked for the run, and the person it was asked for on behalf of, cannot approve it.'],
    };
    const { taskId } = await ctx.step('approval/task', () =>
      this.tasks.openFor({
        run,
        stepId: 'approval',
        queue,
        batch: false,
        content: {
          runbook,
          appName,
          system: 'Patchbay',
          stepTitle: `Approve before any step runs (tenant policy for ${request.playbook})`,
          reason: `The plan: ${plan.steps.map((s, i) => `${i + 1}. ${s.title} (${s.channels[0] ?? 'no channel'})`).join('; ')}.`,
          watchOutFor: [],
          approval: { requestedBy: request.requestedBy ?? null, onBehalfOf: request.onBehalfOf ?? null },
        },
      }),
    );
    await ctx.audit({ type: 'run.awaiting-approval', actor: 'patchbay', data: { task: taskId, queue, requestedBy: request.requestedBy ?? null, ...(request.onBehalfOf ? { onBehalfOf: request.onBehalfOf } : {}) } });
    const answer = await ctx.waitForSignal<TaskSignal>(`task:${taskId}`);
    if (answer.timedOut) return { approved: false, summary: `not approved: approval task ${taskId} timed out` };
    const { outcome, by, reason, evidence } = answer.payload;
    if (outcome === 'failed') {
      await ctx.audit({ type: 'run.rejected', actor: by, data: { task: taskId, reason: reason ?? null } });
      return { approved: false, summary: `rejected by ${by} in task ${taskId}: ${reason ?? 'no reason given'}; nothing was changed` };
    }
    await ctx.audit({ type: 'run.approved', actor: by, data: { task: taskId, grounds: evidence.map((e) => e.summary) } });
    return { approved: true, by };
  }
}
