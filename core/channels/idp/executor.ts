import { injectable } from 'inversify';
import type { ChannelExecutor, ChannelOutcome, Evidence, StepExecution } from '../executor.js';

const hour = 3_600_000;

/** Evidence that an account exists, sent to a waiting run (an IdP sign-in event, a read of the app, a person's word). */
export interface AccountEvidence {
  readonly by: string;
  readonly text: string;
}

/**
 * The idp channel for createUser: the account is made just in time on the first SAML sign-in,
 * if it is made at all (for Spendesk that is disputed). So the step waits for evidence that the
 * account exists, and when none comes within the route's wait, it fails over to the next channel.
 */
@injectable()
export class IdpChannelExecutor implements ChannelExecutor {
  readonly channel = 'idp' as const;

  async execute({ ctx, step, choice }: StepExecution): Promise<ChannelOutcome> {
    if (step.operation !== 'createUser') return { status: 'failed', detail: `the idp channel only creates accounts just in time, not ${step.operation}` };
    const waitHours = choice.waitHours ?? 24;
    const answer = await ctx.waitForSignal<AccountEvidence>(`evidence:${step.id}`, waitHours * hour);
    if (answer.timedOut) return { status: 'failed', detail: `no evidence of a JIT account within ${waitHours} h` };
    const evidence: Evidence = { kind: 'signal', summary: answer.payload.text, by: answer.payload.by, at: await ctx.now() };
    return { status: 'done', detail: `account exists: ${answer.payload.text}`, evidence: [evidence] };
  }
}
