// One Chat Completions call on the wire: POST the body through the provider's own connection
// pool (upstream-http.ts), then hand back the parsed JSON answer, or pass each parsed event of a
// server-sent-event stream to a reader as it arrives. What they mean is read in
// openai-compatible.ts.
//
// Why not the openai or groq-sdk client: with every feature we use turned off (retries, SDK
// timeouts, logging), their request pipeline (header merging through WHATWG Headers, request
// controllers, response wrapping) still cost more CPU per call than the rest of the gateway put
// together (docs/performance.md). The wire itself is small and stable: a JSON POST with a bearer
// key, answered by JSON or by `data:` events ending in `[DONE]`.
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { HeadersWatcher, ProviderName } from '../types.ts';
import { readEventStream, type EventReader } from '../transport/event-stream.ts';
import { ProviderError, kindForStatus, parseRetryAfter } from '../provider-error.ts';
import { discard, readAll, readJson, utf8Text } from '../transport/response-body.ts';
import type { UpstreamAnswer, UpstreamPool } from '../transport/upstream-http.ts';

export interface ChatCompletionsEndpoint {
  name: ProviderName;
  /** Where chat completions are posted, e.g. https://openrouter.ai/api/v1/chat/completions. */
  url: string;
  /** Where embeddings are posted, when the provider serves them (on the same host). */
  embeddingsUrl?: string | undefined;
  /** Without one (a local runtime), no Authorization header is sent. */
  apiKey: string | undefined;
  /** Sent with every call (OpenRouter's attribution headers). */
  headers?: Record<string, string>;
  userAgent: string;
  pool: UpstreamPool;
}

/**
 * What a stream's events mean (openai-compatible.ts has the one we use): an event-stream reader
 * that gets each event's JSON already parsed.
 */
export interface ChunkReader<T> extends Omit<EventReader<T>, 'event'> {
  /** One event's parsed JSON (an `error` event as `{ error }`): what to yield, or undefined. */
  data(value: unknown): T | undefined;
  /** An event whose data does not parse: skipped, or the stream fails (the reader decides). */
  malformed(cause: unknown): T | undefined;
}

/** How the Chat Completions body reaches a provider: over HTTP here, or in-process in the benchmark. */
export interface ChatCompletionsTransport {
  /** Resolves to the parsed body of a 2xx answer; rejects with a ProviderError for any HTTP error. */
  complete(body: object, signal: AbortSignal): Promise<unknown>;
  /** What `reader` makes of each event, up to `[DONE]` or the end of the answer. */
  stream<T>(body: object, signal: AbortSignal, reader: ChunkReader<T>): AsyncIterable<T>;
  /** The parsed body of a 2xx answer from the embeddings endpoint. */
  embed?(body: object, signal: AbortSignal): Promise<unknown>;
  /** The parsed body of a 2xx answer to a GET beside the chat endpoint (`key` for `.../key`). */
  getJson?(relativePath: string, signal: AbortSignal): Promise<unknown>;
  /** Hands every answer's status and headers (errors included) to `watcher`, before its body is read. */
  watchHeaders?(watcher: HeadersWatcher): void;
  close(): Promise<void>;
}

