// A local model server as Ollama, llama.cpp's llama-server and vLLM serve OpenAI's API under /v1:
// chat completions (whole and streamed), the model list and embeddings, with no key required (a
// key, when sent, is ignored, as Ollama does). An unknown model gets Ollama's 404.
import { countTokens, sendJson, startFakeServer, startSse, toDeltas, type FakeContext, type FakeProviderServer } from './fake-server.ts';
import {
  BROKEN_EVENT,
  basicUsage,
  chunkBody,
  chunkChoice,
  completionBody,
  draftAnswer,
  toolCallDeltas,
  withTools,
  randomId,
  readChatRequest,
  sendBrokenJson,
  trickleJson,
  unixNow,
  withheld,
  writeDone,
  writeEvent,
  type ChatRequest,
  type Draft,
} from './fake-openai-compatible.ts';

export interface FakeLocalRuntimeOptions {
  /** The name it answers as in simulated text ("ollama"). */
  name: string;
  models: string[];
  /** Served by /v1/embeddings; none: the route answers 404 as llama-server does without --embeddings. */
  embeddingModels?: string[];
  /** Set to require this key, as `vllm serve --api-key` does. */
  apiKey?: string;
}

const EMBEDDING_DIMENSIONS = 8;

const localError = (message: string, type = 'api_error') => ({ error: { message, type, param: null, code: null } });

export function startFakeLocalRuntime(options: FakeLocalRuntimeOptions): Promise<FakeProviderServer> {
  return startFakeServer(options.name, async (ctx) => {
    const { request, res, fault } = ctx;
    if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) {
      return sendJson(res, 401, localError('Unauthorized', 'authentication_error'));
    }
    if (fault.kind === 'unauthorized') return sendJson(res, 401, localError('Unauthorized', 'authentication_error'));
    const route = `${request.method} ${request.path}`;
    if (route === 'GET /v1/models') {
      const data = [...options.models, ...(options.embeddingModels ?? [])].map((id) => ({ id, object: 'model', created: unixNow(), owned_by: 'library' }));
      return sendJson(res, 200, { object: 'list', data });
    }
    if (route === 'POST /v1/chat/completions') return chat(ctx, options);
    if (route === 'POST /v1/embeddings' && options.embeddingModels !== undefined) return embeddings(ctx, options.embeddingModels);
    return sendJson(res, 404, localError('404 page not found', 'not_found_error'));
  });
}

async function chat(ctx: FakeContext, options: FakeLocalRuntimeOptions): Promise<void> {
  const { res, fault } = ctx;
  const request = readChatRequest(ctx.request.body);
  if (typeof request === 'string') return sendJson(res, 400, localError(request, 'invalid_request_error'));
  if (!options.models.includes(request.model)) {
    return sendJson(res, 404, localError(`model "${request.model}" not found, try pulling it first`, 'not_found_error'));
  }
  if (failWithStatus(ctx)) return;
  if (fault.kind === 'ok' && fault.delayMs && !(await ctx.wait(fault.delayMs))) return;
  const answer = withTools(draftAnswer(options.name, request.model, request), request.fields);
  if (typeof answer === 'string') return sendJson(res, 400, localError(answer, 'invalid_request_error'));
  const draft = fault.kind === 'blocked' ? withheld(answer) : answer;
  if (request.stream) return streamAnswer(ctx, request, draft);
  if (fault.kind === 'malformed') return sendBrokenJson(res);
  const body = completionBody(randomId('chatcmpl-'), request.model, draft, { system_fingerprint: 'fp_ollama' });
  if (fault.kind === 'bad_response') body.choices = [];
  if (fault.kind === 'trickle') return trickleJson(res, body, fault.delayMs ?? 50, ctx.wait);
  return sendJson(res, 200, body);
}

/** The status-level faults; false when none applies. */
function failWithStatus(ctx: FakeContext): boolean {
  const { fault, res } = ctx;
  if (fault.kind === 'rate_limited') {
    sendJson(res, 429, localError('server busy, please try again.  maximum pending requests exceeded'), { 'retry-after': String(fault.retryAfterSeconds ?? 30) });
    return true;
  }
  if (fault.kind === 'error' || fault.kind === 'stream_cut') {
    sendJson(res, fault.status ?? 500, localError('llama runner process has terminated: exit status 2'));
    return true;
  }
  return false;
}

async function streamAnswer(ctx: FakeContext, request: ChatRequest, draft: Draft): Promise<void> {
  const { res, fault } = ctx;
  const id = randomId('chatcmpl-');
  startSse(res);
  if (fault.kind === 'malformed') {
    writeEvent(res, BROKEN_EVENT);
    return writeDone(res);
  }
  const gapMs = fault.kind === 'trickle' ? (fault.delayMs ?? 50) : 0;
  let sent = 0;
  // Like Ollama, each function call comes whole in one delta.
  for (const delta of toolCallDeltas(draft, true)) writeEvent(res, chunkBody(id, request.model, [chunkChoice({ role: 'assistant', ...delta }, null)], { system_fingerprint: 'fp_ollama' }));
  for (const delta of toDeltas(draft.text)) {
    if (gapMs > 0 && sent > 0 && !(await ctx.wait(gapMs))) return;
    if (ctx.clientGone) return;
    writeEvent(res, chunkBody(id, request.model, [chunkChoice({ role: 'assistant', content: delta }, null)], { system_fingerprint: 'fp_ollama' }));
    sent += 1;
  }
  writeEvent(res, chunkBody(id, request.model, [chunkChoice({ role: 'assistant', content: '' }, draft.finishReason)], { system_fingerprint: 'fp_ollama' }));
  if (request.includeUsage) writeEvent(res, chunkBody(id, request.model, [], { usage: basicUsage(draft) }));
  writeDone(res);
}

function embeddings(ctx: FakeContext, models: string[]): void {
  const { res } = ctx;
  const body = ctx.request.body as { model?: unknown; input?: unknown } | undefined;
  const model = typeof body?.model === 'string' ? body.model : '';
  if (!models.includes(model)) return sendJson(res, 404, localError(`model "${model}" not found, try pulling it first`, 'not_found_error'));
  const inputs = typeof body?.input === 'string' ? [body.input] : Array.isArray(body?.input) ? body.input.map(String) : [];
  if (inputs.length === 0) return sendJson(res, 400, localError('invalid input', 'invalid_request_error'));
  // A vector that depends on the text, so equal inputs embed equally and different ones differ.
  const vector = (text: string) => Array.from({ length: EMBEDDING_DIMENSIONS }, (_, i) => Number((Math.sin(text.length * (i + 1) + (text.charCodeAt(i % text.length) || 0)) / 2).toFixed(6)));
  const tokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
  return sendJson(res, 200, {
    object: 'list',
    data: inputs.map((text, index) => ({ object: 'embedding', index, embedding: vector(text) })),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}
