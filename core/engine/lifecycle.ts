import { inject, injectable, multiInject } from '#inversify';
import { ChannelExecutor, type ChannelOutcome, type Evidence, type HandOver } from '../channels/executor.js';
import { type KnownIdentifiers, type Proof, describeProof, mergeKnown, provesAbsence } from '../channels/proof.js';
import { IdentifierStore, identifiersOf } from '../store/identifiers.js';
import { queueFor } from '../planning/channels.js';
import { ConnectorRegistry } from '../registry/registry.js';
import type { AppliesWhen, ChannelChoice, ChannelName, PlanStep } from '../schema/types/plan.js';
import type { AppAccount } from '../registry/connector-api.js';
import { ConnectorUnavailable, type RunContext, type RunRecord, type Workflow, type WorkflowResult } from './port.js';
import { ApprovalGate } from './approval.js';
import { StepLog, type StepStatus } from './step-log.js';

/**
 * The playbook, as workflow code: the plan's steps in order, each tried on its channels in order,
 * a failed human step escalated up the queue chain, and the run's outcome said plainly. It only
 * talks to the world through the RunContext, so it runs the same on any engine behind the port.
 */
@injectable()
export class LifecycleWorkflow {
  private readonly executors: ReadonlyMap<ChannelName, ChannelExecutor>;

  constructor(
    @multiInject(ChannelExecutor) executors: readonly ChannelExecutor[],
    @inject(ConnectorRegistry) private readonly registry: ConnectorRegistry,
    @inject(StepLog) private readonly steps: StepLog,
    @inject(ApprovalGate) private readonly approvals: ApprovalGate,
    @inject(IdentifierStore) private readonly identifiers: IdentifierStore,
  ) {
    this.executors = new Map(executors.map((e) => [e.channel, e]));
  }