export function createChatCompletionsHttp(endpoint: ChatCompletionsEndpoint): ChatCompletionsTransport {
  const { name, pool } = endpoint;
  const url = new URL(endpoint.url);
  const path = `${url.pathname}${url.search}`;
  const embeddingsPath = endpoint.embeddingsUrl === undefined ? undefined : new URL(endpoint.embeddingsUrl).pathname;
  // Built once: the same headers go with every call.
  const common = {
    ...(endpoint.apiKey !== undefined && { authorization: `Bearer ${endpoint.apiKey}` }),
    'content-type': 'application/json',
    'user-agent': endpoint.userAgent,
    ...endpoint.headers,
  };
  const jsonHeaders = { ...common, accept: 'application/json' };
  const streamHeaders = { ...common, accept: 'text/event-stream' };

  let watcher: HeadersWatcher | undefined;

  async function post(body: object, headers: typeof common, signal: AbortSignal, to = path): Promise<UpstreamAnswer> {
    const answer = await pool.post(to, headers, JSON.stringify(body), signal);
    // One call when someone watches (the quota tracker reads Groq's and OpenRouter's rate-limit headers).
    if (watcher !== undefined) watcher(answer.headers, answer.status, (body as { model?: unknown }).model as string | undefined);
    if (answer.status >= 200 && answer.status < 300) return answer;
    // A 400 or 404 for a model the provider does not know (OpenRouter) or has retired (Groq), a
    // 403 for a prompt a moderation check or guardrail flagged (OpenRouter), and a 429 for a daily
    // limit (OpenRouter's free models, often without Retry-After) look like other 400s, 403s,
    // 404s and 429s: only their bodies tell.
    let wait = retryAfterMs(answer.headers);
    let quota: { window: 'rpd' } | undefined;
    if (answer.status === 400 || answer.status === 403 || answer.status === 404 || (answer.status === 429 && wait === undefined)) {
      const error = await readErrorBody(answer.body);
      if ((answer.status === 400 || answer.status === 404) && namesUnknownModel(error)) {
        throw new ProviderError(name, 'misconfigured', `${name} does not know the model (HTTP ${answer.status})`, { status: answer.status, modelNotFound: true });
      }
      if (answer.status === 403 && flagsModeration(error)) {
        throw new ProviderError(name, 'rejected', `${name} flagged the request in moderation (HTTP 403)`, { status: 403, contentFilter: true });
      }
      if (answer.status === 400 && refusesContent(error)) {
        throw new ProviderError(name, 'rejected', `${name} refused the request under its content policy (HTTP 400)`, { status: 400, contentFilter: true });
      }
      if (answer.status === 429) {
        wait = dailyLimitWait(error, answer.headers);
        if (wait !== undefined) quota = { window: 'rpd' };
      }
    } else {
      // Otherwise the error body is not read: upstream messages can quote the key, and the status says enough.
      discard(answer.body);
    }
    // OpenRouter's 402 for a key's in-flight budget comes with Retry-After: a wait, not a missing credit.
    const kind = answer.status === 402 && wait !== undefined ? 'rate_limited' : kindForStatus(answer.status);
    throw new ProviderError(name, kind, `${name} answered HTTP ${answer.status}`, { status: answer.status, retryAfterMs: wait, ...(quota && { quota }) });
  }

  return {
    async complete(body, signal) {
      return readJson(name, (await post(body, jsonHeaders, signal)).body);
    },
    stream(body, signal, reader) {
      return readEventStream(
        async () => (await post(body, streamHeaders, signal)).body,
        {
          event: (data, type) => {
            const parsed = toData(data, type);
            return parsed instanceof SyntaxError ? reader.malformed(parsed) : reader.data(parsed);
          },
          end: () => reader.end(),
          fail: (error) => reader.fail(error),
        },
        { name, endMarker: '[DONE]' },
      );
    },
    ...(embeddingsPath !== undefined && {
      async embed(body: object, signal: AbortSignal) {
        return readJson(name, (await post(body, jsonHeaders, signal, embeddingsPath)).body);
      },
    }),
    watchHeaders(next) {
      watcher = next;
    },
    ...(pool.get !== undefined && {
      async getJson(relativePath: string, signal: AbortSignal) {
        const answer = await (pool.get as NonNullable<UpstreamPool['get']>)(path.replace(/chat\/completions$/, relativePath), jsonHeaders, signal);
        if (answer.status < 200 || answer.status >= 300) {
          discard(answer.body);
          throw new ProviderError(name, kindForStatus(answer.status), `${name} answered HTTP ${answer.status}`, { status: answer.status });
        }
        return readJson(name, answer.body);
      },
    }),
    close: () => pool.close(),
  };
}

/**
 * An event's parsed data, or the SyntaxError when it does not parse (the reader decides what that
 * means). An `error` event comes out as `{ error }`, the shape a failed chunk has, so one reader
 * handles both.
 */
function toData(text: string, type: string | undefined): unknown {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return error;
  }
  if (type !== 'error') return data;
  return { error: (data as { error?: unknown } | null)?.error ?? data };
}

