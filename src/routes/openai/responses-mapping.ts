// Translation between OpenAI's Responses wire shapes and the providers' own types: the request as
// a CompletionRequest, the answer as a `response` object, and a streamed answer as the Responses
// event sequence. No I/O here. Shapes: the openai SDK's Response and ResponseStreamEvent types.
import { randomUUID } from 'node:crypto';
import type { GatewayError } from '../../errors.ts';
import { openAiErrorBody } from '../../errors.ts';
import type { ChatMessage, CompletionRequest, FinishReason, TokenUsage } from '../../providers/types.ts';
import { DEFAULT_MAX_TOKENS } from '../../schemas/openai.ts';
import type { ResponseBody, ResponseObject } from '../../schemas/responses.ts';
import { unixSeconds } from './openai-mapping.ts';

export function toCompletionRequest(body: ResponseBody, exactModel: string | undefined): CompletionRequest {
  const messages: ChatMessage[] = [];
  if (body.instructions != null) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') messages.push({ role: 'user', content: body.input });
  else for (const item of body.input) messages.push(toChatMessage(item));
  return {
    messages,
    maxTokens: body.max_output_tokens ?? DEFAULT_MAX_TOKENS,
    ...(body.temperature != null && { temperature: body.temperature }),
    ...(body.top_p != null && { topP: body.top_p }),
    ...(body.reasoning?.effort != null && { reasoningEffort: body.reasoning.effort }),
    ...(exactModel !== undefined && { model: exactModel }),
  };
}

type InputItem = Exclude<ResponseBody['input'], string>[number];

/** A message item as ours (the schema has checked role and parts); parts are joined as lines. */
function toChatMessage(item: InputItem): ChatMessage {
  const role = item.role === 'developer' ? 'system' : (item.role as ChatMessage['role']);
  const { content = '' } = item;
  const text = typeof content === 'string' ? content : content.map((part) => (part.type === 'refusal' ? part.refusal : part.text) ?? '').join('\n');
  return { role, content: text };
}

/** randomUUID draws from a cached pool of random bytes, as for chat completion ids. */
const hexId = (): string => randomUUID().replaceAll('-', '');
export const responseId = (): string => `resp_${hexId()}`;
export const messageId = (): string => `msg_${hexId()}`;

type Status = Pick<ResponseObject, 'status' | 'incomplete_details'>;

