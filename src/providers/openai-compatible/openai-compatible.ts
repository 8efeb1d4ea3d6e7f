// The Chat Completions wire protocol shared by Groq, OpenRouter and every operator's own server
// (EXTRA_PROVIDERS): the request body, reading a completion or a stream, and mapping failures to
// ProviderError. A registry row only says where to send it (URL, key, extra headers); everything
// an answer can do wrong is handled here, once.
import type { HeadersWatcher, ProviderName } from '../types.ts';
import type { ReasoningSetting } from '../registry.ts';
import { createChatCompletionsHttp, type ChatCompletionsTransport, type ChunkReader } from './chat-completions-http.ts';
import { GENERIC_DIALECT, type ChatDialect } from './dialects.ts';
import { ProviderError, abortError, emptyAnswerKind, toProviderError } from '../provider-error.ts';
import { createUpstreamPool } from '../transport/upstream-http.ts';
import {
  tokenCount,
  usageOf,
  type ChatMessage,
  type Completion,
  type CompletionChunk,
  type CompletionRequest,
  type EmbeddingRequest,
  type Embeddings,
  type FinishReason,
  type Provider,
  type TokenUsage,
} from '../types.ts';

export interface ChatBody {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  stream?: true;
  stream_options?: { include_usage: true };
  [field: string]: unknown;
}

export interface OpenAICompatibleSettings {
  name: ProviderName;
  model: string;
  /** Where chat completions are posted. */
  url: string;
  /** Undefined for a local runtime that takes none: then no Authorization header is sent. */
  apiKey: string | undefined;
  headers?: Record<string, string>;
  userAgent: string;
  /** Set when the provider serves embeddings: posted to `embeddings` beside `chat/completions`. */
  embeddingModel?: string;
  dialect?: ChatDialect;
  /** The reasoning control when a request names none. */
  reasoningEffort?: ReasoningSetting;
}

/** How one provider's chat bodies are written. */
export interface ChatShape {
  dialect: ChatDialect;
  reasoningEffort: ReasoningSetting;
}

const GENERIC_SHAPE: ChatShape = { dialect: GENERIC_DIALECT, reasoningEffort: 'default' };

/** A provider on its own keep-alive pool (see upstream-http.ts), which close() releases. */
export function createOpenAICompatibleProvider(settings: OpenAICompatibleSettings): Provider {
  const { name, model, embeddingModel, dialect = GENERIC_DIALECT, reasoningEffort = 'default', ...endpoint } = settings;
  const embeddingsUrl = embeddingModel === undefined ? undefined : endpoint.url.replace(/chat\/completions$/, 'embeddings');
  const transport = createChatCompletionsHttp({ name, ...endpoint, embeddingsUrl, pool: createUpstreamPool(endpoint.url) });
  return providerOver(name, model, transport, embeddingModel, { dialect, reasoningEffort });
}

/** The provider over any transport: the benchmark plugs in other ways of calling upstream. */
export function providerOver(name: ProviderName, model: string, transport: ChatCompletionsTransport, embeddingModel?: string, shape: ChatShape = GENERIC_SHAPE): Provider {
  const { embed } = transport;
  return {
    name,
    model,
    ...(embed !== undefined &&
      embeddingModel !== undefined && {
        embeddingModel,
        async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<Embeddings> {
          const requested = request.model ?? embeddingModel;
          try {
            return readEmbeddings(name, await embed.call(transport, { model: requested, input: request.inputs, encoding_format: 'float' }, signal), request.inputs.length, requested);
          } catch (error) {
            throw toProviderError(name, error, signal);
          }
        },
      }),
    async complete(request, signal) {
      const body = toChatBody(request, request.model ?? model, false, shape);
      try {
        return readCompletion(name, await transport.complete(body, signal), body.model);
      } catch (error) {
        throw toProviderError(name, error, signal);
      }
    },
    stream(request, signal) {
      return transport.stream(toChatBody(request, request.model ?? model, true, shape), signal, new ChatStreamReader(name, signal));
    },
    ...(transport.watchHeaders !== undefined && { watchHeaders: (watcher: HeadersWatcher) => transport.watchHeaders?.(watcher) }),
    close: () => transport.close(),
  };
}