  readonly run: Workflow = async (ctx, run) => {
    const { plan } = run;
    // Every connector the plan names must be in this process's catalogue before anything runs. One the
    // catalogue holds but refused (broken) is there: its steps go to people with its own or the built-in
    // checklists (registry.forPeople); one it does not hold at all is this process's environment's problem.
    for (const app of new Set([run.app, ...plan.steps.map((s) => s.app)])) {
      const known = this.registry.has(app) || this.registry.brokenReason(app) !== undefined;
      if (!known) throw new ConnectorUnavailable(app);
    }
    if (plan.approval) {
      const verdict = await this.approvals.decide(ctx, run);
      if (!verdict.approved) return { outcome: 'failed', summary: verdict.summary };
    }
    let accountGone = false;
    let goneProof: Proof | undefined;
    let verifiedBy: Proof | undefined;
    let checked: AppAccount | undefined;
    // Every identifier seen for the person in the app, before this run and during it: each lookup uses them all.
    const known: { value: KnownIdentifiers } = {
      value: mergeKnown(await ctx.step('known-identifiers', () => this.identifiers.lookup(run.tenant, run.subject, run.app)), { emails: [run.subject] }),
    };
    let appSteps = 0;
    let appAlreadyDone = 0;
    /** The app's action steps a person said were done: what a failed verification reopens. */
    const doneByPeople: PlanStep[] = [];
    /** The preconditions a person said were done, with what they said: what an action the console refuses reopens. */
    const preconditionsByPeople: DoneByPerson[] = [];
    for (const step of plan.steps) {
      // Between two plan steps nothing is half done: a stopping process hands the run over here.
      await ctx.handOverPoint?.();
      const counts = step.app === plan.app && step.role !== 'verify' && step.role !== 'check';
      if (accountGone && counts) {
        // Say what the check found: an account read inactive is not "gone".
        const inactive = checked?.active === false || goneProof?.finding === 'inactive';
        const how = goneProof ? describeProof(goneProof) : inactive ? `the check found the account${checked?.id ? ` (id ${checked.id})` : ''} inactive` : 'the check found no account';
        const evidence: Evidence[] = goneProof ? [{ kind: 'api', summary: `already done: ${how}`, at: goneProof.at, proof: goneProof }] : [];
        await this.mark(ctx, run, step, { status: 'already-done', detail: `already done (${how}): the account was already ${inactive ? 'inactive' : 'gone'} when checked`, evidence });
        appSteps++;
        appAlreadyDone++;
        continue;
      }
      const skip = step.role === 'precondition' && step.appliesWhen && checked?.attributes ? notNeeded(step.appliesWhen, checked.attributes) : undefined;
      if (skip) {
        await this.mark(ctx, run, step, { status: 'already-done', detail: skip });
        await ctx.audit({ type: 'step.not-needed', actor: 'patchbay', data: { step: step.id, because: skip } });
        appSteps++;
        appAlreadyDone++;
        continue;
      }
      let outcome = step.role === 'action' && step.app === plan.app ? await this.actReopening(ctx, run, step, known, preconditionsByPeople) : await this.runStep(ctx, run, step, step, known);
      if (step.role === 'precondition' && outcome.status !== 'failed' && outcome.by === 'human') preconditionsByPeople.push({ step, outcome });
      if (step.role === 'verify') outcome = await this.reopenUntilVerified(ctx, run, step, outcome, doneByPeople, known);
      if (outcome.status !== 'failed' && outcome.account && step.app === plan.app) await this.remember(ctx, run, step, outcome.account, known);
      if (step.role === 'verify' && outcome.status !== 'failed' && outcome.proof) verifiedBy = outcome.proof;
      if (outcome.status !== 'failed' && step.role === 'action' && step.app === plan.app && (outcome as { by?: ChannelName }).by === 'human') doneByPeople.push(step);
      if (outcome.status === 'failed' && step.role === 'check') {
        // A check that cannot read is not a reason to stop: the steps go on as if the account were there.
        const unproven = outcome.proof !== undefined && outcome.proof.finding !== 'present' && outcome.proof.finding !== 'inactive';
        const why = unproven ? 'found no account but could not prove it gone' : 'could not read';
        await this.mark(ctx, run, step, { status: 'skipped', detail: `${why}, so every step goes on as if the account were there: ${outcome.detail}` });
        if (unproven) await ctx.audit({ type: 'run.absence-unproven', actor: 'patchbay', data: { app: plan.app, step: step.id, detail: outcome.detail, proof: outcome.proof } });
        continue;
      }
      if (outcome.status === 'failed') return { outcome: 'failed', summary: `${step.title}: ${outcome.detail}` };
      if (step.role === 'check' && outcome.account) checked = outcome.account;
      if (step.role === 'check' && outcome.found === false) {
        // Gone when proven absent, or read inactive (a positive read of the account's state); a read that found nothing is not proof.
        const readInactive = outcome.account?.active === false;
        if (!provesAbsence(outcome.proof) && !readInactive) {
          // A read that found nothing is not proof: the steps go on as if the account were there.
          await this.mark(ctx, run, step, { status: 'skipped', detail: `found no account but could not prove it gone, so every step goes on as if the account were there: ${outcome.detail}` });
          continue;
        }
        accountGone = true;
        goneProof = outcome.proof;
        await ctx.audit({ type: 'run.account-already-gone', actor: 'patchbay', data: { app: plan.app, evidence: outcome.detail, proof: outcome.proof } });
      }
      if (counts) {
        appSteps++;
        if (outcome.status === 'already-done') appAlreadyDone++;
      }
    }
    return this.result(run, appSteps > 0 && appSteps === appAlreadyDone, goneProof, verifiedBy, doneByPeople.length > 0);
  };

  /** The run's outcome in words, with how it is known: "already done (proven by a complete scan of 250 accounts at 10:42)", "done (verified by id)". */
  private result(run: RunRecord, alreadyDone: boolean, gone: Proof | undefined, verified: Proof | undefined, byPeople: boolean): WorkflowResult {
    const app = this.registry.get(run.app).manifest.name;
    const how = (p: Proof | undefined) => (p ? (p.method === 'id' ? 'verified by id' : p.method === 'person' ? 'verified by a person' : `verified: ${describeProof(p)}`) : undefined);
    if (alreadyDone) {
      const proof = gone ? describeProof(gone) : how(verified);
      return { outcome: 'already-done', summary: `already done${proof ? ` (${proof})` : ''}: ${run.subject} had nothing left to ${run.playbook} in ${app}` };
    }
    const verifiedHow = how(verified);
    const by = byPeople ? 'done, partly by people in tasks' : 'done by Patchbay';
    return { outcome: 'done', summary: `${run.playbook} of ${run.subject} in ${app} is ${by} (${run.plan.steps.length} steps${verifiedHow ? `; ${verifiedHow}` : ''})` };
  }

