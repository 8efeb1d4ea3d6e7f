import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createOpenRouterProvider } from '../../src/providers/openai-compatible/openrouter.ts';
import type { CompletionChunk, CompletionRequest, Provider } from '../../src/providers/types.ts';
import { startFakeOpenRouter } from '../../src/simulator/fake-openrouter.ts';
import { countTokens, simulatedAnswer, type FakeProviderServer } from '../../src/simulator/fake-server.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';

const API_KEY = 'sk-or-v1-test0123456789';
const MODEL = 'meta-llama/llama-3.3-70b-instruct:free';
const PROMPT = 'What is the capital of France?';
const USER_AGENT = 'secure-llm-router/test';
const ANSWER = simulatedAnswer('openrouter', MODEL, PROMPT);
const APP_URL = 'https://router.example.com';
const APP_TITLE = 'secure-llm-router';
const REQUEST: CompletionRequest = {
  messages: [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content: PROMPT },
  ],
  maxTokens: 256,
  temperature: 0.2,
};

let fake: FakeProviderServer;
let openrouter: Provider;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  fake = await startFakeOpenRouter({ apiKey: API_KEY });
  openrouter = createOpenRouterProvider({
    userAgent: USER_AGENT,
    apiKey: API_KEY,
    model: MODEL,
    baseUrl: `${fake.url}/api/v1`,
    appUrl: APP_URL,
    appTitle: APP_TITLE,
  });
});

afterAll(async () => {
  await openrouter.close();
  await fake.close();
  process.off('unhandledRejection', onUnhandled);
});

beforeEach(() => fake.reset());


describe('openrouter adapter: completions', () => {
  it('returns the answer, model, usage and finish reason', async () => {
    const completion = await openrouter.complete(REQUEST, live());
    const promptTokens = countTokens(PROMPT) + 8;
    expect(completion).toEqual({
      text: ANSWER,
      model: MODEL,
      finishReason: 'stop',
      usage: { promptTokens, completionTokens: countTokens(ANSWER), totalTokens: promptTokens + countTokens(ANSWER) },
    });
  });

  it('sends exactly the expected body, key and attribution headers, once', async () => {
    await openrouter.complete(REQUEST, live());
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe('/api/v1/chat/completions');
    // One reasoning object for every model behind OpenRouter; a model that does not reason ignores it.
    expect(sent?.body).toEqual({
      model: MODEL,
      messages: REQUEST.messages,
      max_tokens: 256,
      reasoning: { effort: 'minimal', exclude: true },
      temperature: 0.2,
    });
    expect(sent?.headers).toMatchObject({
      authorization: `Bearer ${API_KEY}`,
      'user-agent': USER_AGENT,
      accept: 'application/json',
      'http-referer': APP_URL,
      'x-openrouter-title': APP_TITLE,
      'x-title': APP_TITLE,
    });
    expect(sent?.headers['openai-organization']).toBeUndefined();
  });

  it('sends no HTTP-Referer when no app URL is configured', async () => {
    const other = createOpenRouterProvider({ apiKey: API_KEY, model: MODEL, baseUrl: `${fake.url}/api/v1`, appTitle: APP_TITLE, userAgent: USER_AGENT });
    try {
      await other.complete(REQUEST, live());
      expect(fake.requests[0]?.headers['http-referer']).toBeUndefined();
      expect(fake.requests[0]?.headers['x-openrouter-title']).toBe(APP_TITLE);
    } finally {
      await other.close();
    }
  });

  it('never sends OpenAI credentials from the environment', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { OPENAI_ADMIN_KEY: 'sk-admin-leak', OPENAI_ORG_ID: 'org-leak', OPENAI_PROJECT_ID: 'proj-leak' });
    const other = createOpenRouterProvider({ apiKey: API_KEY, model: MODEL, baseUrl: `${fake.url}/api/v1`, userAgent: USER_AGENT });
    try {
      await other.complete(REQUEST, live());
      const headers = JSON.stringify(fake.requests[0]?.headers);
      expect(headers).not.toContain('leak');
      expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    } finally {
      process.env = saved;
      await other.close();
    }
  });

  it('reports the concrete model that the free router picked', async () => {
    const completion = await openrouter.complete({ ...REQUEST, model: 'openrouter/free' }, live());
    expect(fake.requests[0]?.body).toMatchObject({ model: 'openrouter/free' });
    // The free router may pick a reasoning model: its reasoning is excluded, and counted in usage.
    expect(completion.model).toBe('openai/gpt-oss-20b:free');
    expect(completion.usage?.reasoningTokens).toBeGreaterThan(0);
  });

  it('reports a cut answer as finish reason length', async () => {
    const completion = await openrouter.complete({ ...REQUEST, maxTokens: 3 }, live());
    expect(completion.finishReason).toBe('length');
  });

  it('reads a body that arrives in slow pieces', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 20 });
    expect((await openrouter.complete(REQUEST, live())).text).toBe(ANSWER);
  });
});

