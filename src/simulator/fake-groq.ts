// A local Groq: the OpenAI-compatible routes under /openai/v1 as Groq's clients call them, with
// Groq's rate-limit headers, error bodies and `x_groq` stream extras.
import { http } from '../http/http-modules.ts';
import { sendJson, startFakeServer, startSse, toDeltas, type FakeContext, type FakeProviderServer } from './fake-server.ts';
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
  type ChatRequest,
  type Draft,
  type Reasoning,
} from './fake-openai-compatible.ts';

export interface FakeGroqOptions {
  apiKey: string;
  models?: string[];
}

const DEFAULT_MODELS = ['openai/gpt-oss-20b', 'openai/gpt-oss-120b', 'qwen/qwen3.6-27b', 'meta-llama/llama-4-scout-17b-16e-instruct'];
/** Decommissioned for free and developer accounts on 2026-08-16: Groq answers them as unknown. */
export const GROQ_RETIRED_MODELS = ['llama-3.1-8b-instant', 'llama-3.3-70b-versatile'];
const REQUESTS_PER_DAY = 14_400;
const TOKENS_PER_MINUTE = 6000;

type Headers = Record<string, string>;

const groqError = (message: string, type: string, code?: string) => ({
  error: code === undefined ? { message, type } : { message, type, code },
});

export function startFakeGroq(options: FakeGroqOptions): Promise<FakeProviderServer> {
  const models = options.models ?? DEFAULT_MODELS;
  let served = 0;

  return startFakeServer('groq', async (ctx) => {
    const { request, res, fault, quota } = ctx;
    served += 1;
    // Groq sends these on every response, errors included. With a daily limit set, they tell its count.
    const perDay = quota?.limits.rpd ?? REQUESTS_PER_DAY;
    const headers: Headers = {
      'x-request-id': randomId('req_'),
      'x-groq-region': 'local',
      'x-ratelimit-limit-requests': String(perDay),
      'x-ratelimit-limit-tokens': String(TOKENS_PER_MINUTE),
      'x-ratelimit-remaining-requests': String(Math.max(0, perDay - (quota?.limits.rpd === undefined ? served : quota.usedToday))),
      'x-ratelimit-remaining-tokens': String(TOKENS_PER_MINUTE - 120),
      'x-ratelimit-reset-requests': quota?.limits.rpd === undefined ? '2m59.56s' : `${(quota.dayResetMs / 1000).toFixed(2)}s`,
      'x-ratelimit-reset-tokens': '7.66s',
    };

    if (request.headers.authorization !== `Bearer ${options.apiKey}` || fault.kind === 'unauthorized') {
      return sendJson(res, 401, groqError('Invalid API Key', 'invalid_request_error', 'invalid_api_key'), headers);
    }
    const route = `${request.method} ${request.path}`;
    if (route === 'POST /openai/v1/chat/completions') return chat(ctx, models, headers);
    if (route === 'GET /openai/v1/models') {
      if (failWithStatus(ctx, models[0] ?? 'openai/gpt-oss-20b', false, headers)) return;
      const data = models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'Local', active: true }));
      return sendJson(res, 200, { object: 'list', data }, headers);
    }
    const message = `Unknown request URL: ${route}. Please check the URL for typos, or see the docs at https://console.groq.com/docs/`;
    return sendJson(res, 404, groqError(message, 'invalid_request_error', 'unknown_url'), headers);
  });
}

