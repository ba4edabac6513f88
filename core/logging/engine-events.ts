import type { AuditRecord } from '../engine/audit.js';
import type { LogFields, Logger } from './logger.js';

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const number = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);

/** Drops the fields without a value, so that a line carries only the context that applies. */
function defined(fields: Record<string, unknown>): LogFields {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

/**
 * Says one engine event (an audit record, as the audit log hands it to its listeners) in the
 * process's log: run started, step done, step failed on a channel (the next channel, a person, may
 * still do it), retry scheduled, run finished, run handed
 * over and tasks opened at info or above; every other event at debug, by its type. The person a run
 * is for is left out (the run id leads to them through the audit log): logs travel further than the store.
 */
export function logEngineEvent(log: Logger, event: AuditRecord): void {
  const d = event.data;
  const base = { runId: event.runId, taskId: event.taskId, event: event.type };
  switch (event.type) {
    case 'run.started':
      return log.info(defined({ ...base, app: text(d.app), playbook: text(d.playbook), steps: number(d.steps) }), 'run started');
    case 'step.done':
    case 'step.already-done':
      return log.info(defined({ ...base, stepId: text(d.step), channel: text(d.channel), status: event.type.slice('step.'.length) }), 'step done');
    case 'channel.failed':
      return log.warn(defined({ ...base, stepId: text(d.step), channel: text(d.channel), detail: text(d.detail) }), 'step failed on its channel');
    case 'step.retry':
      return log.warn(defined({ ...base, stepId: text(d.step), attempt: number(d.attempt), delayMs: number(d.delayMs), error: text(d.error) }), 'retry scheduled');
    case 'run.completed':
    case 'run.failed':
    case 'run.cancelled': {
      const fields = defined({ ...base, status: event.type.slice('run.'.length), outcome: text(d.outcome) ?? (event.type === 'run.cancelled' ? 'cancelled' : undefined), summary: text(d.summary) ?? text(d.reason) });
      return event.type === 'run.failed' ? log.error(fields, 'run finished') : log.info(fields, 'run finished');
    }
    case 'run.handed-over':
      return log.info(defined({ ...base, reason: text(d.reason) }), 'run handed over');
    case 'task.opened':
      return log.info(defined({ ...base, stepId: text(d.step), queue: text(d.queue) }), 'task opened');
    default:
      return log.debug(defined({ ...base, stepId: text(d.step) }), event.type);
  }
}