describe('openrouter adapter: streaming', () => {
  it('assembles the full text past keep-alive comments, mixed separators and the usage-only chunk', async () => {
    const chunks = await collect(openrouter.stream(REQUEST, live()));
    expect(chunks.map((c) => c.text).join('')).toBe(ANSWER);
    const last = chunks.at(-1);
    expect(last?.finishReason).toBe('stop');
    expect(last?.usage?.completionTokens).toBe(countTokens(ANSWER));
    expect(last?.model).toBe(MODEL);
    expect(fake.requests[0]?.body).toEqual({
      model: MODEL,
      messages: REQUEST.messages,
      max_tokens: 256,
      reasoning: { effort: 'minimal', exclude: true },
      temperature: 0.2,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(fake.requests[0]?.headers['x-openrouter-title']).toBe(APP_TITLE);
  });

  it('assembles a trickled stream', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 10 });
    const chunks = await collect(openrouter.stream(REQUEST, live()));
    expect(chunks.map((c) => c.text).join('')).toBe(ANSWER);
  });

  it('throws after the chunks it got when an error chunk arrives mid-stream', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 3 });
    const { seen, error } = await streamFailure(openrouter.stream(REQUEST, live()));
    expect(seen).toHaveLength(3);
    expect(error.kind).toBe('unavailable');
  });

  it('maps a rate-limit error chunk mid-stream to rate_limited', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 1, status: 429 });
    const { seen, error } = await streamFailure(openrouter.stream(REQUEST, live()));
    expect(seen).toHaveLength(1);
    expect(error.kind).toBe('rate_limited');
  });

  it('fails without yielding when the first event is an error chunk', async () => {
    fake.enqueue({ kind: 'bad_response' });
    const { seen, error } = await streamFailure(openrouter.stream(REQUEST, live()));
    expect(seen).toEqual([]);
    // The chunk carries a top-level error (code 502): a failure upstream, worth another try.
    expect(error).toMatchObject({ kind: 'unavailable', retryable: true });
  });

  it('treats broken JSON in an event as a bad response', async () => {
    fake.enqueue({ kind: 'malformed' });
    const { error } = await streamFailure(openrouter.stream(REQUEST, live()));
    expect(error.kind).toBe('bad_response');
  });

  it('throws when aborted mid-stream instead of ending quietly', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 40 });
    const controller = new AbortController();
    const seen: CompletionChunk[] = [];
    const error = await failure(
      (async () => {
        for await (const chunk of openrouter.stream(REQUEST, controller.signal)) {
          seen.push(chunk);
          controller.abort();
        }
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(error.kind).toBe('aborted');
  });

  it('reports a deadline that fires mid-stream as a timeout', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 40 });
    const controller = new AbortController();
    const { seen, error } = await streamFailure(
      (async function* () {
        for await (const chunk of openrouter.stream(REQUEST, controller.signal)) {
          yield chunk;
          controller.abort(new DOMException('deadline', 'TimeoutError'));
        }
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(error.kind).toBe('timeout');
  });
});

