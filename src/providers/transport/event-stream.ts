// A server-sent-event answer (Chat Completions streams, Gemini's `alt=sse`) read as it arrives.
// Each event is parsed and turned into what the stream yields inside the body's own 'data'
// callback, then handed to the one waiting reader or queued. Why not async generators over the
// body's async iterator: each layer of them cost every event a few more promise turns, and on
// the first token those turns are part of what the caller waits for (docs/performance.md).
import type { Readable } from 'node:stream';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import type { ProviderName } from '../types.ts';
import { ProviderError } from '../provider-error.ts';
import { SpannedLines } from './spanned-lines.ts';

/** One event's data, at most. No answer of ours comes near it; a larger one is a broken upstream. */
export const MAX_EVENT_CHARS = 1024 * 1024;
/** Items read ahead of the consumer before the body is paused, and with it the upstream. */
const READ_AHEAD = 32;

/** What a stream's events mean. Any of its methods may throw, which ends the stream. */
export interface EventReader<T> {
  /** One event: what to yield for it, or undefined for nothing. */
  event(data: string, type: string | undefined): T | undefined;
  /** A line that is no part of an event (no known field): what to yield for it, if anything. */
  stray?(line: string): T | undefined;
  /**
   * The events are over: the end marker came, or the body ended. A last item to yield, or
   * undefined; throws when the answer is incomplete.
   */
  end(): T | undefined;
  /** The error to throw for a failure of the call, of the body, or of event() and end(). */
  fail(error: unknown): Error;
}

export interface EventStreamOptions {
  /** Whose stream it is, for the error an oversized event raises. */
  name: ProviderName;
  /** Data that ends the stream (Chat Completions' `[DONE]`); Gemini has none. */
  endMarker?: string;
  /** Defaults to MAX_EVENT_CHARS. */
  maxEventChars?: number;
}

/**
 * The items `reader` makes of the events of the body `open` resolves to. `open` runs at the first
 * next(). After the end marker the rest of the body is drained unread, so its connection goes back
 * to the pool; a failure, or a consumer that stops early (return()), cuts it instead. One next()
 * at a time, as `for await` calls it.
 */
export function readEventStream<T>(open: () => Promise<Readable>, reader: EventReader<T>, options: EventStreamOptions): AsyncIterableIterator<T> {
  return new EventStream(open, reader, options);
}

interface Waiting<T> {
  resolve(result: IteratorResult<T>): void;
  reject(error: unknown): void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

class EventStream<T> implements AsyncIterableIterator<T> {
  readonly #open: () => Promise<Readable>;
  readonly #reader: EventReader<T>;
  readonly #name: ProviderName;
  readonly #endMarker: string | undefined;
  readonly #maxEventChars: number;
  readonly #parser: EventSourceParser;
  #body: Readable | undefined;
  #started = false;
  /** No further item will be queued: the events are over, the stream failed, or the consumer left. */
  #closed = false;
  #paused = false;
  #overflow = false;
  /** Items not yet taken, from #head on. */
  readonly #items: T[] = [];
  #head = 0;
  /** A failure the consumer has not been told about yet. */
  #failure: Error | undefined;
  #waiting: Waiting<T> | undefined;
  /** Stray lines split across chunks, which the parser drops; only for a reader that reads them. */
  readonly #spanned: SpannedLines | undefined;

