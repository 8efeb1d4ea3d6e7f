// Reading an upstream answer's body: undoing its content coding, and reading it whole under a
// size cap or throwing it away. Event streams are read in event-stream.ts.
import { Transform, pipeline, type Readable, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import type { ProviderName } from '../types.ts';
import { ProviderError } from '../provider-error.ts';

/** No answer of ours comes near this; a larger one is a broken upstream, not a completion. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;

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

/** Past this, an unread body is cut rather than drained: its connection is not worth the bytes. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/** Throws a body away unread: drained, so its connection goes back to the pool, or cut if long. */
export function discard(body: Readable): void {
  let size = 0;
  body.on('error', () => undefined);
  body.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > DRAIN_LIMIT_BYTES) body.destroy();
  });
}

/** UTF-8 without a byte order mark, as fetch decodes a body. */
export function utf8Text(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A 2xx answer's JSON, read whole; too large or not JSON is the provider's bad_response. */
export async function readJson(name: ProviderName, body: Readable): Promise<unknown> {
  const bytes = await readAll(body, MAX_ANSWER_BYTES);
  if (bytes === undefined) throw new ProviderError(name, 'bad_response', `${name} sent an answer larger than ${MAX_ANSWER_BYTES} bytes`);
  try {
    return JSON.parse(utf8Text(bytes));
  } catch (error) {
    throw new ProviderError(name, 'bad_response', `${name} sent malformed JSON`, { cause: error });
  }
}