export function toChatBody(request: CompletionRequest, model: string, stream: boolean, shape: ChatShape = GENERIC_SHAPE): ChatBody {
  const reasoning = shape.dialect.reasoning(model, request.reasoningEffort ?? shape.reasoningEffort);
  return {
    model,
    messages: request.messages.map(({ role, content }) => ({ role, content })),
    [shape.dialect.maxTokensField]: request.maxTokens,
    ...reasoning,
    ...(request.temperature !== undefined && { temperature: request.temperature }),
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
  completion_tokens_details?: { reasoning_tokens?: number } | null;
}
interface WireChoice {
  message?: { content?: string | null };
  /** Reasoning comes apart from the answer: `reasoning` (Groq, OpenRouter, Ollama) or `reasoning_content` (vLLM, llama-server). */
  delta?: { content?: string | null; reasoning?: unknown; reasoning_content?: unknown };
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

/** An OpenAI embeddings list, in input order; anything else is a bad response. */
export function readEmbeddings(name: ProviderName, body: unknown, count: number, requestedModel: string): Embeddings {
  const { data, model, usage } = (typeof body === 'object' && body !== null ? body : {}) as { data?: unknown; model?: unknown; usage?: { prompt_tokens?: unknown } };
  const items = Array.isArray(data) ? [...(data as Array<{ index?: unknown; embedding?: unknown }>)] : [];
  items.sort((a, b) => Number(a?.index ?? 0) - Number(b?.index ?? 0));
  const vectors = items.map((item) => item?.embedding);
  const isVector = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
  if (vectors.length !== count || !vectors.every(isVector)) {
    throw new ProviderError(name, 'bad_response', `${name} returned no usable embeddings`);
  }
  const promptTokens = tokenCount(usage?.prompt_tokens);
  return { vectors, model: typeof model === 'string' && model !== '' ? model : requestedModel, ...(promptTokens === undefined ? {} : { usage: { promptTokens } }) };
}

export function readCompletion(name: ProviderName, body: unknown, requestedModel: string): Completion {
  if (typeof body !== 'object' || body === null) {
    throw new ProviderError(name, 'bad_response', `${name} answered with something that is not a completion`);
  }
  const { error, choices, model, usage } = body as WireBody;
  const choice = choices?.[0];
  // OpenRouter reports some upstream failures as a 200 whose body (or choice) holds an error, or
  // whose choice ended with finish_reason "error" after part of the answer: read as the stream
  // reader reads them, a 429 among them as a rate limit.
  if (error != null || choice?.error != null || choice?.finish_reason === 'error') {
    const kind = isRateLimit(error ?? choice?.error) ? 'rate_limited' : 'bad_response';
    throw new ProviderError(name, kind, `${name} returned an error inside a 200 response`, { cause: error ?? choice?.error });
  }
  const text = choice?.message?.content;
  if (typeof text !== 'string' || text === '') throw noAnswer(name, choice?.finish_reason);
  return {
    text,
    model: typeof model === 'string' && model !== '' ? model : requestedModel,
    finishReason: toFinishReason(choice?.finish_reason),
    usage: toUsage(usage),
  };
}

/**
 * What a Chat Completions stream's events mean, as CompletionChunks: text as it comes, then one
 * last chunk with the finish reason and usage. Every failure comes out as a ProviderError.
 */
export class ChatStreamReader implements ChunkReader<CompletionChunk> {
  readonly #name: ProviderName;
  readonly #signal: AbortSignal;
  #model: string | undefined;
  #finishReason: FinishReason | undefined;
  #usage: TokenUsage | undefined;
  #answered = false;

  constructor(name: ProviderName, signal: AbortSignal) {
    this.#name = name;
    this.#signal = signal;
  }

  data(raw: unknown): CompletionChunk | undefined {
    const name = this.#name;
    if (typeof raw !== 'object' || raw === null) throw new ProviderError(name, 'bad_response', `${name} sent an event that is not a chunk`);
    const chunk = raw as WireBody;
    if (typeof chunk.x_groq?.error === 'string') {
      throw new ProviderError(name, 'unavailable', `${name} stream stopped early`, { cause: chunk.x_groq.error });
    }
    if (typeof chunk.model === 'string') this.#model ??= chunk.model;
    // The usage-only chunk has `choices: []`; Groq also puts usage in x_groq.
    this.#usage = toUsage(chunk.usage ?? chunk.x_groq?.usage) ?? this.#usage;
    // An error event inside a 200 stream: its code (a number, or OpenRouter's error_type) says what kind of failure it was.
    if (chunk.error != null) {
      const kind = isRateLimit(chunk.error) ? 'rate_limited' : 'unavailable';
      throw new ProviderError(name, kind, `${name} reported an error mid-stream`);
    }
    const choice = chunk.choices?.[0];
    if (choice === undefined) return undefined;
    if (choice.finish_reason === 'error') throw new ProviderError(name, 'bad_response', `${name} stream ended with an error`);
    if (choice.finish_reason) this.#finishReason = toFinishReason(choice.finish_reason);
    const text = choice.delta?.content;
    if (typeof text !== 'string' || text === '') {
      // The model is thinking: never text of the answer, but a sign of life.
      const reasoning = choice.delta?.reasoning ?? choice.delta?.reasoning_content;
      return typeof reasoning === 'string' && reasoning !== '' ? THINKING : undefined;
    }
    this.#answered = true;
    return { text, model: this.#model };
  }

  end(): CompletionChunk {
    const name = this.#name;
    // A stream cut by the signal must not pass for a finished one.
    if (this.#signal.aborted) throw abortError(name, this.#signal, undefined);
    if (this.#finishReason === undefined) throw new ProviderError(name, 'bad_response', `${name} stream ended before the answer was complete`);
    if (!this.#answered) throw noAnswer(name, this.#finishReason);
    return { text: '', model: this.#model, finishReason: this.#finishReason, usage: this.#usage };
  }

  fail(error: unknown): ProviderError {
    return toProviderError(this.#name, error, this.#signal);
  }
}

/** An answer with no text: the request's doing or the provider's failure, as its finish reason says. */
function noAnswer(name: ProviderName, finishReason: string | null | undefined): ProviderError {
  return new ProviderError(name, emptyAnswerKind(toFinishReason(finishReason)), `${name} returned no answer (finish reason ${finishReason ?? 'none'})`);
}

function toFinishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'stop' || reason === 'length' || reason === 'content_filter') return reason;
  return 'other';
}

function toUsage(usage: WireUsage | null | undefined): TokenUsage | undefined {
  if (usage === null || usage === undefined) return undefined;
  return usageOf(tokenCount(usage.prompt_tokens), tokenCount(usage.completion_tokens), usage.total_tokens, tokenCount(usage.completion_tokens_details?.reasoning_tokens));
}

const THINKING: CompletionChunk = Object.freeze({ text: '', thinking: true });

/** An error object that is a rate limit: OpenRouter's `{code: 429}` or its `metadata.error_type`. */
function isRateLimit(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, metadata } = error as { code?: unknown; metadata?: { error_type?: unknown } };
  return code === 429 || metadata?.error_type === 'rate_limit_exceeded';
}
