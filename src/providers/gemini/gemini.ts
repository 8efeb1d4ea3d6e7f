// Gemini through its REST API (v1beta): generateContent, streamGenerateContent with `alt=sse`,
// embedContent and batchEmbedContents, each a JSON POST with the key in `x-goog-api-key`, on the
// provider's own keep-alive pool. What the bodies mean is read in gemini-mapping.ts, and what
// its errors mean in gemini-errors.ts.
//
// Why not @google/generative-ai: the package is deprecated, it calls the global fetch only (so
// every call went through web streams and a Response wrapper built for it), and it costs memory
// and CPU per call for what is one POST and one JSON or event-stream answer.
import { checkGemini } from './gemini-check.ts';
import { fromHttpStatus } from './gemini-errors.ts';
import { blockedPrompt, failedFinish, mapFinishReason, noText, readResponse, toCompletion, toGeminiRequest } from './gemini-mapping.ts';
import type { ReasoningSetting } from '../registry.ts';
import { ProviderError, abortError, toProviderError } from '../provider-error.ts';
import { readEventStream, type EventReader } from '../transport/event-stream.ts';
import { SkippedEvents } from '../transport/skipped-events.ts';
import { readAll, readJson, utf8Text } from '../transport/response-body.ts';
import { createUpstreamPool, type UpstreamAnswer } from '../transport/upstream-http.ts';
import type { Completion, CompletionChunk, CompletionRequest, EmbeddingRequest, Embeddings, Provider } from '../types.ts';

export interface GeminiSettings {
  apiKey: string;
  model: string;
  /** The API's root, e.g. https://generativelanguage.googleapis.com; `/v1beta/...` is appended. */
  baseUrl: string;
  embeddingModel: string;
  userAgent: string;
  /** The thinking control when a request names none (see gemini-models.ts). */
  reasoningEffort?: ReasoningSetting;
}

/** An error body is read only for its details; a longer one is not an error body. */
const MAX_ERROR_BYTES = 64 * 1024;

export function createGeminiProvider(settings: GeminiSettings): Provider {
  const pool = createUpstreamPool(settings.baseUrl);
  const root = `${new URL(settings.baseUrl).pathname.replace(/\/+$/, '')}/v1beta/`;
  // Built once: the same headers go with every call.
  const common = { 'content-type': 'application/json', 'x-goog-api-key': settings.apiKey, 'user-agent': settings.userAgent };
  const jsonHeaders = { ...common, accept: 'application/json' };
  const streamHeaders = { ...common, accept: 'text/event-stream' };
  const checkHeaders = { 'x-goog-api-key': settings.apiKey, 'user-agent': settings.userAgent, accept: 'application/json' };

  /** Resolves to a 2xx answer; any other status rejects with what it means. */
  async function post(path: string, body: object, headers: typeof jsonHeaders, signal: AbortSignal): Promise<UpstreamAnswer> {
    const answer = await pool.post(path, headers, JSON.stringify(body), signal);
    if (answer.status >= 200 && answer.status < 300) return answer;
    const text = await readAll(answer.body, MAX_ERROR_BYTES).then(
      (bytes) => (bytes === undefined ? undefined : utf8Text(bytes)),
      () => undefined,
    );
    throw fromHttpStatus(answer.status, text);
  }

  async function postJson(path: string, body: object, signal: AbortSignal): Promise<unknown> {
    return readJson('gemini', (await post(path, body, jsonHeaders, signal)).body);
  }

  return {
    name: 'gemini',
    model: settings.model,
    embeddingModel: settings.embeddingModel,

    async complete(request: CompletionRequest, signal: AbortSignal): Promise<Completion> {
      const modelId = request.model ?? settings.model;
      try {
        const body = toGeminiRequest(request, modelId, settings.reasoningEffort);
        return toCompletion(await postJson(`${root}${resource(modelId)}:generateContent`, body, signal), modelId);
      } catch (error) {
        throw toProviderError('gemini', error, signal);
      }
    },

    stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk> {
      const modelId = request.model ?? settings.model;
      const path = `${root}${resource(modelId)}:streamGenerateContent?alt=sse`;
      return readEventStream(
        async () => (await post(path, toGeminiRequest(request, modelId, settings.reasoningEffort), streamHeaders, signal)).body,
        new GeminiStreamReader(modelId, signal, request.parallelToolCalls === false),
        { name: 'gemini' },
      );
    },

    async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<Embeddings> {
      const modelId = request.model ?? settings.embeddingModel;
      const { inputs } = request;
      const [first] = inputs;
      if (first === undefined) throw new ProviderError('gemini', 'rejected', 'No input to embed');
      const model = resource(modelId);
      try {
        // One input goes to embedContent; several to one batchEmbedContents call, answered in order.
        const vectors =
          inputs.length === 1
            ? [valuesOf(field(await postJson(`${root}${model}:embedContent`, { content: textContent(first) }, signal), 'embedding'))]
            : listOf(
                await postJson(`${root}${model}:batchEmbedContents`, { requests: inputs.map((text) => ({ model, content: textContent(text) })) }, signal),
              );
        if (vectors.length !== inputs.length || !vectors.every(isVector)) throw badResponse('Gemini returned no usable embeddings');
        return { vectors, model: modelId };
      } catch (error) {
        throw toProviderError('gemini', error, signal);
      }
    },

    check: (signal) => checkGemini({ pool, root, headers: checkHeaders, chatModel: settings.model, embeddingModel: settings.embeddingModel }, signal),

    close: () => pool.close(),
  };
}

