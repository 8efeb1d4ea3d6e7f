// Every response carries x-request-id: a caller's own id is kept when it is sane, otherwise a
// new UUID. The id is also the log correlation id and appears in every error body.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
export const REQUEST_ID_HEADER = 'x-request-id';

/** Fastify's genReqId: reuse a valid incoming id, never echo arbitrary header content. */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
}

export default fp(
  async function requestId(app: FastifyInstance) {
    // A callback hook rather than an async one: nothing to wait for, so no promise turn.
    app.addHook('onRequest', (request, reply, done) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      done();
    });
  },
  { name: 'request-id' },
);
