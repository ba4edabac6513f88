import { inject, injectable } from '#inversify';
import { Suspend } from '../../engine/port.js';
import { defaultRetryPolicy, type RetryPolicy } from '../../engine/retry.js';
import type { OperationResult } from '../../registry/connector-api.js';
import { interpret } from '../outcome.js';
import { ConnectorRegistry } from '../../registry/registry.js';
import { SecretResolver } from '../../tenant/secrets.js';
import { idpSettings } from '../../planning/service.js';

/** How API steps are retried (bound by the composition root; tests shorten it). */
export const ApiRetryPolicy = Symbol('ApiRetryPolicy');
import type { ChannelExecutor, ChannelOutcome, StepExecution } from '../executor.js';

/**
 * The api channel: calls the connector's API module for the step's operation, with retries and an
 * idempotency key derived from the run and the step, and reads the answer in the step's terms
 * (for a removal, "no such member" means already done; for a verification, it is the finding).
 */
@injectable()
export class ApiChannelExecutor implements ChannelExecutor {
  readonly channel = 'api' as const;

  constructor(
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(SecretResolver) private readonly secrets: SecretResolver,
    @inject(ApiRetryPolicy) private readonly retry: RetryPolicy = defaultRetryPolicy,
  ) {}

  async execute({ ctx, run, step, known }: StepExecution): Promise<ChannelOutcome> {
    const handler = this.registry.api(step.app)?.operations[step.operation];
    if (!handler) return { status: 'failed', detail: `no API module implements ${step.app}.${step.operation}` };
    const onIdp = step.app === run.profile.idp?.connector && step.app !== run.app;
    const settings = step.app === run.profile.idp?.connector ? idpSettings(run.profile) : (run.profile.apps[step.app] ?? {});
    const target = onIdp ? { target: { app: run.app, settings: run.profile.apps[run.app] ?? {} } } : {};
    let result: OperationResult;
    try {
      result = await ctx.step(
        `${step.id}/api`,
        () => handler({ subject: run.request.subject, settings, secrets: this.secrets, idempotencyKey: `${run.id}:${step.id}`, ...target, ...(known ? { known } : {}) }),
        { retry: this.retry, external: true },
      );
    } catch (error) {
      // A retry that waits longer than the engine waits in the process parks the run: that is no failure.
      if (error instanceof Suspend) throw error;
      return { status: 'failed', detail: (error as Error).message };
    }
    const evidence = [{ kind: 'api' as const, summary: result.evidence, at: await ctx.now() }];
    return interpret(step, run, this.registry, result, evidence);
  }
}
