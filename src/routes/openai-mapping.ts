// Translation between OpenAI's chat wire shapes and the providers' own types; no I/O here.
import { randomUUID } from 'node:crypto';
import type { ChatMessage, CompletionRequest, FinishReason, TokenUsage } from '../providers/types.ts';
import {
  DEFAULT_MAX_TOKENS,
  DEFAULT_TEMPERATURE,
  OPENAI_FINISH_REASONS,
  type ChatCompletionBody,
} from '../schemas/openai.ts';

export function toCompletionRequest(body: ChatCompletionBody, exactModel: string | undefined): CompletionRequest {
  const stop = typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []);
  return {
    messages: body.messages.map(toChatMessage),
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
    temperature: body.temperature ?? DEFAULT_TEMPERATURE,
    ...(body.top_p != null && { topP: body.top_p }),
    ...(stop.length > 0 && { stop }),
    ...(exactModel !== undefined && { model: exactModel }),
  };
}

function toChatMessage(message: ChatCompletionBody['messages'][number]): ChatMessage {
  const role = message.role === 'developer' ? 'system' : message.role;
  // Text parts only (the schema rejects the others), joined as separate lines.
  const content = typeof message.content === 'string' ? message.content : message.content.map((part) => part.text ?? '').join('\n');
  return { role, content };
}

export type OpenAiFinishReason = (typeof OPENAI_FINISH_REASONS)[number];

/** OpenAI has no "other": a provider's unknown reason reads as a normal stop. */
export function toOpenAiFinishReason(reason: FinishReason): OpenAiFinishReason {
  return reason === 'other' ? 'stop' : reason;
}

/** OpenAI clients expect numbers; 0 stands for "the provider did not say". */
export function toOpenAiUsage(usage: TokenUsage | undefined) {
  return {
    prompt_tokens: usage?.promptTokens ?? 0,
    completion_tokens: usage?.completionTokens ?? 0,
    total_tokens: usage?.totalTokens ?? 0,
  };
}

/** randomUUID draws from a cached pool of random bytes; randomBytes would ask the system each time. */
export const completionId = (): string => `chatcmpl-${randomUUID().replaceAll('-', '')}`;
export const unixSeconds = (): number => Math.floor(Date.now() / 1000);

/** The public name of what answered: "provider/model". */
export const publicModel = (provider: string, model: string): string => `${provider}/${model}`;

export interface ChunkMeta {
  id: string;
  created: number;
  model: string;
  /** With stream_options.include_usage every chunk carries `usage: null`, as OpenAI's do. */
  includeUsage: boolean;
}

/** One `chat.completion.chunk` with a single choice. */
export function chunkEvent(meta: ChunkMeta, delta: Record<string, string>, finishReason: OpenAiFinishReason | null) {
  return {
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(meta.includeUsage && { usage: null }),
  };
}

/** The usage-only chunk sent last (before [DONE]) when the caller asked for include_usage. */
export function usageEvent(meta: ChunkMeta, usage: TokenUsage | undefined) {
  return {
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [],
    usage: toOpenAiUsage(usage),
  };
}