/** Past this, an error body is not looked into. */
const ERROR_BODY_LIMIT_BYTES = 16 * 1024;

interface WireError {
  message?: unknown;
  code?: unknown;
  availability?: { code?: unknown };
  metadata?: { reasons?: unknown; flagged_input?: unknown; error_type?: unknown; patterns?: unknown; limit_source?: unknown; headers?: Record<string, unknown> };
}

/** The `error` object of a 400's or 403's body, when it is small JSON; never repeated, it may quote the request. */
async function readErrorBody(body: Readable): Promise<WireError | undefined> {
  const bytes = await readAll(body, ERROR_BODY_LIMIT_BYTES).catch(() => undefined);
  if (bytes === undefined) return undefined;
  try {
    const error = (JSON.parse(utf8Text(bytes)) as { error?: unknown } | null)?.error;
    return typeof error === 'object' && error !== null ? (error as WireError) : undefined;
  } catch {
    return undefined;
  }
}

/** Model ids retired or unknown: OpenRouter's availability codes and message, Groq's codes. */
const UNKNOWN_MODEL_CODES = new Set(['model_not_found', 'model_decommissioned', 'model_deprecated']);

function namesUnknownModel(error: WireError | undefined): boolean {
  if (error === undefined) return false;
  return (
    UNKNOWN_MODEL_CODES.has(error.availability?.code as string) ||
    UNKNOWN_MODEL_CODES.has(error.code as string) ||
    (typeof error.message === 'string' && /\bis not a valid model id\b/i.test(error.message))
  );
}

/** OpenRouter's 403 for flagged input: its moderation metadata, a guardrail's patterns, or a content-policy error type. */
function flagsModeration(error: WireError | undefined): boolean {
  const metadata = error?.metadata;
  if (typeof metadata !== 'object' || metadata === null) return false;
  return (
    Array.isArray(metadata.reasons) ||
    Array.isArray(metadata.patterns) ||
    metadata.flagged_input !== undefined ||
    metadata.error_type === 'content_policy_violation'
  );
}

/**
 * A 400 that is a content-policy refusal: OpenAI's `content_policy_violation` code (Azure's
 * `content_filter`), or OpenRouter's `metadata.error_type`. Other 400s (context length, a
 * parameter the model does not take) are about the request's form, and another provider may take it.
 */
function refusesContent(error: WireError | undefined): boolean {
  if (error === undefined) return false;
  return error.code === 'content_policy_violation' || error.code === 'content_filter' || error.metadata?.error_type === 'content_policy_violation';
}

/**
 * How long to leave a provider that hit a daily limit without saying when to come back:
 * OpenRouter's free-model limit ("free-models-per-day", limit_source openrouter_free_tier_daily)
 * resets at 00:00 UTC, and its X-RateLimit-Reset (in the body's metadata or as a header) gives
 * the time in epoch milliseconds. Undefined for any other 429: the usual cooldown applies.
 */
export function dailyLimitWait(error: WireError | undefined, headers: IncomingHttpHeaders, now = Date.now()): number | undefined {
  const message = typeof error?.message === 'string' ? error.message : '';
  const source = typeof error?.metadata?.limit_source === 'string' ? error.metadata.limit_source : '';
  if (!/per-day|per day|daily/i.test(`${message} ${source}`)) return undefined;
  const reset = Number(error?.metadata?.headers?.['X-RateLimit-Reset'] ?? headers['x-ratelimit-reset']);
  if (Number.isFinite(reset) && reset > now) return reset - now;
  const midnight = new Date(now);
  midnight.setUTCHours(24, 0, 0, 0);
  return midnight.getTime() - now;
}

/** `retry-after-ms` (sent by some OpenAI-style servers) is more precise, so it wins. */
function retryAfterMs(headers: IncomingHttpHeaders): number | undefined {
  const ms = headers['retry-after-ms'];
  if (typeof ms === 'string' && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms.trim()));
  const seconds = headers['retry-after'];
  return parseRetryAfter(typeof seconds === 'string' ? seconds : undefined);
}
