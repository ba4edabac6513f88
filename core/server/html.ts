import type { TaskView } from '../channels/human/task-store.js';
import type { Timeline } from '../engine/run-service.js';
import type { MatrixRow } from '../docs/matrix-page.js';
import { matrixCell, matrixColumns } from '../docs/matrix-page.js';
import { approvalState } from '../engine/approval.js';
import type { Principal, TokenInfo } from './access.js';

/** Everything a page shows goes through this: names, emails and evidence come from people and consoles. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A time to the minute, always with its time zone (the server's pages speak UTC). */
const time = (ms: number | null | undefined) => (ms ? `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—');

/** A runbook's words with "the app" said as the app's own name (checklists are read beside several consoles). */
export function namedApp(text: string, appName: string): string {
  return text.replace(/\b[Tt]he app\b/g, () => appName);
}

/** Makes a one-time form token for a form's action (its path); tokens are bound to the session and the action. */
export type FormTokens = (action: string) => string;

export function layout(title: string, body: string, who?: Principal, token?: string): string {
  const nav = who
    ? `<nav aria-label="Patchbay"><a href="/inbox">Inbox</a> <a href="/runs">Runs</a> <a href="/matrix">Capability matrix</a> <a href="/reconcile">Reconciliation</a>${who.role === 'admin' ? ' <a href="/tokens">API tokens</a>' : ''}
<span class="who">${esc(who.actor)} (${esc(who.role)})</span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="_token" value="${esc(token)}"><button type="submit">Sign out</button></form></nav>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Patchbay</title>${who ? '<script src="/assets/live.js" defer></script>' : ''}<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24}header{background:#14213d;color:#fff;padding:10px 24px;font-weight:600}
nav{padding:8px 24px;background:#eef1f6}nav .who{margin-left:2em;color:#555}.inline{display:inline}main{padding:16px 24px;max-width:1100px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}
.overdue{color:#b00020;font-weight:600}[role=alert]{color:#b00020}[role=status]{color:#0a7a3b}.muted{color:#666}
fieldset{border:1px solid #ccd;margin:12px 0;min-width:0}img.evidence{max-width:100%;border:1px solid #ccc}button{cursor:pointer}
ol.checklist li{margin:4px 0}.scroll{overflow-x:auto}td{overflow-wrap:anywhere}textarea,input,select{max-width:100%;box-sizing:border-box}textarea{width:40em}
nav{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:center}nav .who{margin-left:auto}
@media (max-width:600px){main,nav,header{padding-left:10px;padding-right:10px}td,th{padding:4px}}
.legend{margin-right:1.2em}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}figure{margin:8px 0}</style></head><body><header>Patchbay</header>${nav}<main>${body}</main></body></html>`;
}

/** The sign-in page; `token` is the form's token bound to the pre-session cookie (none when the form is locked). */
export function loginPage(args: { error?: string; next: string; token: string }): string {
  const { error, next } = args;
  return layout(
    'Sign in',
    `<h1>Sign in</h1>${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/login"><input type="hidden" name="_token" value="${esc(args.token)}"><input type="hidden" name="next" value="${esc(next)}">
<p><label for="email">Email</label><br><input id="email" name="email" type="email" autocomplete="username" required></p>
<p><label for="password">Password</label><br><input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p></form>`,
  );
}

/**
 * The inbox: open tasks by due time. `blind`: why the operator sees no queue (said instead of an
 * empty list, see noQueueReason).
 */
export function inboxPage(args: { who: Principal; token: FormTokens; tasks: readonly TaskView[]; queues: readonly { id: string; name: string; mine: boolean }[]; queue?: string; now: number; next?: string; blind?: string }): string {
  const { tasks, queues, queue } = args;
  const links = [`<a href="/inbox"${queue ? '' : ' aria-current="page"'}>My queues</a>`, ...queues.map((q) => `<a href="/inbox?queue=${esc(q.id)}"${queue === q.id ? ' aria-current="page"' : ''}>${esc(q.name)}</a>`)].join(' · ');
  const rows = tasks
    .map(
      (t) => `<tr><td class="${t.overdue ? 'overdue' : ''}">${time(t.dueAt)}${t.overdue ? ' (overdue)' : ''}</td><td>${esc(queues.find((q) => q.id === t.queue)?.name ?? t.queue)}</td>
<td><a href="/tasks/${esc(t.id)}">${esc(t.title)}</a></td><td>${t.items.length}</td><td>${esc(t.assignee ?? '—')}</td></tr>`,
    )
    .join('');
  return layout(
    'Inbox',
    `<h1>Open tasks${queue ? ` in ${esc(queues.find((q) => q.id === queue)?.name ?? queue)}` : ''}</h1><p>${links}</p>
<div class="scroll" data-live="tasks">${tasks.length ? `<table aria-label="Open tasks"><thead><tr><th>Due</th><th>Queue</th><th>Task</th><th>People</th><th>Assignee</th></tr></thead><tbody>${rows}</tbody></table>` : args.blind ? `<p role="alert">${esc(args.blind)}</p>` : '<p>No open task here.</p>'}</div>
${args.next ? `<p><a href="${esc(args.next)}" rel="next">Next page</a></p>` : ''}`,
    args.who,
    args.token('/logout'),
  );
}

/** What a run's check step read of a person before a precondition task was opened: its words and its screenshots. */
export interface CheckRead {
  readonly email: string;
  readonly runId: string;
  readonly channel: string | null;
  readonly detail: string;
  /** When the latest read was made (ms since the epoch), when it kept its fields. */
  readonly at: number | null;
  /** The account's fields as read (roles, teams, cards…: the recipe's `extract` columns), when the read kept them. */
  readonly fields: Readonly<Record<string, string>> | null;
  /** The fields the precondition tests, and the values it looks for (the plan step's `appliesWhen`). */
  readonly tested: readonly { readonly field: string; readonly values: readonly string[] }[];
  /** The latest read's evidence (its screenshots). */
  readonly evidence: Timeline['steps'][number]['evidence'];
}

type TimelineStep = Timeline['steps'][number];

/**
 * What a run's check step (`check`) read of a task's person, for the precondition step `step`: the
 * latest read only (a check read again after a refusal keeps both reads' evidence; the last `read`
 * evidence and the files kept with it are the latest).
 */
export function checkRead(item: { email: string; runId: string }, step: { appliesWhen?: { anyOf: readonly { field: string; includesAny?: readonly string[] }[] } }, check: Pick<TimelineStep, 'channel' | 'detail' | 'evidence'>): CheckRead {
  const reads = check.evidence.flatMap((e, i) => (e.kind === 'read' ? [i] : []));
  const last = reads.at(-1);
  const evidence = last === undefined ? check.evidence : check.evidence.slice(reads.length > 1 ? reads.at(-2)! + 1 : 0, last + 1);
  const latest = last === undefined ? undefined : check.evidence[last]!;
  return {
    email: item.email,
    runId: item.runId,
    channel: check.channel,
    detail: check.detail ?? '',
    at: latest?.at ?? null,
    fields: latest?.read ?? null,
    tested: (step.appliesWhen?.anyOf ?? []).map((t) => ({ field: t.field, values: t.includesAny ?? [] })),
    evidence,
  };
}

/** Who read: "the browser", "the api channel". */
const readerOf = (r: CheckRead) => (r.channel === 'browser' ? 'the browser' : r.channel ? `the ${r.channel} channel` : 'Patchbay');

/** A field name as words: pendingApprovals → Pending approvals. */
const fieldWords = (field: string) => {
  const words = field.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/**
 * What was read that a checklist step asks about: the step's text names one of the values or fields
 * the precondition tests (e.g. "Account Owner" for roles); the sentence says what each person's read
 * showed for those fields, or '' when the step names none.
 */
function readForStep(text: string, read: readonly CheckRead[]): string {
  const folded = text.toLowerCase();
  const said = read.flatMap((r) => {
    const asked = r.tested.filter((t) => folded.includes(fieldWords(t.field).toLowerCase()) || t.values.some((v) => folded.includes(v.toLowerCase())));
    const seen = asked.filter((t) => r.fields && r.fields[t.field] !== undefined).map((t) => `${fieldWords(t.field).toLowerCase()}: ${r.fields![t.field] || '(none)'}`);
    return seen.length ? [`${readerOf(r)} read ${seen.join('; ')} (${r.email})`] : [];
  });
  return said.length ? ` <span class="read-note">— ${esc(said.join('; '))}.</span>` : '';
}

export function taskPage(args: { who: Principal; token: FormTokens; task: TaskView; queues: readonly { id: string; name: string }[]; message?: { ok: boolean; text: string }; read?: readonly CheckRead[] }): string {
  const { task, message } = args;
  const c = task.content;
  const queueName = (id: string) => args.queues.find((q) => q.id === id)?.name ?? id;
  const open = task.status === 'open';
  const form = (action: string, body: string, extra = '') =>
    `<form method="post" action="/tasks/${esc(task.id)}/${action}"${extra}><input type="hidden" name="_token" value="${esc(args.token(`/tasks/${task.id}/${action}`))}">${body}</form>`;
  const checklist = c.runbook.steps
    .map((s, i) => {
      const done = task.stepsDone.includes(i + 1);
      const tick = open && !done ? form('tick', `<input type="hidden" name="step" value="${i + 1}"><button type="submit" aria-label="Tick step ${i + 1}">Tick</button>`, ' class="inline"') : '';
      return `<li>${done ? '<strong>✓</strong> ' : ''}${esc(namedApp(s.text, c.appName))}${s.path ? ` <span class="muted">(${esc(s.path)})</span>` : ''}${readForStep(s.text, args.read ?? [])} ${tick}</li>`;
    })
    .join('');
  // The plan's watch-outs and the runbook's often say the same thing: each is shown once.
  const seenWatch = new Set<string>();
  const watch = [...c.watchOutFor.map((w) => ({ text: namedApp(w.text, c.appName), blocking: w.blocking })), ...(c.runbook.watchOutFor ?? []).map((text) => ({ text: namedApp(text, c.appName), blocking: false }))]
    .filter((w) => {
      const key = w.text.trim().toLowerCase().replace(/[\s.]+$/g, '').replace(/\s+/g, ' ');
      return seenWatch.has(key) ? false : (seenWatch.add(key), true);
    })
    .map((w) => `${w.blocking ? '<strong>Blocking:</strong> ' : ''}${esc(w.text)}`);
  const handedOver = (c.handedOver ?? [])
    .map(
      (h, n) => {
        const files = h.evidence.filter((e) => e.file);
        const shots = files.filter((e) => e.kind === 'screenshot');
        const failedTask = h.channel === 'human' ? /^task (\S+) failed by (\S+): ([\s\S]*)$/.exec(h.detail) : null;
        // A completion that did not take (the console still refused what it was to allow): linked, with what was said.
        const ineffective = h.channel === 'human' ? /^(?:done by|already done, said) (\S+) in task (\S+), but it was not effective: ([\s\S]*)$/.exec(h.detail) : null;
        const said = failedTask
          ? `<p><a href="/tasks/${esc(failedTask[1])}">An earlier task</a> was failed by ${esc(failedTask[2])}, who said: “${esc(failedTask[3])}”</p>`
          : ineffective
            ? `<p><a href="/tasks/${esc(ineffective[2])}">An earlier task</a> was completed by ${esc(ineffective[1])}${h.evidence.some((e) => e.kind === 'text' && e.by) ? `, who said: ${h.evidence.filter((e) => e.kind === 'text' && e.by).map((e) => `“${esc(e.summary)}”`).join(', ')}` : ''}; <strong>it was not effective</strong>: ${esc(ineffective[3])}</p>`
            : `<p>${esc(h.detail)}</p>`;
        const readHere = h.evidence.filter((e) => e.kind === 'read' && e.read).at(-1);
        const table = readHere ? readTable({ email: task.items[0]?.email ?? '', runId: '', channel: h.channel, detail: '', at: readHere.at, fields: readHere.read!, tested: [], evidence: [] }) : '';
        return `<section aria-label="Attempt ${n + 1}: ${esc(h.channel)}"><h3>Attempt ${n + 1}: ${h.channel === 'human' ? 'a person' : `the ${esc(h.channel)} channel`}</h3>${said}${table}${files
          .map((e) => {
            if (e.kind !== 'screenshot') return `<p><a href="/evidence/${esc(e.file!.sha256)}">${esc(/HTML/.test(e.summary) ? `The ${c.system} page where the browser stopped (HTML, as text)` : e.summary)}</a></p>`;
            const n = shots.indexOf(e) + 1;
            const name = `The ${c.system} console, screenshot ${n} of ${shots.length}${n === shots.length ? ' (the last page the browser saw)' : ''}`;
            return `<figure><img class="evidence" alt="${esc(name)}" src="/evidence/${esc(e.file!.sha256)}"><figcaption><a href="/evidence/${esc(e.file!.sha256)}">${esc(name)}</a></figcaption></figure>`;
          })
          .join('')}</section>`;
      },
    )
    .join('');
  // A screenshot is a file (the form takes one file: the first screenshot item); anything else is words.
  const shotItem = c.runbook.evidence.findIndex((e) => e.kind === 'screenshot');
  const need = (e: { required?: boolean }) => (e.required ? '<strong>required</strong>' : 'optional');
  const evidenceFields = c.runbook.evidence
    .map((e, i) =>
      i === shotItem
        ? `<p><label for="file">${esc(namedApp(e.label, c.appName))} (screenshot: PNG or JPEG, up to 25 MB; ${need(e)})</label><br><input id="file" name="file" type="file" accept=".png,.jpg,.jpeg"${e.required ? ' required' : ''}></p>`
        : `<p><label for="ev${i}">${esc(namedApp(e.label, c.appName))} (${esc(e.kind)}; ${need(e)})</label><br><textarea id="ev${i}" name="evidence" rows="2"></textarea></p>`,
    )
    .join('');
  const fileField = shotItem >= 0 ? '' : `<p><label for="file">Evidence file (screenshot, PDF or export; optional)</label> <input id="file" name="file" type="file" accept=".png,.jpg,.jpeg,.pdf,.csv,.txt,.json"></p>`;
  const mine = task.assignee === args.who.actor;
  const claim = open
    ? mine || task.assignee
      ? form('unclaim', `<button type="submit">${mine ? 'Give it back to the queue' : `Unassign ${esc(task.assignee)}`}</button>`, ' class="inline"')
      : form('claim', '<button type="submit">Assign to me</button>', ' class="inline"')
    : '';
  const actions = open
    ? `<h2>Finish</h2>
${form(
  'complete',
  `<fieldset><legend>Complete</legend>${evidenceFields}${fileField}
<p><input type="checkbox" id="already" name="alreadyDone" value="yes"> <label for="already">There was nothing to do</label></p><p><button type="submit">Complete the task</button></p></fieldset>`,
  ' enctype="multipart/form-data"',
)}
${
  c.handedOver?.some((h) => h.channel !== 'human')
    ? form(
        'retry-robot',
        `<fieldset><legend>Hand back to the robot</legend><p>Fixed what stopped the robot (a renamed button restored, a dialog dismissed)? It runs the step again.</p><p><label for="note">What you fixed</label><br><textarea id="note" name="note" rows="2"></textarea></p><p><button type="submit">Retry with the robot</button></p></fieldset>`,
      )
    : ''
}
${form('fail', `<fieldset><legend>Cannot be done</legend><p><label for="reason">Why</label><br><textarea id="reason" name="reason" rows="2" required></textarea></p><p><button type="submit">Fail the task</button></p></fieldset>`)}
${form(
  'reassign',
  `<fieldset><legend>Reassign</legend><p><label for="queue">Queue</label> <select id="queue" name="queue">${args.queues
    .map((q) => `<option value="${esc(q.id)}"${q.id === task.queue ? ' selected' : ''}>${esc(q.name)}</option>`)
    .join('')}</select> <button type="submit">Reassign</button></p></fieldset>`,
)}`
    : '';
  return layout(
    task.title,
    `<p><a href="/inbox">← Inbox</a></p><h1>${esc(task.title)}</h1>
${message ? `<p role="${message.ok ? 'status' : 'alert'}">${esc(message.text)}</p>` : ''}
<p>${esc(task.status.toUpperCase())} · queue ${esc(queueName(task.queue))} · ${task.assignee ? `assigned to ${esc(task.assignee)}` : 'nobody has taken it yet'} · due ${time(task.dueAt)}${task.overdue ? ' <span class="overdue">(overdue)</span>' : ''} · in ${esc(c.system)} ${claim}</p>
${c.runbook.summary ? `<p>${esc(c.runbook.summary)}</p>` : ''}${c.condition ? `<p><strong>Only if</strong> ${esc(c.condition.replace(/^only if /, ''))}; otherwise complete it saying there was nothing to do.</p>` : ''}
${handedOver ? `<h2>What was tried before</h2>${handedOver}` : ''}
${args.read?.length ? `<h2>What Patchbay read first</h2>${args.read
    .map((r) => `<section aria-label="Read of ${esc(r.email)}"><p>${r.channel ? `The ${esc(r.channel)} channel read ${esc(r.email)}: ` : ''}${esc(r.detail)}</p>${readTable(r)}${r.evidence
      .filter((e) => e.file && e.kind === 'screenshot')
      .map((e) => `<figure><img class="evidence" alt="${esc(`What was read of ${r.email} in ${c.system}`)}" src="/evidence/${esc(e.file!.sha256)}"><figcaption><a href="/evidence/${esc(e.file!.sha256)}">${esc(`${c.system}: what was read of ${r.email}`)}</a></figcaption></figure>`)
      .join('')}</section>`)
    .join('')}` : ''}
<h2>People</h2><ul>${task.items.map((i) => `<li>${esc(i.email)} — ${esc(i.status === 'already-done' ? 'already done' : i.status)}${i.closedBy ? ` by ${esc(i.closedBy)}` : ''} · <a href="/runs/${esc(i.runId)}">run</a></li>`).join('')}</ul>
<h2>Checklist</h2><ol class="checklist">${checklist}</ol>
${watch.length ? `<h2>Watch out for</h2><ul>${watch.map((w) => `<li>${w}</li>`).join('')}</ul>` : ''}
${task.evidence.length ? `<h2>Evidence given</h2><ul>${task.evidence.map((e) => `<li>${esc(e.summary)}${e.by ? ` — ${esc(e.by)}` : ''}</li>`).join('')}</ul>` : ''}
${actions}`,
    args.who,
    args.token('/logout'),
  );
}

/** What was read of a person, field by field, as a table ('' when the read kept no fields). */
function readTable(r: CheckRead): string {
  if (!r.fields) return '';
  const tested = new Set(r.tested.map((t) => t.field));
  const rows = Object.entries(r.fields)
    .map(([k, v]) => `<tr><th scope="row">${esc(fieldWords(k))}${tested.has(k) ? ' <span class="muted">(what this task is about)</span>' : ''}</th><td>${esc(v || '—')}</td></tr>`)
    .join('');
  const who = readerOf(r);
  return `<div class="scroll"><table aria-label="What ${esc(who)} read of ${esc(r.email)}"><caption>What ${esc(who)} read${r.at ? `, ${time(r.at)}` : ''}</caption><tbody>${rows}</tbody></table></div>`;
}

/** What the run page needs besides the timeline: tasks by id, names for queues and apps, the time. */
export interface RunPageContext {
  task(id: string): TaskView | undefined;
  queueName(id: string): string;
  appName(id: string): string;
  readonly now: number;
  readonly message?: { ok: boolean; text: string };
}

/** One sentence: what happens next in the run and who waits on whom (HTML, escaped). */
export function nextSentence(t: Timeline, c: RunPageContext): string {
  const r = t.run;
  const app = esc(c.appName(r.app));
  if (r.status === 'completed' || r.status === 'failed' || r.status === 'cancelled') {
    return `This run is finished: ${esc(r.status)}${r.outcome && r.outcome !== r.status ? ` (${esc(r.outcome)})` : ''}; nothing more happens.`;
  }
  const waiting = r.waitingFor ?? '';
  if (waiting.startsWith('task:')) {
    const task = c.task(waiting.slice(5));
    if (!task) return `The run waits for a task that is no longer there; it moves on when it next catches up.`;
    const link = `<a href="/tasks/${esc(task.id)}">${esc(task.title)}</a>`;
    if (task.status !== 'open') return `The task ${link} is ${esc(task.status)}; the run moves on as soon as it catches up (this page updates by itself).`;
    return `The run waits for ${esc(c.queueName(task.queue))}${task.assignee ? ` (${esc(task.assignee)})` : ''} to finish the task ${link}, due ${time(task.dueAt)}${task.overdue ? ' — overdue' : ''}.`;
  }
  if (waiting.startsWith('evidence:')) {
    return `The run waits for evidence that ${esc(r.subject)}'s ${app} account exists (a first sign-in through the identity provider)${r.wakeAt ? ` until ${time(r.wakeAt)}` : ''}; give it below, or at that time the step moves to its next channel.`;
  }
  const running = t.steps.find((s) => s.status === 'running');
  if (running) return `Patchbay is working on “${esc(running.plan.title)}”${running.channel ? ` through the ${esc(running.channel)} channel` : ''}; nobody needs to act.`;
  if (r.wakeAt) return `The run waits until ${time(r.wakeAt)}${waiting ? ` (${esc(waiting)})` : ''}, then goes on by itself.`;
  return `The run is ${esc(r.status)}; Patchbay takes the next step by itself.`;
}

/**
 * A step's status in words: "already done" (the change was found made) and "not needed" (a
 * precondition the check showed does not apply) are both stored as already-done, and read apart here.
 */
export function stepStatus(s: { status: string; detail?: string | null }): string {
  if (s.status === 'already-done') return /^not needed\b/.test(s.detail ?? '') ? 'not needed' : 'already done';
  return s.status;
}

/** An audit event's data as words (key: value), not raw JSON. */
function auditData(data: Readonly<Record<string, unknown>> | undefined): string {
  const value = (v: unknown): string => (typeof v === 'string' ? v : Array.isArray(v) ? v.map(value).join(', ') : v && typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k} ${value(x)}`).join(', ') : String(v));
  return Object.entries(data ?? {})
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `<span class="kv"><span class="muted">${esc(k.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase())}:</span> ${esc(value(v))}</span>`)
    .join('<br>');
}

export function runPage(who: Principal, token: FormTokens, t: Timeline, c: RunPageContext): string {
  const r = t.run;
  const steps = t.steps
    .map(
      (s, i) => `<tr><td>${i + 1}</td><td>${esc(s.plan.title)}</td><td>${esc(stepStatus(s))}</td><td>${esc(s.channel ?? '—')}</td><td>${esc(s.detail ?? '')}${s.evidence
        .map((e) => `<br><span class="muted">${e.file ? `<a href="/evidence/${esc(e.file.sha256)}">${esc(e.summary)}</a>` : esc(e.summary)}${e.by ? ` — ${esc(e.by)}` : ''}</span>`)
        .join('')}</td></tr>`,
    )
    .join('');
  const audit = t.audit.map((a) => `<tr><td>${time(a.at)}</td><td>${esc(a.type)}</td><td>${esc(a.actor)}</td><td>${auditData(a.data as Record<string, unknown>)}</td></tr>`).join('');
  const waiting = r.status === 'waiting' && r.waitingFor?.startsWith('evidence:') ? r.waitingFor.slice(9) : undefined;
  const evidenceForm = waiting
    ? `<section aria-labelledby="jit"><h2 id="jit">Give evidence that the account exists</h2>
<p>Deadline: ${time(r.wakeAt)}. A sign-in event, a screenshot of ${esc(r.subject)} in ${esc(c.appName(r.app))}, or an export showing the account.</p>
<form method="post" action="/runs/${esc(r.id)}/evidence" enctype="multipart/form-data"><input type="hidden" name="_token" value="${esc(token(`/runs/${r.id}/evidence`))}"><input type="hidden" name="step" value="${esc(waiting)}">
<p><label for="jit-text">What shows the account exists</label><br><textarea id="jit-text" name="text" rows="3"></textarea></p>
<p><label for="jit-file">Screenshot or export (PNG, JPEG, PDF, CSV or text; up to 25 MB; optional)</label><br><input id="jit-file" name="file" type="file" accept=".png,.jpg,.jpeg,.pdf,.csv,.txt,.json"></p>
<p><button type="submit">Give the evidence</button></p></form></section>`
    : '';
  return layout(
    `Run ${r.id}`,
    `<h1>${esc(r.playbook)} ${esc(r.subject)} — ${esc(c.appName(r.app))}</h1>
${c.message ? `<p role="${c.message.ok ? 'status' : 'alert'}">${esc(c.message.text)}</p>` : ''}
<div data-live="status"><p id="run-status" role="status" data-run="${esc(r.id)}"><strong>Status: ${esc(r.status)}${r.outcome ? ` (${esc(r.outcome)})` : ''}.</strong> ${nextSentence(t, c)}</p></div>
${t.tasks.filter((x) => x.stepId === 'approval').map((x) => `<p>Approval: <a href="/tasks/${esc(x.taskId)}">${esc(c.task(x.taskId)?.title ?? x.taskId)}</a>, ${esc(approvalState(x))}</p>`).join('')}
${evidenceForm}
<h2>Steps</h2><div class="scroll" data-live="steps"><table aria-label="Steps"><thead><tr><th>#</th><th>Step</th><th>Status</th><th>Channel</th><th>Detail and evidence</th></tr></thead><tbody>${steps}</tbody></table></div>
${r.plan.notes.length ? `<h2>About the plan</h2><ul aria-label="About the plan">${r.plan.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<h2>Audit</h2><div class="scroll" data-live="audit"><table aria-label="Audit"><thead><tr><th>When</th><th>Event</th><th>Actor</th><th>Details</th></tr></thead><tbody>${audit}</tbody></table></div>`,
    who,
    token('/logout'),
  );
}

export function runsPage(who: Principal, token: FormTokens, runs: readonly Timeline['run'][], next?: string): string {
  const rows = runs
    .map((r) => `<tr><td><a href="/runs/${esc(r.id)}">${esc(r.id)}</a></td><td>${esc(r.playbook)}</td><td>${esc(r.app)}</td><td>${esc(r.subject)}</td><td>${esc(r.status)}${r.outcome ? ` (${esc(r.outcome)})` : ''}</td><td>${time(r.createdAt)}</td></tr>`)
    .join('');
  return layout('Runs', `<h1>Runs</h1><div class="scroll" data-live="runs"><table aria-label="Runs"><thead><tr><th>Run</th><th>Playbook</th><th>App</th><th>Person</th><th>Status</th><th>Started</th></tr></thead><tbody>${rows}</tbody></table></div>${next ? `<p><a href="${esc(next)}" rel="next">Next page</a></p>` : ''}`, who, token('/logout'));
}

export function matrixPage(who: Principal, token: FormTokens, rows: readonly MatrixRow[], tenant: string): string {
  const head = `<tr><th></th>${rows.map((r) => `<th>${esc(r.name)}</th>`).join('')}</tr>`;
  const body = matrixColumns
    .map((c) => `<tr><th scope="row">${esc(c.heading)}</th>${rows.map((r) => {
      const fact = r.facts[c.key];
      if (!fact) return '<td>—</td>';
      const cell = fact.effective && !fact.effective.applies ? 'no (not for this tenant)' : matrixCell(fact);
      return `<td title="${esc(fact.sources?.map((s) => s.url).join(' '))}">${esc(cell)}</td>`;
    }).join('')}</tr>`)
    .join('');
  return layout(
    'Capability matrix',
    `<h1>Capability matrix — tenant ${esc(tenant)}</h1><table aria-label="Capability matrix"><thead>${head}</thead><tbody>${body}</tbody></table>
<p class="muted">doc = the vendor documents it, 3p = third party only, disputed = sources disagree. Hover a cell for its sources.</p>`,
    who,
    token('/logout'),
  );
}

/** For admins: every API token with its scopes, expiry and last use (never a secret), and a revoke button for the live ones. */
export function tokensPage(who: Principal, token: FormTokens, tokens: readonly TokenInfo[], now: number, message?: { ok: boolean; text: string }): string {
  const state = (t: TokenInfo) => (t.revokedAt ? `revoked ${time(t.revokedAt)}` : t.expiresAt !== null && t.expiresAt <= now ? `expired ${time(t.expiresAt)}` : `expires ${time(t.expiresAt)}`);
  const live = (t: TokenInfo) => !t.revokedAt && (t.expiresAt === null || t.expiresAt > now);
  const rows = tokens
    .map(
      (t) => `<tr><td>${esc(t.id)}</td><td>${esc(t.name)}</td><td>${esc(t.actor)}</td><td>${esc(t.scopes.join(' '))}</td><td>${time(t.createdAt)}</td><td>${time(t.lastUsedAt)}</td><td>${esc(state(t))}</td>
<td>${live(t) ? `<form method="post" action="/tokens/${esc(t.id)}/revoke" class="inline"><input type="hidden" name="_token" value="${esc(token(`/tokens/${t.id}/revoke`))}"><button type="submit" aria-label="Revoke token ${esc(t.id)}">Revoke</button></form>` : ''}</td></tr>`,
    )
    .join('');
  return layout(
    'API tokens',
    `<h1>API tokens</h1>${message ? `<p role="${message.ok ? 'status' : 'alert'}">${esc(message.text)}</p>` : ''}
<p class="muted">Made with <code>patchbay token create</code>; rotated with <code>patchbay token rotate</code>. Last use is kept to the minute.</p>
${tokens.length ? `<table aria-label="API tokens"><thead><tr><th>Id</th><th>Name</th><th>Acts as</th><th>Scopes</th><th>Created</th><th>Last used</th><th>State</th><th></th></tr></thead><tbody>${rows}</tbody></table>` : '<p>No API token yet.</p>'}`,
    who,
    token('/logout'),
  );
}
