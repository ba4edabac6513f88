import type { RunRecord } from '../engine/port.js';
import type { AppAccount, OperationResult } from '../registry/connector-api.js';
import type { ConnectorRegistry } from '../registry/registry.js';
import type { PlanStep } from '../schema/types/plan.js';
import type { ChannelOutcome, Evidence } from './executor.js';

/**
 * Reads a machine channel's answer in the step's terms: for a removal, "no such account" means
 * already done; for a check, whether the account is still there; for a verification, the finding.
 */
export function interpret(step: PlanStep, run: RunRecord, registry: ConnectorRegistry, result: OperationResult, evidence: readonly Evidence[]): ChannelOutcome {
  const account: AppAccount | undefined = result.outcome === 'notFound' ? undefined : result.accounts?.[0];
  if (step.role === 'check') return { status: 'done', detail: result.evidence, evidence, found: result.outcome !== 'notFound' && account?.active !== false };
  if (step.role === 'verify') return verify(run, registry, step.app, result, account, evidence);
  if (result.outcome === 'notFound') return { status: 'already-done', detail: `nothing to do: ${result.evidence}`, evidence };
  return { status: result.outcome === 'alreadyDone' ? 'already-done' : 'done', detail: result.evidence, evidence };
}

function verify(run: RunRecord, registry: ConnectorRegistry, app: string, result: OperationResult, account: AppAccount | undefined, evidence: readonly Evidence[]): ChannelOutcome {
  const expect = registry.get(app).manifest.playbooks?.[run.plan.playbook]?.expect ?? 'matches';
  const found = result.outcome !== 'notFound';
  const active = found && account?.active !== false;
  const ok = expect === 'absent' || expect === 'inactive' ? !active : expect === 'active' ? active : found;
  const seen = found ? `${account?.email ?? run.subject} is ${active ? 'active' : 'inactive'}` : `${run.subject} has no account`;
  return ok
    ? { status: 'done', detail: `verified: ${seen}`, evidence }
    : { status: 'failed', detail: `verification failed: expected ${expect}, but ${seen}`, evidence, conclusive: true };
}
