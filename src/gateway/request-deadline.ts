// Ties a request's time budget to its HTTP connection: when the client goes away, every
// upstream call made for it is aborted at once, and nothing is written to it afterwards.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RequestCancelledError, type AttemptRecord } from '../cascade/cascade.ts';
import { Deadline } from '../cascade/deadline.ts';

/** Aborts when the client goes away before the response has finished. */
export function disconnectSignal(reply: FastifyReply): AbortSignal {
  const disconnected = new AbortController();
  // 'close' also fires after a normal end; only an unfinished response means the client left.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) disconnected.abort(new DOMException('client disconnected', 'AbortError'));
  });
  return disconnected.signal;
}

export function requestDeadline(reply: FastifyReply, budgetMs: number): Deadline {
  return new Deadline(budgetMs, disconnectSignal(reply));
}

/**
 * For a cascade that produced nothing: a caller who left gets silence (the socket is dropped
 * without writing); anyone else gets the error, as `toError` words it for the route.
 */
export function noAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  attempts: AttemptRecord[],
  error: unknown,
  toError: (error: unknown) => unknown = (cause) => cause,
): FastifyReply {
  if (error instanceof RequestCancelledError) {
    // The request's last line, as 'request completed' would have been: it names the client (never the key).
    request.log.info({ attempts, status: 499, client: request.clientId || undefined }, 'client disconnected before the answer');
    reply.hijack();
    reply.raw.destroy();
    return reply;
  }
  request.log.warn({ attempts }, 'no provider answered');
  throw toError(error);
}
