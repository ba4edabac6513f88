import type { Logger as PinoLogger } from 'pino';
import { InvalidInputError } from '../errors.js';

/**
 * The context of one log event, where it applies: the field names every line uses, so that a log
 * search for `runId` finds the server's and the worker's lines of a run alike. Anything else a line
 * carries is added beside these (`status`, `route`, `database`…).
 */
export interface LogFields {
  readonly runId?: string;
  readonly stepId?: string;
  readonly taskId?: string;
  readonly tenant?: string;
  readonly app?: string;
  readonly channel?: string;
  /** The attempt of a step (1 for the first). */
  readonly attempt?: number;
  /** How long what the line reports took, in milliseconds. */
  readonly durationMs?: number;
  readonly [field: string]: unknown;
}

/**
 * The structured log of a long-running process (`patchbay serve`, `patchbay worker`): one event per
 * call, with the process's role and pid on every line (see core/logging/pino-logger.ts for the
 * format). Secrets never belong in `fields` or `msg`; the known places they hide (Authorization,
 * cookies, passwords in URLs) are redacted by the implementation all the same.
 */
export interface Logger {
  debug(fields: LogFields, msg: string): void;
  info(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  error(fields: LogFields, msg: string): void;
  /** A logger whose every line carries `fields` too. */
  child(fields: LogFields): Logger;
  /** The pino instance underneath, handed to fastify so that it logs requests on the same lines; undefined when nothing is logged. */
  readonly pino: PinoLogger | undefined;
}

/** The logger bound by the composition root (core/container.ts). */
export const Logger = Symbol('Logger');

/** What a process is, on every line it logs. */
export type ProcessRole = 'server' | 'worker';

/** `json`: one JSON object per line (for a log shipper); `pretty`: a short line for a person at a terminal. */
export const logFormats = ['json', 'pretty'] as const;
export type LogFormat = (typeof logFormats)[number];

/** pino's levels, most severe first; `silent` logs nothing. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** A logger that drops everything: the default of every command but serve and worker, and of tests. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
  pino: undefined,
};

/**
 * The level and format chosen: `--log-level` (else PATCHBAY_LOG_LEVEL, else info) and `--log-format`
 * (else PATCHBAY_LOG_FORMAT, else pretty on a terminal and json anywhere else, e.g. under systemd,
 * in a container or piped to a file).
 * @throws InvalidInputError naming the flag or variable, for a level or format that does not exist.
 */
export function logSettings(flags: { logLevel?: string; logFormat?: string }, env: NodeJS.ProcessEnv, stderrIsTty: boolean): { level: LogLevel; format: LogFormat } {
  const level = flags.logLevel ?? (env.PATCHBAY_LOG_LEVEL || 'info');
  if (!logLevels.includes(level as LogLevel)) {
    throw new InvalidInputError({ file: flags.logLevel !== undefined ? '--log-level' : 'PATCHBAY_LOG_LEVEL' }, `must be one of ${logLevels.join(', ')} (got ${level})`);
  }
  const format = flags.logFormat ?? (env.PATCHBAY_LOG_FORMAT || (stderrIsTty ? 'pretty' : 'json'));
  if (!logFormats.includes(format as LogFormat)) {
    throw new InvalidInputError({ file: flags.logFormat !== undefined ? '--log-format' : 'PATCHBAY_LOG_FORMAT' }, `must be json or pretty (got ${format})`);
  }
  return { level: level as LogLevel, format: format as LogFormat };
}

/** A URL's path without its query string or fragment: what a log line may show of a request's address (tokens travel in queries). */
export function pathOf(url: string): string {
  return url.split(/[?#]/)[0] ?? '';
}
