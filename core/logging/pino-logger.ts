import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import { type LogFields, type LogFormat, type Logger, type LogLevel, type ProcessRole, pathOf } from './logger.js';

/**
 * Where secrets hide in what is logged, censored by pino before a line is written: request headers
 * (Authorization, cookies, the SCIM bridge's bearer), response cookies, and any field named like a
 * credential. The request serializer below logs no header and no query string at all; these paths
 * are the second line, for an object that reaches a log some other way (an error's request, a
 * vendor client's config).
 */
export const redactedPaths: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'res.headers["set-cookie"]',
  'err.config.headers.Authorization',
  'err.config.headers.authorization',
  'password',
  'token',
  'secret',
  'cookie',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.cookie',
  '*.authorization',
];

/** A request as a log line shows it: method, route and path, never a header, a cookie or the query string (tokens travel there). */
function requestFields(req: { method?: string; url?: string; routeOptions?: { url?: string }; id?: unknown }): Record<string, unknown> {
  return { method: req.method, route: req.routeOptions?.url, path: pathOf(req.url ?? '') };
}

export interface CreateLoggerOptions {
  readonly role: ProcessRole;
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** Where lines go (default: stderr, written synchronously so that nothing is lost at exit). */
  readonly destination?: { write(line: string): unknown };
}

/**
 * The logger of `patchbay serve` or `patchbay worker`, on pino. Every line carries `time` (ISO 8601,
 * UTC), `level` (its name: info, warn…), `role` (server or worker), `pid` and `msg`, then the
 * event's fields (LogFields). `json` writes the object as one line; `pretty` writes
 * `HH:MM:SS.mmm LEVEL msg key=value…` for a person at a terminal (pino-pretty is not needed for that).
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const target = options.destination ?? pino.destination({ fd: 2, sync: true });
  const stream: DestinationStream = options.format === 'pretty' ? { write: (line: string) => void target.write(prettyLine(line)) } : (target as DestinationStream);
  const instance = pino(
    {
      level: options.level ?? 'info',
      base: { role: options.role, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...redactedPaths], censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err, req: requestFields, res: (res: { statusCode?: number }) => ({ status: res.statusCode }) },
    },
    stream,
  );
  return wrap(instance);
}

function wrap(instance: PinoLogger): Logger {
  return {
    debug: (fields: LogFields, msg: string) => instance.debug(fields, msg),
    info: (fields: LogFields, msg: string) => instance.info(fields, msg),
    warn: (fields: LogFields, msg: string) => instance.warn(fields, msg),
    error: (fields: LogFields, msg: string) => instance.error(fields, msg),
    child: (fields: LogFields) => wrap(instance.child(fields)),
    pino: instance,
  };
}

/** Fields the pretty line leaves out: said by the line's start, or the same on every line. */
const prettyOmitted = new Set(['time', 'level', 'msg', 'role', 'pid', 'hostname']);

/** One JSON line as pino wrote it, as a short human line (newline-terminated). */
export function prettyLine(line: string): string {
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const time = typeof event.time === 'string' ? event.time.slice(11, 23) : '';
  const level = String(event.level ?? '').toUpperCase().padEnd(5);
  const rest = Object.entries(event)
    .filter(([key, value]) => !prettyOmitted.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`);
  return `${time} ${level} ${String(event.msg ?? '')}${rest.length ? `  ${rest.join(' ')}` : ''}\n`;
}
