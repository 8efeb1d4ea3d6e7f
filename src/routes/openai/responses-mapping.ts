// Translation between OpenAI's Responses wire shapes and the providers' own types: the request as
// a CompletionRequest, the answer as a `response` object, and a streamed answer as the Responses
// event sequence. No I/O here. Shapes: the openai SDK's Response and ResponseStreamEvent types.
import { randomUUID } from 'node:crypto';
import type { GatewayError } from '../../errors.ts';
import { openAiErrorBody } from '../../errors.ts';
import type { ChatMessage, CompletionRequest, FinishReason, TokenUsage, ToolCall, ToolCallDelta } from '../../providers/types.ts';
import { DEFAULT_MAX_TOKENS } from '../../schemas/openai.ts';
import type { ResponseBody, ResponseObject } from '../../schemas/responses.ts';
import { unixSeconds } from './openai-mapping.ts';

export function toCompletionRequest(body: ResponseBody, exactModel: string | undefined): CompletionRequest {
  const messages: ChatMessage[] = [];
  if (body.instructions != null) messages.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') messages.push({ role: 'user', content: body.input });
  else for (const item of body.input) addItem(messages, item);
  return {
    messages,
    maxTokens: body.max_output_tokens ?? DEFAULT_MAX_TOKENS,
    ...(body.temperature != null && { temperature: body.temperature }),
    ...(body.top_p != null && { topP: body.top_p }),
    ...(body.reasoning?.effort != null && { reasoningEffort: body.reasoning.effort }),
    ...(exactModel !== undefined && { model: exactModel }),
    ...toolRequest(body),
  };
}

/** tools, tool_choice, parallel_tool_calls and a JSON text.format, as ours; nothing for a plain request. */
function toolRequest(body: ResponseBody): Pick<CompletionRequest, 'tools' | 'toolChoice' | 'parallelToolCalls' | 'responseFormat'> {
  const { tool_choice: choice, parallel_tool_calls: parallel } = body;
  const tools = body.tools != null && body.tools.length > 0 ? body.tools : undefined;
  const format = body.text?.format;
  return {
    ...(tools && {
      tools: tools.map((tool) => ({
        name: tool.name,
        ...(tool.description != null && { description: tool.description }),
        ...(tool.parameters != null && { parameters: tool.parameters }),
        ...(tool.strict != null && { strict: tool.strict }),
      })),
    }),
    ...(tools && choice != null && { toolChoice: typeof choice === 'string' ? choice : { name: choice.name } }),
    ...(tools && parallel != null && { parallelToolCalls: parallel }),
    ...(format?.type === 'json_object' && { responseFormat: { type: 'json_object' as const } }),
    ...(format?.type === 'json_schema' && {
      responseFormat: {
        type: 'json_schema' as const,
        name: format.name,
        schema: format.schema,
        ...(format.strict != null && { strict: format.strict }),
        ...(format.description != null && { description: format.description }),
      },
    }),
  };
}

type InputItem = Exclude<ResponseBody['input'], string>[number];

const joinParts = (content: InputItem['content'] = ''): string =>
  typeof content === 'string' ? content : content.map((part) => (part.type === 'refusal' ? part.refusal : part.text) ?? '').join('\n');

/**
 * One input item as ours (the schema has checked it). Function calls join the assistant turn
 * before them, or make one, as the chat wire carries them; an output is a tool message.
 */
function addItem(messages: ChatMessage[], item: InputItem): void {
  if (item.type === 'function_call') {
    const call = { id: item.call_id ?? '', name: item.name ?? '', arguments: item.arguments ?? '' };
    const last = messages.at(-1);
    if (last?.role === 'assistant') last.toolCalls = [...(last.toolCalls ?? []), call];
    else messages.push({ role: 'assistant', content: '', toolCalls: [call] });
    return;
  }
  if (item.type === 'function_call_output') {
    messages.push({ role: 'tool', content: joinParts(item.output), toolCallId: item.call_id ?? '' });
    return;
  }
  const role = item.role === 'developer' ? 'system' : (item.role as ChatMessage['role']);
  messages.push({ role, content: joinParts(item.content) });
}

