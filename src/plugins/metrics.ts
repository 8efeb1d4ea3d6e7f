// Every request's HTTP metrics: counted in flight from its first hook, and its duration by route,
// method and status once its answer has ended, or by the gateway when the caller left first
// (Fastify's onResponse does not run for an answer that never finished), as the log line is.
// Registered before every other hook, so a request refused by one of them is counted too.
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayMetrics } from '../metrics/metrics.ts';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics;
  }
  interface FastifyRequest {
    /** True from the request's first hook until its metrics are recorded. */
    metricsOpen: boolean;
  }
}

/** Records the request once; a caller who left is recorded with status 499. */
export function endRequestMetrics(request: FastifyRequest, reply: FastifyReply, clientLeft = false): void {
  if (!request.metricsOpen) return;
  request.metricsOpen = false;
  request.server.metrics.requestEnded(request, reply, clientLeft ? 499 : reply.statusCode, request.trip);
}

export default fp<{ metrics: GatewayMetrics }>(
  async function requestMetrics(app, { metrics }) {
    app.decorate('metrics', metrics);
    app.decorateRequest('metricsOpen', false);
    app.addHook('onRequest', (request, _reply, done) => {
      request.metricsOpen = true;
      metrics.requestStarted();
      done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      endRequestMetrics(request, reply);
      done();
    });
  },
  { name: 'request-metrics' },
);
