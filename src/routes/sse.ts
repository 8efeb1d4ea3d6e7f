// Server-sent events for the streaming routes: headers that keep proxies from buffering, one
// `data:` line per event written the moment it is ready.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  // nginx and similar proxies otherwise hold events back until a buffer fills.
  'x-accel-buffering': 'no',
};

/** The body of an event stream; hand `body` to reply.send, then write events to it. */
export class SseWriter {
  readonly body = new PassThrough();

  constructor() {
    // Fastify destroys the body when the client leaves; a late write must not crash anything.
    this.body.on('error', () => undefined);
  }

  get open(): boolean {
    return !this.body.destroyed && !this.body.writableEnded;
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
    if (this.body.write(text)) return;
    // Until drained, closed or the caller leaves; the listeners go when the wait ends.
    const waited = new AbortController();
    const until = AbortSignal.any([signal, waited.signal]);
    try {
      await Promise.race([once(this.body, 'drain', { signal: until }), once(this.body, 'close', { signal: until })]);
    } catch {
      // The caller left or the body closed: the next write sees it.
    } finally {
      waited.abort();
    }
  }

  end(): void {
    if (this.open) this.body.end();
  }
}