  constructor(open: () => Promise<Readable>, reader: EventReader<T>, options: EventStreamOptions) {
    this.#open = open;
    this.#reader = reader;
    this.#name = options.name;
    this.#endMarker = options.endMarker;
    this.#maxEventChars = options.maxEventChars ?? MAX_EVENT_CHARS;
    this.#spanned = reader.stray === undefined ? undefined : new SpannedLines(this.#maxEventChars);
    this.#parser = createParser({
      onEvent: (event) => this.#onEvent(event.data, event.event),
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') this.#overflow = true;
        else if (error.type === 'unknown-field' && error.line !== undefined) this.#stray(error.line);
      },
      maxBufferSize: this.#maxEventChars,
    });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head] as T;
      this.#head += 1;
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#head = 0;
        if (this.#paused && !this.#closed) this.#resume();
      }
      return Promise.resolve({ value, done: false });
    }
    const failure = this.#failure;
    if (failure !== undefined) {
      this.#failure = undefined;
      return Promise.reject(failure);
    }
    if (this.#closed) {
      if (this.#paused) this.#resume();
      return Promise.resolve(DONE);
    }
    if (!this.#started) this.#start();
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  /** The consumer stops: the body is cut, or drained when the events were already over. */
  return(): Promise<IteratorResult<T>> {
    if (!this.#closed) {
      this.#closed = true;
      this.#cut();
    } else if (this.#paused) {
      this.#resume();
    }
    this.#items.length = 0;
    this.#head = 0;
    this.#failure = undefined;
    this.#settle(DONE);
    return Promise.resolve(DONE);
  }

  #start(): void {
    this.#started = true;
    this.#open().then(
      (body) => this.#attach(body),
      (error: unknown) => this.#fail(error),
    );
  }

  #attach(body: Readable): void {
    this.#body = body;
    // Kept for the body's life: a failure after the consumer left must not be an uncaught error.
    body.on('error', (error) => this.#fail(error));
    if (this.#closed) {
      this.#cut();
      return;
    }
    body.setEncoding('utf8');
    body.on('data', (text: string) => this.#onData(text));
    body.on('end', () => this.#onEnd());
    // Closed before it ended, without an error of its own: cut off halfway.
    body.on('close', () => {
      if (!this.#closed) this.#fail(new Error('the answer was cut off before it ended'));
    });
  }

  #onData(text: string): void {
    // After the end marker the rest is only drained.
    if (this.#closed) return;
    try {
      const spanned = this.#spanned?.take(text);
      if (spanned !== undefined) this.#stray(spanned);
      this.#parser.feed(text);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#overflow) {
      this.#fail(new ProviderError(this.#name, 'bad_response', `${this.#name} sent an event larger than ${this.#maxEventChars} characters`));
    } else if (!this.#paused && this.#items.length - this.#head >= READ_AHEAD) {
      this.#paused = true;
      this.#body?.pause();
    }
  }

  /** Called by the parser, inside feed(); a throw from the reader leaves through feed(). */
  #onEvent(data: string, type: string | undefined): void {
    if (this.#closed) return;
    if (data === this.#endMarker) {
      this.#eventsOver();
      return;
    }
    const item = this.#reader.event(data, type);
    if (item !== undefined) this.#push(item);
  }

  /** A line that is no part of an event, to the reader that reads them; a throw ends the stream. */
  #stray(line: string): void {
    if (this.#closed || this.#reader.stray === undefined) return;
    const item = this.#reader.stray(line);
    if (item !== undefined) this.#push(item);
  }

  #onEnd(): void {
    if (this.#closed) return;
    try {
      const unfinished = this.#spanned?.rest();
      if (unfinished !== undefined) this.#stray(unfinished);
      // An answer may end without a blank line after its last event.
      this.#parser.feed('\n\n');
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (!this.#closed) this.#eventsOver();
  }

  #eventsOver(): void {
    let last: T | undefined;
    try {
      last = this.#reader.end();
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (last !== undefined) this.#push(last);
    this.#closed = true;
    // Whatever follows the end marker is drained, so the connection can be used again, but only
    // once the consumer is done: the end of the body sets off Node's own clean-up (the answer's
    // end, the socket back to the pool), which would otherwise run before the consumer has seen
    // the last item.
    if (!this.#paused && this.#body !== undefined && !this.#body.readableEnded) {
      this.#paused = true;
      this.#body.pause();
    }
    this.#settle(DONE);
  }

  #push(item: T): void {
    const waiting = this.#waiting;
    if (waiting === undefined) {
      this.#items.push(item);
      return;
    }
    this.#waiting = undefined;
    waiting.resolve({ value: item, done: false });
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cut();
    const failure = this.#reader.fail(error);
    const waiting = this.#waiting;
    if (waiting === undefined) {
      // Told after the items already queued, as a generator would.
      this.#failure = failure;
      return;
    }
    this.#waiting = undefined;
    waiting.reject(failure);
  }

  /** Resolves a waiting next() once nothing more can come. */
  #settle(result: IteratorResult<T>): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    this.#waiting = undefined;
    waiting.resolve(result);
  }

  #resume(): void {
    this.#paused = false;
    this.#body?.resume();
  }

  #cut(): void {
    const body = this.#body;
    if (body !== undefined && !body.readableEnded && !body.destroyed) body.destroy();
  }
}
