// The Chat Completions wire protocol shared by Groq and OpenRouter: the request body, reading a
// completion or a stream, and turning SDK errors into ProviderError. The adapters only build
// their SDK client; everything a response can do wrong is handled here, once.
import type { ProviderName } from '../config.ts';
import { ProviderError, kindForStatus, parseRetryAfter } from './provider-error.ts';
import type {
  ChatMessage,
  Completion,
  CompletionChunk,
  CompletionRequest,
  FinishReason,
  Provider,
  TokenUsage,
} from './types.ts';

/** Long enough never to fire first: the caller's AbortSignal owns the deadline. */
export const SDK_TIMEOUT_MS = 10 * 60_000;

export interface ChatBody {
  model: string;
  messages: ChatMessage[];
  max_tokens: number;
  temperature: number;
  top_p?: number;
  stop?: string[];
  stream?: true;
  stream_options?: { include_usage: true };
}

/** The shape both SDKs give their APIError (status undefined for connection and mid-stream errors). */
interface SdkApiError extends Error {
  status: number | undefined;
  headers: Headers | undefined;
  error: unknown;
}

export interface SdkErrorClasses {
  APIError: abstract new (...args: never[]) => SdkApiError;
  APIConnectionError: abstract new (...args: never[]) => Error;
}

export interface OpenAICompatibleWire {
  name: ProviderName;
  model: string;
  /** One chat.completions call: resolves to the parsed completion, or to an async iterable of chunks. */
  send(body: ChatBody, signal: AbortSignal): Promise<unknown>;
  errors: SdkErrorClasses;
  close(): Promise<void>;
}

export function createOpenAICompatibleProvider(wire: OpenAICompatibleWire): Provider {
  const { name, model } = wire;
  return {
    name,
    model,
    async complete(request, signal) {
      const body = toChatBody(request, request.model ?? model, false);
      try {
        return readCompletion(name, await wire.send(body, signal), body.model);
      } catch (error) {
        throw toProviderError(name, error, signal, wire.errors);
      }
    },
    async *stream(request, signal) {
      const body = toChatBody(request, request.model ?? model, true);
      try {
        const chunks = await wire.send(body, signal);
        if (!isAsyncIterable(chunks)) throw new ProviderError(name, 'bad_response', `${name} did not answer with a stream`);
        yield* readStream(name, chunks, signal);
      } catch (error) {
        throw toProviderError(name, error, signal, wire.errors);
      }
    },
    close: () => wire.close(),
  };
}

export function toChatBody(request: CompletionRequest, model: string, stream: boolean): ChatBody {
  return {
    model,
    messages: request.messages.map(({ role, content }) => ({ role, content })),
    max_tokens: request.maxTokens,
    temperature: request.temperature,
    ...(request.topP !== undefined && { top_p: request.topP }),
    ...(request.stop !== undefined && request.stop.length > 0 && { stop: request.stop }),
    // Without include_usage, OpenAI-style servers send no token counts in a stream.
    ...(stream && { stream: true as const, stream_options: { include_usage: true as const } }),
  };
}

// What we read from the wire. Nothing is trusted: every field may be missing.
interface WireUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}
interface WireChoice {
  message?: { content?: string | null };
  delta?: { content?: string | null };
  finish_reason?: string | null;
  error?: unknown;
}
interface WireBody {
  model?: string;
  choices?: WireChoice[];
  usage?: WireUsage | null;
  error?: unknown;
  /** Groq: usage on the last chunk, and a reason when a stream stopped early. */
  x_groq?: { usage?: WireUsage; error?: string };
}

export function readCompletion(name: ProviderName, body: unknown, requestedModel: string): Completion {
  if (typeof body !== 'object' || body === null) {
    throw new ProviderError(name, 'bad_response', `${name} answered with something that is not a completion`);
  }
  const { error, choices, model, usage } = body as WireBody;
  const choice = choices?.[0];
  // OpenRouter reports some upstream failures as a 200 whose body (or choice) holds an error.
  if (error != null || choice?.error != null) {
    throw new ProviderError(name, 'bad_response', `${name} returned an error inside a 200 response`, {
      cause: error ?? choice?.error,
    });
  }
  const text = choice?.message?.content;
  if (typeof text !== 'string' || text === '') {
    throw new ProviderError(name, 'bad_response', `${name} returned no answer`);
  }
  return {
    text,
    model: typeof model === 'string' && model !== '' ? model : requestedModel,
    finishReason: toFinishReason(choice?.finish_reason),
    usage: toUsage(usage),
  };
}

