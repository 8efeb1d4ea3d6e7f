// A local Gemini Developer API (v1beta) on the real wire, for the gateway or any Gemini client:
// same paths, key placement, error bodies and SSE framing, with faults on demand.
import {
  countTokens,
  sendJson,
  simulatedAnswer,
  numberedWords,
  startFakeServer,
  startSse,
  toDeltas,
  type FakeContext,
  type FakeProviderServer,
} from './fake-server.ts';
import {
  INVALID_KEY_BODY,
  MISSING_KEY_BODY,
  blockedResponse,
  contentResponse,
  dailyQuotaBody,
  embeddingValues,
  emptyResponse,
  isEmbeddingModel,
  modelNotFoundBody,
  modelResource,
  quotaBody,
  statusBody,
  thoughtPart,
  usage,
} from './fake-gemini-wire.ts';
import { refusesTrailingModelTurn, thinkingFor } from './fake-gemini-thinking.ts';
import { toolOutcome } from './fake-gemini-tools.ts';

export interface FakeGeminiOptions {
  apiKey: string;
  /** When given, other model ids get the real 404; otherwise every id is served. */
  models?: string[];
}

const LISTED_BY_DEFAULT = ['gemini-flash-lite-latest', 'gemini-embedding-001'];
// A model ("models/x") or a tuned model ("tunedModels/x"), which are named with their collection.
const ACTION_PATH = /^\/v1(?:beta)?\/(models|tunedModels)\/([^/:]+):([A-Za-z]+)$/;
const MODEL_PATH = /^\/v1(?:beta)?\/models(?:\/([^/:]+))?$/;
const TRICKLE_GAP_MS = 20;

export function startFakeGemini(options: FakeGeminiOptions): Promise<FakeProviderServer> {
  return startFakeServer('gemini', (ctx) => route(ctx, options));
}

async function route(ctx: FakeContext, options: FakeGeminiOptions): Promise<void> {
  const { method, path, headers, query } = ctx.request;
  const action = method === 'POST' ? ACTION_PATH.exec(path) : null;
  const resource = method === 'GET' ? MODEL_PATH.exec(path) : null;
  if (!action && !resource) return sendJson(ctx.res, 404, statusBody(404, 'Method not found.'));

  const headerKey = headers['x-goog-api-key'];
  const key = (Array.isArray(headerKey) ? headerKey[0] : headerKey) ?? query.get('key');
  if (!key) return sendJson(ctx.res, 403, MISSING_KEY_BODY);
  if (key !== options.apiKey) return sendJson(ctx.res, 400, INVALID_KEY_BODY);

  if (resource) {
    if (answeredByFault(ctx, resource[1] ?? '')) return;
    return describeModels(ctx, options, resource[1]);
  }
  const [, collection, id = '', task = ''] = action ?? [];
  const model = collection === 'tunedModels' ? `tunedModels/${id}` : id;
  if (!serves(options, model, task)) return sendJson(ctx.res, 404, modelNotFoundBody(model, task));
  if (answeredByFault(ctx, model)) return;

  if (task === 'generateContent') return generate(ctx, model, false);
  if (task === 'streamGenerateContent') {
    if (query.get('alt') !== 'sse') return invalid(ctx, 'Only alt=sse is simulated.');
    return generate(ctx, model, true);
  }
  return embed(ctx, model, task === 'batchEmbedContents');
}

function serves(options: FakeGeminiOptions, model: string, task: string): boolean {
  if (options.models && !options.models.includes(model)) return false;
  // Like the real API, an embedding model does not generate and a chat model does not embed.
  const tasks = isEmbeddingModel(model)
    ? ['embedContent', 'batchEmbedContents']
    : ['generateContent', 'streamGenerateContent'];
  return tasks.includes(task);
}

/** Faults that look the same on every endpoint; true when the fault has answered. */
function answeredByFault(ctx: FakeContext, model: string): boolean {
  const { fault, res } = ctx;
  if (fault.kind === 'error') {
    const status = fault.status ?? 503;
    sendJson(res, status, statusBody(status));
  } else if (fault.kind === 'rate_limited') {
    sendJson(res, 429, quotaBody(model, fault.retryAfterSeconds ?? 30, fault.limit));
  } else if (fault.kind === 'daily_limit') {
    sendJson(res, 429, dailyQuotaBody(model, fault.limit));
  } else if (fault.kind === 'unauthorized') {
    sendJson(res, 400, INVALID_KEY_BODY);
  } else if (fault.kind === 'precondition') {
    sendJson(res, 400, statusBody(400, 'User location is not supported for the API use.', undefined, 'FAILED_PRECONDITION'));
  } else {
    return false;
  }
  return true;
}