  /** Keeps what an app showed of the person's account (its id, emails, userName, externalId), in the run and in the store. */
  private async remember(ctx: RunContext, run: RunRecord, step: PlanStep, account: AppAccount, known: { value: KnownIdentifiers }): Promise<void> {
    const seen = identifiersOf(account);
    known.value = mergeKnown(known.value, seen);
    const at = await ctx.now();
    await ctx.step(`${step.id}/seen`, () => this.identifiers.see(run.tenant, run.subject, run.app, seen, `run ${run.id} step ${step.id}`, at));
  }

  /**
   * A verification that reads the change not made, after a person said it was done, reopens the
   * work: a new task for the same step, with what the verification saw, then the verification
   * again. Twice at most; after that the run fails with the finding.
   */
  private async reopenUntilVerified(ctx: RunContext, run: RunRecord, verify: PlanStep, first: ChannelOutcome, doneByPeople: readonly PlanStep[], known: { value: KnownIdentifiers }): Promise<ChannelOutcome> {
    let outcome = first;
    const human = this.executors.get('human');
    for (let round = 2; outcome.status === 'failed' && outcome.conclusive && round <= 3; round++) {
      const action = doneByPeople[doneByPeople.length - 1];
      const choice = action?.chain.find((c) => c.channel === 'human' && c.usable);
      if (!action || !choice || !human) break;
      await ctx.audit({ type: 'step.reopened', actor: 'patchbay', data: { step: action.id, round, because: outcome.detail } });
      await this.mark(ctx, run, action, { status: 'running', channel: 'human', attempt: true, detail: `reopened: ${outcome.detail}` });
      const handedOver: HandOver[] = [{ channel: verify.channels[0] ?? 'human', detail: `reopened because the verification found it not done: ${outcome.detail}`, evidence: outcome.evidence ?? [] }];
      const again = await human.execute({ ctx, run, step: { ...action, id: `${action.id}~${round}` }, choice, pass: 1, handedOver });
      await this.mark(ctx, run, action, { status: again.status === 'failed' ? 'failed' : again.status, detail: again.detail, ...(again.evidence ? { evidence: again.evidence } : {}) });
      if (again.status === 'failed') return again;
      outcome = await this.runStep(ctx, run, { ...verify, id: `${verify.id}~${round}` }, verify, known);
    }
    return outcome;
  }

  /**
   * An app action that the console may refuse because a precondition a person said was done is not
   * (an owner transfer completed while the member still holds the owner role): the refusal reopens
   * that precondition (see reopenBlocking) and the action runs again once it is done, twice at most.
   * Otherwise the action goes down its channel chain as any step.
   */
  private async actReopening(ctx: RunContext, run: RunRecord, step: PlanStep, known: { value: KnownIdentifiers }, byPeople: DoneByPerson[]): Promise<StepOutcome> {
    let round = 1;
    const onBlocked: OnBlocked = async (blocked, channel) => round < 3 && byPeople.length > 0 && (await this.reopenBlocking(ctx, run, step, blocked, channel, byPeople, known, ++round));
    let outcome = await this.runStep(ctx, run, step, step, known, onBlocked);
    while (outcome.status === 'failed' && outcome.reopened) {
      await ctx.audit({ type: 'step.retried', actor: 'patchbay', data: { step: step.id, round, because: 'the precondition the console asked for was done again' } });
      outcome = await this.runStep(ctx, run, { ...step, id: `${step.id}~${round}` }, step, known, onBlocked);
    }
    return outcome;
  }

