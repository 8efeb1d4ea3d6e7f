// Pure translation between our types and Gemini's wire shapes; no I/O here.
import type { GenerateContentRequest, GenerateContentResponse } from '@google/generative-ai';
import { ProviderError } from './provider-error.ts';
import type { Completion, CompletionRequest, FinishReason, TokenUsage } from './types.ts';

/** Our chat messages as a Gemini request: system text apart, assistant turns as role "model". */
export function toGeminiRequest(request: CompletionRequest): GenerateContentRequest {
  const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const contents = request.messages
    .filter((m) => m.role !== 'system')
    .map((m) => ({ role: m.role === 'assistant' ? 'model' : 'user', parts: [{ text: m.content }] }));
  // Gemini refuses an empty `contents` with a 400; say so without a round trip.
  if (contents.length === 0) {
    throw new ProviderError('gemini', 'rejected', 'Gemini needs at least one user or assistant message');
  }
  return {
    contents,
    generationConfig: {
      maxOutputTokens: request.maxTokens,
      temperature: request.temperature,
      ...(request.topP === undefined ? {} : { topP: request.topP }),
      ...(request.stop?.length ? { stopSequences: request.stop } : {}),
    },
    // The SDK turns a string into {role: "system", parts: [{text}]}.
    ...(system.length > 0 ? { systemInstruction: system.join('\n\n') } : {}),
  };
}

/** A whole answer, or a ProviderError when the 200 is a failure in disguise. */
export function toCompletion(response: GenerateContentResponse, modelId: string): Completion {
  const read = readResponse(response);
  if (read.blockReason) throw blockedPrompt(read.blockReason);
  if (!read.hasCandidate) throw new ProviderError('gemini', 'bad_response', 'Gemini returned no candidates');
  if (read.text === '') throw noText(read.finishReason);
  return {
    text: read.text,
    model: read.model ?? modelId,
    finishReason: mapFinishReason(read.finishReason),
    ...(read.usage ? { usage: read.usage } : {}),
  };
}

interface ReadResponse {
  hasCandidate: boolean;
  text: string;
  finishReason: string | undefined;
  blockReason: string | undefined;
  model: string | undefined;
  usage: TokenUsage | undefined;
}

/** Reads a GenerateContentResponse directly; the SDK's text() throws on some blocks and not others. */
export function readResponse(response: GenerateContentResponse): ReadResponse {
  const candidate = response.candidates?.[0];
  const text = (candidate?.content?.parts ?? []).map((part) => part.text ?? '').join('');
  // Enum-typed in the SDK, but the API adds values over time: treat them as open strings.
  const finishReason: string | undefined = candidate?.finishReason;
  const blockReason: string | undefined = response.promptFeedback?.blockReason;
  // modelVersion is on the wire but not in the 0.24.1 types.
  const version = 'modelVersion' in response ? response.modelVersion : undefined;
  const model = typeof version === 'string' ? version : undefined;
  return { hasCandidate: candidate !== undefined, text, finishReason, blockReason, model, usage: toUsage(response) };
}

function toUsage(response: GenerateContentResponse): TokenUsage | undefined {
  const meta = response.usageMetadata;
  if (!meta) return undefined;
  // Thinking tokens are billed as output but counted apart (and not typed in 0.24.1).
  const thinking = 'thoughtsTokenCount' in meta ? meta.thoughtsTokenCount : undefined;
  const thoughts = typeof thinking === 'number' ? thinking : 0;
  const promptTokens = meta.promptTokenCount ?? 0;
  const completionTokens = (meta.candidatesTokenCount ?? 0) + thoughts;
  return { promptTokens, completionTokens, totalTokens: meta.totalTokenCount ?? promptTokens + completionTokens };
}

const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

export function mapFinishReason(reason: string | undefined): FinishReason {
  if (reason === 'STOP') return 'stop';
  if (reason === 'MAX_TOKENS') return 'length';
  return reason !== undefined && FILTERED.has(reason) ? 'content_filter' : 'other';
}

export function blockedPrompt(blockReason: string): ProviderError {
  return new ProviderError('gemini', 'bad_response', `Gemini blocked the prompt (${blockReason})`);
}

export function noText(finishReason: string | undefined): ProviderError {
  const reason = finishReason ?? 'none';
  return new ProviderError('gemini', 'bad_response', `Gemini returned no text (finish reason ${reason})`);
}
