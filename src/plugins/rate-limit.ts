// @fastify/rate-limit, registered once at the root with no global limit; the protected routes,
// the not-found handler and the failed-authentication counter each create their own limiter.
import rateLimit, { normalizeIP, type errorResponseBuilderContext, type RateLimitPluginOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError } from '../errors.ts';

/** An IPv6 client usually holds a whole /64 and can take any address in it. */
const IPV6_PREFIX = 64;

/**
 * What the per-address limits (wrong keys, unknown routes) count a request under: its address as
 * TRUST_PROXY resolves it, an IPv6 address by its /64 and an IPv4-mapped one as IPv4, so one
 * client cannot rotate through the addresses it owns.
 */
export const clientAddressKey = (request: FastifyRequest): string => normalizeIP(request.ip, IPV6_PREFIX);

/** A limiter's 429: `rate_limited` with Retry-After, its message saying which limit it was and when to retry. */
export const rateLimitedError =
  (which: (context: errorResponseBuilderContext, request: FastifyRequest) => string) =>
  (request: FastifyRequest, context: errorResponseBuilderContext): GatewayError => {
    const seconds = Math.max(1, Math.ceil(context.ttl / 1000));
    return new GatewayError('rate_limited', { retryAfterSeconds: seconds, message: `${which(context, request)} Retry in ${seconds} second${seconds === 1 ? '' : 's'}.` });
  };

/** The per-key limit's message: the only limiter that takes the plugin's default. */
const perKeyLimit = (context: errorResponseBuilderContext, request: FastifyRequest) =>
  request.tier !== undefined && request.policy?.tier === request.tier
    ? `Rate limit exceeded for this client: ${context.max} requests a minute (its tier ${request.tier}'s requests_per_minute).`
    : `Rate limit exceeded for this API key: ${context.max} requests a minute (RATE_LIMIT_PER_MINUTE).`;

export interface RateLimitingOptions {
  /** Where the counts live (state/shared-limit-store.ts): Redis for the per-key limit with REDIS_URL. */
  store: RateLimitPluginOptions['store'];
}

export default fp<RateLimitingOptions>(
  async function rateLimiting(app: FastifyInstance, options: RateLimitingOptions) {
    await app.register(rateLimit, {
      global: false,
      ...(options.store === undefined ? {} : { store: options.store }),
      timeWindow: 60_000,
      cache: 10_000,
      errorResponseBuilder: rateLimitedError(perKeyLimit),
    });
  },
  { name: 'rate-limiting' },
);
