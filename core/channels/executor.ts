import type { RunContext, RunRecord } from '../engine/port.js';
import type { AppAccount } from '../registry/connector-api.js';
import type { ChannelChoice, ChannelName, PlanStep } from '../schema/types/plan.js';
import type { KnownIdentifiers, Proof } from './proof.js';

/** What a channel did, as a record kept with the step. Secrets never go in here. */
export interface Evidence {
  /** `read`: what a channel read of the person's account, field by field in `read`. */
  readonly kind: 'text' | 'file' | 'attestation' | 'api' | 'signal' | 'screenshot' | 'read';
  readonly summary: string;
  readonly by?: string;
  readonly at: number;
  /** For files: where the copy is kept under the data folder, and its SHA-256. */
  readonly file?: { readonly path: string; readonly sha256: string; readonly size: number; readonly name: string };
  /** For a read that found an account or proved it gone: how (method, identifiers tried, accounts scanned, complete, at). */
  readonly proof?: Proof;
  /**
   * For kind `read`: the account's fields as the app showed them (a console's column names as the
   * recipe's `extract` named them, e.g. roles, teams, cards), as text.
   */
  readonly read?: Readonly<Record<string, string>>;
}

/**
 * done: the work happened; already-done: there was nothing to do (said as such); failed: this
 * channel cannot do it, and the step moves to the next channel in its chain.
 */
export type ChannelOutcome =
  | {
      readonly status: 'done' | 'already-done';
      readonly detail: string;
      readonly evidence: readonly Evidence[];
      /** For a check: whether the account is there, and what the read showed of it. */
      readonly found?: boolean;
      readonly account?: AppAccount;
      /** How the channel knows: the read that found the account, or proved it absent. */
      readonly proof?: Proof;
    }
  | {
      readonly status: 'failed';
      readonly detail: string;
      readonly evidence?: readonly Evidence[];
      /** The failure is a finding (a verification read the wrong state): no other channel should try. */
      readonly conclusive?: boolean;
      /** What was tried when absence could not be proven. */
      readonly proof?: Proof;
      readonly account?: AppAccount;
      /** A person handed the step back to the robot (task action retry-robot): the automated channels run again. */
      readonly retryRobot?: boolean;
      /** The console refused the action (a browser recipe's `blocked-if`): the lines it showed, as read. */
      readonly blockers?: readonly string[];
    };

export interface StepExecution {
  readonly ctx: RunContext;
  readonly run: RunRecord;
  readonly step: PlanStep;
  readonly choice: ChannelChoice;
  /** 1 for the first pass over the chain; more after an escalation. */
  readonly pass: number;
  /** The queue for a human task when the work was escalated. */
  readonly queue?: string;
  /** What the channels tried before this one, in this pass: a person taking over sees why (and the drift screenshot). */
  readonly handedOver?: readonly HandOver[];
  /** Every identifier Patchbay has seen for the person in the step's app (recorded ids, emails, userNames, externalIds): lookups use them all. */
  readonly known?: KnownIdentifiers;
}

/** A machine channel's failed attempt, handed to the next channel. */
export interface HandOver {
  readonly channel: ChannelName;
  readonly detail: string;
  readonly evidence: readonly Evidence[];
}

/** One shape for every channel: execute(step) → outcome. Executors contribute themselves to this token. */
export const ChannelExecutor = Symbol('ChannelExecutor');
export interface ChannelExecutor {
  readonly channel: ChannelName;
  execute(execution: StepExecution): Promise<ChannelOutcome>;
}
