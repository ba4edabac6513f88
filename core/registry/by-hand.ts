import type { Runbook } from '../schema/types/runbook.js';

/**
 * The built-in checklists a person follows in an identity provider whose connector did not load (its
 * manifest or runbooks were refused), by the IdP operation they stand in for. Built in, not a
 * connector's runbook: the same for every IdP, since nothing of the broken connector can be read.
 */
export const byHandRunbookId = { assignApp: 'assign-app-by-hand', unassignApp: 'unassign-app-by-hand' } as const;

/** The checklists of `byHandRunbookId` for the IdP `idp` (its connector id: its name did not load either). */
export function byHandRunbooks(idp: string): ReadonlyMap<string, Runbook> {
  const broken = `Patchbay cannot read connector ${idp} (patchbay connectors says why), so this is done in the identity provider's admin console`;
  const runbook = (id: string, title: string, steps: [string, ...string[]], done: string): Runbook => ({
    id,
    title,
    slaHours: 4,
    steps: steps.map((text) => ({ text })) as Runbook['steps'],
    evidence: [{ id: 'done', label: done, kind: 'attestation', required: true }],
    watchOutFor: [broken],
  });
  return new Map([
    [
      byHandRunbookId.unassignApp,
      runbook(
        byHandRunbookId.unassignApp,
        `Remove {email}'s {app} assignment in the identity provider (${idp})`,
        [
          "Sign in to the identity provider's admin console as an administrator and open the app this task names.",
          'Remove the person\'s direct assignment, and remove them from every group that carries the app.',
          'Check that the person no longer appears among the app\'s assignments.',
        ],
        "The person no longer appears among the app's assignments",
      ),
    ],
    [
      byHandRunbookId.assignApp,
      runbook(
        byHandRunbookId.assignApp,
        `Assign {app} to {email} in the identity provider (${idp})`,
        [
          "Sign in to the identity provider's admin console as an administrator and open the app this task names.",
          'Assign the person to the app (or add them to the group that carries it), with the role the request names.',
          "Check that the person appears among the app's assignments.",
        ],
        "The person appears among the app's assignments",
      ),
    ],
  ]);
}

/**
 * The checklist of a leaver's offboarding from an app whose connector is broken: no run can be planned
 * for it, so a person offboards them in the app's console (a run-less task, opened by the leaver feed),
 * and someone fixes the connector. `reason` is the registry's one line; `email` is the leaver's (a
 * run-less task has no people of its own for {email}).
 */
export function offboardByHandRunbook(app: string, reason: string, email: string): Runbook {
  return {
    id: 'offboard-by-hand',
    title: `Offboard ${email} from ${app} by hand: its connector is broken`,
    slaHours: 24,
    steps: [
      { text: `Sign in to ${app}'s admin console as an administrator and find the person's account by email.` },
      { text: 'Deactivate or remove the account, transferring anything they own first if the app asks.' },
      { text: `Fix connector ${app} (patchbay connectors says why: ${reason}), so that the next leavers are offboarded by Patchbay.` },
    ],
    evidence: [{ id: 'done', label: 'What shows the account is gone or deactivated (a screenshot, the member list)', kind: 'attestation', required: true }],
    watchOutFor: [`No run was opened for ${app}: Patchbay cannot plan it while its connector is broken.`],
  };
}