async function chat(ctx: FakeContext, models: string[], headers: Headers): Promise<void> {
  const { res, fault } = ctx;
  const request = readChatRequest(ctx.request.body);
  if (typeof request === 'string') return sendJson(res, 400, groqError(request, 'invalid_request_error'), headers);
  if (!models.includes(request.model) || GROQ_RETIRED_MODELS.includes(request.model)) {
    const message = `The model \`${request.model}\` does not exist or you do not have access to it.`;
    return sendJson(res, 404, groqError(message, 'invalid_request_error', 'model_not_found'), headers);
  }
  if (failWithStatus(ctx, request.model, request.stream, headers)) return;
  const reasoning = groqReasoning(request);
  if (typeof reasoning === 'string') return sendJson(res, 400, groqError(reasoning, 'invalid_request_error'), headers);
  if (fault.kind === 'ok' && fault.delayMs && !(await ctx.wait(fault.delayMs))) return;

  const answer = withTools(continued(sized(draftAnswer('groq', request.model, request, reasoning), fault), request), request.fields);
  if (typeof answer === 'string') return sendJson(res, 400, groqError(answer, 'invalid_request_error'), headers);
  const draft = fault.kind === 'blocked' ? withheld(answer) : answer;
  if (request.stream) return streamAnswer(ctx, request, draft, headers);
  if (fault.kind === 'malformed') return sendBrokenJson(res, headers);

  const requestId = headers['x-request-id'];
  const body = completionBody(randomId('chatcmpl-'), request.model, draft, {
    usage: groqUsage(draft),
    system_fingerprint: 'fp_local',
    x_groq: { id: requestId },
    service_tier: 'on_demand',
  });
  if (fault.kind === 'bad_response') body.choices = [];
  if (fault.kind === 'trickle') return trickleJson(res, body, fault.delayMs ?? 50, ctx.wait, headers);
  return sendJson(res, 200, body, headers);
}

/** Answers the status-level faults (and a non-streamed cut, which is a 500); false when none applies. */
function failWithStatus(ctx: FakeContext, model: string, streaming: boolean, headers: Headers): boolean {
  const { fault, res } = ctx;
  if (fault.kind === 'rate_limited') {
    const seconds = fault.retryAfterSeconds ?? 30;
    // A limit set on the fake is its requests per minute; otherwise the usual tokens-per-minute refusal.
    const message =
      fault.limit === undefined
        ? `Rate limit reached for model \`${model}\` in organization \`org_local\` service tier \`on_demand\` on tokens per minute (TPM): ` +
          `Limit ${TOKENS_PER_MINUTE}, Used ${TOKENS_PER_MINUTE - 100}, Requested 900. Please try again in ${seconds}s.`
        : `Rate limit reached for model \`${model}\` in organization \`org_local\` service tier \`on_demand\` on requests per minute (RPM): ` +
          `Limit ${fault.limit}, Used ${fault.limit}, Requested 1. Please try again in ${seconds}s.`;
    sendJson(res, 429, groqError(message, fault.limit === undefined ? 'tokens' : 'requests', 'rate_limit_exceeded'), { ...headers, 'retry-after': String(seconds) });
    return true;
  }
  if (fault.kind === 'daily_limit') {
    // Groq's daily request limit: its own wording, and a Retry-After until the window frees a request.
    const perDay = fault.limit ?? REQUESTS_PER_DAY;
    const message = `Rate limit reached for model \`${model}\` in organization \`org_local\` service tier \`on_demand\` on requests per day (RPD): Limit ${perDay}, Used ${perDay}, Requested 1. Please try again in 1m26.4s.`;
    sendJson(res, 429, groqError(message, 'requests', 'rate_limit_exceeded'), { ...headers, 'x-ratelimit-remaining-requests': '0', 'retry-after': '87' });
    return true;
  }
  if (fault.kind === 'content_policy') {
    // OpenAI's wording and code for a prompt its safety system refused, which OpenAI-compatible servers copy.
    const message = 'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.';
    sendJson(res, 400, { error: { message, type: 'invalid_request_error', param: null, code: 'content_policy_violation' } }, headers);
    return true;
  }
  if (fault.kind === 'error' || (fault.kind === 'stream_cut' && !streaming)) {
    const status = fault.kind === 'error' ? (fault.status ?? 503) : 500;
    sendJson(res, status, errorBody(status, model), headers);
    return true;
  }
  return false;
}

function errorBody(status: number, model: string) {
  if (status === 503) {
    const message = `${model} is currently over capacity. Please try again and back off exponentially. Visit https://groqstatus.com to see if there is an active incident.`;
    return groqError(message, 'internal_server_error', 'service_unavailable');
  }
  if (status === 498) {
    return groqError('Flex tier capacity exceeded. Please try again later.', 'capacity_exceeded', 'flex_tier_capacity_exceeded');
  }
  if (status === 413) {
    const message = `Request too large for model \`${model}\` in organization \`org_local\` service tier \`on_demand\` on tokens per minute (TPM): Limit ${TOKENS_PER_MINUTE}, Requested 12328, please reduce your message size and try again.`;
    return groqError(message, 'tokens', 'rate_limit_exceeded');
  }
  const type = status >= 500 ? 'internal_server_error' : 'invalid_request_error';
  return groqError(http.STATUS_CODES[status] ?? 'Error', type);
}

