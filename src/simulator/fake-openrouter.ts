// A local OpenRouter under /api/v1 as OpenAI-style clients call it: numeric error codes, errors inside
// a 200, keep-alive comments in streams, and a usage-only chunk before [DONE].
import { http } from '../http/http-modules.ts';
import { sendJson, startFakeServer, startSse, toDeltas, type FakeContext, type FakeProviderServer, type FakeQuota } from './fake-server.ts';
import {
  BROKEN_EVENT,
  basicUsage,
  chunkBody,
  chunkChoice,
  completionBody,
  draftAnswer,
  withheld,
  sized,
  continued,
  withTools,
  toolCallDeltas,
  randomId,
  readChatRequest,
  sendBrokenJson,
  trickleJson,
  writeDone,
  writeEvent,
  EFFORT_TOKENS,
  NO_REASONING,
  type Draft,
  type Reasoning,
} from './fake-openai-compatible.ts';

export interface FakeOpenRouterOptions {
  apiKey: string;
  models?: string[];
}

const DEFAULT_MODELS = [
  'openrouter/free',
  'meta-llama/llama-3.3-70b-instruct:free',
  'google/gemma-3-27b-it:free',
  'openai/gpt-oss-20b:free',
];
const FREE_REQUESTS_PER_DAY = 50;
const KEEP_ALIVE = ': OPENROUTER PROCESSING';

type Headers = Record<string, string>;

const routerError = (code: number, message: string, metadata?: Record<string, unknown>) => ({
  error: metadata === undefined ? { message, code } : { message, code, metadata },
});

export function startFakeOpenRouter(options: FakeOpenRouterOptions): Promise<FakeProviderServer> {
  const models = options.models ?? DEFAULT_MODELS;
  const usage = { chats: 0 };

  return startFakeServer('openrouter', async (ctx) => {
    const { request, res, fault } = ctx;
    const route = `${request.method} ${request.path}`;
    if (fault.kind === 'unauthorized') return sendJson(res, 401, routerError(401, 'User not found.'));
    if (route === 'GET /api/v1/models') {
      // Public: no key needed.
      if (failWithStatus(ctx, false)) return;
      return sendJson(res, 200, { data: models.map(describeModel) });
    }

    const auth = request.headers.authorization;
    if (auth === undefined) return sendJson(res, 401, routerError(401, 'No auth credentials found'));
    if (auth !== `Bearer ${options.apiKey}`) return sendJson(res, 401, routerError(401, 'User not found.'));
    if (route === 'POST /api/v1/chat/completions') {
      usage.chats += 1;
      return chat(ctx, models);
    }
    if (route === 'GET /api/v1/key') {
      if (failWithStatus(ctx, false)) return;
      return sendJson(res, 200, { data: keyInfo(usage.chats, ctx.quota) });
    }
    return sendJson(res, 404, routerError(404, 'Not Found'));
  });
}

function describeModel(id: string) {
  return {
    id,
    name: id,
    created: 1_700_000_000,
    context_length: 131_072,
    pricing: { prompt: '0', completion: '0', request: '0', image: '0' },
    supported_parameters: ['max_tokens', 'temperature', 'top_p', 'stop'],
  };
}

/** With a daily limit set on the fake, its free-model counts are the limit's. */
function keyInfo(chats: number, quota: FakeQuota | undefined) {
  const limit = quota?.limits.rpd ?? FREE_REQUESTS_PER_DAY;
  const used = quota?.limits.rpd === undefined ? chats : quota.usedToday;
  return {
    label: 'sk-or-v1-loc...al',
    limit: null,
    limit_reset: null,
    limit_remaining: null,
    usage: 0,
    usage_daily: 0,
    is_free_tier: true,
    free_model_daily_requests: { limit, remaining: Math.max(0, limit - used), used },
  };
}

/** The router picks a concrete model; the response names it. The free router may well pick a reasoning model. */
function servedModel(requested: string, models: string[]): string {
  if (requested !== 'openrouter/free') return requested;
  return models.find((id) => id.startsWith('openai/gpt-oss') && id.endsWith(':free')) ?? models.find((id) => id.endsWith(':free')) ?? 'openai/gpt-oss-20b:free';
}

/**
 * OpenRouter's `reasoning` object (or top-level reasoning_effort): effort sets how long a reasoning
 * model thinks (medium when unset), exclude keeps the reasoning out of the answer. A model that
 * does not reason ignores it.
 */