export async function* readStream(
  name: ProviderName,
  chunks: AsyncIterable<unknown>,
  signal: AbortSignal,
): AsyncGenerator<CompletionChunk> {
  let model: string | undefined;
  let finishReason: FinishReason | undefined;
  let usage: TokenUsage | undefined;
  let answered = false;
  for await (const raw of chunks) {
    const chunk = raw as WireBody;
    if (typeof chunk.x_groq?.error === 'string') {
      throw new ProviderError(name, 'unavailable', `${name} stream stopped early`, { cause: chunk.x_groq.error });
    }
    if (typeof chunk.model === 'string') model ??= chunk.model;
    // The usage-only chunk has `choices: []`; Groq also puts usage in x_groq.
    usage = toUsage(chunk.usage ?? chunk.x_groq?.usage) ?? usage;
    const choice = chunk.choices?.[0];
    // The SDKs throw on a top-level `error` themselves; this catches a choice that failed on its own.
    if (chunk.error != null || choice?.finish_reason === 'error') {
      throw new ProviderError(name, 'bad_response', `${name} stream ended with an error`, {
        cause: chunk.error ?? choice?.error,
      });
    }
    if (choice === undefined) continue;
    const text = choice.delta?.content;
    if (typeof text === 'string' && text !== '') {
      answered = true;
      yield { text, model };
    }
    if (choice.finish_reason) finishReason = toFinishReason(choice.finish_reason);
  }
  // Both SDKs end the loop quietly when the signal aborts mid-stream.
  if (signal.aborted) throw abortError(name, signal, undefined);
  if (finishReason === undefined) throw new ProviderError(name, 'bad_response', `${name} stream ended before the answer was complete`);
  if (!answered) throw new ProviderError(name, 'bad_response', `${name} returned no answer`);
  yield { text: '', model, finishReason, usage };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}

function toFinishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'stop' || reason === 'length' || reason === 'content_filter') return reason;
  return 'other';
}

function toUsage(usage: WireUsage | null | undefined): TokenUsage | undefined {
  if (typeof usage?.prompt_tokens !== 'number' || typeof usage.completion_tokens !== 'number') return undefined;
  return {
    promptTokens: usage.prompt_tokens,
    completionTokens: usage.completion_tokens,
    totalTokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
  };
}

/** Maps anything an SDK call can throw to a ProviderError; messages never echo upstream text. */
export function toProviderError(
  name: ProviderName,
  error: unknown,
  signal: AbortSignal,
  errors: SdkErrorClasses,
): ProviderError {
  if (error instanceof ProviderError) return error;
  if (signal.aborted) return abortError(name, signal, error);
  if (error instanceof errors.APIConnectionError) {
    return new ProviderError(name, 'unavailable', `could not reach ${name}`, { cause: error });
  }
  if (error instanceof errors.APIError) {
    if (error.status !== undefined) {
      return new ProviderError(name, kindForStatus(error.status), `${name} answered HTTP ${error.status}`, {
        status: error.status,
        retryAfterMs: retryAfterMs(error.headers),
        cause: error,
      });
    }
    // An error event inside a 200 stream: its code, when numeric, says what kind of failure it was.
    const code = errorCode(error);
    const kind = code === 429 ? 'rate_limited' : 'unavailable';
    return new ProviderError(name, kind, `${name} reported an error mid-stream`, { cause: error });
  }
  if (error instanceof SyntaxError) {
    return new ProviderError(name, 'bad_response', `${name} sent malformed JSON`, { cause: error });
  }
  return new ProviderError(name, 'unavailable', `${name} call failed`, { cause: error });
}

function abortError(name: ProviderName, signal: AbortSignal, cause: unknown): ProviderError {
  const reason = signal.reason as { name?: unknown } | undefined;
  const timedOut = typeof reason === 'object' && reason !== null && reason.name === 'TimeoutError';
  return timedOut
    ? new ProviderError(name, 'timeout', `${name} did not answer in time`, { cause })
    : new ProviderError(name, 'aborted', `${name} call was aborted`, { cause });
}

/** `retry-after-ms` (sent by some OpenAI-style servers) is more precise, so it wins. */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms')?.trim();
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  return parseRetryAfter(headers?.get('retry-after'));
}

/** openai copies `error.code` onto the exception; groq-sdk leaves it in `error`. */
function errorCode(error: SdkApiError): unknown {
  const own = (error as { code?: unknown }).code;
  return own ?? (error.error as { code?: unknown } | undefined)?.code;
}
