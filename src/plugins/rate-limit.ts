// @fastify/rate-limit, registered once at the root with no global limit; the protected routes,
// the not-found handler and the failed-authentication counter each create their own limiter.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError } from '../errors.ts';

export default fp(
  async function rateLimiting(app: FastifyInstance) {
    await app.register(rateLimit, {
      global: false,
      timeWindow: 60_000,
      cache: 10_000,
      errorResponseBuilder: (_request, context) =>
        new GatewayError('rate_limited', { retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)) }),
    });
  },
  { name: 'rate-limiting' },
);
