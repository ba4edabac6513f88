import type { RunRecord } from '../engine/port.js';
import type { AppAccount, OperationResult } from '../registry/connector-api.js';
import type { ConnectorRegistry } from '../registry/registry.js';
import type { PlanStep } from '../schema/types/plan.js';
import type { ChannelOutcome, Evidence } from './executor.js';
import { type Proof, describeProof, describeUnproven, fold, provesAbsence } from './proof.js';

/**
 * Reads a machine channel's answer in the step's terms: for a check, whether the account is still
 * there; for a removal, "no such account" is "already done" only with a proof of absence; for a
 * verification, the finding. In the run's own app, a "not found" without a proof of absence (a
 * lookup by id, or a scan of a complete list) fails the channel, not conclusively: the step moves on
 * to the next channel, a person, with what was tried and found.
 */
export function interpret(step: PlanStep, run: RunRecord, registry: ConnectorRegistry, result: OperationResult, evidence: readonly Evidence[]): ChannelOutcome {
  const account: AppAccount | undefined = result.outcome === 'notFound' ? undefined : result.accounts?.[0];
  const proof = result.proof;
  const withProof = proof ? evidence.map((e, i) => (i === 0 && !e.proof ? { ...e, proof } : e)) : evidence;
  const absent = result.outcome === 'notFound';
  // Absence is good news in the run's own app for a check, a removal, and a verification that expects the account gone.
  const expect = registry.get(step.app).manifest.playbooks?.[run.plan.playbook]?.expect;
  const absenceIsNews = step.app === run.app && (step.role !== 'verify' || expect === 'absent' || expect === 'inactive');
  const proven = !absenceIsNews || provesAbsence(proof);
  if (absent && !proven) {
    const what = proof ? describeUnproven(proof) : 'could not prove absence: the lookup found nothing, and no lookup by id or complete list was read';
    return { status: 'failed', detail: `${result.evidence}; ${what}`, evidence: withProof, ...(proof ? { proof } : {}) };
  }
  const extra = { ...(proof ? { proof } : {}) };
  if (step.role === 'check') return { status: 'done', detail: result.evidence, evidence: withProof, found: !absent && account?.active !== false, ...(account ? { account } : {}), ...extra };
  if (step.role === 'verify') return verify(run, registry, step.app, result, account, withProof, proof);
  if (absent) return { status: 'already-done', detail: `already done (${proof ? describeProof(proof) : 'no account'}): ${result.evidence}`, evidence: withProof, ...extra };
  return { status: result.outcome === 'alreadyDone' ? 'already-done' : 'done', detail: result.evidence, evidence: withProof, ...(account ? { account } : {}), ...extra };
}

function verify(run: RunRecord, registry: ConnectorRegistry, app: string, result: OperationResult, account: AppAccount | undefined, evidence: readonly Evidence[], proof: Proof | undefined): ChannelOutcome {
  const expect = registry.get(app).manifest.playbooks?.[run.plan.playbook]?.expect ?? 'matches';
  const found = result.outcome !== 'notFound';
  // What was read must be the person's: a record with another email verifies nothing, unless it was read by an
  // identifier recorded as theirs (a reconciliation saw the id; the app renamed the account since).
  if (found && account && proof?.method !== 'id' && fold(account.email) !== fold(run.subject)) {
    return { status: 'failed', detail: `verification failed: the read returned ${account.email} (id ${account.id}), not ${run.subject}: a record of another person`, evidence, conclusive: true, ...(proof ? { proof } : {}) };
  }
  const active = found && account?.active !== false;
  const ok = expect === 'absent' || expect === 'inactive' ? !active : expect === 'active' ? active : found;
  const seen = found ? `${account?.email ?? run.subject} is ${active ? 'active' : 'inactive'}` : `${run.subject} has no account`;
  const how = proof ? ` (${proof.method === 'id' ? 'verified by id' : describeProof(proof)})` : '';
  return ok
    ? { status: 'done', detail: `verified: ${seen}${how}`, evidence, ...(account ? { account } : {}), ...(proof ? { proof } : {}) }
    : { status: 'failed', detail: `verification failed: expected ${expect}, but ${seen}${how}`, evidence, conclusive: true, ...(proof ? { proof } : {}) };
}
