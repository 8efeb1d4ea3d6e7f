// Rendering shared by the fakes that speak OpenAI-style Chat Completions (Groq, OpenRouter, a local runtime):
// reading the request, drafting the answer, and writing completions, chunks and SSE events.
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { countTokens, numberedWords, simulatedAnswer, type Fault } from './fake-server.ts';
import { afterToolsText, decideCalls, jsonAnswer, type FakeChoice } from './fake-tools.ts';

export interface ChatRequest {
  model: string;
  lastUserText: string;
  stream: boolean;
  includeUsage: boolean;
  maxTokens: number | undefined;
  /** The body as sent, for the fields one provider reads and another refuses. */
  fields: Record<string, unknown>;
  /** The text of a trailing assistant turn: an answer begun, to be continued (prefill). */
  prefill: string | undefined;
}

/** Reads the fields the fakes care about; a string is the reason the body is invalid. */
export function readChatRequest(body: unknown): ChatRequest | string {
  if (typeof body !== 'object' || body === null) return 'Request body must be a JSON object';
  const fields = body as Record<string, unknown>;
  if (typeof fields.model !== 'string' || fields.model === '') return "'model' : property 'model' is missing";
  if (!Array.isArray(fields.messages) || fields.messages.length === 0) return "'messages' : minimum number of items is 1";
  const users = fields.messages.filter((m): m is { content: string } => isMessage(m) && m.role === 'user');
  const maxTokens = fields.max_tokens ?? fields.max_completion_tokens;
  const streamOptions = fields.stream_options as { include_usage?: unknown } | undefined;
  const last = fields.messages.at(-1) as unknown;
  return {
    prefill: isMessage(last) && last.role === 'assistant' ? last.content : undefined,
    model: fields.model,
    lastUserText: users.at(-1)?.content ?? '',
    stream: fields.stream === true,
    includeUsage: streamOptions?.include_usage === true,
    maxTokens: typeof maxTokens === 'number' ? maxTokens : undefined,
    fields,
  };
}

/** How a reasoning model thinks before it answers: tokens spent, and whether the reasoning is sent. */
export interface Reasoning {
  tokens: number;
  visible: boolean;
}

export const NO_REASONING: Reasoning = Object.freeze({ tokens: 0, visible: false });

/** Tokens a simulated reasoning model spends at each effort. */
export const EFFORT_TOKENS: Record<string, number> = { none: 0, minimal: 4, low: 16, medium: 64, high: 256, xhigh: 512 };

function isMessage(value: unknown): value is { role: string; content: string } {
  const m = value as { role?: unknown; content?: unknown } | null;
  return typeof m === 'object' && m !== null && typeof m.role === 'string' && typeof m.content === 'string';
}

export interface Draft {
  text: string;
  finishReason: 'stop' | 'length' | 'content_filter' | 'tool_calls';
  /** Function calls, with their arguments' JSON text. */
  toolCalls?: Array<{ id: string; name: string; arguments: string }>;
  promptTokens: number;
  /** Includes reasoningTokens, as the real providers count them. */
  completionTokens: number;
  reasoningTokens: number;
  /** The reasoning as the model sends it (empty when hidden). */
  reasoning: string;
}

/** The answer the fault asks for: `words` numbered words instead of the simulated sentence. */
export function sized(draft: Draft, fault: Fault): Draft {
  if (fault.words === undefined) return draft;
  const text = numberedWords(fault.words);
  return { ...draft, text, finishReason: 'stop', completionTokens: countTokens(text) + draft.reasoningTokens };
}

/**
 * A prefilled answer, continued like a model that honours a trailing assistant turn: the rest of
 * the answer after the text already given, when the answer begins with it.
 */
export function continued(draft: Draft, request: ChatRequest): Draft {
  const { prefill } = request;
  if (prefill === undefined || prefill === '' || !draft.text.startsWith(prefill)) return draft;
  const text = draft.text.slice(prefill.length);
  return { ...draft, text, completionTokens: countTokens(text) + draft.reasoningTokens };
}

/** The same answer withheld by a content filter: no text, finish reason content_filter. */
export function withheld(draft: Draft): Draft {
  return { ...draft, text: '', finishReason: 'content_filter', completionTokens: draft.reasoningTokens };
}

/**
 * The simulated answer, cut to max_tokens (roughly: four characters a token) like a real model. A
 * reasoning model thinks first, out of the same budget: a small max_tokens can be spent on
 * reasoning alone, leaving no text and finish reason length.
 */
export function draftAnswer(provider: string, servedModel: string, request: ChatRequest, reasoning: Reasoning = NO_REASONING): Draft {
  const full = simulatedAnswer(provider, servedModel, request.lastUserText);
  const limit = request.maxTokens;
  const reasoningTokens = limit === undefined ? reasoning.tokens : Math.min(reasoning.tokens, limit);
  const left = limit === undefined ? undefined : limit - reasoningTokens;
  const cut = left !== undefined && countTokens(full) > left;
  const text = !cut ? full : left !== undefined && left > 0 ? full.slice(0, Math.max(1, left * 4)) : '';
  return {
    text,
    finishReason: cut ? 'length' : 'stop',
    promptTokens: countTokens(request.lastUserText) + 8,
    completionTokens: countTokens(text) + reasoningTokens,
    reasoningTokens,
    reasoning: reasoning.visible && reasoningTokens > 0 ? `The user asks: ${request.lastUserText.slice(0, 40)}. I should answer briefly.` : '',
  };
}

/**
 * The draft as a model with tools or a JSON response format answers (fake-tools.ts decides), or an
 * error message when the request breaks the wire's rules: a tool result answering no call.
 */