/** A one-shot JSON answer, or the fault's broken variant of it (`blocked` for a refusal to answer). */
async function answer(ctx: FakeContext, body: unknown, disguisedFailure: unknown, blocked: unknown = disguisedFailure): Promise<void> {
  const { fault, res } = ctx;
  if (fault.kind === 'stream_cut') return sendJson(res, 500, statusBody(500));
  if (fault.kind === 'bad_response') return sendJson(res, 200, disguisedFailure);
  if (fault.kind === 'blocked') return sendJson(res, 200, blocked);
  if (fault.kind === 'malformed') {
    const truncated = JSON.stringify(body).slice(0, 40);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    return void res.end(truncated);
  }
  if (fault.delayMs && !(await ctx.wait(fault.delayMs))) return;
  sendJson(res, 200, body);
}

function describeModels(ctx: FakeContext, options: FakeGeminiOptions, model: string | undefined): Promise<void> {
  if (model === undefined) {
    const models = (options.models ?? LISTED_BY_DEFAULT).map(modelResource);
    return answer(ctx, { models }, {});
  }
  if (options.models && !options.models.includes(model)) {
    sendJson(ctx.res, 404, statusBody(404, `Model is not found: models/${model} for api version v1beta`));
    return Promise.resolve();
  }
  return answer(ctx, modelResource(model), {});
}

interface Prompt {
  lastUserText: string;
  promptTokens: number;
  maxOutputTokens: number | undefined;
  thinkingConfig: Record<string, unknown> | undefined;
  /** The text of a trailing model turn (Gemini 2.x continues it; Gemini 3 refuses it). */
  prefill: string | undefined;
}

async function generate(ctx: FakeContext, model: string, stream: boolean): Promise<void> {
  const prompt = readPrompt(ctx.request.body, model);
  if (typeof prompt === 'string') return invalid(ctx, prompt);
  const thinking = thinkingFor(model, prompt.thinkingConfig);
  if (typeof thinking === 'string') return invalid(ctx, thinking);
  const plain = ctx.fault.words === undefined ? simulatedAnswer('gemini', model, prompt.lastUserText) : numberedWords(ctx.fault.words);
  const tools = toolOutcome(record(ctx.request.body), model, plain);
  if (typeof tools === 'string') return invalid(ctx, tools);
  let text = tools !== undefined && 'text' in tools ? tools.text : plain;
  const calls = tools !== undefined && 'calls' in tools ? tools.calls : [];
  // A trailing model turn is an answer begun: the model goes on from where it stops.
  if (prompt.prefill !== undefined && text.startsWith(prompt.prefill)) text = text.slice(prompt.prefill.length);
  // An odd finish (OTHER, MALFORMED_FUNCTION_CALL, ...) comes with what text there was, in one event.
  let finishReason = ctx.fault.kind === 'odd_finish' ? (ctx.fault.finishReason ?? 'OTHER') : 'STOP';
  // Loosely like the real limit: thinking first, then the answer cut at about what is left of maxOutputTokens.
  const thoughtTokens = prompt.maxOutputTokens === undefined ? thinking.tokens : Math.min(thinking.tokens, prompt.maxOutputTokens);
  const left = prompt.maxOutputTokens === undefined ? undefined : prompt.maxOutputTokens - thoughtTokens;
  if (calls.length > 0) text = '';
  else if (left !== undefined && countTokens(text) > left) {
    text = left <= 0 ? '' : text.slice(0, Math.max(1, left * 4));
    finishReason = 'MAX_TOKENS';
  }
  const tokens = usage(prompt.promptTokens, countTokens(text), thoughtTokens);
  const thoughts = thinking.include && thoughtTokens > 0 ? [thoughtPart(`**Thinking about it**\n\nThe user wants: ${prompt.lastUserText.slice(0, 40)}`)] : [];
  if (!stream) {
    return answer(ctx, contentResponse(model, text, finishReason, tokens, [...thoughts, ...calls]), emptyResponse(model, prompt.promptTokens), blockedResponse(model, prompt.promptTokens));
  }

  const { fault, res } = ctx;
  if (fault.kind === 'ok' && fault.delayMs && !(await ctx.wait(fault.delayMs))) return;
  startSse(res);
  // Clients must accept \n\n, \r\r and \r\n\r\n after each event; use the CRLF form to exercise it.
  const send = (event: unknown) => void res.write(`data: ${JSON.stringify(event)}\r\n\r\n`);
  const deltas = ctx.fault.kind === 'odd_finish' ? [text] : toDeltas(text);
  // Thoughts, when asked for, come first, in an event of their own; a budget spent on thinking
  // ends in one event with no parts.
  const events = [
    ...thoughts.map((thought) => contentResponse(model, '', undefined, undefined, [thought])),
    // Function calls come whole, one event each, the last with the finish reason.
    ...calls.map((call, i) => contentResponse(model, '', i === calls.length - 1 ? finishReason : undefined, i === calls.length - 1 ? tokens : undefined, [call])),
    ...(calls.length > 0
      ? []
      : deltas.length === 0
      ? [contentResponse(model, '', finishReason, tokens)]
      : deltas.map((delta, i) => (i === deltas.length - 1 ? contentResponse(model, delta, finishReason, tokens) : contentResponse(model, delta)))),
  ];

  if (fault.kind === 'bad_response') {
    send(emptyResponse(model, prompt.promptTokens));
  } else if (fault.kind === 'blocked') {
    send(blockedResponse(model, prompt.promptTokens));
  } else if (fault.kind === 'malformed') {
    send(events[0]);
    res.write('data: {"candidates":[{"content":{"role":"model","parts":[{"te\r\n\r\n');
  } else if (fault.kind === 'malformed_event') {
    // One event cut off mid-string among healthy ones, the rest of the answer after it.
    const brokenAfter = fault.afterChunks ?? 10;
    for (const [i, event] of events.entries()) {
      if (i === brokenAfter) res.write('data: {"candidates":[{"content":{"role":"model","parts":[{"te\r\n\r\n');
      send(event);
    }
  } else if (fault.kind === 'stream_cut') {
    for (const event of events.slice(0, fault.afterChunks ?? 2)) send(event);
    // A server-side failure inside the SSE body arrives as a bare error object on a line of its
    // own, not an event; the official SDK reads it (as one network chunk) as the error it names.
    res.write(`${JSON.stringify(statusBody(fault.status ?? 500))}\n`);
  } else {
    const gap = fault.kind === 'trickle' ? (fault.delayMs ?? TRICKLE_GAP_MS) : 0;
    const stallAfter = fault.kind === 'stream_stall' ? (fault.afterChunks ?? 2) : -1;
    for (const [i, event] of events.entries()) {
      // A stall: nothing more is sent, and the connection stays open until the client leaves.
      if (i === stallAfter) return void (await ctx.wait(60_000));
      if (i > 0 && gap > 0 && !(await ctx.wait(gap))) return;
      if (ctx.clientGone) return;
      send(event);
    }
  }
  res.end();
}

