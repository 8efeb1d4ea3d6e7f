// Client authentication for the protected routes only (registered inside their encapsulated
// context, so /health and /docs stay public). Keys are compared in constant time as SHA-256
// digests; the rate limiter and the logs see a key's id, never the key. With JWT_JWKS_URL set, a
// bearer value that is no key but has a JWT's shape is verified as a signed-in user's token
// (auth/jwt.ts), whose subject then stands where a key's id would.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { JwtVerifier } from '../auth/jwt.ts';
import type { Clients, Policy } from '../clients/clients.ts';
import { checkRoute } from '../clients/permissions.ts';
import { GatewayError } from '../errors.ts';
import { clientAddressKey } from './rate-limit.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who is calling, for limits, logs, usage and the answer cache's scope: an API_KEYS key's id
     * ("key-1", ...), a KEYS_FILE client's name, or a token's subject ("jwt:<sub>"); set by the auth hook.
     */
    clientId: string;
    /** The client's tier: a KEYS_FILE client's, the one a token's JWT_TIER_CLAIM named, or undefined for the default. */
    tier: string | undefined;
    /** What the client may do (its tier's limits, routes and models); set with clientId. */
    policy: Policy | undefined;
  }
}

export interface AuthOptions {
  /** API_KEYS and KEYS_FILE's clients. */
  clients: Clients;
  /** Failed attempts per client IP per minute before further failures get 429. */
  failuresPerMinute: number;
  /** Set when signed-in users' tokens are accepted too. */
  jwt?: JwtVerifier | undefined;
}

/** The 401's message once tokens are accepted too; the same for every failure. */
const KEY_OR_TOKEN = 'A valid API key or sign-in token is required: send X-API-Key: <key>, or Authorization: Bearer <key or token>.';

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
    const { clients } = options;
    const failures = app.createRateLimit({
      max: options.failuresPerMinute,
      timeWindow: 60_000,
      keyGenerator: clientAddressKey,
    });

    const { jwt } = options;
    const unauthorized = () => (jwt === undefined ? new GatewayError('unauthorized') : new GatewayError('unauthorized', { message: KEY_OR_TOKEN }));

    /** Wrong and missing keys and tokens get the same answer; repeated failures from one IP get 429. */
    const refuse = async (request: FastifyRequest): Promise<never> => {
      const limit = await failures(request);
      if (!limit.isAllowed && limit.isExceeded) {
        request.log.warn({ ip: request.ip }, 'too many failed authentication attempts');
        throw new GatewayError('too_many_auth_failures', { retryAfterSeconds: Math.max(1, limit.ttlInSeconds) });
      }
      throw unauthorized();
    };

    /** A token, verified: who it stands for, or the refusal (its reason class logged, never sent). */
    const signIn = async (request: FastifyRequest, verifier: JwtVerifier, token: string): Promise<void> => {
      const result = await verifier.verify(token);
      if (!result.ok) {
        request.log.info({ auth_failure: result.reason }, 'bearer token refused');
        return refuse(request);
      }
      request.clientId = result.clientId;
      request.policy = clients.policyForTier(result.tier);
      // As the token named it; the policy is the default tier's when the clients file does not define it.
      request.tier = result.tier;
      checkRoute(request.policy, request.routeOptions.url);
    };

    app.decorateRequest('clientId', '');
    app.decorateRequest('tier', undefined);
    app.decorateRequest('policy', undefined);
    // A callback hook: a known key, the usual case, goes on without waiting for a promise.
    app.addHook('onRequest', (request, reply, done) => {
      const candidate = presentedKey(request);
      const client = candidate === undefined ? undefined : clients.match(candidate);
      // An answer for one caller is not for a shared cache to hand to anyone else.
      if (client !== undefined) {
        request.clientId = client.name;
        request.policy = client.policy;
        if (client.policy.tier !== 'default') request.tier = client.policy.tier;
        reply.header('cache-control', 'no-store');
        try {
          checkRoute(client.policy, request.routeOptions.url);
        } catch (error) {
          return done(error as Error);
        }
        return done();
      }
      // Tokens come only as Authorization: Bearer, as identity providers' SDKs send them.
      const xApiKey = request.headers['x-api-key'];
      const bearer = typeof xApiKey !== 'string' || xApiKey.length === 0;
      if (jwt === undefined || candidate === undefined || !bearer || !jwt.accepts(candidate)) return void refuse(request).catch(done);
      signIn(request, jwt, candidate).then(() => {
        reply.header('cache-control', 'no-store');
        done();
      }, done);
    });
  },
  { name: 'auth', dependencies: ['@fastify/rate-limit'] },
);