export function withTools(draft: Draft, fields: Record<string, unknown>): Draft | string {
  const messages = (Array.isArray(fields.messages) ? fields.messages : []) as Array<{ role?: unknown; content?: unknown; tool_call_id?: unknown; tool_calls?: unknown }>;
  const callIds = new Set<string>();
  for (const [i, message] of messages.entries()) {
    for (const call of Array.isArray(message.tool_calls) ? (message.tool_calls as Array<{ id?: unknown }>) : []) if (typeof call.id === 'string') callIds.add(call.id);
    if (message.role === 'tool' && !callIds.has(String(message.tool_call_id))) return `'messages.${i}' : tool_call_id does not match any tool call`;
  }
  const tools = (Array.isArray(fields.tools) ? fields.tools : []) as Array<{ function?: { name?: unknown; parameters?: unknown } }>;
  const last = messages.at(-1);
  if (last?.role === 'tool') {
    const results = messages.slice(messages.findLastIndex((m) => m.role !== 'tool') + 1).map((m) => String(m.content));
    const text = afterToolsText(results);
    return { ...draft, text, finishReason: 'stop', completionTokens: countTokens(text) };
  }
  const choice = fields.tool_choice as { function?: { name?: unknown } } | string | undefined;
  const calls = decideCalls(
    tools.map((t) => ({ name: String(t.function?.name), schema: t.function?.parameters })),
    typeof choice === 'object' && choice !== null ? { name: String(choice.function?.name) } : ((choice as FakeChoice | undefined) ?? 'auto'),
    fields.parallel_tool_calls !== false,
    last?.role === 'user' && typeof last.content === 'string' ? last.content : undefined,
  );
  if (calls.length > 0) {
    const toolCalls = calls.map((call) => ({ id: randomId('call_'), name: call.name, arguments: JSON.stringify(call.args) }));
    return { ...draft, text: '', toolCalls, finishReason: 'tool_calls', completionTokens: 12 * calls.length };
  }
  const format = fields.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
  if (format?.type === 'json_object' || format?.type === 'json_schema') {
    const text = jsonAnswer(format.json_schema?.schema, draft.text);
    return { ...draft, text, finishReason: 'stop', completionTokens: countTokens(text) };
  }
  return draft;
}

/** A draft's calls as stream deltas: each call's id and name first, then its arguments in two pieces. */
export function toolCallDeltas(draft: Draft, whole = false): Array<Record<string, unknown>> {
  return (draft.toolCalls ?? []).flatMap((call, index) => {
    if (whole) return [{ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }] }];
    const half = Math.ceil(call.arguments.length / 2);
    return [
      { tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] },
      { tool_calls: [{ index, function: { arguments: call.arguments.slice(0, half) } }] },
      { tool_calls: [{ index, function: { arguments: call.arguments.slice(half) } }] },
    ];
  });
}

export function basicUsage(draft: Draft) {
  return {
    prompt_tokens: draft.promptTokens,
    completion_tokens: draft.completionTokens,
    total_tokens: draft.promptTokens + draft.completionTokens,
    ...(draft.reasoningTokens > 0 ? { completion_tokens_details: { reasoning_tokens: draft.reasoningTokens } } : {}),
  };
}

export function randomId(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

export const unixNow = (): number => Math.floor(Date.now() / 1000);

/** A non-streaming `chat.completion`; the extras add provider fields to the body and the choice. */
export function completionBody(
  id: string,
  model: string,
  draft: Draft,
  extra: Record<string, unknown> = {},
  choiceExtra: Record<string, unknown> = {},
) {
  return {
    id,
    object: 'chat.completion',
    created: unixNow(),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: draft.toolCalls ? null : draft.text,
          ...(draft.reasoning !== '' && { reasoning: draft.reasoning }),
          ...(draft.toolCalls && { tool_calls: draft.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }),
        },
        logprobs: null,
        finish_reason: draft.finishReason,
        ...choiceExtra,
      },
    ],
    usage: basicUsage(draft),
    ...extra,
  };
}

/** One choice of a chunk: `delta` plus its finish reason (null until the last one). */
export function chunkChoice(delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}) {
  return { index: 0, delta, logprobs: null, finish_reason: finishReason, ...extra };
}

/** One `chat.completion.chunk`; `choices` is empty for the usage-only chunk. */
export function chunkBody(id: string, model: string, choices: object[], extra: Record<string, unknown> = {}) {
  return { id, object: 'chat.completion.chunk', created: unixNow(), model, choices, ...extra };
}

/** Writes one SSE event; `data` is JSON-encoded unless it is already a string. */
export function writeEvent(res: ServerResponse, data: unknown, separator = '\n\n'): void {
  if (res.destroyed) return;
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}${separator}`);
}

export function writeDone(res: ServerResponse, separator = '\n\n'): void {
  writeEvent(res, '[DONE]', separator);
  res.end();
}

/** A 200 JSON response whose body is cut off mid-object. */
export function sendBrokenJson(res: ServerResponse, headers: Record<string, string> = {}): void {
  const payload = '{"id":"chatcmpl-broken","object":"chat.completion","choices":[{"index":0,"message":{"content":"Hal';
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}

/** What a malformed event's data looks like: a chunk cut off mid-string (never valid JSON). */
export const BROKEN_EVENT = '{"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"delta":{"content":"Hal';

/** Sends a JSON body in a few pieces `gapMs` apart; stops if the client goes away. */
export async function trickleJson(
  res: ServerResponse,
  body: unknown,
  gapMs: number,
  wait: (ms: number) => Promise<boolean>,
  headers: Record<string, string> = {},
): Promise<void> {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length, ...headers });
  const size = Math.ceil(payload.length / 4);
  for (let start = 0; start < payload.length; start += size) {
    if (start > 0 && !(await wait(gapMs))) return;
    res.write(payload.subarray(start, start + size));
  }
  res.end();
}
