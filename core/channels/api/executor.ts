import { inject, injectable } from 'inversify';
import { defaultRetryPolicy, type RetryPolicy } from '../../engine/retry.js';
import type { AppAccount, OperationResult } from '../../registry/connector-api.js';
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

  async execute({ ctx, run, step }: StepExecution): Promise<ChannelOutcome> {
    const handler = this.registry.api(step.app)?.operations[step.operation];
    if (!handler) return { status: 'failed', detail: `no API module implements ${step.app}.${step.operation}` };
    const onIdp = step.app === run.profile.idp?.connector && step.app !== run.app;
    const settings = step.app === run.profile.idp?.connector ? idpSettings(run.profile) : (run.profile.apps[step.app] ?? {});
    const target = onIdp ? { target: { app: run.app, settings: run.profile.apps[run.app] ?? {} } } : {};
    let result: OperationResult;
    try {
      result = await ctx.step(
        `${step.id}/api`,
        () => handler({ subject: run.request.subject, settings, secrets: this.secrets, idempotencyKey: `${run.id}:${step.id}`, ...target }),
        { retry: this.retry, external: true },
      );
    } catch (error) {
      return { status: 'failed', detail: (error as Error).message };
    }
    const at = await ctx.now();
    const evidence = [{ kind: 'api' as const, summary: result.evidence, at }];
    const account: AppAccount | undefined = result.outcome === 'notFound' ? undefined : result.accounts?.[0];
    if (step.role === 'check') return { status: 'done', detail: result.evidence, evidence, found: result.outcome !== 'notFound' && account?.active !== false };
    if (step.role === 'verify') return this.verify(run.plan.playbook, result, account, evidence, step.app, run);
    if (result.outcome === 'notFound') return { status: 'already-done', detail: `nothing to do: ${result.evidence}`, evidence };
    return { status: result.outcome === 'alreadyDone' ? 'already-done' : 'done', detail: result.evidence, evidence };
  }

  private verify(playbook: string, result: OperationResult, account: AppAccount | undefined, evidence: ChannelOutcome['evidence'] & object, app: string, run: StepExecution['run']): ChannelOutcome {
    const expect = this.registry.get(app).manifest.playbooks?.[playbook as 'offboard']?.expect ?? 'matches';
    const found = result.outcome !== 'notFound';
    const ok =
      expect === 'absent' ? !found || account?.active === false :
      expect === 'inactive' ? !found || account?.active === false :
      expect === 'active' ? found && account?.active !== false :
      found;
    const seen = found ? `${account?.email ?? run.subject} is ${account?.active === false ? 'inactive' : 'active'}` : `${run.subject} has no account`;
    return ok
      ? { status: 'done', detail: `verified: ${seen}`, evidence }
      : { status: 'failed', detail: `verification failed: expected ${expect}, but ${seen}`, evidence, conclusive: true };
  }
}
