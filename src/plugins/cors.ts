// CORS, for web pages that call the gateway from a browser. Off unless CORS_ORIGINS is set; then
// pages from those origins (or from any, with "*") may send requests and read the answers,
// errors included, and their browsers' preflight requests are answered before authentication
// (a preflight carries no key).
import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export interface CorsOptions {
  /** "*" for any origin, or the allowed origins as browsers send them. */
  origins: '*' | readonly string[];
}

/** What a page may read besides the body: how to correlate, who answered, how much is left. */
const EXPOSED_HEADERS = ['x-request-id', 'x-llm-provider', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'];
/** Browsers cache a preflight this long (seconds), so a page does not send one before every call. */
const PREFLIGHT_MAX_AGE_S = 600;

export default fp(
  async function cors(app: FastifyInstance, { origins }: CorsOptions) {
    const allowed = new Set(origins === '*' ? [] : origins);
    await app.register(fastifyCors, {
      // A request without Origin (curl, a server) or from an origin not allowed gets no CORS
      // headers, and such a preflight gets the gateway's own 404, not a 204.
      origin: (origin, callback) => callback(null, origin !== undefined && (origins === '*' ? '*' : allowed.has(origin))),
      methods: ['GET', 'HEAD', 'POST'],
      // The headers a page asks for are allowed as asked (the OpenAI SDKs add their own);
      // nothing travels in cookies, so credentials stay off.
      credentials: false,
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: PREFLIGHT_MAX_AGE_S,
      // The plugin's own answer to a preflight without Access-Control-Request-Method is a
      // text/plain 400; such a request is answered as any other preflight from that origin.
      strictPreflight: false,
    });
  },
  { name: 'cors' },
);
