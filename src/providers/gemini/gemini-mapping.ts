// Pure translation between our types and Gemini's wire shapes (v1beta generateContent); no I/O.
import { ProviderError, emptyAnswerError } from '../provider-error.ts';
import type { ReasoningSetting } from '../registry.ts';
import { tokenCount, usageOf, type Completion, type CompletionRequest, type FinishReason, type TokenUsage, type ToolCall } from '../types.ts';
import {
  callNames,
  functionCallParts,
  functionResponsePart,
  readFunctionCall,
  toGeminiOutput,
  toGeminiTools,
  type FunctionCallPart,
  type FunctionResponsePart,
  type GeminiOutputFields,
  type GeminiToolFields,
} from './gemini-tools.ts';
import { refusesTrailingModelTurn, thinkingConfig, type ThinkingConfig } from './gemini-models.ts';

interface GeminiContent {
  role: string;
  parts: Array<{ text: string } | FunctionCallPart | FunctionResponsePart>;
}

/** The body of generateContent and streamGenerateContent, as we send it. */
export interface GenerateContentRequest extends GeminiToolFields {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
  generationConfig: GeminiOutputFields & {
    maxOutputTokens: number;
    temperature?: number;
    topP?: number;
    stopSequences?: string[];
    thinkingConfig?: ThinkingConfig;
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

/**
 * Our chat messages as a Gemini request for `modelId`: system text apart, assistant turns as role
 * "model". Gemini refuses a part with empty text ("required oneof field 'data'"), so an empty
 * message is left out, and turns of one role that then meet are joined. A Gemini 3 model refuses
 * a conversation that ends with a model turn: that is refused here, before the call, so the
 * cascade asks a provider that takes it.
 */
export function toGeminiRequest(request: CompletionRequest, modelId: string, defaultEffort: ReasoningSetting = 'default'): GenerateContentRequest {
  let system = request.messages.filter((m) => m.role === 'system' && m.content !== '').map((m) => m.content);
  const contents: GeminiContent[] = [];
  const signs = refusesTrailingModelTurn(modelId);
  const names = request.tools === undefined && !request.messages.some((m) => m.role === 'tool') ? undefined : callNames(request.messages);
  for (const message of request.messages) {
    if (message.role === 'system') continue;
    // A tool's result is a functionResponse in a user turn; an assistant's calls, functionCall parts.
    const parts: GeminiContent['parts'] =
      message.role === 'tool'
        ? [functionResponsePart(message, names ?? new Map())]
        : [...(message.content === '' ? [] : [{ text: message.content }]), ...functionCallParts(message.toolCalls ?? [], signs)];
    if (parts.length === 0) continue;
    const role = message.role === 'assistant' ? 'model' : 'user';
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  }
  // Gemini refuses an empty `contents`, while OpenAI answers a conversation of system messages
  // alone: their text becomes the one user turn.
  if (contents.length === 0 && system.length > 0) {
    contents.push({ role: 'user', parts: [{ text: system.join('\n\n') }] });
    system = [];
  }
  if (contents.length === 0) {
    throw new ProviderError('gemini', 'rejected', 'Gemini needs at least one message with text');
  }
  if (contents.at(-1)?.role === 'model' && refusesTrailingModelTurn(modelId)) {
    throw new ProviderError('gemini', 'rejected', `Gemini ${modelId} does not take a conversation that ends with an assistant turn`);
  }
  const thinking = thinkingConfig(modelId, request.reasoningEffort ?? defaultEffort);
  return {
    contents,
    ...toGeminiTools(request),
    generationConfig: {
      ...toGeminiOutput(request),
      maxOutputTokens: request.maxTokens,
      ...(request.temperature !== undefined && { temperature: request.temperature }),
      ...(request.topP === undefined ? {} : { topP: request.topP }),
      ...(request.stop?.length ? { stopSequences: request.stop } : {}),
      ...(thinking && { thinkingConfig: thinking }),
    },
    ...(system.length > 0 ? { systemInstruction: { role: 'system', parts: [{ text: system.join('\n\n') }] } } : {}),
  };
}

/** A whole answer, or a ProviderError when the 200 is a failure in disguise. */
export function toCompletion(response: unknown, modelId: string): Completion {
  const read = readResponse(response);
  if (read.blockReason) throw blockedPrompt(read.blockReason);
  if (!read.hasCandidate) throw new ProviderError('gemini', 'bad_response', 'Gemini returned no candidates');
  if (read.text === '' && read.toolCalls.length === 0) throw noText(read.finishReason);
  const failed = failedFinish(read.finishReason);
  if (failed) throw failed;
  return {
    text: read.text,
    model: read.model ?? modelId,
    // Gemini ends an answer that calls functions with STOP; OpenAI's clients look for tool_calls.
    finishReason: read.toolCalls.length > 0 ? 'tool_calls' : mapFinishReason(read.finishReason),
    ...(read.usage ? { usage: read.usage } : {}),
    ...(read.toolCalls.length > 0 && { toolCalls: read.toolCalls }),
  };
}

interface ReadResponse {
  hasCandidate: boolean;
  text: string;
  /** The function calls among the parts, in order. */
  toolCalls: ToolCall[];
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
  // A thought (`thought: true`, sent when thoughts are asked for) is never text of the answer.
  const answerText = (part: { text?: unknown; thought?: unknown } | null) => (typeof part?.text === 'string' && part.thought !== true ? part.text : '');
  const text = Array.isArray(parts) ? parts.map(answerText).join('') : '';
  const toolCalls = Array.isArray(parts) ? parts.map(readFunctionCall).filter((call) => call !== undefined) : [];
  // The API adds finish and block reasons over time: treat them as open strings.
  return {
    hasCandidate: candidate !== undefined,
    text,
    toolCalls,
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
  return usageOf(count(meta.promptTokenCount), completionTokens, meta.totalTokenCount, thoughts);
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

/**
 * An answer that stopped for a reason that is neither a whole answer, a length cut nor a filter
 * (OTHER, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS, one added later): a
 * failure of the provider, never a clean stop to the caller.
 */
export function failedFinish(reason: string | undefined): ProviderError | undefined {
  if (reason === undefined || mapFinishReason(reason) !== 'other') return undefined;
  return new ProviderError('gemini', 'bad_response', `Gemini stopped the answer for ${/^[A-Z_]{1,40}$/.test(reason) ? reason : 'an unknown reason'}`);
}

/** A prompt Gemini will not answer: the request's doing, so no retry and no mark against Gemini. */
export function blockedPrompt(blockReason: string): ProviderError {
  // Every block reason (SAFETY, BLOCKLIST, PROHIBITED_CONTENT, IMAGE_SAFETY, OTHER) is about content.
  return new ProviderError('gemini', 'rejected', `Gemini blocked the prompt (${/^[A-Z_]{1,40}$/.test(blockReason) ? blockReason : 'an unknown reason'})`, { contentFilter: true });
}

/** An answer with no text: the request's doing or Gemini's failure, as its finish reason says. */
export function noText(finishReason: string | undefined): ProviderError {
  return emptyAnswerError('gemini', mapFinishReason(finishReason), `Gemini returned no text (finish reason ${finishReason ?? 'none'})`);
}
