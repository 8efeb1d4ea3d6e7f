// Gemini through @google/generative-ai. The SDK has three traps:
// its `timeout` timer is never cleared, an already-aborted signal is ignored, and a failed stream
// also rejects `result.response`. This adapter uses only the signal and guards all three. The SDK
// calls the global fetch; each call runs with the provider's own (scoped-fetch.ts).
import { GoogleGenerativeAI, type GenerativeModel } from '@google/generative-ai';
import { toGeminiProviderError } from './gemini-errors.ts';
import {
  blockedPrompt,
  mapFinishReason,
  noText,
  readResponse,
  toCompletion,
  toGeminiRequest,
} from './gemini-mapping.ts';
import { createFetch, createHttpAgent } from './http-agent.ts';
import { ProviderError } from './provider-error.ts';
import { withFetch } from './scoped-fetch.ts';
import type {
  Completion,
  CompletionChunk,
  CompletionRequest,
  EmbeddingRequest,
  Embeddings,
  Provider,
} from './types.ts';

export interface GeminiSettings {
  apiKey: string;
  model: string;
  /** Passed to the SDK as is; it appends `/v1beta/models/{id}:{task}`. */
  baseUrl: string;
  embeddingModel: string;
}

// Model ids can come from callers; past this many the extra ones are built per call, not kept.
const MAX_CACHED_MODELS = 32;

export function createGeminiProvider(settings: GeminiSettings): Provider {
  const client = new GoogleGenerativeAI(settings.apiKey);
  const models = new Map<string, GenerativeModel>();
  const agent = createHttpAgent();
  const transport = createFetch(agent);

  function modelFor(id: string): GenerativeModel {
    const cached = models.get(id);
    if (cached) return cached;
    // No `timeout` here on purpose: time limits come from the caller's signal.
    const model = client.getGenerativeModel({ model: id }, { baseUrl: settings.baseUrl });
    if (models.size < MAX_CACHED_MODELS) models.set(id, model);
    return model;
  }

  return {
    name: 'gemini',
    model: settings.model,
    embeddingModel: settings.embeddingModel,

    async complete(request: CompletionRequest, signal: AbortSignal): Promise<Completion> {
      const modelId = request.model ?? settings.model;
      const body = toGeminiRequest(request);
      return withCallSignal(signal, async (callSignal) => {
        const { response } = await withFetch(transport, () => modelFor(modelId).generateContent(body, { signal: callSignal }));
        return toCompletion(response, modelId);
      });
    },

    async *stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk> {
      const modelId = request.model ?? settings.model;
      const body = toGeminiRequest(request);
      if (signal.aborted) throw toGeminiProviderError(signal.reason, signal);
      const call = linkSignal(signal);
      /** Set once the body has been read to its end: then there is nothing left to cancel. */
      let drained = false;
      try {
        const result = await withFetch(transport, () => modelFor(modelId).generateContentStream(body, { signal: call.signal }));
        // Both halves of the SDK's tee() reject when the body fails; we only read `stream`.
        result.response.catch(() => undefined);
        let sawText = false;
        let finished = false;
        for await (const response of result.stream) {
          const read = readResponse(response);
          if (read.blockReason) throw blockedPrompt(read.blockReason);
          sawText ||= read.text !== '';
          if (read.finishReason === undefined) {
            if (read.text !== '') yield { text: read.text, model: read.model ?? modelId };
            continue;
          }
          if (!sawText) throw noText(read.finishReason);
          finished = true;
          yield {
            text: read.text,
            model: read.model ?? modelId,
            finishReason: mapFinishReason(read.finishReason),
            ...(read.usage ? { usage: read.usage } : {}),
          };
        }
        // An abort can end the body without an error from the SDK; it must not look like success.
        if (signal.aborted) throw toGeminiProviderError(signal.reason, signal);
        if (!finished) throw new ProviderError('gemini', 'bad_response', 'Gemini stream ended without a finish reason');
        drained = true;
      } catch (error) {
        throw toGeminiProviderError(error, signal);
      } finally {
        // Also runs when the consumer stops early: cancel the body instead of downloading the rest.
        call.release(!drained);
      }
    },

    async embed(request: EmbeddingRequest, signal: AbortSignal): Promise<Embeddings> {
      const modelId = request.model ?? settings.embeddingModel;
      if (request.inputs.length === 0) throw new ProviderError('gemini', 'rejected', 'No input to embed');
      return withCallSignal(signal, async (callSignal) => {
        const vectors = await withFetch(transport, () => fetchVectors(modelFor(modelId), request.inputs, callSignal));
        if (vectors.length !== request.inputs.length || !vectors.every(isVector)) {
          throw new ProviderError('gemini', 'bad_response', 'Gemini returned no usable embeddings');
        }
        return { vectors, model: modelId };
      });
    },

    async close(): Promise<void> {
      models.clear();
      await agent.close();
    },
  };
}

/** One input goes to embedContent; several go to one batchEmbedContents call, answered in order. */
async function fetchVectors(model: GenerativeModel, inputs: string[], signal: AbortSignal) {
  const [first] = inputs;
  if (inputs.length === 1 && first !== undefined) {
    const { embedding } = await model.embedContent(first, { signal });
    return [embedding?.values];
  }
  const requests = inputs.map((text) => ({ content: { role: 'user', parts: [{ text }] } }));
  const { embeddings } = await model.batchEmbedContents({ requests }, { signal });
  return embeddings?.map((embedding) => embedding.values) ?? [];
}

function isVector(values: number[] | undefined): values is number[] {
  return Array.isArray(values) && values.length > 0 && values.every((v) => typeof v === 'number');
}

/**
 * A signal for one SDK call that follows the caller's. The SDK adds an abort listener it never
 * removes, so it goes on this short-lived signal rather than piling up on the caller's; and
 * release(true) aborts it, which cancels any body still being read. A call that ran to its end
 * is not aborted: nothing is left to cancel, and an abort costs two DOMExceptions (ours and the
 * SDK's), which is measurable per request.
 */
function linkSignal(signal: AbortSignal): { signal: AbortSignal; release(cancel: boolean): void } {
  const controller = new AbortController();
  const forward = () => controller.abort(signal.reason);
  signal.addEventListener('abort', forward, { once: true });
  return {
    signal: controller.signal,
    release(cancel) {
      signal.removeEventListener('abort', forward);
      if (cancel && !controller.signal.aborted) controller.abort(CALL_ABANDONED);
    },
  };
}

/** Shared: only ever seen by the SDK's listener, which aborts its own controller in turn. */
const CALL_ABANDONED = new DOMException('call abandoned', 'AbortError');

/** Runs one SDK call under the caller's signal and maps anything it throws. */
async function withCallSignal<T>(signal: AbortSignal, call: (callSignal: AbortSignal) => Promise<T>): Promise<T> {
  // The SDK only listens for a future abort event; an already-aborted signal would be ignored.
  if (signal.aborted) throw toGeminiProviderError(signal.reason, signal);
  const link = linkSignal(signal);
  let done = false;
  try {
    const value = await call(link.signal);
    done = true;
    return value;
  } catch (error) {
    throw toGeminiProviderError(error, signal);
  } finally {
    link.release(!done);
  }
}
