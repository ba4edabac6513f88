import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { pathOf } from '../logging/logger.js';

/** Routes a load balancer or an orchestrator asks every few seconds: said at debug, not info. */
const probes = new Set(['/healthz', '/readyz']);

/**
 * How fastify logs requests on Patchbay's log: one line per request when its response has gone
 * (fastify writes two, "incoming request" and "request completed"), with `method`, `route` (the
 * pattern, e.g. /api/v1/runs/:id), `path` (without the query string, where tokens travel),
 * `status` and `durationMs`, and fastify's `reqId`. Never a header, a cookie or a body. 5xx and
 * errored responses at error, health probes at debug, the rest at info.
 */
export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url;
    const fields = {
      method: request.method,
      route,
      path: pathOf(request.url),
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 10) / 10,
      ...(error ? { error: error.message } : {}),
    };
    if (error || reply.statusCode >= 500) request.log.error(fields, 'request');
    else if (route && probes.has(route)) request.log.debug(fields, 'request');
    else request.log.info(fields, 'request');
  }

  /** fastify's 404 line would show the raw URL, query string included: the request's own line says it. */
  override routeNotFound(): void {}
}
