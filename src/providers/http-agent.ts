// The HTTP transport: one keep-alive connection pool per provider (Provider.close() releases it),
// and the `fetch` the Gemini SDK uses on it (put in scope around its calls, which only use the
// global fetch: scoped-fetch.ts). Groq and OpenRouter send on their pool directly
// (chat-completions-http.ts).
//
// Why not undici's own fetch: the WHATWG fetch machinery (Request objects, fetch controllers,
// web-stream bodies) cost more CPU per call than everything else the gateway does for a request
// put together. This fetch sends the same request (the same headers fetch would add) through
// undici's dispatcher API and answers with a real Response: a JSON or error answer is read whole
// first (the SDK reads it whole anyway), an event stream is handed on chunk by chunk. Anything
// unusual (a Request object, a streamed body, a redirect) goes to undici's fetch unchanged.
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';

export function createHttpAgent(): Agent {
  return new Agent({
    // Below the providers' own idle timeouts, so we never write to a socket they just closed.
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
    // Enough parallel calls for a small gateway, without unbounded sockets under a burst.
    connections: 64,
    // No pipelining: a slow answer must not hold up the requests queued behind it.
    pipelining: 1,
    connect: { timeout: 5_000 },
    // The caller's AbortSignal sets the real deadlines; these only stop a forgotten socket.
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
}

type HeadersInput = ConstructorParameters<typeof Headers>[0];
/** fetch's options; `dispatcher` is undici's extension (typed by whichever copy of undici). */
type FetchInit = RequestInit;
const dispatcherOf = (init: FetchInit | undefined) => (init as { dispatcher?: Dispatcher } | undefined)?.dispatcher;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
/** What fetch upper-cases; any other method is sent as given. */
const NORMALISED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/**
 * fetch over `dispatcher`. The SDK's calls (a URL, a string body, an answer that is not a
 * redirect) take the short path; anything else is handed to undici's fetch.
 */
export function createFetch(dispatcher: Dispatcher): typeof globalThis.fetch {
  const fallback = (input: string | URL | Request, init: FetchInit | undefined) =>
    // The casts only bridge two copies of undici's type declarations (the package's and @types/node's).
    undiciFetch(input as string, { ...init, dispatcher: dispatcherOf(init) ?? dispatcher } as never) as unknown as Promise<Response>;

  return async function fetch(input: string | URL | Request, init?: FetchInit): Promise<Response> {
    const body = init?.body;
    const plainBody = body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (!(typeof input === 'string' || input instanceof URL) || !plainBody || (init?.redirect !== undefined && init.redirect !== 'follow')) {
      return fallback(input, init);
    }
    const url = typeof input === 'string' ? new URL(input) : input;
    const signal = init?.signal ?? undefined;
    // Like fetch: an aborted signal rejects with its reason, before anything is sent.
    signal?.throwIfAborted();
    const upper = (init?.method ?? 'GET').toUpperCase();
    const method = NORMALISED_METHODS.has(upper) ? upper : (init?.method ?? 'GET');

    let answer: Dispatcher.ResponseData;
    try {
      answer = await (dispatcherOf(init) ?? dispatcher).request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: method as Dispatcher.HttpMethod,
        headers: requestHeaders(init?.headers, url),
        body: body ?? null,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw failure(error, signal, 'fetch failed');
    }

    const { statusCode: status, statusText, headers } = answer;
    if (REDIRECT_STATUSES.has(status) && headers.location !== undefined) {
      // Rare for an API. Asking again through fetch applies its rules (method, body and
      // credential changes); the body here is a string, so sending it again is safe.
      answer.body.resume();
      return fallback(input, init);
    }
    const responseInit: ResponseInit = { status, statusText, headers: headerPairs(headers) };
    const decoded = method === 'HEAD' || NULL_BODY_STATUSES.has(status) ? undefined : decode(answer.body, headers['content-encoding']);
    if (decoded === undefined) {
      answer.body.resume();
      return new BufferedResponse(null, responseInit, url.href) as unknown as Response;
    }
    if (isEventStream(headers['content-type'])) {
      return new StreamedResponse(toWebStream(decoded, signal), responseInit, url.href) as unknown as Response;
    }
    try {
      return new BufferedResponse(await readAll(decoded), responseInit, url.href) as unknown as Response;
    } catch (error) {
      throw failure(error, signal, 'terminated');
    }
  };
}

/** The caller's headers plus the ones fetch would add (the same request goes on the wire). */
function requestHeaders(input: HeadersInput, url: URL): string[] {
  const headers = input instanceof Headers ? input : new Headers(input);
  const flat: string[] = [];
  headers.forEach((value, name) => flat.push(name, value));
  if (!headers.has('accept')) flat.push('accept', '*/*');
  if (!headers.has('accept-language')) flat.push('accept-language', '*');
  flat.push('sec-fetch-mode', 'cors');
  if (!headers.has('user-agent')) flat.push('user-agent', 'undici');
  if (!headers.has('accept-encoding')) {
    flat.push('accept-encoding', url.protocol === 'https:' ? 'br, gzip, deflate, zstd' : 'gzip, deflate');
  }
  return flat;
}

function headerPairs(headers: Record<string, string | string[] | undefined>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') pairs.push([name, value]);
    else if (Array.isArray(value)) for (const item of value) pairs.push([name, item]);
  }
  return pairs;
}

function isEventStream(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.trimStart().toLowerCase().startsWith('text/event-stream');
}

/** fetch's errors: the signal's reason when it aborted, otherwise a TypeError whose cause says why. */
function failure(error: unknown, signal: AbortSignal | undefined, message: string): unknown {
  if (signal?.aborted) return signal.reason;
  return new TypeError(message, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Bodies

/** Undoes the response's content codings, as fetch does (at most five; unknown ones stay). */
export function decode(body: Readable, contentEncoding: string | string[] | undefined): Readable {
  if (typeof contentEncoding !== 'string' || contentEncoding === '') return body;
  const codings = contentEncoding.toLowerCase().split(',');
  if (codings.length > 5) {
    body.destroy(new Error(`too many content-encodings in response: ${codings.length}, maximum allowed is 5`));
    return body;
  }
  const decoders: Transform[] = [];
  for (let i = codings.length - 1; i >= 0; i -= 1) {
    const decoder = decoderFor((codings[i] as string).trim());
    if (decoder === undefined) return body;
    decoders.push(decoder);
  }
  const last = decoders[decoders.length - 1] as Transform;
  pipeline([body, ...decoders], (error) => {
    if (error) last.destroy(error);
  });
  return last;
}

function decoderFor(coding: string): Transform | undefined {
  // Lenient flushing, like fetch (and curl): slightly truncated streams still decode.
  const sync = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  if (coding === 'gzip' || coding === 'x-gzip') return zlib.createGunzip(sync);
  if (coding === 'deflate') return new InflateEither(sync);
  if (coding === 'br') {
    return zlib.createBrotliDecompress({
      flush: zlib.constants.BROTLI_OPERATION_FLUSH,
      finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH,
    });
  }
  if (coding === 'zstd') {
    return zlib.createZstdDecompress({
      flush: zlib.constants.ZSTD_e_continue,
      finishFlush: zlib.constants.ZSTD_e_end,
      params: { [zlib.constants.ZSTD_d_windowLogMax]: 23 },
    });
  }
  return undefined;
}

/** "deflate" is zlib-wrapped by the spec but sent raw by some servers; the first byte tells. */
class InflateEither extends Transform {
  #inflate: zlib.Inflate | zlib.InflateRaw | undefined;
  readonly #options: zlib.ZlibOptions;

  constructor(options: zlib.ZlibOptions) {
    super();
    this.#options = options;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#inflate === undefined) {
      if (chunk.length === 0) return callback();
      this.#inflate = ((chunk[0] as number) & 0x0f) === 0x08 ? zlib.createInflate(this.#options) : zlib.createInflateRaw(this.#options);
      this.#inflate.on('data', (data: Buffer) => this.push(data));
      this.#inflate.on('error', (error) => this.destroy(error));
    }
    this.#inflate.write(chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#inflate === undefined) return callback();
    // 'end' comes after the last of its output has been passed on.
    this.#inflate.once('end', () => callback());
    this.#inflate.end();
  }
}

/**
 * The whole body (listeners rather than an async iterator: this runs once per call). Past
 * `maxBytes` the body is destroyed and the promise resolves to undefined.
 */
export function readAll(body: Readable): Promise<Buffer>;
export function readAll(body: Readable, maxBytes: number): Promise<Buffer | undefined>;
export function readAll(body: Readable, maxBytes = Infinity): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      body.destroy();
      resolve(undefined);
    });
    body.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    body.once('error', reject);
  });
}

