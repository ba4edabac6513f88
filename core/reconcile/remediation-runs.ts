import type { Sql } from '../store/sql.js';
import type { RunsTable } from '../store/tables.js';
import type { FindingKind } from './findings.js';
import { remedies } from './remediate.js';

/** The run that remediates a finding, as the reconcile page shows it. */
export interface FindingRun {
  readonly id: string;
  readonly playbook: string;
  readonly status: RunsTable['status'];
  readonly outcome: string | null;
  /** ms since the epoch */
  readonly createdAt: number;
  readonly finishedAt: number | null;
}

/** The key of a finding in remediationRuns' answer: its kind and its person, case folded. */
export const findingKey = (f: { readonly kind: string; readonly person: string }): string => `${f.kind}\u0000${f.person.toLowerCase()}`;

/** Whether a finding's run finished the remediation (done, or found already done). */
export const remediated = (run: FindingRun | undefined): boolean => run?.status === 'completed' && (run.outcome === 'done' || run.outcome === 'already-done');

/**
 * For each finding with a remedy (an orphaned account: an offboarding; an access drift: a change),
 * the run of that playbook for the person in the app that answers it: the person's open run if one
 * is open, else the newest one started since the finding was first seen. Findings without such a
 * run are absent from the map. One query per 500 people.
 */
export async function remediationRuns(
  db: Sql,
  tenant: string,
  app: string,
  findings: readonly { readonly kind: FindingKind; readonly person: string; readonly firstSeenAt: number }[],
): Promise<Map<string, FindingRun>> {
  const fixable = findings.filter((f) => f.kind in remedies);
  const people = [...new Set(fixable.map((f) => f.person.toLowerCase()))];
  const rows: (FindingRun & { subject: string })[] = [];
  for (let i = 0; i < people.length; i += 500) {
    const chunk = people.slice(i, i + 500);
    rows.push(
      ...(
        await db
          .selectFrom('runs')
          .select(['id', 'playbook', 'status', 'outcome', 'created_at', 'finished_at', 'subject'])
          .where('tenant', '=', tenant)
          .where('app', '=', app)
          .where('playbook', 'in', [...new Set(Object.values(remedies))])
          // Folded on both sides: PostgreSQL compares text case-sensitively.
          .where((eb) => eb(eb.fn<string>('lower', ['subject']), 'in', chunk))
          .orderBy('created_at', 'desc')
          .orderBy('id', 'desc')
          .execute()
      ).map((r) => ({ id: r.id, playbook: r.playbook, status: r.status, outcome: r.outcome, createdAt: Number(r.created_at), finishedAt: r.finished_at === null ? null : Number(r.finished_at), subject: r.subject.toLowerCase() })),
    );
  }
  const found = new Map<string, FindingRun>();
  for (const f of fixable) {
    const mine = rows.filter((r) => r.subject === f.person.toLowerCase() && r.playbook === remedies[f.kind as keyof typeof remedies]);
    const open = mine.find((r) => r.status === 'running' || r.status === 'waiting');
    const since = mine.find((r) => r.createdAt >= f.firstSeenAt);
    const run = open ?? since;
    if (run) {
      const { subject: _subject, ...shown } = run;
      found.set(findingKey(f), shown);
    }
  }
  return found;
}