/** A length cut or a filter leaves the answer incomplete, saying which; anything else completed it. */
export function responseStatus(reason: FinishReason): Status {
  if (reason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (reason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

/** OpenAI clients expect numbers; 0 stands for "the provider did not say". */
export function toResponseUsage(usage: TokenUsage | undefined): NonNullable<ResponseObject['usage']> {
  return {
    input_tokens: usage?.promptTokens ?? 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: usage?.completionTokens ?? 0,
    output_tokens_details: { reasoning_tokens: usage?.reasoningTokens ?? 0 },
    total_tokens: usage?.totalTokens ?? 0,
  };
}

/** What every `response` object of one request repeats: its identity and the settings it echoes. */
export interface ResponseIdentity {
  id: string;
  createdAt: number;
  /** The public "provider/model" name. */
  model: string;
  messageId: string;
  body: ResponseBody;
}

export function responseIdentity(body: ResponseBody, model: string): ResponseIdentity {
  return { id: responseId(), createdAt: unixSeconds(), model, messageId: messageId(), body };
}

interface ResponseState extends Status {
  /** The answer so far; undefined before the message item exists. */
  text: string | undefined;
  usage: TokenUsage | undefined;
  error?: GatewayError;
}

/** A whole `response` object, as OpenAI writes one (the fields a stateless gateway has, in its order). */
export function responseObject(identity: ResponseIdentity, state: ResponseState): ResponseObject {
  const { body } = identity;
  const finished = state.status === 'completed' || state.status === 'incomplete';
  const itemStatus = state.status === 'completed' ? 'completed' : state.status === 'in_progress' ? 'in_progress' : 'incomplete';
  return {
    id: identity.id,
    object: 'response',
    created_at: identity.createdAt,
    status: state.status,
    completed_at: state.status === 'completed' ? unixSeconds() : null,
    error: state.error ? { code: state.error.code, message: state.error.message } : null,
    incomplete_details: state.incomplete_details,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model: identity.model,
    output: state.text === undefined ? [] : [outputMessage(identity.messageId, itemStatus, state.text)],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
    store: false,
    temperature: body.temperature ?? null,
    text: { format: { type: 'text' } },
    tool_choice: body.tool_choice === 'none' ? 'none' : 'auto',
    tools: [],
    top_p: body.top_p ?? null,
    truncation: 'disabled',
    usage: finished ? toResponseUsage(state.usage) : null,
  };
}

function outputMessage(id: string, status: 'in_progress' | 'completed' | 'incomplete', text: string | null) {
  return { id, type: 'message' as const, status, role: 'assistant' as const, content: text === null ? [] : [outputText(text)] };
}

const outputText = (text: string) => ({ type: 'output_text' as const, text, annotations: [], logprobs: [] });

/** One server-sent event: its `event:` name and its `data:` JSON. */
export type NamedEvent = readonly [name: string, data: string];

/**
 * The events of one streamed response, numbered as they are made. A text delta costs one
 * JSON.stringify of its text: the rest of that event is built once per stream. The text is kept
 * for the events that repeat it whole (output_text.done and the final response).
 */
export class ResponseEvents {
  readonly #identity: ResponseIdentity;
  #sequence = 0;
  #text = '';
  readonly #deltaOpen: string;
  readonly #item: string;

  constructor(identity: ResponseIdentity) {
    this.#identity = identity;
    this.#item = `"item_id":${JSON.stringify(identity.messageId)},"output_index":0,"content_index":0`;
    this.#deltaOpen = `{"type":"response.output_text.delta",${this.#item},"delta":`;
  }

  /** From response.created to the empty text part, before the first delta. */
  start(): NamedEvent[] {
    const inProgress = responseObject(this.#identity, { status: 'in_progress', incomplete_details: null, text: undefined, usage: undefined });
    return [
      this.#event('response.created', { response: inProgress }),
      this.#event('response.in_progress', { response: inProgress }),
      this.#event('response.output_item.added', { output_index: 0, item: outputMessage(this.#identity.messageId, 'in_progress', null) }),
      this.#event('response.content_part.added', { item_id: this.#identity.messageId, output_index: 0, content_index: 0, part: outputText('') }),
    ];
  }

  delta(text: string): NamedEvent {
    this.#text += text;
    return ['response.output_text.delta', `${this.#deltaOpen}${JSON.stringify(text)},"logprobs":[],"sequence_number":${this.#sequence++}}`];
  }

  /** The part, the item and the response, done; response.incomplete after a length cut or a filter. */
  finish(reason: FinishReason, usage: TokenUsage | undefined): NamedEvent[] {
    const status = responseStatus(reason);
    const text = this.#text;
    const response = responseObject(this.#identity, { ...status, text, usage });
    const [item] = response.output;
    return [
      this.#event('response.output_text.done', { item_id: this.#identity.messageId, output_index: 0, content_index: 0, text, logprobs: [] }),
      this.#event('response.content_part.done', { item_id: this.#identity.messageId, output_index: 0, content_index: 0, part: outputText(text) }),
      this.#event('response.output_item.done', { output_index: 0, item }),
      this.#event(status.status === 'completed' ? 'response.completed' : 'response.incomplete', { response }),
    ];
  }

  /**
   * An answer cut short: the error event, then response.failed with the text so far, and never
   * response.completed. The error event has the documented flat fields (code, message, param) and
   * the nested `error` object OpenAI's own servers send, on which the Python SDK raises.
   */
  fail(error: GatewayError, requestId: string): NamedEvent[] {
    const body = openAiErrorBody(error, requestId);
    const response = responseObject(this.#identity, { status: 'failed', incomplete_details: null, text: this.#text, usage: undefined, error });
    return [
      this.#event('error', { code: body.error.code, message: body.error.message, param: body.error.param, error: body.error }),
      this.#event('response.failed', { response }),
    ];
  }

  #event(type: string, fields: object): NamedEvent {
    return [type, JSON.stringify({ type, ...fields, sequence_number: this.#sequence++ })];
  }
}