/** The request as the real API reads it, or the message of its 400. */
function readPrompt(body: unknown, model: string): Prompt | string {
  const request = record(body);
  const contents = Array.isArray(request?.contents) ? request.contents.map(record) : [];
  if (contents.length === 0) return '* GenerateContentRequest.contents: contents is not specified\n';
  // proto3 reads "text": "" as unset, so a part with empty text has none of its oneof fields.
  for (const [i, content] of contents.entries()) {
    const parts = Array.isArray(content?.parts) ? content.parts.map(record) : [];
    if (parts.length === 0) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`;
    const empty = parts.findIndex((part) => (part?.text === '' || part?.text === undefined) && part?.functionCall === undefined && part?.functionResponse === undefined);
    if (empty >= 0) return `* GenerateContentRequest.contents[${i}].parts[${empty}].data: required oneof field 'data' must have one initialized field\n`;
  }
  if (contents.at(-1)?.role === 'model' && refusesTrailingModelTurn(model)) return 'Requests ending with a model turn are not supported.';
  const system = record(request?.systemInstruction ?? request?.system_instruction);
  const users = contents.filter((content) => content?.role === undefined || content.role === 'user');
  const config = record(request?.generationConfig ?? request?.generation_config);
  const limit = config?.maxOutputTokens ?? config?.max_output_tokens;
  const allText = [system, ...contents].map(textOf).join('\n');
  return {
    lastUserText: textOf(users.at(-1)),
    promptTokens: countTokens(allText),
    maxOutputTokens: typeof limit === 'number' && limit > 0 ? limit : undefined,
    thinkingConfig: record(config?.thinkingConfig ?? config?.thinking_config),
    prefill: contents.at(-1)?.role === 'model' ? textOf(contents.at(-1)) : undefined,
  };
}

async function embed(ctx: FakeContext, model: string, batch: boolean): Promise<void> {
  const request = record(ctx.request.body);
  if (!batch) {
    const content = record(request?.content);
    if (!content) return invalid(ctx, '* EmbedContentRequest.content: contents is not specified\n');
    return answer(ctx, { embedding: { values: embeddingValues(textOf(content)) } }, { embedding: {} });
  }
  const requests = Array.isArray(request?.requests) ? request.requests.map(record) : [];
  if (requests.length === 0) return invalid(ctx, '* BatchEmbedContentsRequest.requests: requests is not specified\n');
  // The real API insists that every sub-request names the model of the URL.
  const mismatch = requests.findIndex((sub) => sub?.model !== `models/${model}`);
  if (mismatch >= 0) {
    return invalid(ctx, `* BatchEmbedContentsRequest.requests[${mismatch}].model: unexpected model name format\n`);
  }
  const embeddings = requests.map((sub) => ({ values: embeddingValues(textOf(record(sub?.content))) }));
  return answer(ctx, { embeddings }, { embeddings: [] });
}

function invalid(ctx: FakeContext, message: string): void {
  sendJson(ctx.res, 400, statusBody(400, message));
}

function record(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return value as Record<string, unknown>;
}

/** The text of a Content object: its text parts joined. */
function textOf(content: Record<string, unknown> | undefined): string {
  const parts = Array.isArray(content?.parts) ? content.parts : [];
  return parts.map((part) => record(part)?.text).filter((text) => typeof text === 'string').join('');
}
