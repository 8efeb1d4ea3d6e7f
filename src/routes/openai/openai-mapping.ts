// Translation between OpenAI's chat wire shapes and the providers' own types; no I/O here.
import { randomUUID } from 'node:crypto';
import type { ChatMessage, CompletionRequest, FinishReason, ReasoningEffort, TokenUsage, ToolCall, ToolCallDelta } from '../../providers/types.ts';
import {
  DEFAULT_MAX_TOKENS,
  OPENAI_FINISH_REASONS,
  type ChatCompletionBody,
} from '../../schemas/openai.ts';

export function toCompletionRequest(body: ChatCompletionBody, exactModel: string | undefined): CompletionRequest {
  const stop = typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []);
  return {
    messages: body.messages.flatMap(toChatMessage),
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS,
    ...(body.temperature != null && { temperature: body.temperature }),
    ...(body.top_p != null && { topP: body.top_p }),
    ...(stop.length > 0 && { stop }),
    ...(body.reasoning_effort != null && { reasoningEffort: toReasoningEffort(body.reasoning_effort) }),
    ...(exactModel !== undefined && { model: exactModel }),
    ...toolRequest(body),
  };
}

/** OpenAI's xhigh and max have no counterpart at every provider: high is the most all of them take. */
const toReasoningEffort = (effort: NonNullable<ChatCompletionBody['reasoning_effort']>): ReasoningEffort =>
  effort === 'xhigh' || effort === 'max' ? 'high' : effort;

/** tools, tool_choice, parallel_tool_calls and a JSON response_format, as ours; nothing for a plain request. */
function toolRequest(body: ChatCompletionBody): Pick<CompletionRequest, 'tools' | 'toolChoice' | 'parallelToolCalls' | 'responseFormat'> {
  const { tools, tool_choice: choice, parallel_tool_calls: parallel, response_format: format } = body;
  return {
    ...(tools != null && {
      tools: tools.map(({ function: fn }) => ({
        name: fn.name,
        ...(fn.description != null && { description: fn.description }),
        ...(fn.parameters != null && { parameters: fn.parameters }),
        ...(fn.strict != null && { strict: fn.strict }),
      })),
    }),
    ...(tools != null && choice != null && { toolChoice: typeof choice === 'string' ? choice : { name: choice.function.name } }),
    ...(tools != null && parallel != null && { parallelToolCalls: parallel }),
    ...(format?.type === 'json_object' && { responseFormat: { type: 'json_object' as const } }),
    ...(format?.type === 'json_schema' && {
      responseFormat: {
        type: 'json_schema' as const,
        name: format.json_schema.name,
        // No schema: any JSON object, as OpenAI reads it.
        schema: format.json_schema.schema ?? { type: 'object' },
        ...(format.json_schema.strict != null && { strict: format.json_schema.strict }),
        ...(format.json_schema.description != null && { description: format.json_schema.description }),
      },
    }),
  };
}

/** One message as ours; an assistant message with no content keeps its refusal or its calls, or is left out. */
function toChatMessage(message: ChatCompletionBody['messages'][number]): ChatMessage[] {
  const role = message.role === 'developer' ? 'system' : message.role;
  const toolCalls = message.tool_calls?.map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
  const calls = toolCalls !== undefined && toolCalls.length > 0 ? { toolCalls } : {};
  const answers = role === 'tool' && message.tool_call_id != null ? { toolCallId: message.tool_call_id } : {};
  if (message.content == null) {
    if (message.refusal) return [{ role, content: message.refusal, ...calls }];
    return calls.toolCalls ? [{ role, content: '', ...calls }] : [];
  }
  // Text parts only (the schema rejects the others), joined as separate lines.
  const content = typeof message.content === 'string' ? message.content : message.content.map((part) => part.text ?? '').join('\n');
  return [{ role, content, ...calls, ...answers }];
}

/** Our calls as OpenAI's message.tool_calls. */
export function toOpenAiToolCalls(calls: readonly ToolCall[]) {
  return calls.map((call) => ({ id: call.id, type: 'function' as const, function: { name: call.name, arguments: call.arguments } }));
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
    completion_tokens_details: { reasoning_tokens: usage?.reasoningTokens ?? 0 },
  };
}

/** randomUUID draws from a cached pool of random bytes; randomBytes would ask the system each time. */
export const completionId = (): string => `chatcmpl-${randomUUID().replaceAll('-', '')}`;
export const unixSeconds = (): number => Math.floor(Date.now() / 1000);

/** The public name of what answered: "provider/model". */
export const publicModel = (provider: string, model: string): string => `${provider}/${model}`;

export interface StreamIdentity {
  id: string;
  created: number;
  /** The public "provider/model" name. */
  model: string;
  /** With stream_options.include_usage every chunk carries `usage: null`, as OpenAI's do. */
  includeUsage: boolean;
}

/**
 * The `chat.completion.chunk` events of one stream, as JSON text. Every chunk repeats the
 * stream's id, created time and model, so that part is serialised once per stream and a text
 * chunk costs one JSON.stringify of its text, not of a whole chunk object. Each string is what
 * JSON.stringify gives for the chunk object, key for key.
 */
export class StreamChunks {
  /** Up to the choices: `{"id":…,"object":…,"created":…,"model":…,"choices":`. */
  readonly #head: string;
  /** After the choices: the usage placeholder, when asked for, and the closing brace. */
  readonly #end: string;
  readonly #textOpen: string;
  readonly #textClose: string;

  constructor(stream: StreamIdentity) {
    const head = JSON.stringify({ id: stream.id, object: 'chat.completion.chunk', created: stream.created, model: stream.model });
    this.#head = `${head.slice(0, -1)},"choices":`;
    this.#end = stream.includeUsage ? ',"usage":null}' : '}';
    this.#textOpen = `${this.#head}[{"index":0,"delta":{"content":`;
    this.#textClose = `},"logprobs":null,"finish_reason":null}]${this.#end}`;
  }

  /** The first chunk: the assistant's role and no text yet. */
  role(): string {
    return this.#choice('{"role":"assistant","content":""}', null);
  }

  text(content: string): string {
    return this.#textOpen + JSON.stringify(content) + this.#textClose;
  }

  /** Function-call pieces: the first of a call with its id, type and name; then pieces of its arguments. */
  toolCalls(deltas: readonly ToolCallDelta[]): string {
    const toolCalls = deltas.map((delta) => ({
      index: delta.index,
      ...(delta.id !== undefined && { id: delta.id, type: 'function' }),
      function: { ...(delta.name !== undefined && { name: delta.name }), arguments: delta.arguments ?? '' },
    }));
    return this.#choice(JSON.stringify({ tool_calls: toolCalls }), null);
  }

  /** The last chunk with a choice: an empty delta and the finish reason. */
  finish(reason: OpenAiFinishReason): string {
    return this.#choice('{}', reason);
  }

  /** The usage-only chunk sent last (before [DONE]) when the caller asked for include_usage. */
  usage(usage: TokenUsage | undefined): string {
    // Numbers only (tokenCount keeps them whole and finite), so a template is JSON.stringify's text.
    const u = toOpenAiUsage(usage);
    return (
      `${this.#head}[],"usage":{"prompt_tokens":${u.prompt_tokens},"completion_tokens":${u.completion_tokens},"total_tokens":${u.total_tokens},` +
      `"completion_tokens_details":{"reasoning_tokens":${u.completion_tokens_details.reasoning_tokens}}}}`
    );
  }

  #choice(delta: string, finishReason: OpenAiFinishReason | null): string {
    return `${this.#head}[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${JSON.stringify(finishReason)}}]${this.#end}`;
  }
}
