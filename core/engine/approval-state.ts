/*
 * Approval tasks in words, without the gate: the command line's and the pages' renderers use these,
 * and must not load the engine (inversify, the store) to do so.
 */

/** An approval task's state in words: the tenant's policy put the run behind it. */
export function approvalState(t: { status: string; closedBy: string | null }): string {
  return t.status === 'open' ? 'waiting for an approver' : t.status === 'failed' ? `rejected by ${t.closedBy}` : t.status === 'cancelled' ? 'cancelled' : `approved by ${t.closedBy}`;
}

/** The runbook id of approval tasks: what readers of tasks skip, since an approval attests nothing about the app. */
export const approvalRunbookId = 'approve-run';
