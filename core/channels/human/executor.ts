import { inject, injectable } from '#inversify';
import { queueFor } from '../../planning/channels.js';
import { ConnectorRegistry } from '../../registry/registry.js';
import type { ChannelExecutor, ChannelOutcome, StepExecution } from '../executor.js';
import { type TaskSignal, TaskStore } from './task-store.js';

/**
 * The human channel: opens a task from the connector's runbook (or joins the batch's task), then
 * waits, as long as it takes, for a person to complete or fail it.
 */
@injectable()
export class HumanChannelExecutor implements ChannelExecutor {
  readonly channel = 'human' as const;

  constructor(
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(TaskStore) private readonly tasks: TaskStore,
  ) {}

  async execute({ ctx, run, step, choice, pass, queue: escalatedQueue, handedOver }: StepExecution): Promise<ChannelOutcome> {
    // A broken identity provider's step still goes to a person: its own checklist, or the built-in one.
    const connector = this.registry.forPeople(step.app);
    const runbook = connector.runbooks.get(choice.runbook!);
    if (!runbook) return { status: 'failed', detail: `runbook ${choice.runbook} is gone from ${step.app}` };
    const settings = run.profile.apps[step.app] ?? {};
    const queue = escalatedQueue ?? queueFor(runbook.queue, settings, run.profile);
    const { taskId } = await ctx.step(`${step.id}/human/${pass}/task`, () =>
      this.tasks.openFor({
        run,
        stepId: step.id,
        queue,
        batch: runbook.batchable === true && pass === 1,
        content: {
          runbook,
          appName: this.registry.get(run.app).manifest.name,
          system: connector.name,
          stepTitle: step.title,
          reason: step.reason,
          watchOutFor: step.watchOutFor,
          ...(step.condition ? { condition: step.condition } : {}),
          ...(handedOver?.length ? { handedOver } : {}),
        },
      }),
    );
    const answer = await ctx.waitForSignal<TaskSignal>(`task:${taskId}`);
    if (answer.timedOut) return { status: 'failed', detail: `task ${taskId} timed out` };
    const { outcome, by, evidence, reason } = answer.payload;
    if (outcome === 'retry-robot') return { status: 'failed', detail: `handed back to the robot by ${by} in task ${taskId}${reason ? `: ${reason}` : ''}`, retryRobot: true };
    if (outcome === 'failed') return { status: 'failed', detail: `task ${taskId} failed by ${by}: ${reason ?? 'no reason given'}`, evidence };
    const detail = outcome === 'already-done' ? `already done, said ${by} in task ${taskId}` : `done by ${by} in task ${taskId}`;
    return { status: outcome, detail, evidence };
  }
}
