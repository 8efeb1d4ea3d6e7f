// Pure translation between our types and Gemini's wire shapes (v1beta generateContent); no I/O.
import { ProviderError, emptyAnswerKind } from '../provider-error.ts';
import { tokenCount, usageOf, type Completion, type CompletionRequest, type FinishReason, type TokenUsage } from '../types.ts';

interface GeminiContent {
  role: string;
  parts: Array<{ text: string }>;
}

/** The body of generateContent and streamGenerateContent, as we send it. */
export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
  generationConfig: {
    maxOutputTokens: number;
    temperature?: number;
    topP?: number;
    stopSequences?: string[];
  };
}

// What we read from the wire. Nothing is trusted: every field may be missing or of another type.
interface WireCandidate {
  content?: { parts?: unknown };
  finishReason?: unknown;
}
export interface GenerateContentResponse {
  candidates?: unknown;
  promptFeedback?: { blockReason?: unknown } | null;
  usageMetadata?: {
    promptTokenCount?: unknown;
    candidatesTokenCount?: unknown;
    thoughtsTokenCount?: unknown;
    totalTokenCount?: unknown;
  } | null;
  modelVersion?: unknown;
}

/** Our chat messages as a Gemini request: system text apart, assistant turns as role "model". */
export function toGeminiRequest(request: CompletionRequest): GenerateContentRequest {
  let system = request.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const contents = request.messages
    .filter((m) => m.role !== 'system')
    .map((m) => ({ role: m.role === 'assistant' ? 'model' : 'user', parts: [{ text: m.content }] }));
  // Gemini refuses an empty `contents`, while OpenAI answers a conversation of system messages
  // alone: their text becomes the one user turn.
  if (contents.length === 0 && system.length > 0) {
    contents.push({ role: 'user', parts: [{ text: system.join('\n\n') }] });
    system = [];
  }
  if (contents.length === 0) {
    throw new ProviderError('gemini', 'rejected', 'Gemini needs at least one message');
  }
  return {
    contents,
    generationConfig: {
      maxOutputTokens: request.maxTokens,
      ...(request.temperature !== undefined && { temperature: request.temperature }),
      ...(request.topP === undefined ? {} : { topP: request.topP }),
      ...(request.stop?.length ? { stopSequences: request.stop } : {}),
    },
    ...(system.length > 0 ? { systemInstruction: { role: 'system', parts: [{ text: system.join('\n\n') }] } } : {}),
  };
}

/** A whole answer, or a ProviderError when the 200 is a failure in disguise. */
export function toCompletion(response: unknown, modelId: string): Completion {
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

/** Reads one GenerateContentResponse (a whole answer or one stream event), whatever its shape. */
export function readResponse(body: unknown): ReadResponse {
  const response: GenerateContentResponse = typeof body === 'object' && body !== null ? body : {};
  const candidates = Array.isArray(response.candidates) ? (response.candidates as unknown[]) : [];
  const first = candidates[0];
  const candidate: WireCandidate | undefined = typeof first === 'object' && first !== null ? first : undefined;
  const parts = candidate?.content?.parts;
  const text = Array.isArray(parts) ? parts.map((part: { text?: unknown } | null) => (typeof part?.text === 'string' ? part.text : '')).join('') : '';
  // The API adds finish and block reasons over time: treat them as open strings.
  return {
    hasCandidate: candidate !== undefined,
    text,
    finishReason: stringOr(candidate?.finishReason),
    blockReason: stringOr(response.promptFeedback?.blockReason),
    model: stringOr(response.modelVersion),
    usage: toUsage(response.usageMetadata),
  };
}

const stringOr = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function toUsage(meta: GenerateContentResponse['usageMetadata']): TokenUsage | undefined {
  if (typeof meta !== 'object' || meta === null) return undefined;
  // Gemini's JSON leaves out a count of zero; a count that is there but not one is unknown.
  const count = (value: unknown) => (value === undefined || value === null ? 0 : tokenCount(value));
  // Thinking tokens are billed as output but counted apart.
  const thoughts = count(meta.thoughtsTokenCount);
  const candidates = count(meta.candidatesTokenCount);
  const completionTokens = thoughts === undefined || candidates === undefined ? undefined : candidates + thoughts;
  return usageOf(count(meta.promptTokenCount), completionTokens, meta.totalTokenCount);
}

// Reasons Gemini stops an answer for its content (LANGUAGE: a language it does not support).
const FILTERED = new Set([
  'SAFETY',
  'RECITATION',
  'LANGUAGE',
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

/** A prompt Gemini will not answer: the request's doing, so no retry and no mark against Gemini. */
export function blockedPrompt(blockReason: string): ProviderError {
  return new ProviderError('gemini', 'rejected', `Gemini blocked the prompt (${blockReason})`);
}

/** An answer with no text: the request's doing or Gemini's failure, as its finish reason says. */
export function noText(finishReason: string | undefined): ProviderError {
  return new ProviderError('gemini', emptyAnswerKind(mapFinishReason(finishReason)), `Gemini returned no text (finish reason ${finishReason ?? 'none'})`);
}