/**
 * What a Gemini stream's events mean. Each is a whole GenerateContentResponse holding the next
 * piece of text; the last one has the finish reason. There is no end marker: the answer just ends.
 */
class GeminiStreamReader implements EventReader<CompletionChunk> {
  readonly #modelId: string;
  readonly #signal: AbortSignal;
  #sawText = false;
  #finished = false;
  readonly #skipped = new SkippedEvents();
  /** Calls so far: Gemini sends each whole, so each is one delta at the next index. */
  #calls = 0;
  /** Lines that are not server-sent events: Gemini can write a bare JSON error into a 200 stream. */
  #stray = '';

  /** parallel_tool_calls false: Gemini has no such switch, so calls after the first are dropped. */
  readonly #oneCall: boolean;

  constructor(modelId: string, signal: AbortSignal, oneCall = false) {
    this.#modelId = modelId;
    this.#signal = signal;
    this.#oneCall = oneCall;
  }

  event(data: string): CompletionChunk | undefined {
    const parsed = parseEvent(data);
    if (parsed instanceof SyntaxError) {
      // Skipped; the stream must still end with a finish reason (end()).
      this.#skipped.skip('gemini', parsed);
      return undefined;
    }
    const read = readResponse(parsed);
    if (read.blockReason) throw blockedPrompt(read.blockReason);
    this.#sawText ||= read.text !== '';
    const model = read.model ?? this.#modelId;
    const wanted = this.#oneCall ? read.toolCalls.slice(0, Math.max(0, 1 - this.#calls)) : read.toolCalls;
    const toolCalls = wanted.map((call) => ({ index: this.#calls++, id: call.id, name: call.name, arguments: call.arguments }));
    const calls = toolCalls.length > 0 ? { toolCalls } : {};
    if (read.finishReason === undefined) return read.text === '' && toolCalls.length === 0 ? undefined : { text: read.text, model, ...calls };
    if (!this.#sawText && this.#calls === 0) throw noText(read.finishReason);
    const failed = failedFinish(read.finishReason);
    if (failed) throw failed;
    this.#finished = true;
    // Gemini ends an answer that calls functions with STOP; OpenAI's clients look for tool_calls.
    const finishReason = this.#calls > 0 ? 'tool_calls' : mapFinishReason(read.finishReason);
    return { text: read.text, model, finishReason, ...calls, ...(read.usage ? { usage: read.usage } : {}), ...this.#skipped.field };
  }

  /**
   * A line outside any event. The official SDK reads a JSON error object written into the stream
   * this way (pretty-printed over several lines, or on one) as the error it is; so does this.
   */
  stray(line: string): undefined {
    if (this.#stray.length + line.length > MAX_ERROR_BYTES) return undefined;
    this.#stray += `${line}\n`;
    const error = field(parseJson(this.#stray), 'error');
    if (typeof error === 'object' && error !== null) {
      const code = field(error, 'code');
      throw fromHttpStatus(typeof code === 'number' ? code : 500, this.#stray);
    }
    return undefined;
  }

  end(): undefined {
    // A cut connection can end the body quietly; it must not look like success.
    if (this.#signal.aborted) throw abortError('gemini', this.#signal, undefined);
    if (!this.#finished) throw badResponse('Gemini stream ended without a finish reason');
    return undefined;
  }

  fail(error: unknown): ProviderError {
    return toProviderError('gemini', error, this.#signal);
  }
}

/** A model id as a resource name: "models/{id}", unless it already names one ("tunedModels/x"). */
function resource(modelId: string): string {
  return modelId.includes('/') ? modelId : `models/${modelId}`;
}

function textContent(text: string) {
  return { role: 'user', parts: [{ text }] };
}

/**
 * One event's JSON, or the SyntaxError when it does not parse; an event that is a google.rpc.Status
 * error fails like the HTTP status would.
 */
function parseEvent(data: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch (error) {
    return error;
  }
  const error = field(parsed, 'error');
  if (typeof error === 'object' && error !== null) {
    const code = field(error, 'code');
    throw fromHttpStatus(typeof code === 'number' ? code : 500, data);
  }
  return parsed;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `value[name]` when value is an object. */
function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** An embedding's numbers: `{ values: [...] }`. */
const valuesOf = (embedding: unknown): unknown => field(embedding, 'values');

/** batchEmbedContents' vectors: `{ embeddings: [{ values }, ...] }`, in request order. */
function listOf(body: unknown): unknown[] {
  const embeddings = field(body, 'embeddings');
  return Array.isArray(embeddings) ? embeddings.map(valuesOf) : [];
}

function isVector(values: unknown): values is number[] {
  return Array.isArray(values) && values.length > 0 && values.every((v) => typeof v === 'number');
}

function badResponse(message: string, cause?: unknown): ProviderError {
  return new ProviderError('gemini', 'bad_response', message, cause === undefined ? {} : { cause });
}
