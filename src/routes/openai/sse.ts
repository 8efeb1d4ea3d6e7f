// Server-sent events for the streaming routes: headers that keep proxies from buffering, one
// `data:` line per event (after an `event:` line where the API names its events, as Responses
// does) written the moment it is ready.
import { once } from 'node:events';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  // An answer for one key, like every other: no cache may keep it.
  'cache-control': 'no-store',
  // nginx and similar proxies otherwise hold events back until a buffer fills.
  'x-accel-buffering': 'no',
};

/**
 * An event stream written straight to the response. The reply is taken over from Fastify (its
 * stream handling would put a pipe and its hooks between an event and the socket); the headers
 * set on the reply (request id, rate limit, provider) go out with the status, in the same packet as
 * the first events. onResponse hooks and logging still run when the response finishes.
 */
export class SseWriter {
  readonly #res: ServerResponse;

  constructor(reply: FastifyReply) {
    reply.hijack();
    this.#res = reply.raw;
    // The client may leave at any time; a failed write then has nobody to tell.
    this.#res.on('error', () => undefined);
    // getHeaders() hands back a fresh object: it can take the event-stream headers as it is.
    this.#res.writeHead(200, Object.assign(reply.getHeaders() as OutgoingHttpHeaders, SSE_HEADERS));
  }

  get open(): boolean {
    return !this.#res.destroyed && !this.#res.writableEnded;
  }

  /** Writes one event (JSON unless already a string); waits while the client is slow to read. */
  send(data: unknown, signal: AbortSignal): Promise<void> {
    return this.sendAll([data], signal);
  }

  /** Writes events that are ready together in one write: one packet, one system call. */
  async sendAll(events: readonly unknown[], signal: AbortSignal): Promise<void> {
    if (!this.open) return;
    let text = '';
    // JSON.stringify never emits a raw line break, so every event is exactly one data: line.
    for (const data of events) text += `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    if (this.#res.write(text)) return;
    await this.#drained(signal);
  }

  /** Writes named events (`event:` then `data:`, the data already JSON) in one write. */
  async sendNamed(events: ReadonlyArray<readonly [name: string, data: string]>, signal: AbortSignal): Promise<void> {
    if (!this.open) return;
    let text = '';
    for (const [name, data] of events) text += `event: ${name}\ndata: ${data}\n\n`;
    if (this.#res.write(text)) return;
    await this.#drained(signal);
  }

  async #drained(signal: AbortSignal): Promise<void> {
    // Until drained, closed or the caller leaves; the listeners go when the wait ends.
    const waited = new AbortController();
    const until = AbortSignal.any([signal, waited.signal]);
    try {
      await Promise.race([once(this.#res, 'drain', { signal: until }), once(this.#res, 'close', { signal: until })]);
    } catch {
      // The caller left or the response closed: the next write sees it.
    } finally {
      waited.abort();
    }
  }

  end(): void {
    if (this.open) this.#res.end();
  }
}
