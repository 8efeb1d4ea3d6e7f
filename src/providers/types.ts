// The one interface every provider adapter implements. A provider kind is a row in registry.ts
// whose factory returns a Provider.
import type { IncomingHttpHeaders } from 'node:http';
import type { WindowCorrection } from '../state/quota-store.ts';

/** A provider's name: a built-in one ("groq") or one EXTRA_PROVIDERS names ("ollama"). */
export type ProviderName = string;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** How hard a reasoning model may think before it answers; each adapter maps it to its provider's control. */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high';

export interface CompletionRequest {
  messages: ChatMessage[];
  maxTokens: number;
  /** Undefined: the caller did not ask for one, and the provider's own default applies. */
  temperature?: number | undefined;
  topP?: number;
  /** Undefined: the provider's configured default. */
  reasoningEffort?: ReasoningEffort | undefined;
  stop?: string[];
  /** Overrides the provider's configured model for this call. */
  model?: string;
}

/** A provider's token counts; a count it did not give, or gave as something other than a count, is left out. */
export interface TokenUsage {
  promptTokens?: number | undefined;
  /** Includes reasoningTokens, as every provider counts them. */
  completionTokens?: number | undefined;
  totalTokens?: number | undefined;
  /** The part of completionTokens spent on thinking, when the provider says there was any. */
  reasoningTokens?: number | undefined;
}

/** The total as given, or else the sum of the other two when both are known. */
export function usageOf(promptTokens: number | undefined, completionTokens: number | undefined, total: unknown, reasoningTokens?: number): TokenUsage | undefined {
  const totalTokens = tokenCount(total) ?? (promptTokens !== undefined && completionTokens !== undefined ? promptTokens + completionTokens : undefined);
  if (promptTokens === undefined && completionTokens === undefined && totalTokens === undefined) return undefined;
  return { promptTokens, completionTokens, totalTokens, ...(reasoningTokens ? { reasoningTokens } : {}) };
}

/** A provider's token count, when it is one (a whole number, not negative); otherwise undefined. */
export const tokenCount = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'other';

export interface Completion {
  text: string;
  /** The model that actually answered, as the provider reports it. */
  model: string;
  finishReason: FinishReason;
  usage?: TokenUsage;
}

/**
 * One piece of a streamed answer. The last chunk carries finishReason and, when known, usage. A
 * chunk with no text and `thinking` set says the model is reasoning: never answer text, but proof
 * that the provider is alive.
 */
export interface CompletionChunk {
  text: string;
  thinking?: true;
  model?: string;
  finishReason?: FinishReason;
  usage?: TokenUsage;
}

export interface EmbeddingRequest {
  inputs: string[];
  model?: string;
}

export interface Embeddings {
  vectors: number[][];
  model: string;
  usage?: { promptTokens: number };
}

export interface Provider {
  readonly name: ProviderName;
  readonly model: string;
  /** Set when the provider can serve /v1/embeddings. */
  readonly embeddingModel?: string;
  /** Resolves with the whole answer or rejects with a ProviderError; honours the signal. */
  complete(request: CompletionRequest, signal: AbortSignal): Promise<Completion>;
  /**
   * Yields text deltas. Throws ProviderError before or during iteration. A stream that ends
   * because the signal aborted throws too: it never ends quietly.
   */
  stream(request: CompletionRequest, signal: AbortSignal): AsyncIterable<CompletionChunk>;
  embed?(request: EmbeddingRequest, signal: AbortSignal): Promise<Embeddings>;
  /** Set when the provider can say what is left of its quota (OpenRouter's key endpoint). */
  readQuota?(signal: AbortSignal, now: number): Promise<WindowCorrection[]>;
  /** Set when the provider's answers carry headers worth reading (rate limits): see HeadersWatcher. */
  watchHeaders?(watcher: HeadersWatcher): void;
  /** Releases the provider's connection pool. */
  close(): Promise<void>;
}

/** Sees each upstream answer's status and headers, with the model the call asked for. */
export type HeadersWatcher = (headers: IncomingHttpHeaders, status: number, model: string | undefined) => void;
