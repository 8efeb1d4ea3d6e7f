// The Chat Completions wire protocol shared by Groq, OpenRouter and every operator's own server
// (EXTRA_PROVIDERS): the request body, reading a completion or a stream, and mapping failures to
// ProviderError. A registry row only says where to send it (URL, key, extra headers); everything
// an answer can do wrong is handled here, once.
import type { HeadersWatcher, ProviderName } from '../types.ts';
import type { WindowCorrection } from '../../state/quota-store.ts';
import type { ReasoningSetting } from '../registry.ts';
import { createChatCompletionsHttp, type ChatCompletionsTransport, type ChunkReader } from './chat-completions-http.ts';
import { GENERIC_DIALECT, type ChatDialect } from './dialects.ts';
import { checkModelList, type ModelListCheck } from './model-list-check.ts';
import { ProviderError, abortError, emptyAnswerError, toProviderError } from '../provider-error.ts';
import { SkippedEvents } from '../transport/skipped-events.ts';
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
  type ToolCall,
  type ToolCallDelta,
} from '../types.ts';
import { splitToolCallId } from '../tool-call-id.ts';

export interface ChatBody {
  model: string;
  messages: WireMessage[];
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
  /** Where the start-up check asks for the model list (and key); without it, the provider is not checked. */
  check?: ModelListCheck;
  /** How the provider says what is left of its quota, from a JSON page beside its chat URL (OpenRouter's key page). */
  readQuota?: (getJson: (relativePath: string, signal: AbortSignal) => Promise<unknown>, signal: AbortSignal, now: number) => Promise<WindowCorrection[]>;
}

/** How one provider's chat bodies are written. */
export interface ChatShape {
  dialect: ChatDialect;
  reasoningEffort: ReasoningSetting;
}

const GENERIC_SHAPE: ChatShape = { dialect: GENERIC_DIALECT, reasoningEffort: 'default' };

/** A provider on its own keep-alive pool (see upstream-http.ts), which close() releases. */
export function createOpenAICompatibleProvider(settings: OpenAICompatibleSettings): Provider {
  const { name, model, embeddingModel, dialect = GENERIC_DIALECT, reasoningEffort = 'default', check, readQuota, ...endpoint } = settings;
  const embeddingsUrl = embeddingModel === undefined ? undefined : endpoint.url.replace(/chat\/completions$/, 'embeddings');
  const pool = createUpstreamPool(endpoint.url);
  const transport = createChatCompletionsHttp({ name, ...endpoint, embeddingsUrl, pool });
  const quoted = providerOver(name, model, transport, embeddingModel, { dialect, reasoningEffort });
  const { getJson } = transport;
  const provider: Provider =
    readQuota === undefined || getJson === undefined ? quoted : { ...quoted, readQuota: (signal, now) => readQuota(getJson.bind(transport), signal, now) };
  if (check === undefined) return provider;
  // The same pool, key and User-Agent as the calls.
  const headers = {
    ...(endpoint.apiKey !== undefined && { authorization: `Bearer ${endpoint.apiKey}` }),
    'user-agent': endpoint.userAgent,
    ...endpoint.headers,
    accept: 'application/json',
  };
  const wanted = [{ model, use: 'chat' as const }, ...(embeddingModel === undefined ? [] : [{ model: embeddingModel, use: 'embeddings' as const }])];
  return { ...provider, check: (signal) => checkModelList({ ...check, pool, headers, wanted }, signal) };
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
      try {
        const body = toChatBody(request, request.model ?? model, false, shape);
        return readCompletion(name, await transport.complete(body, signal), body.model);
      } catch (error) {
        throw toProviderError(name, error, signal);
      }
    },
    stream(request, signal) {
      let body: ChatBody;
      try {
        body = toChatBody(request, request.model ?? model, true, shape);
      } catch (error) {
        return failed(toProviderError(name, error, signal));
      }
      return transport.stream(body, signal, new ChatStreamReader(name, signal));
    },
    ...(transport.watchHeaders !== undefined && { watchHeaders: (watcher: HeadersWatcher) => transport.watchHeaders?.(watcher) }),
    close: () => transport.close(),
  };
}