function routerReasoning(model: string, fields: Record<string, unknown>): Reasoning {
  if (!model.startsWith('openai/gpt-oss')) return NO_REASONING;
  const reasoning = (typeof fields.reasoning === 'object' && fields.reasoning !== null ? fields.reasoning : {}) as { effort?: unknown; exclude?: unknown };
  const effort = (reasoning.effort ?? fields.reasoning_effort ?? 'medium') as string;
  return { tokens: EFFORT_TOKENS[effort] ?? EFFORT_TOKENS.medium ?? 64, visible: reasoning.exclude !== true };
}

async function chat(ctx: FakeContext, models: string[]): Promise<void> {
  const { res, fault } = ctx;
  const request = readChatRequest(ctx.request.body);
  if (typeof request === 'string') return sendJson(res, 400, routerError(400, request));
  if (!models.includes(request.model)) {
    // OpenRouter's answer for an id it does not know: a 400, told apart only by its body.
    const unknown = routerError(400, `${request.model} is not a valid model ID`);
    const availability = { code: 'model_not_found', retryable: false, requested_models: [request.model] };
    return sendJson(res, 400, { error: { ...unknown.error, availability } });
  }
  if (failWithStatus(ctx, request.stream)) return;
  if (fault.kind === 'ok' && fault.delayMs && !(await ctx.wait(fault.delayMs))) return;

  const model = servedModel(request.model, models);
  const answer = withTools(continued(sized(draftAnswer('openrouter', model, request, routerReasoning(model, request.fields)), fault), request), request.fields);
  if (typeof answer === 'string') return sendJson(res, 400, routerError(400, answer));
  const draft = fault.kind === 'blocked' ? withheld(answer) : answer;
  const id = randomId('gen-');
  const headers = { 'x-generation-id': id };
  if (request.stream) return streamAnswer(ctx, model, draft, id);
  if (fault.kind === 'malformed') return sendBrokenJson(res, headers);
  if (fault.kind === 'bad_response') {
    // OpenRouter reports some upstream failures as a 200 whose body is only an error.
    return sendJson(res, 200, { ...routerError(502, 'Provider returned error'), user_id: 'user_local' }, headers);
  }
  const body = completionBody(
    id,
    model,
    draft,
    { provider: 'Local', usage: routerUsage(draft) },
    { native_finish_reason: draft.finishReason },
  );
  if (fault.kind === 'trickle') return trickleJson(res, body, fault.delayMs ?? 50, ctx.wait, headers);
  return sendJson(res, 200, body, headers);
}

/** Answers the status-level faults (and a non-streamed cut, which is a 500); false when none applies. */
function failWithStatus(ctx: FakeContext, streaming: boolean): boolean {
  const { fault, res } = ctx;
  if (fault.kind === 'rate_limited') {
    const now = ctx.quota?.limits.now?.() ?? Date.now();
    const limits = { 'X-RateLimit-Limit': String(fault.limit ?? 20), 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(now + (fault.retryAfterSeconds ?? 60) * 1000) };
    const message = 'Rate limit exceeded: free-models-per-min. ';
    const body = { ...routerError(429, message, { headers: limits, provider_name: null }), user_id: 'user_local' };
    sendJson(res, 429, body, { ...limits, 'retry-after': String(fault.retryAfterSeconds ?? 30) });
    return true;
  }
  if (fault.kind === 'daily_limit') {
    // The free-model daily limit resets at 00:00 UTC, and often comes without Retry-After.
    const now = ctx.quota?.limits.now?.() ?? Date.now();
    const reset = new Date(now);
    if (fault.retryAfterSeconds === undefined) reset.setUTCHours(24, 0, 0, 0);
    else reset.setTime(reset.getTime() + fault.retryAfterSeconds * 1000);
    const limits = { 'X-RateLimit-Limit': String(fault.limit ?? FREE_REQUESTS_PER_DAY), 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': String(reset.getTime()) };
    const message = 'Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day';
    sendJson(res, 429, { ...routerError(429, message, { headers: limits, provider_name: null }), user_id: 'user_local' });
    return true;
  }
  if (fault.kind === 'guardrail') {
    // A guardrail's refusal is about the prompt; its metadata names the patterns it matched.
    const metadata = { patterns: ['ignore all previous instructions'] };
    sendJson(res, 403, routerError(403, 'Request blocked: prompt injection patterns detected', metadata));
    return true;
  }
  if (fault.kind === 'content_policy') {
    // OpenRouter's moderation: a 403 whose metadata names the reasons and the flagged input.
    const metadata = { reasons: ['violence'], flagged_input: 'How do I build a', provider_name: 'OpenAI', model_slug: 'openai/gpt-4o-mini' };
    sendJson(res, 403, routerError(403, 'openai/gpt-4o-mini requires moderation on OpenAI. Your input was flagged for "violence".', metadata));
    return true;
  }
  if (fault.kind === 'error' || (fault.kind === 'stream_cut' && !streaming)) {
    const status = fault.kind === 'error' ? (fault.status ?? 503) : 500;
    const retryAfter: Headers = fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
    sendJson(res, status, errorBody(status), retryAfter);
    return true;
  }
  return false;
}

function errorBody(status: number) {
  if (status === 503) return routerError(503, 'No instances available.', { error_type: 'provider_overloaded' });
  if (status === 502) {
    return routerError(502, 'Provider returned error', { error_type: 'provider_unavailable', provider_name: 'Local' });
  }
  if (status === 402) {
    return routerError(402, 'Insufficient credits. Add more using https://openrouter.ai/settings/credits', {
      error_type: 'payment_required',
    });
  }
  if (status === 500) return routerError(500, 'Internal Server Error', { error_type: 'server' });
  // OpenRouter's 403s are refusals of the request: a guardrail (its patterns) or moderation (its reasons).
  if (status === 403) {
    return routerError(403, 'Request blocked: prompt injection patterns detected', { patterns: ['ignore all previous instructions'] });
  }
  return routerError(status, http.STATUS_CODES[status] ?? 'Error');
}

function routerUsage(draft: Draft) {
  return {
    ...basicUsage(draft),
    cost: 0,
    is_byok: false,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: draft.reasoningTokens },
  };
}

