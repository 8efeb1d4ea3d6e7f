// Requests in flight per client key. A key holding many long streams would otherwise fill a
// provider's connection pool (upstream-http.ts) and make every other client wait for a socket.
// A request counts from the key check until its response ends or its client leaves, streams
// included. O(1) per request: one Map read and write, and one 'close' listener.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { GatewayError } from '../errors.ts';

export interface ConcurrencyLimitOptions {
  /** Requests one key may have in flight at once (MAX_CONCURRENT_PER_KEY). */
  maxPerKey: number;
}

export default fp<ConcurrencyLimitOptions>(
  async function concurrencyLimit(app: FastifyInstance, options: ConcurrencyLimitOptions) {
    const { maxPerKey } = options;
    const inFlight = new Map<string, number>();
    const refusal = `This API key already has ${maxPerKey} requests in flight, the most it may have at once; wait for one to finish before sending another.`;

    app.addHook('onRequest', (request, reply, done) => {
      const client = request.clientId;
      const count = inFlight.get(client) ?? 0;
      if (count >= maxPerKey) return done(new GatewayError('too_many_concurrent_requests', { message: refusal, retryAfterSeconds: 1 }));
      inFlight.set(client, count + 1);
      // 'close' comes once per response: after its last byte, or when its client left (a stream
      // the route took over included).
      reply.raw.once('close', () => {
        const left = (inFlight.get(client) ?? 1) - 1;
        if (left > 0) inFlight.set(client, left);
        else inFlight.delete(client);
      });
      done();
    });
  },
  { name: 'concurrency-limit', dependencies: ['auth'] },
);