  /**
   * The console refused `action` (its blocker lines in `blocked`): reads the person again with the
   * run's check, and reopens each precondition a person completed that still applies to what was
   * read (its `appliesWhen`; when the read fails, a precondition whose values the blocker names).
   * The earlier completion is recorded as not effective (audit `step.completion-not-effective`, and
   * on the precondition's step), and a new task goes to the queue the plan gave that step, carrying
   * the earlier attempt, the console's refusal with its screenshot, and what was read. True once
   * every reopened precondition is done again; false when none applies or a person fails one (the
   * action then goes on down its chain).
   */
  private async reopenBlocking(ctx: RunContext, run: RunRecord, action: PlanStep, blocked: FailedOutcome, channel: ChannelName, byPeople: DoneByPerson[], known: { value: KnownIdentifiers }, round: number): Promise<boolean> {
    const human = this.executors.get('human');
    if (!human) return false;
    const refusal = (blocked.blockers ?? []).join(' ');
    const check = run.plan.steps.find((s) => s.role === 'check' && s.app === run.plan.app);
    const read = check ? await this.readAgain(ctx, run, check, action, round, known) : undefined;
    const attributes = read?.outcome.status !== 'failed' ? read?.outcome.account?.attributes : undefined;
    const applying = byPeople.filter(({ step }) => step.appliesWhen && (attributes ? notNeeded(step.appliesWhen, attributes) === undefined : namedBy(step.appliesWhen, refusal)));
    // Those the refusal names first (an owner role, subscription cards); every one still applying when it names none.
    const named = applying.filter(({ step }) => namedBy(step.appliesWhen!, refusal));
    const still = named.length ? named : applying;
    if (!still.length) return false;
    for (const entry of still) {
      const { step: pre, outcome: earlier } = entry;
      const choice = pre.chain.find((c) => c.channel === 'human' && c.usable);
      if (!choice) return false;
      const notEffective = `${earlier.detail}, but it was not effective: the console still refuses “${action.title}”: ${refusal}`;
      await ctx.audit({ type: 'step.completion-not-effective', actor: 'patchbay', data: { step: pre.id, earlier: earlier.detail, refused: action.id, because: refusal, ...(read ? { read: read.outcome.detail } : {}) } });
      const at = await ctx.now();
      await this.mark(ctx, run, pre, { status: 'running', channel: 'human', attempt: true, detail: `reopened: ${notEffective}`, evidence: [{ kind: 'text', summary: `not effective: ${notEffective}`, by: 'patchbay', at }] });
      const handedOver: HandOver[] = [
        { channel: 'human', detail: notEffective, evidence: earlier.evidence ?? [] },
        { channel, detail: blocked.detail, evidence: blocked.evidence ?? [] },
        ...(read && read.outcome.status !== 'failed' ? [{ channel: read.channel, detail: `read again after the refusal: ${read.outcome.detail}`, evidence: read.outcome.evidence }] : []),
      ];
      const queue = this.firstQueue(run, pre);
      const again = await human.execute({ ctx, run, step: { ...pre, id: `${pre.id}~${round}` }, choice, pass: 1, ...(queue ? { queue } : {}), handedOver });
      await this.mark(ctx, run, pre, { status: again.status === 'failed' ? 'failed' : again.status, detail: again.detail, ...(again.evidence ? { evidence: again.evidence } : {}) });
      if (again.status === 'failed') return false;
      entry.outcome = again;
    }
    return true;
  }

  /** The run's check read again (its first machine channel) after `action` was refused: what the console shows of the person now. */
  private async readAgain(ctx: RunContext, run: RunRecord, check: PlanStep, action: PlanStep, round: number, known: { value: KnownIdentifiers }): Promise<{ channel: ChannelName; outcome: ChannelOutcome } | undefined> {
    const choice = check.channels.map((name) => check.chain.find((c) => c.channel === name && c.usable)).find((c) => c && c.channel !== 'human');
    const executor = choice && this.executors.get(choice.channel);
    if (!choice || !executor) return undefined;
    const outcome = await executor.execute({ ctx, run, step: { ...check, id: `${check.id}~${round}` }, choice, pass: 1, known: known.value });
    await ctx.audit({ type: outcome.status === 'failed' ? 'channel.failed' : 'step.read-again', actor: 'patchbay', data: { step: check.id, channel: choice.channel, after: action.id, detail: outcome.detail } });
    if (outcome.status !== 'failed') await this.mark(ctx, run, check, { status: outcome.status, detail: `read again after “${action.title}” was refused: ${outcome.detail}`, evidence: outcome.evidence });
    return { channel: choice.channel, outcome };
  }