/** A message on the wire: text, an assistant turn's calls, or a tool's result. */
type WireMessage =
  | { role: ChatMessage['role']; content: string }
  | { role: 'assistant'; content: string | null; tool_calls: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> }
  | { role: 'tool'; tool_call_id: string; content: string };

/**
 * One message as OpenAI's wire has it. Ids lose Gemini's signature (tool-call-id.ts): only
 * Gemini reads it, and a call and its result keep the same bare id.
 */
function toWireMessage(message: ChatMessage): WireMessage {
  const { role, content, toolCalls, toolCallId } = message;
  if (role === 'tool') return { role, tool_call_id: splitToolCallId(toolCallId ?? '').id, content };
  if (role === 'assistant' && toolCalls !== undefined && toolCalls.length > 0) {
    return {
      role,
      content: content === '' ? null : content,
      tool_calls: toolCalls.map((call) => ({ id: splitToolCallId(call.id).id, type: 'function', function: { name: call.name, arguments: call.arguments } })),
    };
  }
  return { role, content };
}

/** tools, tool_choice, parallel_tool_calls and response_format, as OpenAI's wire has them; nothing on a plain request. */
function toolFields(request: CompletionRequest): Record<string, unknown> | undefined {
  if (request.tools === undefined && request.responseFormat === undefined) return undefined;
  const { tools, toolChoice, parallelToolCalls, responseFormat } = request;
  return {
    ...(tools !== undefined && {
      tools: tools.map(({ name, description, parameters, strict }) => ({
        type: 'function',
        function: { name, ...(description !== undefined && { description }), ...(parameters !== undefined && { parameters }), ...(strict !== undefined && { strict }) },
      })),
    }),
    ...(toolChoice !== undefined && { tool_choice: typeof toolChoice === 'string' ? toolChoice : { type: 'function', function: { name: toolChoice.name } } }),
    ...(parallelToolCalls !== undefined && { parallel_tool_calls: parallelToolCalls }),
    ...(responseFormat !== undefined && {
      response_format:
        responseFormat.type === 'json_object'
          ? { type: 'json_object' }
          : {
              type: 'json_schema',
              json_schema: {
                name: responseFormat.name,
                schema: responseFormat.schema,
                ...(responseFormat.strict !== undefined && { strict: responseFormat.strict }),
                ...(responseFormat.description !== undefined && { description: responseFormat.description }),
              },
            },
    }),
  };
}