/** UTF-8 without a byte order mark, as fetch decodes a body. */
export function utf8Text(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * A web stream over the response as it arrives; the socket pauses once 16 chunks wait unread.
 * The end (or a failure) is passed on one turn of the event loop after the last chunk, as it
 * would be had it come in a later read: a reader that errors its own stream when the body ends
 * badly (the Gemini SDK does) would otherwise drop the events it has parsed but not yet handed
 * on, and the text that arrived before a cut would never reach the caller.
 */
function toWebStream(body: Readable, signal: AbortSignal | undefined): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        body.on('data', (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) body.pause();
        });
        body.once('end', () => {
          if (done) return;
          done = true;
          setImmediate(() => {
            // The reader may have cancelled meanwhile; closing a cancelled stream throws.
            try {
              controller.close();
            } catch {
              // already closed
            }
          });
        });
        body.once('error', (error) => {
          if (done) return;
          done = true;
          const reason = failure(error, signal, 'terminated');
          setImmediate(() => controller.error(reason));
        });
        body.pause();
      },
      pull() {
        body.resume();
      },
      cancel() {
        done = true;
        body.destroy();
      },
    },
    { highWaterMark: 16 },
  );
}

// The global Response, typed as a plain base class: TypeScript's declarations describe its
// members as properties, which a subclass could not override with accessors and methods.
const ResponseBase = Response as unknown as new (body: ReadableStream<Uint8Array> | null, init: ResponseInit) => object;
const headersOf = (response: object) => (response as Response).headers;
const EMPTY = Buffer.alloc(0);