  private async runStep(ctx: RunContext, run: RunRecord, execStep: PlanStep, step: PlanStep = execStep, known?: { value: KnownIdentifiers }, onBlocked?: OnBlocked): Promise<StepOutcome> {
    if (step.channels.length === 0) {
      const detail = step.blocked ?? 'no channel can be used for this step';
      await this.mark(ctx, run, step, { status: 'failed', detail });
      return { status: 'failed', detail };
    }
    const chain = step.channels.map((name) => step.chain.find((c) => c.channel === name && c.usable)!).filter(Boolean);
    const visitedQueues = new Set<string>();
    let queue = this.firstQueue(run, step);
    let last: ChannelOutcome = { status: 'failed', detail: 'no channel in this installation could take the step' };
    const attempts: { channel: ChannelName; detail: string; proof?: Proof }[] = [];
    // What was tried before, kept across escalations: the task that takes over carries every earlier attempt.
    const handedOver: HandOver[] = [];
    let handedBack = false;
    for (let pass = 1; ; pass++) {
      // A person's retry-robot runs the automated channels again; otherwise later passes are people only.
      const channels = pass === 1 || handedBack ? chain : chain.filter((c) => c.channel === 'human');
      handedBack = false;
      for (const choice of channels) {
        const outcome = await this.tryChannel(ctx, run, step, choice, pass, queue, handedOver, execStep, execStep.app === run.app ? known?.value : undefined);
        if (!outcome) continue;
        if (outcome.status !== 'failed') return { ...outcome, by: choice.channel };
        last = outcome;
        attempts.push({ channel: choice.channel, detail: outcome.detail, ...(outcome.proof ? { proof: outcome.proof } : {}) });
        // The console refused: a precondition a person said was done may not be, and goes back to its queue first.
        if (outcome.blockers?.length && choice.channel !== 'human' && onBlocked && (await onBlocked(outcome, choice.channel))) return { ...outcome, reopened: true };
        if (outcome.status === 'failed' && outcome.retryRobot) {
          handedBack = true;
          break;
        }
        if (outcome.conclusive) break;
        handedOver.push({ channel: choice.channel, detail: outcome.detail, evidence: outcome.evidence ?? [] });
      }
      if (handedBack) continue;
      // Every channel failed: people escalate up their queue chain before the step gives up.
      if (last.status === 'failed' && last.conclusive) break;
      if (!queue || !chain.some((c) => c.channel === 'human')) break;
      visitedQueues.add(queue);
      const next = run.profile.queues?.find((q) => q.id === queue)?.escalateTo;
      if (!next || visitedQueues.has(next)) break;
      await ctx.audit({ type: 'step.escalated', actor: 'patchbay', data: { step: step.id, from: queue, to: next, after: last.detail } });
      queue = next;
    }
    if (step.role === 'check' && attempts.length > 1 && last.status === 'failed') {
      // A check read by several channels says what each found: one that found nothing unproven matters more than one that could not sign in.
      const proof = attempts.find((a) => a.proof)?.proof;
      last = { ...last, detail: attempts.map((a) => `${a.channel}: ${a.detail}`).join('; then '), ...(proof ? { proof } : {}) };
    }
    await this.mark(ctx, run, step, { status: 'failed', detail: last.detail, evidence: last.evidence });
    return last;
  }

  private async tryChannel(
    ctx: RunContext,
    run: RunRecord,
    step: PlanStep,
    choice: ChannelChoice,
    pass: number,
    queue: string | undefined,
    handedOver: readonly HandOver[],
    execStep: PlanStep = step,
    known?: KnownIdentifiers,
  ): Promise<ChannelOutcome | undefined> {
    const executor = this.executors.get(choice.channel);
    if (!executor) {
      await ctx.audit({ type: 'channel.skipped', actor: 'patchbay', data: { step: step.id, channel: choice.channel, reason: `no ${choice.channel} executor in this installation` } });
      return undefined;
    }
    await this.mark(ctx, run, step, { status: 'running', channel: choice.channel, attempt: true });
    // A machine action records its intent before it acts: the journal commits it before the call goes out
    // (external steps commit first), so a replay after a crash knows the attempt was ours.
    const acting = step.role === 'action' && choice.channel !== 'human';
    let intentNow = false;
    if (acting) {
      const at = await ctx.now();
      await ctx.step(`${execStep.id}/${choice.channel}/${pass}/intent`, () => {
        intentNow = true;
        return { channel: choice.channel, at };
      });
    }
    let outcome = await executor.execute({
      ctx,
      run,
      step: execStep,
      choice,
      pass,
      ...(queue && choice.channel === 'human' ? { queue } : {}),
      ...(handedOver.length ? { handedOver } : {}),
      ...(known ? { known } : {}),
    });
    if (acting) {
      let settledNow = false;
      await ctx.step(`${execStep.id}/${choice.channel}/${pass}/settled`, () => {
        settledNow = true;
        return outcome.status;
      });
      // Intent journaled by an earlier slice, result only now: the process stopped between our call and its record.
      if (!intentNow && settledNow && outcome.status === 'already-done') {
        outcome = { ...outcome, status: 'done', detail: `done by Patchbay: our ${choice.channel} attempt was interrupted after the call and before its result was recorded; read again: ${outcome.detail}` };
        await ctx.audit({ type: 'step.replayed-after-interruption', actor: 'patchbay', data: { step: step.id, channel: choice.channel } });
      }
    }
    if (outcome.status !== 'failed' && choice.channel === 'human' && !outcome.proof && (step.role === 'verify' || outcome.status === 'already-done')) {
      outcome = { ...outcome, proof: { method: 'person', finding: run.playbook === 'offboard' ? 'absent' : 'present', identifiersTried: [], at: await ctx.now(), notes: [outcome.detail] } };
    }
    const type = outcome.status === 'failed' ? 'channel.failed' : `step.${outcome.status}`;
    await ctx.audit({ type, actor: 'patchbay', data: { step: step.id, channel: choice.channel, detail: outcome.detail, ...(outcome.proof ? { proof: outcome.proof } : {}) } });
    if (outcome.status !== 'failed') await this.mark(ctx, run, step, { status: outcome.status, detail: outcome.detail, evidence: outcome.evidence });
    else await this.mark(ctx, run, step, { status: 'running', detail: `${choice.channel} failed: ${outcome.detail}`, evidence: outcome.evidence });
    return outcome;
  }