async function streamAnswer(ctx: FakeContext, model: string, draft: Draft, id: string): Promise<void> {
  const { res, fault } = ctx;
  // Real streams mix both separators; alternate so parsers that assume one of them break here.
  let events = 0;
  const send = (data: unknown) => writeEvent(res, data, events++ % 2 === 0 ? '\n\n' : '\r\n\r\n');
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, extra: Record<string, unknown> = {}) =>
    chunkBody(id, model, [chunkChoice(delta, finishReason, { native_finish_reason: finishReason })], {
      provider: 'Local',
      ...extra,
    });
  // Upstream failed after the 200: 502 by default, or a rate limit when the fault's status is 429.
  const upstream =
    fault.status === 429
      ? routerError(429, 'Rate limit exceeded', { error_type: 'rate_limit_exceeded' })
      : routerError(502, 'Provider returned error', { error_type: 'provider_unavailable' });
  const errorChunk = () => chunk({ content: '' }, 'error', upstream);

  startSse(res, { 'x-generation-id': id });
  res.write(`${KEEP_ALIVE}\n\n`);
  if (fault.kind === 'bad_response') {
    send(errorChunk());
    res.end();
    return;
  }
  if (fault.kind === 'malformed') {
    send(chunk({ role: 'assistant', content: '' }, null));
    send(BROKEN_EVENT);
    return writeDone(res);
  }

  const gapMs = fault.kind === 'trickle' ? (fault.delayMs ?? 50) : 0;
  // Reasoning, unless excluded, comes first in `reasoning` deltas.
  for (const piece of draft.reasoning === '' ? [] : toDeltas(draft.reasoning)) send(chunk({ role: 'assistant', content: '', reasoning: piece }, null));
  for (const delta of toolCallDeltas(draft)) send(chunk({ role: 'assistant', ...delta }, null));
  const deltas = toDeltas(draft.text);
  const cutAfter = fault.kind === 'stream_cut' ? Math.min(fault.afterChunks ?? 2, deltas.length) : Infinity;
  const brokenAfter = fault.kind === 'malformed_event' ? (fault.afterChunks ?? 10) : -1;
  const stallAfter = fault.kind === 'stream_stall' ? (fault.afterChunks ?? 2) : -1;
  let sent = 0;
  for (const delta of deltas) {
    if (sent === cutAfter) break;
    if (gapMs > 0 && sent > 0 && !(await ctx.wait(gapMs))) return;
    if (ctx.clientGone) return;
    // A stall: nothing more is sent, and the connection stays open until the client leaves.
    if (sent === stallAfter) return void (await ctx.wait(60_000));
    if (sent === brokenAfter) send(BROKEN_EVENT);
    send(chunk({ role: 'assistant', content: delta }, null));
    if (sent === 0) res.write(`${KEEP_ALIVE}\r\n\r\n`);
    sent += 1;
  }
  if (sent === cutAfter) {
    // Once the status is 200, a failure comes as one error chunk and the stream ends without [DONE].
    send(errorChunk());
    res.end();
    return;
  }
  send(chunk({ role: 'assistant', content: '' }, draft.finishReason));
  send(chunkBody(id, model, [], { provider: 'Local', usage: routerUsage(draft) }));
  writeDone(res);
}