export function toChatBody(request: CompletionRequest, model: string, stream: boolean, shape: ChatShape = GENERIC_SHAPE): ChatBody {
  const reasoning = shape.dialect.reasoning(model, request.reasoningEffort ?? shape.reasoningEffort);
  const tools = toolFields(request);
  if (tools !== undefined && request.responseFormat?.type === 'json_schema' && shape.dialect.honoursSchema?.(model) === false) {
    // Sent anyway, the schema would be ignored or refused: the cascade asks the next provider.
    throw new ProviderError(shape.dialect.name ?? 'provider', 'rejected', `${model} cannot honour a JSON schema`);
  }
  return {
    model,
    messages: request.messages.map(toWireMessage),
    [shape.dialect.maxTokensField]: request.maxTokens,
    ...reasoning,
    ...tools,
    ...(tools !== undefined && shape.dialect.toolExtras),
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
  message?: { content?: string | null; tool_calls?: unknown };
  /** Reasoning comes apart from the answer: `reasoning` (Groq, OpenRouter, Ollama) or `reasoning_content` (vLLM, llama-server). */
  delta?: { content?: string | null; reasoning?: unknown; reasoning_content?: unknown; tool_calls?: unknown };
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
  const toolCalls = readToolCalls(name, choice?.message?.tool_calls);
  if ((typeof text !== 'string' || text === '') && toolCalls.length === 0) throw noAnswer(name, choice?.finish_reason);
  return {
    text: typeof text === 'string' ? text : '',
    model: typeof model === 'string' && model !== '' ? model : requestedModel,
    finishReason: toFinishReason(choice?.finish_reason),
    usage: toUsage(usage),
    ...(toolCalls.length > 0 && { toolCalls }),
  };
}

/** A message's `tool_calls`: each must have an id, a name and its arguments' text. */
function readToolCalls(name: ProviderName, value: unknown): ToolCall[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ProviderError(name, 'bad_response', `${name} sent tool_calls that are not a list`);
  return value.map((item: { id?: unknown; function?: { name?: unknown; arguments?: unknown } } | null) => {
    const { id } = item ?? {};
    const fn = item?.function;
    if (typeof id !== 'string' || id === '' || typeof fn?.name !== 'string' || fn.name === '') {
      throw new ProviderError(name, 'bad_response', `${name} sent a tool call without an id or a name`);
    }
    return { id, name: fn.name, arguments: typeof fn.arguments === 'string' ? fn.arguments : '' };
  });
}

/** A stream delta's `tool_calls`: pieces with an index, the first of each call with its id and name. */
function readToolCallDeltas(name: ProviderName, value: unknown): ToolCallDelta[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ProviderError(name, 'bad_response', `${name} sent tool_calls that are not a list`);
  const deltas = value.map((item: { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } } | null, position) => {
    const index = typeof item?.index === 'number' && Number.isSafeInteger(item.index) && item.index >= 0 && item.index < MAX_TOOL_CALLS ? item.index : undefined;
    if (index === undefined && item?.index !== undefined) throw new ProviderError(name, 'bad_response', `${name} sent a tool call delta with a bad index`);
    const fn = item?.function;
    return {
      index: index ?? position,
      ...(typeof item?.id === 'string' && item.id !== '' && { id: item.id }),
      ...(typeof fn?.name === 'string' && fn.name !== '' && { name: fn.name }),
      ...(typeof fn?.arguments === 'string' && fn.arguments !== '' && { arguments: fn.arguments }),
    };
  });
  return deltas.length > 0 ? deltas : undefined;
}

/** More calls than this in one answer is not an answer. */
const MAX_TOOL_CALLS = 128;

/** A stream that fails when read: the adapter's refusal of a request, before any call. */
async function* failed(error: ProviderError): AsyncGenerator<CompletionChunk> {
  throw error;
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
  readonly #skipped = new SkippedEvents();

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
    const toolCalls = readToolCallDeltas(name, choice.delta?.tool_calls);
    const text = choice.delta?.content;
    if (toolCalls !== undefined) {
      this.#answered = true;
      return { text: typeof text === 'string' ? text : '', toolCalls, model: this.#model };
    }
    if (typeof text !== 'string' || text === '') {
      // The model is thinking: never text of the answer, but a sign of life.
      const reasoning = choice.delta?.reasoning ?? choice.delta?.reasoning_content;
      return typeof reasoning === 'string' && reasoning !== '' ? THINKING : undefined;
    }
    this.#answered = true;
    return { text, model: this.#model };
  }

  /** An event that does not parse is skipped; the stream must still end with a finish reason. */
  malformed(cause: unknown): undefined {
    this.#skipped.skip(this.#name, cause);
    return undefined;
  }

  end(): CompletionChunk {
    const name = this.#name;
    // A stream cut by the signal must not pass for a finished one.
    if (this.#signal.aborted) throw abortError(name, this.#signal, undefined);
    if (this.#finishReason === undefined) throw new ProviderError(name, 'bad_response', `${name} stream ended before the answer was complete`);
    if (!this.#answered) throw noAnswer(name, this.#finishReason);
    return { text: '', model: this.#model, finishReason: this.#finishReason, usage: this.#usage, ...this.#skipped.field };
  }

  fail(error: unknown): ProviderError {
    return toProviderError(this.#name, error, this.#signal);
  }
}

/** An answer with no text: the request's doing or the provider's failure, as its finish reason says. */
function noAnswer(name: ProviderName, finishReason: string | null | undefined): ProviderError {
  return emptyAnswerError(name, toFinishReason(finishReason), `${name} returned no answer (finish reason ${finishReason ?? 'none'})`);
}

function toFinishReason(reason: string | null | undefined): FinishReason {
  if (reason === 'stop' || reason === 'length' || reason === 'content_filter' || reason === 'tool_calls') return reason;
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
