import type { TaskView } from '../channels/human/task-store.js';
import type { RunRecord } from '../engine/port.js';
import type { Timeline } from '../engine/run-service.js';
import { renderTable, wrap } from './format.js';
import { displayPath } from '../paths.js';
import { approvalState } from '../engine/approval-state.js';
import type { Proof } from '../channels/proof.js';

const time = (ms: number | null | undefined) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 16) : '—');
const width = () => Math.max(60, Math.min(process.stdout.columns ?? 100, 120));

/** A proof on one line: method, what it found, identifiers tried, accounts scanned and whether the list was complete, when. */
export function proofLine(p: Proof): string {
  const scan = p.accountsScanned !== undefined ? `, ${p.accountsScanned} accounts scanned${p.complete ? ' (complete list)' : ' (not a complete list)'}` : '';
  const tried = p.identifiersTried.length ? `, tried ${p.identifiersTried.join(', ')}` : '';
  return `${p.method} → ${p.finding}${scan}${tried}, at ${time(p.at)}`;
}

/** What a run waits for, in words: the task it waits on, evidence, a timer. */
export function describeWait(run: RunRecord, tasks: (id: string) => TaskView | undefined): string {
  if (run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled') return `${run.status}${run.outcome && run.outcome !== run.status ? ` (${run.outcome})` : ''}`;
  const waiting = run.waitingFor ?? '';
  if (waiting.startsWith('task:')) {
    const task = tasks(waiting.slice(5));
    return task ? `task ${task.id} "${task.title}" (queue ${task.queue}, due ${time(task.dueAt)})` : waiting;
  }
  if (waiting.startsWith('evidence:')) return `evidence that the account exists for step ${waiting.slice(9)}${run.wakeAt ? `, until ${time(run.wakeAt)}` : ''}`;
  if (run.wakeAt) return `${waiting || 'a timer'} until ${time(run.wakeAt)}`;
  return waiting || run.status;
}

export function renderRuns(runs: readonly RunRecord[], tasks: (id: string) => TaskView | undefined): string {
  return renderTable(
    ['run', 'playbook', 'app', 'person', 'status', 'waiting for / result', 'updated'],
    runs.map((r) => [r.id, r.playbook, r.app, r.subject, r.status, describeWait(r, tasks), time(r.updatedAt)]),
  );
}

export function renderTimeline(timeline: Timeline, tasks: (id: string) => TaskView | undefined): string {
  const { run } = timeline;
  const w = width();
  const out = [
    `Run ${run.id}: ${run.playbook} ${run.subject} — ${run.app} (tenant ${run.tenant})`,
    `Status: ${run.status}${run.outcome ? ` (${run.outcome})` : ''} · started ${time(run.createdAt)} · ${run.finishedAt ? `finished ${time(run.finishedAt)}` : `now: ${describeWait(run, tasks)}`}`,
    '',
  ];
  for (const t of timeline.tasks.filter((t) => t.stepId === 'approval')) out.push(`Approval: task ${t.taskId}, ${approvalState(t)}`, '');
  timeline.steps.forEach((step, i) => {
    out.push(`${i + 1}. [${step.status}] ${step.plan.title}  (${step.plan.app}.${step.plan.operation}${step.channel ? `, via ${step.channel}` : ''}${step.attempts > 1 ? `, ${step.attempts} attempts` : ''})`);
    if (step.detail) out.push(wrap(step.detail, w, '   '));
    for (const e of step.evidence) out.push(wrap(`evidence: ${e.summary}${e.by ? ` — ${e.by}` : ''}${e.file ? ` (${displayPath(e.file.path)})` : ''}`, w, '   '));
    for (const p of step.evidence.filter((e) => e.proof).map((e) => e.proof!)) out.push(wrap(`proof: ${proofLine(p)}`, w, '   '));
    for (const t of timeline.tasks.filter((t) => t.stepId === step.stepId)) out.push(`   task ${t.taskId}: ${t.status}${t.closedBy ? ` by ${t.closedBy}` : ''}`);
  });
  if (run.plan.notes.length) {
    out.push('', 'About the plan:');
    for (const n of run.plan.notes) out.push(wrap(`- ${n}`, w, '  '));
  }
  out.push('', 'Audit:');
  for (const a of timeline.audit) {
    const detail = Object.entries(a.data ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    out.push(wrap(`${time(a.at)}  ${a.type}  ${a.actor}${a.taskId ? `  ${a.taskId}` : ''}  ${detail}`, w, '  '));
  }
  return out.join('\n');
}

export function renderTasks(tasks: readonly TaskView[]): string {
  return renderTable(
    ['task', 'title', 'queue', 'assignee', 'due', 'people'],
    tasks.map((t) => [t.id, t.title, t.queue, t.assignee ?? '—', `${time(t.dueAt)}${t.overdue ? ' OVERDUE' : ''}${t.escalations ? ` (escalated ×${t.escalations})` : ''}`, String(t.items.length)]),
  );
}

export function renderTask(task: TaskView): string {
  const w = width();
  const c = task.content;
  const out = [
    `${task.id}: ${task.title}`,
    `${task.status.toUpperCase()} · queue ${task.queue}${task.assignee ? ` · assigned to ${task.assignee}` : ''} · due ${time(task.dueAt)}${task.overdue ? ' (OVERDUE)' : ''} · in ${c.system}`,
  ];
  if (c.runbook.summary) out.push('', wrap(c.runbook.summary, w, ''));
  for (const h of c.handedOver ?? []) {
    out.push('', wrap(`The ${h.channel} channel tried first and stopped: ${h.detail}`, w, ''));
    for (const e of h.evidence.filter((x) => x.file)) out.push(wrap(`  ${e.kind}: ${e.file!.path}`, w, '    '));
  }
  if (c.condition) out.push('', wrap(`Only if ${c.condition.replace(/^only if /, '')}; otherwise complete it saying so.`, w, ''));
  out.push('', task.items.length > 1 ? `People (${task.items.length}):` : 'Person:');
  for (const item of task.items) out.push(`  - ${item.email} [${item.status}${item.closedBy ? ` by ${item.closedBy}` : ''}]`);
  out.push('', 'Checklist:');
  c.runbook.steps.forEach((s, i) => {
    const ticked = task.stepsDone.includes(i + 1) ? 'x' : ' ';
    out.push(wrap(`[${ticked}] ${i + 1}. ${s.text}${s.path ? `  (${s.path})` : ''}`, w, '  '));
  });
  out.push('', 'Evidence asked for:');
  for (const e of c.runbook.evidence) out.push(`  - ${e.label} (${e.kind}${e.required ? ', required' : ', optional'})`);
  const watch = [...c.watchOutFor.map((x) => `${x.blocking ? 'BLOCKING: ' : ''}${x.text}`), ...(c.runbook.watchOutFor ?? [])];
  if (watch.length) {
    out.push('', 'Watch out for:');
    for (const x of watch) out.push(wrap(`- ${x}`, w, '  '));
  }
  if (task.evidence.length) {
    out.push('', 'Evidence given:');
    for (const e of task.evidence) out.push(wrap(`- ${e.summary}${e.by ? ` — ${e.by}` : ''}`, w, '  '));
  }
  if (task.status === 'open') out.push('', `Complete: patchbay task complete ${task.id} --by <you> --evidence "<what you saw>"`);
  return out.join('\n');
}
