// Client authentication for the protected routes only (registered inside their encapsulated
// context, so /health and /docs stay public). Keys are compared in constant time as SHA-256
// digests; the rate limiter and the logs see a key's id, never the key.
import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError } from '../errors.ts';
import { clientAddressKey } from './rate-limit.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Which configured key the caller used ("key-1", ...); set by the auth hook. */
    clientId: string;
  }
}

export interface AuthOptions {
  apiKeys: readonly string[];
  /** Failed attempts per client IP per minute before further failures get 429. */
  failuresPerMinute: number;
}

// One-shot hashing: no Hash object per request.
const digest = (value: string) => hash('sha256', value, 'buffer');

/** Takes the key from X-API-Key, or from "Authorization: Bearer" as the OpenAI SDKs send it. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const authorization = request.headers.authorization;
  // Auth schemes are case-insensitive (RFC 9110).
  if (typeof authorization === 'string' && /^bearer /i.test(authorization)) {
    const token = authorization.slice(7).trim();
    return token.length > 0 ? token : undefined;
  }
  return undefined;
}

export default fp<AuthOptions>(
  async function auth(app: FastifyInstance, options: AuthOptions) {
    const known = options.apiKeys.map((key, index) => ({ id: `key-${index + 1}`, digest: digest(key) }));
    const failures = app.createRateLimit({
      max: options.failuresPerMinute,
      timeWindow: 60_000,
      keyGenerator: clientAddressKey,
    });

    /** Compares against every key, always, so timing reveals neither a match nor its position. */
    const match = (candidate: string): string | undefined => {
      const presented = digest(candidate);
      let found: string | undefined;
      for (const key of known) {
        if (timingSafeEqual(presented, key.digest) && found === undefined) found = key.id;
      }
      return found;
    };

    /** Wrong and missing keys get the same answer; repeated failures from one IP get 429. */
    const refuse = async (request: FastifyRequest): Promise<never> => {
      const limit = await failures(request);
      if (!limit.isAllowed && limit.isExceeded) {
        request.log.warn({ ip: request.ip }, 'too many failed authentication attempts');
        throw new GatewayError('too_many_auth_failures', { retryAfterSeconds: Math.max(1, limit.ttlInSeconds) });
      }
      throw new GatewayError('unauthorized');
    };

    app.decorateRequest('clientId', '');
    // A callback hook: a known key, the usual case, goes on without waiting for a promise.
    app.addHook('onRequest', (request, reply, done) => {
      const candidate = presentedKey(request);
      const clientId = candidate === undefined ? undefined : match(candidate);
      if (clientId === undefined) return void refuse(request).catch(done);
      request.clientId = clientId;
      // An answer for one key is not for a shared cache to hand to anyone else.
      reply.header('cache-control', 'no-store');
      done();
    });
  },
  { name: 'auth', dependencies: ['@fastify/rate-limit'] },
);