describe('openrouter adapter: failures', () => {
  it.each([
    { label: 'error 503', fault: { kind: 'error' as const }, kind: 'unavailable', status: 503 },
    { label: 'error 502', fault: { kind: 'error' as const, status: 502 }, kind: 'unavailable', status: 502 },
    { label: 'error 402', fault: { kind: 'error' as const, status: 402 }, kind: 'misconfigured', status: 402 },
    { label: 'error 400', fault: { kind: 'error' as const, status: 400 }, kind: 'rejected', status: 400 },
    { label: 'non-streamed cut', fault: { kind: 'stream_cut' as const }, kind: 'unavailable', status: 500 },
    { label: 'unauthorized', fault: { kind: 'unauthorized' as const }, kind: 'misconfigured', status: 401 },
  ])('$label → $kind', async ({ fault, kind, status }) => {
    fake.enqueue(fault);
    const error = await failure(openrouter.complete(REQUEST, live()));
    expect(error).toMatchObject({ provider: 'openrouter', kind, status });
    expect(fake.requests).toHaveLength(1);
  });

  it('returns a 429 at once with retryAfterMs from Retry-After (never sleeping on it)', async () => {
    fake.enqueue({ kind: 'rate_limited', retryAfterSeconds: 120 });
    const started = performance.now();
    const error = await failure(openrouter.complete(REQUEST, live()));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 120_000 });
    expect(fake.requests).toHaveLength(1);
  });

  it('keeps the Retry-After of a 503', async () => {
    fake.enqueue({ kind: 'error', status: 503, retryAfterSeconds: 7 });
    const error = await failure(openrouter.complete(REQUEST, live()));
    expect(error).toMatchObject({ kind: 'unavailable', status: 503, retryAfterMs: 7000 });
    expect(fake.requests).toHaveLength(1);
  });

  it('maps a bad key to misconfigured without echoing the key', async () => {
    const wrongKey = 'sk-or-v1-wrong-secret';
    const other = createOpenRouterProvider({ apiKey: wrongKey, model: MODEL, baseUrl: `${fake.url}/api/v1`, userAgent: USER_AGENT });
    try {
      const error = await failure(other.complete(REQUEST, live()));
      expect(error).toMatchObject({ kind: 'misconfigured', status: 401 });
      expect(error.message).not.toContain(wrongKey);
    } finally {
      await other.close();
    }
  });

  it("maps an unknown model (OpenRouter's 400, told apart by its body) to misconfigured", async () => {
    const error = await failure(openrouter.complete({ ...REQUEST, model: 'nobody/no-such-model' }, live()));
    expect(error).toMatchObject({ kind: 'misconfigured', status: 400, modelNotFound: true });
    // Its text is tested, never repeated: it quotes the request.
    expect(error.message).toBe('openrouter does not know the model (HTTP 400)');
  });

  it('keeps any other 400 as the request refused', async () => {
    fake.enqueue({ kind: 'error', status: 400 });
    const error = await failure(openrouter.complete(REQUEST, live()));
    expect(error).toMatchObject({ kind: 'rejected', status: 400, modelNotFound: false });
  });

  it('maps an error inside a 200 to bad_response', async () => {
    fake.enqueue({ kind: 'bad_response' });
    const error = await failure(openrouter.complete(REQUEST, live()));
    expect(error).toMatchObject({ kind: 'bad_response', retryable: true });
  });

  it('maps a reset connection to unavailable, without retrying', async () => {
    fake.enqueue({ kind: 'reset' });
    const error = await failure(openrouter.complete(REQUEST, live()));
    expect(error.kind).toBe('unavailable');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps broken JSON in a 200 to bad_response', async () => {
    fake.enqueue({ kind: 'malformed' });
    expect((await failure(openrouter.complete(REQUEST, live()))).kind).toBe('bad_response');
  });

  it('gives up on a hung call when the deadline fires, and closes the connection', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new DOMException('deadline', 'TimeoutError')), 100);
    const started = performance.now();
    const error = await failure(openrouter.complete(REQUEST, controller.signal));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error.kind).toBe('timeout');
    await expect.poll(() => fake.abortedRequests, { timeout: 1000, interval: 10 }).toBe(1);
  });

  it('sends through its own connection pool, which close() releases', async () => {
    const other = createOpenRouterProvider({ apiKey: API_KEY, model: MODEL, baseUrl: `${fake.url}/api/v1`, userAgent: USER_AGENT });
    await other.complete(REQUEST, live());
    await other.close();
    // A closed pool refuses work, which shows the calls really used it rather than the global one.
    expect((await failure(other.complete(REQUEST, live()))).kind).toBe('unavailable');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps an abort for another reason to aborted, without calling out', async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await failure(openrouter.complete(REQUEST, controller.signal))).kind).toBe('aborted');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('openrouter fake', () => {
  it('serves the public model list and the key endpoint', async () => {
    const models = (await (await fetch(`${fake.url}/api/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toContain('openrouter/free');
    const key = await fetch(`${fake.url}/api/v1/key`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(((await key.json()) as { data: { is_free_tier: boolean } }).data.is_free_tier).toBe(true);
    expect((await fetch(`${fake.url}/api/v1/key`)).status).toBe(401);
  });

  it('sends the free-tier daily 429 body with X-RateLimit headers and no Retry-After', async () => {
    fake.enqueue({ kind: 'daily_limit' });
    const response = await fetch(`${fake.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBeNull();
    const body = (await response.json()) as { error: { code: number; metadata: { headers: Record<string, string> } } };
    expect(body.error.code).toBe(429);
    expect(body.error.metadata.headers['X-RateLimit-Limit']).toBe('50');
  });
});

it('leaves no unhandled rejection behind', async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(unhandled).toEqual([]);
});
