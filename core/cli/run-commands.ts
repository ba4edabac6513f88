import { canaryPass, parseEvery } from './recipe-commands.js';
import { existsSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { DbosRole, Runtime, RunEngineKind, Services } from '../container.js';
import type { TaskView } from '../channels/human/task-store.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import { type RunRecord, connectorWaitedFor } from '../engine/port.js';
import { describeWait, renderRuns, renderTask, renderTasks, renderTimeline } from './render.js';
import { readUsersFile } from './users-file.js';
import { renderFeedReads } from './intake-commands.js';
import { nextPassDelay } from '../engine/next-pass.js';

export interface CliContext {
  readonly services: () => Services;
  /**
   * The store (the data folder's, created and migrated if need be, or PostgreSQL's): for commands
   * that write. `dbos`: what this process does on the DBOS engine (the worker executes runs).
   */
  readonly runtime: (dbos?: DbosRole) => Promise<Runtime>;
  /** The store if there is one, else undefined: commands that only read create none. */
  readonly existingRuntime: () => Promise<Runtime | undefined>;
  /** The PostgreSQL address chosen (`--database`, PATCHBAY_DATABASE_URL), else undefined for the embedded store. */
  readonly databaseUrl: () => string | undefined;
  /** The run engine chosen (`--engine`, PATCHBAY_ENGINE; default embedded). */
  readonly engine: () => RunEngineKind;
  readonly print: (text: string) => void;
  readonly printJson: (value: unknown) => void;
}

const operator = (by: string | undefined): string => {
  const who = by ?? process.env.PATCHBAY_OPERATOR;
  if (!who) throw new InvalidInputError({ file: 'command line', pointer: '/by' }, 'say who you are with --by <operator> (or set PATCHBAY_OPERATOR)');
  return who;
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** On DBOS the worker's intervals become crontabs: each must be one a crontab can express. @throws InvalidInputError */
async function schedulable(intervals: readonly (readonly [string, string])[]): Promise<void> {
  const { cronEvery } = await import('../engine/dbos-engine.js');
  for (const [flag, value] of intervals) {
    try {
      cronEvery(Number(value));
    } catch (cause) {
      throw new InvalidInputError({ file: 'command line', pointer: `/${flag.slice(2)}` }, `${flag}: ${(cause as Error).message}`, { cause });
    }
  }
}

/** The run and task commands: everything that needs the store. */
export function registerRunCommands(program: Command, cli: CliContext): void {
  /** The tasks these runs wait on (and `more`), read at once, as the renderers' lookup. */
  const taskLookup = (runtime: Runtime, runs: readonly { readonly waitingFor: string | null }[], more: readonly { readonly taskId: string }[] = []) =>
    runtime.tasks.lookup(runs, more);

  program
    .command('run')
    .description('start a lifecycle run, or: run status <id> | run cancel <id> --reason <text>')
    .argument('<playbook>', 'onboard, change or offboard — or status / cancel')
    .argument('[run]', 'the run id, for status and cancel')
    .option('--app <id>', 'the connector, e.g. spendesk')
    .option('--user <email>', "the person's work email")
    .option('--users-file <csv>', 'a CSV with an email column: one run per person, human work batched')
    .option('--profile <file>', 'tenant profile (default: the embedded demo tenant "acme")')
    .option('--idempotency-key <key>', 'the same key twice returns the first run')
    .option('--reason <text>', 'why, for cancel')
    .option('--by <operator>', 'who asks (default: PATCHBAY_OPERATOR)')
    .option('--json', 'print JSON')
    .action(async (playbook: string, runId: string | undefined, options: { app?: string; user?: string; usersFile?: string; profile?: string; idempotencyKey?: string; reason?: string; by?: string; json?: boolean }) => {
      if (playbook === 'status' || playbook === 'cancel') {
        if (!runId) throw new InvalidInputError({ file: 'command line' }, `run ${playbook} needs a run id`);
        if (playbook === 'cancel' && !options.reason) throw new InvalidInputError({ file: 'command line', pointer: '/reason' }, 'say why with --reason');
        const by = playbook === 'cancel' ? operator(options.by) : undefined;
        const runtime = (await cli.existingRuntime());
        if (!runtime) throw new NotFoundError('run', runId);
        if (by) await runtime.runs.cancel(runId, options.reason!, by);
        await runtime.runs.settle();
        const timeline = await runtime.runs.timeline(runId);
        if (options.json) cli.printJson(timeline);
        else cli.print(renderTimeline(timeline, await taskLookup(runtime, [timeline.run], timeline.tasks)));
        return;
      }
      if (!options.app) throw new InvalidInputError({ file: 'command line', pointer: '/app' }, 'required option --app <id> not given');
      if (!!options.user === !!options.usersFile) throw new InvalidInputError({ file: 'command line', pointer: '/subject' }, 'give either --user <email> or --users-file <csv>');
      const { profiles, planner } = cli.services();
      const profile = profiles.load(options.profile);
      const people = options.usersFile ? await readUsersFile(options.usersFile) : [{ email: options.user!, source: 'command line' }];
      const incoming = people.map((p) => ({
        source: p.source,
        request: {
          playbook,
          app: options.app,
          subject: { email: p.email, ...('firstName' in p && p.firstName ? { firstName: p.firstName } : {}), ...('lastName' in p && p.lastName ? { lastName: p.lastName } : {}) },
        },
      }));
      // Every request is checked and planned before the store is opened: a bad one creates nothing.
      for (const { request, source } of incoming) {
        try {
          planner.plan(request, profile, source);
        } catch (error) {
          // An app nobody has a connector for is a bad --app: say where it came from.
          if (error instanceof NotFoundError && error.kind === 'connector') throw new InvalidInputError({ file: 'command line', pointer: '/app' }, error.message, { cause: error });
          throw error;
        }
      }
      const runtime = (await cli.runtime());
      const results = await runtime.runs.start(incoming, profile, { ...(options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {}), ...(options.by ?? process.env.PATCHBAY_OPERATOR ? { requestedBy: options.by ?? process.env.PATCHBAY_OPERATOR } : {}) });
      const tasks = await taskLookup(runtime, results.map((r) => r.run));
      if (options.json) {
        cli.printJson(results.map(({ run, created }) => ({ created, id: run.id, playbook: run.playbook, app: run.app, subject: run.subject, status: run.status, outcome: run.outcome, waitingFor: describeWait(run, tasks) })));
        return;
      }
      if (results.length === 1) {
        const { run, created } = results[0]!;
        cli.print(created ? `Started ${run.id}: ${run.playbook} ${run.subject} — ${run.app} (tenant ${run.tenant})` : `${run.id} is already open for ${run.playbook} ${run.subject} — ${run.app}: returned it, nothing new was started`);
        cli.print(`Now: ${describeWait(run, tasks)}`);
        if (run.waitingFor?.startsWith('task:')) cli.print(`Next: patchbay task show ${run.waitingFor.slice(5)}`);
        return;
      }
      const created = results.filter((r) => r.created).length;
      cli.print(renderRuns(results.map((r) => r.run), tasks));
      cli.print(`${created} runs started, ${results.length - created} already open`);
    });

  program
    .command('runs')
    .description('list runs, newest first')
    .option('--status <status>', 'running, waiting, completed, failed or cancelled')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .action(async (options: { status?: 'running'; limit: string; json?: boolean }) => {
      const runtime = (await cli.existingRuntime());
      await runtime?.runs.settle();
      const runs = !runtime ? [] : await runtime.engine.list({ ...(options.status ? { status: options.status } : {}), limit: Number(options.limit) });
      if (options.json) cli.printJson(runs.map(({ profile: _profile, plan: _plan, ...r }) => r));
      else cli.print(runs.length && runtime ? renderRuns(runs, await taskLookup(runtime, runs)) : 'no runs yet: start one with patchbay run offboard --app spendesk --user <email>');
    });

  program
    .command('evidence')
    .description('tell a waiting run that an account exists (for a step waiting on JIT)')
    .argument('<run>', 'the run id')
    .requiredOption('--step <step>', 'the step waiting for evidence, e.g. spendesk-create-user')
    .requiredOption('--text <text>', 'what shows the account exists (an IdP sign-in event, a read of the members list)')
    .option('--by <operator>', 'who gives it (default: PATCHBAY_OPERATOR)')
    .action(async (runId: string, options: { step: string; text: string; by?: string }) => {
      const by = operator(options.by);
      const runtime = (await cli.existingRuntime());
      if (!runtime) throw new NotFoundError('run', runId);
      const run = await runtime.runs.giveEvidence(runId, options.step, by, options.text);
      cli.print(`${run.id}: ${describeWait(run, await taskLookup(runtime, [run]))}`);
    });

  program
    .command('tasks')
    .description('the task inbox: open tasks by due time')
    .option('--queue <queue>', 'only this queue')
    .option('--mine', 'only tasks for the operator (--by or PATCHBAY_OPERATOR)')
    .option('--by <operator>', 'who you are')
    .option('--all', 'closed tasks too')
    .option('--json', 'print JSON')
    .action(async (options: { queue?: string; mine?: boolean; by?: string; all?: boolean; json?: boolean }) => {
      const mine = options.mine ? operator(options.by) : undefined;
      const runtime = (await cli.existingRuntime());
      await runtime?.runs.settle();
      const tasks = runtime ? await runtime.tasks.list({ ...(options.queue ? { queue: options.queue } : {}), status: options.all ? 'all' : 'open', ...(mine ? { operator: mine } : {}) }) : [];
      if (options.json) cli.printJson(tasks);
      else cli.print(tasks.length ? renderTasks(tasks) : 'no open tasks');
    });

  const task = program.command('task').description('show, complete, fail or reassign one task');

  task
    .command('show')
    .argument('<task>', 'the task id')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const runtime = (await cli.existingRuntime());
      if (!runtime) throw new NotFoundError('task', id);
      await runtime.runs.settle();
      const view = await runtime.tasks.get(id);
      if (options.json) cli.printJson(view);
      else cli.print(renderTask(view));
    });

  task
    .command('complete')
    .description('complete the task (or tick one checklist step with --step) with evidence')
    .argument('<task>', 'the task id')
    .option('--by <operator>', 'who you are (default: PATCHBAY_OPERATOR)')
    .option('--step <n>', 'tick checklist step n only; the task stays open')
    .option('--evidence <text|file>', 'what shows it is done: text, or the path of a file (repeatable)', collect)
    .option('--already-done', 'there was nothing to do (the account was already gone)')
    .option('--person <email>', "complete only this person's section of a batched task")
    .option('--json', 'print JSON')
    .action(async (id: string, options: { by?: string; step?: string; evidence?: string[]; alreadyDone?: boolean; person?: string; json?: boolean }) => {
      const by = operator(options.by);
      if (options.step !== undefined && !/^[1-9]\d{0,3}$/.test(options.step)) throw new InvalidInputError({ file: 'command line', pointer: '/step' }, `--step must be a checklist step number (got ${options.step})`);
      const runtime = (await cli.existingRuntime());
      if (!runtime) throw new NotFoundError('task', id);
      let view: TaskView;
      if (options.step !== undefined) {
        view = await runtime.tasks.tickStep(id, Number(options.step), by);
      } else {
        const evidence = (options.evidence ?? []).map((e) => (existsSync(e) && statSync(e).isFile() ? { file: e } : { text: e }));
        view = await runtime.runs.completeTask(id, { by, evidence, ...(options.alreadyDone ? { alreadyDone: true } : {}), ...(options.person ? { person: options.person } : {}) });
      }
      if (options.json) {
        cli.printJson(await runtime.tasks.get(id));
        return;
      }
      if (options.step !== undefined) {
        cli.print(`${id}: step ${options.step} ticked (${view.stepsDone.length} of ${view.content.runbook.steps.length})`);
        return;
      }
      cli.print(`${id}: ${(await runtime.tasks.get(id)).status}`);
      for (const item of view.items.filter((i) => i.closedBy === by)) {
        const run = await runtime.engine.get(item.runId);
        cli.print(`  ${run.id} (${run.subject}): ${describeWait(run, await taskLookup(runtime, [run]))}`);
        sayConnectorWait(run);
      }
    });

  task
    .command('fail')
    .description('say the task cannot be done: the step moves to its next channel, or escalates')
    .argument('<task>', 'the task id')
    .requiredOption('--reason <text>', 'why it cannot be done')
    .option('--by <operator>', 'who you are (default: PATCHBAY_OPERATOR)')
    .option('--person <email>', "only this person's section")
    .action(async (id: string, options: { reason: string; by?: string; person?: string }) => {
      const by = operator(options.by);
      const runtime = (await cli.existingRuntime());
      if (!runtime) throw new NotFoundError('task', id);
      const view = await runtime.runs.failTask(id, { by, reason: options.reason, ...(options.person ? { person: options.person } : {}) });
      cli.print(`${id}: failed`);
      for (const item of view.items) {
        const run = await runtime.engine.get(item.runId);
        cli.print(`  ${run.id} (${run.subject}): ${describeWait(run, await taskLookup(runtime, [run]))}`);
        sayConnectorWait(run);
      }
    });

  task
    .command('reassign')
    .description('move the task to another queue, or give it to one operator')
    .argument('<task>', 'the task id')
    .option('--queue <queue>', 'the new queue')
    .option('--to <operator>', 'the operator who takes it')
    .option('--by <operator>', 'who you are (default: PATCHBAY_OPERATOR)')
    .action(async (id: string, options: { queue?: string; to?: string; by?: string }) => {
      if (!options.queue && !options.to) throw new InvalidInputError({ file: 'command line' }, 'give --queue <queue> or --to <operator>');
      const by = operator(options.by);
      const runtime = (await cli.existingRuntime());
      if (!runtime) throw new NotFoundError('task', id);
      const view = await runtime.tasks.reassign(id, { by, ...(options.queue ? { queue: options.queue } : {}), ...(options.to ? { assignee: options.to } : {}) });
      cli.print(`${id}: queue ${view.queue}${view.assignee ? `, assigned to ${view.assignee}` : ''}`);
    });

  program
    .command('audit')
    .description('audit verify: check the hash chain of the audit log')
    .argument('<action>', 'verify')
    .option('--json', 'print JSON')
    .action(async (action: string, options: { json?: boolean }) => {
      if (action !== 'verify') throw new InvalidInputError({ file: 'command line' }, `unknown audit action '${action}' (known: verify)`);
      const result = (await (await cli.existingRuntime())?.engine.audit.verify()) ?? { rows: 0 };
      if (options.json) cli.printJson({ ok: !result.broken, ...result });
      else if (result.broken) cli.print(`audit log BROKEN at row ${result.broken.seq}: ${result.broken.reason} (${result.rows} rows read)`);
      else cli.print(`audit log intact: ${result.rows} rows, every link holds`);
      if (result.broken) process.exitCode = 1;
    });

  program
    .command('worker')
    .description('keep the engine going: advance due runs, escalate overdue tasks, deliver notifications')
    .option('--interval <seconds>', 'how often to look for work', '5')
    .option('--once', 'one pass, then exit')
    .option('--watch-idp', "also read the IdP's leavers into offboardings (as patchbay leavers does)")
    .option('--idp-interval <seconds>', 'how often to read the leavers', '60')
    .option('--profile <file>', 'tenant profile for --watch-idp and --recipe-check-every (default: the embedded demo tenant)')
    .option('--recipe-check-every <duration>', "also run the browser apps' read-only recipes as a canary this often, e.g. 6h (as patchbay recipe check does)")
    .option('--concurrency <n>', 'browser jobs this worker runs at once, each in its own browser context (default: from the cores and the free memory, said at start)')
    .action(async (options: { interval: string; once?: boolean; watchIdp?: boolean; idpInterval: string; profile?: string; recipeCheckEvery?: string; concurrency?: string }) => {
      if (options.concurrency !== undefined && !/^[1-9]\d{0,2}$/.test(options.concurrency))
        throw new InvalidInputError({ file: 'command line', pointer: '/concurrency' }, `--concurrency must be a whole number of browser jobs from 1 to 999 (got ${options.concurrency})`);
      const onDbos = cli.engine() === 'dbos';
      if (onDbos) await schedulable([['--interval', options.interval], ...(options.watchIdp ? [['--idp-interval', options.idpInterval] as const] : [])]);
      const { defaultBrowserContexts } = await import('../channels/browser/browser-host.js');
      const machine = defaultBrowserContexts();
      const concurrency = options.concurrency !== undefined ? Number(options.concurrency) : machine.contexts;
      // On DBOS the worker executes runs off the shared queue (its run slots are not its browser contexts: a run waiting for a person holds one), and the periodic work as scheduled jobs (once across workers).
      const runtime = await cli.runtime(onDbos ? { execute: true, maintenanceEverySeconds: Number(options.interval), leavers: options.watchIdp === true } : undefined);
      runtime.browser.contexts = concurrency;
      const canaryEvery = options.recipeCheckEvery ? parseEvery(options.recipeCheckEvery, '--recipe-check-every') : undefined;
      const loaded = options.watchIdp || canaryEvery ? cli.services().profiles.load(options.profile) : undefined;
      const log = cli.services().logger;
      const readLeavers = async () => {
        const reads = await runtime.leavers.read(loaded!);
        const said = reads.filter((r) => r.started.some((s) => s.created) || r.problems.length);
        const started = reads.reduce((n, r) => n + r.started.filter((s) => s.created).length, 0);
        if (said.length) log.info({ tenant: loaded!.profile.tenant, started }, renderFeedReads(said));
        return { read: reads.length, started };
      };
      const feedScheduled = loaded && options.watchIdp && !options.once ? await runtime.schedule('leavers', Number(options.idpInterval), readLeavers) : false;
      let lastCanary = 0;
      let stop = false;
      let lastFeedRead = 0;
      let wake: (() => void) | undefined;
      // A graceful stop: no new run is claimed, the step in flight finishes and its run goes to another process at once.
      let stoppedAt = 0;
      const stopping = (signal: NodeJS.Signals) => {
        stop = true;
        stoppedAt = Date.now();
        log.info({ signal }, 'patchbay worker: stopping: no new run is claimed, the step in flight finishes and its run is handed to another process');
        void runtime.engine.handOver?.().then(() => log.info({ durationMs: Date.now() - stoppedAt }, 'patchbay worker: the runs driven here are handed over'));
        wake?.();
      };
      process.once('SIGINT', stopping);
      process.once('SIGTERM', stopping);
      const { isStoreUnavailable, describeDatabaseError } = await import('../store/sql.js');
      const engineSaid = onDbos ? ' with the dbos engine (runs from the shared queue; escalations, notifications and takeovers once across workers)' : '';
      // runtime.store.location is the address without its password.
      const where = { engine: cli.engine(), databaseKind: runtime.store.dialect, database: runtime.store.location };
      log.info(
        { ...where, intervalS: Number(options.interval), once: options.once === true, ...(options.watchIdp ? { idpIntervalS: Number(options.idpInterval) } : {}), canary: canaryEvery !== undefined },
        `patchbay worker: on ${runtime.store.location}${engineSaid}, ${options.once ? 'one pass' : `a pass every ${options.interval} s`}${options.watchIdp ? `, the IdP's leavers every ${options.idpInterval} s` : ''}${canaryEvery ? ', the recipe canary' : ''}; Ctrl-C or SIGTERM stops it (the step in flight finishes, its run is handed to another process)`,
      );
      log.info(
        { concurrency, ...(options.concurrency === undefined ? { cores: machine.cores, freeBytes: machine.freeBytes } : {}) },
        `patchbay worker: up to ${concurrency} browser job${concurrency === 1 ? '' : 's'} at a time, each in its own context (${options.concurrency !== undefined ? '--concurrency' : `from ${machine.cores} cores and ${(machine.freeBytes / 2 ** 30).toFixed(1)} GiB free memory; --concurrency sets it`})`,
      );
      let down: string | undefined;
      do {
        try {
          if (loaded && options.watchIdp && !feedScheduled && Date.now() - lastFeedRead >= Number(options.idpInterval) * 1000) {
            lastFeedRead = Date.now();
            await readLeavers();
          }
          if (loaded && canaryEvery && Date.now() - lastCanary >= canaryEvery) {
            lastCanary = Date.now();
            for (const line of await canaryPass(cli, loaded.profile, loaded.file)) log.info({ tenant: loaded.profile.tenant }, line);
          }
          await runtime.runs.settle({ concurrency });
          if (down) log.info({ database: runtime.store.location }, 'patchbay worker: the store answers again');
          down = undefined;
        } catch (error) {
          // A database restart or failover is waited out, said once, not fatal: the runs are safe in the store.
          if (options.once || !isStoreUnavailable(error)) throw error;
          const said = describeDatabaseError(error);
          if (said !== down) log.warn({ database: runtime.store.location, error: said }, `patchbay worker: the store does not answer (${said}); trying again every ${options.interval} s`);
          down = said;
        }
        if (options.once || stop) break;
        // Until the next timer, task due time or notification retry, at most --interval: a retry due in 2 s
        // is not left for a whole interval, and an idle worker does not wake for nothing.
        const intervalMs = Number(options.interval) * 1000;
        const due = down ? null : await runtime.runs.nextDueIn().catch(() => null);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, nextPassDelay(due, { minMs: Math.min(250, intervalMs), maxMs: intervalMs }));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      } while (!stop);
      if (stop) log.info({ durationMs: Date.now() - stoppedAt }, 'patchbay worker: stopped; closing the browser and the store');
    });
}

/**
 * A run this command drove that parked because its connector is not in this process's catalogue:
 * said on stderr, and the command exits 1 (the task's own change was recorded; the run waits).
 */
function sayConnectorWait(run: RunRecord): void {
  const connector = connectorWaitedFor(run.waitingFor);
  if (!connector) return;
  process.stderr.write(`patchbay: ${run.id} waits: ${run.waitingFor}; it is tried again${run.wakeAt ? ` at ${new Date(run.wakeAt).toISOString()}` : ' later'} by a process that has the connector (set PATCHBAY_CONNECTORS as when the run started)\n`);
  process.exitCode = 1;
}
