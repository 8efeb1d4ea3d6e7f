// GET /metrics: Prometheus' text format. Outside the per-key limit (Prometheus is no API client);
// who may read it is decided in metrics/scrape-access.ts. Wrong tokens count against the same
// per-IP limit of failures as wrong API keys.
import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { GatewayError } from '../errors.ts';
import { bearerToken, fromThisMachine, tokenCheck } from '../metrics/scrape-access.ts';
import { errorResponseSchema } from '../schemas/error.ts';

export interface MetricsRouteOptions {
  /** METRICS_TOKEN; unset, only direct loopback connections may scrape. */
  token: string | undefined;
  failuresPerMinute: number;
}

const metricsRoute: FastifyPluginAsyncZod<MetricsRouteOptions> = async (app, { token, failuresPerMinute }) => {
  const failures = app.createRateLimit({ max: failuresPerMinute, timeWindow: 60_000, keyGenerator: (request) => request.ip });
  const tokenMatches = token === undefined ? undefined : tokenCheck(token);

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'The gateway\'s metrics in Prometheus\' text format. With METRICS_TOKEN set, send it as "Authorization: Bearer <token>"; ' +
          'without it, only a direct connection from the machine itself (loopback, no forwarding header) may read them.',
        security: [{ MetricsToken: [] }],
        response: {
          200: z.string().describe('Prometheus text exposition format 0.0.4'),
          401: errorResponseSchema.describe('unauthorized: METRICS_TOKEN is set and the request did not send it'),
          403: errorResponseSchema.describe('forbidden: METRICS_TOKEN is not set and the request did not come directly from loopback'),
          429: errorResponseSchema.describe('too_many_auth_failures: too many wrong tokens or keys from this address'),
          503: errorResponseSchema.describe('shutting_down: the gateway is draining'),
        },
      },
    },
    async (request, reply) => {
      if (tokenMatches === undefined) {
        if (!fromThisMachine(request)) {
          throw new GatewayError('forbidden', { message: 'Metrics are served to this machine only; set METRICS_TOKEN to scrape from elsewhere, and send it as "Authorization: Bearer <token>".' });
        }
      } else if (!tokenMatches(bearerToken(request))) {
        const limit = await failures(request);
        if (!limit.isAllowed && limit.isExceeded) throw new GatewayError('too_many_auth_failures', { retryAfterSeconds: Math.max(1, limit.ttlInSeconds) });
        throw new GatewayError('unauthorized', { message: 'Send METRICS_TOKEN as "Authorization: Bearer <token>".' });
      }
      const text = await app.metrics.scrape();
      return reply.header('cache-control', 'no-store').type(app.metrics.contentType).serializer((payload) => payload as string).send(text);
    },
  );
};

export default metricsRoute;
