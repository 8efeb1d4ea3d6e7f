// Every request's one summary line: what it asked, how it ended, who asked (the key's name, never
// the key), who answered and, when the first provider did not, every attempt (each failed attempt
// also has a line of its own). Written when the response finishes, or by the gateway when the
// caller left before it did (Fastify's onResponse does not run for a response that never finished).
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { loggedPath } from '../logger.ts';

/** The summary line; a request the caller left is logged with status 499. */
export function logRequest(request: FastifyRequest, reply: FastifyReply, clientLeft = false): void {
  const { trip } = request;
  const status = clientLeft ? 499 : reply.statusCode;
  request.log.info(
    {
      method: request.method,
      // The path only: a client may put a key after it or in an absolute-form target's userinfo.
      url: loggedPath(request.url),
      status,
      ms: Math.round(reply.elapsedTime),
      client: request.clientId || undefined,
      tier: request.tier,
      provider: reply.getHeader('x-llm-provider'),
      // HIT or MISS when the answer cache was asked (a hit made no provider call).
      cache: reply.getHeader('x-cache'),
      attempts: trip !== null && (trip.attempts.length > 1 || status >= 400) ? trip.attempts : undefined,
      // Events of the provider's stream that did not parse and were skipped (the answer still ended well).
      skipped_events: trip?.skippedEvents,
    },
    clientLeft ? 'client disconnected before the answer was complete' : 'request completed',
  );
}

export default fp(
  async function requestLog(app) {
    app.addHook('onResponse', async (request, reply) => logRequest(request, reply));
  },
  { name: 'request-log' },
);