/** randomUUID draws from a cached pool of random bytes, as for chat completion ids. */
const hexId = (): string => randomUUID().replaceAll('-', '');
export const responseId = (): string => `resp_${hexId()}`;
export const messageId = (): string => `msg_${hexId()}`;
const functionCallId = (): string => `fc_${hexId()}`;

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

type OutputItem = ResponseObject['output'][number];
type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

interface ResponseState extends Status {
  /** The output items so far, in order. */
  output: OutputItem[];
  usage: TokenUsage | undefined;
  error?: GatewayError;
}

/** A whole answer's items: its message when it has text (or no calls), then one item per call. */
export function outputItems(identity: ResponseIdentity, text: string, calls: readonly ToolCall[] | undefined, status: ItemStatus): OutputItem[] {
  const items: OutputItem[] = text !== '' || !calls?.length ? [outputMessage(identity.messageId, status, text)] : [];
  for (const call of calls ?? []) items.push(functionCallItem(functionCallId(), call, status));
  return items;
}

/** The status an answer's items carry once the answer has ended so. */
export const itemStatus = (status: ResponseObject['status']): ItemStatus =>
  status === 'completed' ? 'completed' : status === 'in_progress' ? 'in_progress' : 'incomplete';

function functionCallItem(id: string, call: ToolCall, status: ItemStatus) {
  return { id, type: 'function_call' as const, status, call_id: call.id, name: call.name, arguments: call.arguments };
}