/** A Response whose body was read whole (null: a status that has none): no stream machinery. */
class BufferedResponse extends ResponseBase {
  readonly #bytes: Buffer | null;
  readonly #url: string;
  #stream: ReadableStream<Uint8Array> | undefined;
  #used = false;

  constructor(bytes: Buffer | null, init: ResponseInit, url: string) {
    super(null, init);
    this.#bytes = bytes;
    this.#url = url;
  }

  get url(): string {
    return this.#url;
  }

  get bodyUsed(): boolean {
    return this.#used;
  }

  get body(): ReadableStream<Uint8Array> | null {
    const bytes = this.#bytes;
    if (bytes === null) return null;
    if (this.#stream === undefined) {
      this.#stream = new ReadableStream<Uint8Array>({
        start(controller) {
          if (bytes.length > 0) controller.enqueue(new Uint8Array(bytes));
          controller.close();
        },
      });
    }
    return this.#stream;
  }

  #take(): Buffer {
    if (this.#used || this.#stream?.locked) throw new TypeError('Body is unusable: Body has already been read');
    if (this.#bytes === null) return EMPTY;
    this.#used = true;
    return this.#bytes;
  }

  #decoded(): string {
    return utf8Text(this.#take());
  }

  async text(): Promise<string> {
    return this.#decoded();
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.#decoded());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.#take();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  async bytes(): Promise<Uint8Array> {
    return new Uint8Array(await this.arrayBuffer());
  }

  async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()], { type: headersOf(this).get('content-type') ?? '' });
  }

  clone(): Response {
    if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
    const { status, statusText } = this as unknown as Response;
    return new BufferedResponse(this.#bytes, { status, statusText, headers: headersOf(this) }, this.#url) as unknown as Response;
  }
}

/** A streamed Response (server-sent events) that reports the URL it came from, as fetch does. */
class StreamedResponse extends ResponseBase {
  readonly #url: string;

  constructor(body: ReadableStream<Uint8Array>, init: ResponseInit, url: string) {
    super(body, init);
    this.#url = url;
  }

  get url(): string {
    return this.#url;
  }
}
