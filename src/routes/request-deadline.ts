// Ties a request's time budget to its HTTP connection: when the client goes away, every
// upstream call made for it is aborted at once.
import type { FastifyReply } from 'fastify';
import { Deadline } from '../cascade/deadline.ts';

export function requestDeadline(reply: FastifyReply, budgetMs: number): Deadline {
  const disconnected = new AbortController();
  // 'close' also fires after a normal end; only an unfinished response means the client left.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) disconnected.abort(new DOMException('client disconnected', 'AbortError'));
  });
  return new Deadline(budgetMs, disconnected.signal);
}
