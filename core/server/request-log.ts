import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { pathOf } from '../logging/logger.js';

/** Routes a load balancer or an orchestrator asks every few seconds: said at debug, not info. */
const probes = new Set(['/healthz', '/readyz']);

/**
 * How fastify logs requests on Patchbay's log: one line per request when its response has gone
 * (fastify writes two, "incoming request" and "request completed"), with `method`, `route` (the
 * pattern, e.g. /api/v1/runs/:id), `path` (without the query string, where tokens travel),
 * `status` and `durationMs`, and fastify's `reqId`. Never a header, a cookie or a body. Health probes at
 * debug (their 503 included), other 5xx and errored responses at error, the rest at info.
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
    // A probe's 503 is its answer, not a fault: /readyz says so while the server drains at a stop (said once, at
    // "stopping") and while the store is down (said by the catch-up loop), every few seconds for each prober.
    if (route && probes.has(route) && !error) request.log.debug(fields, 'request');
    else if (error || reply.statusCode >= 500) request.log.error(fields, 'request');
    else request.log.info(fields, 'request');
  }

  /** fastify's 404 line would show the raw URL, query string included: the request's own line says it. */
  override routeNotFound(): void {}
}