/** A whole `response` object, as OpenAI writes one (the fields a stateless gateway has, in its order). */
export function responseObject(identity: ResponseIdentity, state: ResponseState): ResponseObject {
  const { body } = identity;
  const finished = state.status === 'completed' || state.status === 'incomplete';
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
    output: state.output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
    store: false,
    temperature: body.temperature ?? null,
    text: { format: body.text?.format ?? { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: (body.tools ?? []).map((tool) => ({
      type: 'function' as const,
      name: tool.name,
      description: tool.description ?? null,
      parameters: tool.parameters ?? null,
      strict: tool.strict ?? null,
    })),
    top_p: body.top_p ?? null,
    truncation: 'disabled',
    usage: finished ? toResponseUsage(state.usage) : null,
  };
}

function outputMessage(id: string, status: ItemStatus, text: string | null) {
  return { id, type: 'message' as const, status, role: 'assistant' as const, content: text === null ? [] : [outputText(text)] };
}

const outputText = (text: string) => ({ type: 'output_text' as const, text, annotations: [], logprobs: [] });

/** One server-sent event: its `event:` name and its `data:` JSON. */
export type NamedEvent = readonly [name: string, data: string];

/** A function call being streamed: its item id, its place in the output, and what has come of it. */
interface StreamedCall extends ToolCall {
  itemId: string;
  outputIndex: number;
}

/**
 * The events of one streamed response, numbered as they are made. A text delta costs one
 * JSON.stringify of its text: the rest of that event is built once per stream. The text is kept
 * for the events that repeat it whole (output_text.done and the final response). The message
 * item opens with the first text (or at once when the answer does not begin with a call); each
 * function call is its own item, opened by its first piece; all are closed, in order, at the end.
 */
export class ResponseEvents {
  readonly #identity: ResponseIdentity;
  #sequence = 0;
  #text = '';
  /** The message item's output index; undefined until it opens. */
  #messageIndex: number | undefined;
  #deltaOpen = '';
  /** Calls by their stream index. */
  readonly #calls = new Map<number, StreamedCall>();
  #opened = 0;

  constructor(identity: ResponseIdentity) {
    this.#identity = identity;
  }

  /** From response.created to the empty text part (unless the answer opens with a function call instead). */
  start(openMessage = true): NamedEvent[] {
    const inProgress = responseObject(this.#identity, { status: 'in_progress', incomplete_details: null, output: [], usage: undefined });
    const events = [this.#event('response.created', { response: inProgress }), this.#event('response.in_progress', { response: inProgress })];
    if (openMessage) events.push(...this.#openMessage());
    return events;
  }

  #openMessage(): NamedEvent[] {
    const index = (this.#messageIndex = this.#opened++);
    const id = this.#identity.messageId;
    this.#deltaOpen = `{"type":"response.output_text.delta","item_id":${JSON.stringify(id)},"output_index":${index},"content_index":0,"delta":`;
    return [
      this.#event('response.output_item.added', { output_index: index, item: outputMessage(id, 'in_progress', null) }),
      this.#event('response.content_part.added', { item_id: id, output_index: index, content_index: 0, part: outputText('') }),
    ];
  }

  /** A piece of text; the first one after a call opens the message item. */
  delta(text: string): NamedEvent[] {
    const opening = this.#messageIndex === undefined ? this.#openMessage() : [];
    this.#text += text;
    const event: NamedEvent = ['response.output_text.delta', `${this.#deltaOpen}${JSON.stringify(text)},"logprobs":[],"sequence_number":${this.#sequence++}}`];
    if (opening.length === 0) return [event];
    opening.push(event);
    return opening;
  }

  /** Function-call pieces: a call's first piece opens its item, the rest are argument deltas. */
  toolCalls(deltas: readonly ToolCallDelta[]): NamedEvent[] {
    const events: NamedEvent[] = [];
    for (const delta of deltas) {
      let call = this.#calls.get(delta.index);
      if (call === undefined) {
        call = { itemId: functionCallId(), outputIndex: this.#opened++, id: delta.id ?? '', name: delta.name ?? '', arguments: '' };
        this.#calls.set(delta.index, call);
        events.push(this.#event('response.output_item.added', { output_index: call.outputIndex, item: functionCallItem(call.itemId, call, 'in_progress') }));
      }
      if (delta.arguments === undefined || delta.arguments === '') continue;
      call.arguments += delta.arguments;
      events.push(this.#event('response.function_call_arguments.delta', { item_id: call.itemId, output_index: call.outputIndex, delta: delta.arguments }));
    }
    return events;
  }

  /** The items as they stand, in output order. */
  #output(status: ItemStatus): OutputItem[] {
    const items: Array<[number, OutputItem]> = [...this.#calls.values()].map((call) => [call.outputIndex, functionCallItem(call.itemId, call, status)]);
    if (this.#messageIndex !== undefined) items.push([this.#messageIndex, outputMessage(this.#identity.messageId, status, this.#text)]);
    return items.sort(([a], [b]) => a - b).map(([, item]) => item);
  }

  /** Every item done, in order, then the response; response.incomplete after a length cut or a filter. */
  finish(reason: FinishReason, usage: TokenUsage | undefined): NamedEvent[] {
    const status = responseStatus(reason);
    const output = this.#output(itemStatus(status.status));
    const response = responseObject(this.#identity, { ...status, output, usage });
    const events: NamedEvent[] = [];
    for (const [index, item] of output.entries()) {
      if (item.type === 'message') {
        const text = this.#text;
        const id = item.id;
        events.push(
          this.#event('response.output_text.done', { item_id: id, output_index: index, content_index: 0, text, logprobs: [] }),
          this.#event('response.content_part.done', { item_id: id, output_index: index, content_index: 0, part: outputText(text) }),
        );
      } else {
        events.push(this.#event('response.function_call_arguments.done', { item_id: item.id, output_index: index, arguments: item.arguments }));
      }
      events.push(this.#event('response.output_item.done', { output_index: index, item }));
    }
    events.push(this.#event(status.status === 'completed' ? 'response.completed' : 'response.incomplete', { response }));
    return events;
  }

  /**
   * An answer cut short: the error event, then response.failed with the text so far, and never
   * response.completed. The error event has the documented flat fields (code, message, param) and
   * the nested `error` object OpenAI's own servers send, on which the Python SDK raises.
   */
  fail(error: GatewayError, requestId: string): NamedEvent[] {
    const body = openAiErrorBody(error, requestId);
    const response = responseObject(this.#identity, { status: 'failed', incomplete_details: null, output: this.#output('incomplete'), usage: undefined, error });
    return [
      this.#event('error', { code: body.error.code, message: body.error.message, param: body.error.param, error: body.error }),
      this.#event('response.failed', { response }),
    ];
  }

  #event(type: string, fields: object): NamedEvent {
    return [type, JSON.stringify({ type, ...fields, sequence_number: this.#sequence++ })];
  }
}