  /** The queue of the step's human channel, if it has one: the runbook's, else the app's, else the tenant's first. */
  private firstQueue(run: RunRecord, step: PlanStep): string | undefined {
    const human = step.chain.find((c) => c.channel === 'human' && c.usable);
    if (!human?.runbook) return undefined;
    const connector = this.registry.forPeople(step.app);
    const settings = run.profile.apps[step.app] ?? {};
    return queueFor(connector.runbooks.get(human.runbook)?.queue, settings, run.profile);
  }

  private async mark(ctx: RunContext, run: RunRecord, step: PlanStep, change: Parameters<StepLog['update']>[2] & { status: StepStatus }): Promise<void> {
    const at = await ctx.now();
    await ctx.step(`${step.id}/mark`, () => this.steps.update(run.id, step.id, change, at));
  }
}

type FailedOutcome = Extract<ChannelOutcome, { status: 'failed' }>;
/** A step's outcome as the workflow keeps it: which channel did it, and whether a refusal reopened a precondition (the step runs again). */
type StepOutcome = ChannelOutcome & { by?: ChannelName; reopened?: boolean };
/** Called when a machine channel's action is refused by the console; true when the step should run again. */
type OnBlocked = (blocked: FailedOutcome, channel: ChannelName) => Promise<boolean>;
/** A precondition a person said was done in this run, and what they said. */
interface DoneByPerson {
  readonly step: PlanStep;
  outcome: ChannelOutcome;
}

/**
 * Whether a refusal's text names what a precondition tests: one of its values (e.g. "Account Owner")
 * or one of its fields in words ("subscriptionCards": "subscription cards").
 */
function namedBy(when: AppliesWhen, text: string): boolean {
  const folded = text.toLowerCase();
  const words = (field: string) => field.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return when.anyOf.some((t) => folded.includes(words(t.field)) || (t.includesAny ?? []).some((v) => folded.includes(v.toLowerCase())));
}

/**
 * Whether a precondition can be skipped on what the check read: undefined when it applies (or
 * cannot be judged), else the reason it does not, naming the fields read.
 */
export function notNeeded(when: AppliesWhen, attributes: Readonly<Record<string, string>>): string | undefined {
  const seen: string[] = [];
  for (const test of when.anyOf) {
    const value = attributes[test.field];
    if (value === undefined) return undefined;
    seen.push(`${test.field}: ${value || '(empty)'}`);
    if (test.includesAny) {
      const held = value.split(',').map((v) => v.trim().toLowerCase());
      if (test.includesAny.some((v) => held.includes(v.toLowerCase()))) return undefined;
    }
    if (test.greaterThan !== undefined) {
      const number = Number(value);
      if (!Number.isFinite(number) || number > test.greaterThan) return undefined;
    }
  }
  return `not needed: the check read ${seen.join(', ')}`;
}
