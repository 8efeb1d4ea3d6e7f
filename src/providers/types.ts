// The one interface every provider adapter implements. A provider kind is a row in registry.ts
// whose factory returns a Provider.
import type { IncomingHttpHeaders } from 'node:http';
import type { WindowCorrection } from '../state/quota-store.ts';

/** A provider's name: a built-in one ("groq") or one EXTRA_PROVIDERS names ("ollama"). */
export type ProviderName = string;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** An assistant turn's function calls (its content may then be empty). */
  toolCalls?: ToolCall[];
  /** A tool turn: the id of the call whose result `content` is. */
  toolCallId?: string;
}

/** A function call the model made: `arguments` is its JSON text, as OpenAI's wire carries it. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A function the model may call; `parameters` is a JSON Schema object (validated at the route). */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

/** Whether and which function the model must call. */
export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

/** Plain text, any JSON object, or JSON conforming to a schema. */
export type ResponseFormat =
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean; description?: string };

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
  /** Functions the model may call; absent on a plain request. */
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** False: at most one call per turn. */
  parallelToolCalls?: boolean;
  /** Absent: plain text. */
  responseFormat?: ResponseFormat;
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

export type FinishReason = 'stop' | 'length' | 'content_filter' | 'tool_calls' | 'other';

export interface Completion {
  text: string;
  /** The model that actually answered, as the provider reports it. */
  model: string;
  finishReason: FinishReason;
  usage?: TokenUsage;
  /** Events of the provider's stream skipped because their data did not parse. */
  skippedEvents?: number;
  /** The function calls the answer asks for (its text may then be empty). */
  toolCalls?: ToolCall[];
}

/**
 * A piece of a streamed function call, as OpenAI streams them: the first piece of call `index`
 * has its id and name, later ones only more of its arguments' JSON text.
 */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

/**
 * One piece of a streamed answer. The last chunk carries finishReason and, when known, usage. A
 * chunk with no text and `thinking` set says the model is reasoning: never answer text, but proof
 * that the provider is alive.
 */
export interface CompletionChunk {
  text: string;
  thinking?: true;
  /** Function-call pieces: like text, the answer itself (the first counts as the first token). */
  toolCalls?: ToolCallDelta[];
  model?: string;
  finishReason?: FinishReason;
  usage?: TokenUsage;
  /** On the last chunk: events the reader skipped because their data did not parse. */
  skippedEvents?: number;
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

/** What a start-up check found: the key works and the configured models exist, or what is wrong. */
export type CheckOutcome = 'ok' | 'key_rejected' | 'model_missing' | 'unreachable' | 'unknown';

/** A configured model the provider does not list, with the listed names nearest to it. */
export interface MissingModel {
  model: string;
  use: 'chat' | 'embeddings';
  nearest: string[];
}

/** OpenRouter's account: whether it is on the free tier, and its free-model requests left today (UTC). */
export interface FreeTierInfo {
  isFreeTier?: boolean;
  dailyRequestsLimit?: number;
  dailyRequestsRemaining?: number;
}

export interface ProviderCheck {
  outcome: CheckOutcome;
  missing?: MissingModel[];
  /** What could not be told, in a few words of ours (never the provider's message, which may quote the request). */
  detail?: string;
  /** The provider may still answer a name it does not list (an operator's own runtime): report a missing model, never skip for it. */
  advisory?: true;
  freeTier?: FreeTierInfo;
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
  /**
   * Asks the provider whether the key works and the configured models exist (its model list).
   * Never rejects: a failure is an outcome. Honours the signal (then: unreachable).
   */
  check?(signal: AbortSignal): Promise<ProviderCheck>;
  /** Set when the provider can say what is left of its quota (OpenRouter's key endpoint). */
  readQuota?(signal: AbortSignal, now: number): Promise<WindowCorrection[]>;
  /** Set when the provider's answers carry headers worth reading (rate limits): see HeadersWatcher. */
  watchHeaders?(watcher: HeadersWatcher): void;
  /** Releases the provider's connection pool. */
  close(): Promise<void>;
}

/** Sees each upstream answer's status and headers, with the model the call asked for. */
export type HeadersWatcher = (headers: IncomingHttpHeaders, status: number, model: string | undefined) => void;
