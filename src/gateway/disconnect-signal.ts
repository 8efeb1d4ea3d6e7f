// Ties a request's time budget to its HTTP connection: when the client goes away, every
// upstream call made for it is aborted at once, and nothing is written to it afterwards.
import type { FastifyReply } from 'fastify';

/** Aborts when the client goes away before the response has finished. */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const disconnected = new AbortController();
  // 'close' also fires after a normal end; only an unfinished response means the client left.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) disconnected.abort(new DOMException('client disconnected', 'AbortError'));
  });
  return disconnected.signal;
}