/**
 * Groq's reasoning rules: gpt-oss reasons at low, medium (its default) or high, never none, and
 * sends its reasoning in `reasoning` unless include_reasoning is false; it refuses reasoning_format.
 * Qwen 3 takes none or default. Other models do not reason, and refuse both fields.
 */
function groqReasoning(request: ChatRequest): Reasoning | string {
  const { reasoning_effort: effort, reasoning_format: format, include_reasoning: include } = request.fields;
  if (format !== undefined && include !== undefined) return '`reasoning_format` and `include_reasoning` cannot be used together';
  if (request.model.startsWith('openai/gpt-oss')) {
    if (format !== undefined) return '`reasoning_format` is not supported with this model';
    if (effort !== undefined && !['low', 'medium', 'high'].includes(effort as string)) {
      return `'reasoning_effort' : value must be one of [low, medium, high] for model \`${request.model}\``;
    }
    return { tokens: EFFORT_TOKENS[(effort as string | undefined) ?? 'medium'] ?? 64, visible: include !== false };
  }
  if (request.model.startsWith('qwen/qwen3')) {
    if (effort !== undefined && !['none', 'default'].includes(effort as string)) return `'reasoning_effort' : value must be one of [none, default]`;
    return effort === 'none' ? NO_REASONING : { tokens: EFFORT_TOKENS.medium ?? 64, visible: include !== false && format !== 'hidden' };
  }
  if (effort !== undefined) return '`reasoning_effort` is not supported with this model';
  if (format !== undefined) return '`reasoning_format` is not supported with this model';
  return NO_REASONING;
}

function groqUsage(draft: Draft) {
  return { queue_time: 0.012, ...basicUsage(draft), prompt_time: 0.004, completion_time: 0.021, total_time: 0.025 };
}

async function streamAnswer(ctx: FakeContext, request: ChatRequest, draft: Draft, headers: Headers): Promise<void> {
  const { res, fault } = ctx;
  const id = randomId('chatcmpl-');
  const groqId = headers['x-request-id'];
  const chunk = (delta: Record<string, unknown>, finishReason: string | null, xGroq?: Record<string, unknown>) =>
    chunkBody(id, request.model, [chunkChoice(delta, finishReason)], {
      system_fingerprint: 'fp_local',
      ...(xGroq && { x_groq: xGroq }),
    });

  startSse(res, headers);
  if (fault.kind === 'bad_response') {
    writeEvent(res, chunkBody(id, request.model, [], { x_groq: { id: groqId } }));
    return writeDone(res);
  }
  writeEvent(res, chunk({ role: 'assistant', content: '' }, null, { id: groqId }));
  if (fault.kind === 'malformed') {
    writeEvent(res, BROKEN_EVENT);
    return writeDone(res);
  }

  const gapMs = fault.kind === 'trickle' ? (fault.delayMs ?? 50) : 0;
  // Reasoning, when sent, comes first, in deltas of its own (at the answer's pace: a trickle thinks slowly too).
  for (const piece of draft.reasoning === '' ? [] : toDeltas(draft.reasoning)) {
    if (gapMs > 0 && !(await ctx.wait(gapMs))) return;
    writeEvent(res, chunk({ reasoning: piece }, null));
  }
  // Groq sends each function call whole, in one delta.
  for (const delta of toolCallDeltas(draft, true)) writeEvent(res, chunk(delta, null));
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
    if (sent === brokenAfter) writeEvent(res, BROKEN_EVENT);
    writeEvent(res, chunk({ content: delta }, null));
    sent += 1;
  }
  if (sent === cutAfter) {
    // Groq reports a stream that stopped early in x_groq.error and sends no [DONE].
    writeEvent(res, chunk({}, null, { id: groqId, error: 'Service Unavailable: the model stopped generating early' }));
    res.end();
    return;
  }
  writeEvent(res, chunk({}, draft.finishReason, { id: groqId, usage: groqUsage(draft) }));
  if (request.includeUsage) {
    writeEvent(res, chunkBody(id, request.model, [], { usage: groqUsage(draft), x_groq: { id: groqId } }));
  }
  writeDone(res);
}
