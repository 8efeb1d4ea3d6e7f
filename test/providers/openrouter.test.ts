// OpenRouter: the OpenAI-compatible contract, plus what only OpenRouter does (attribution headers,
// its free router, error chunks inside a stream, an unknown model as a 400, its 402).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/providers/types.ts';
import { startFakeOpenRouter } from '../../src/simulator/fake-openrouter.ts';
import { countTokens, simulatedAnswer, type FakeProviderServer } from '../../src/simulator/fake-server.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';
import { adapterFromEnv, CONTRACT_REQUEST as REQUEST, describeOpenAiCompatibleContract } from './openai-compatible-contract.ts';

const API_KEY = 'sk-or-v1-test0123456789';
const MODEL = 'meta-llama/llama-3.3-70b-instruct:free';
const APP_URL = 'https://router.example.com';
const APP_TITLE = 'secure-llm-router';
const openRouterEnv = (fake: FakeProviderServer, key: string | undefined, extra: Record<string, string> = { OPENROUTER_APP_URL: APP_URL }) => ({
  OPENROUTER_BASE_URL: `${fake.url}/api/v1`,
  OPENROUTER_MODEL: MODEL,
  ...(key === undefined ? {} : { OPENROUTER_API_KEY: key }),
  ...extra,
});

describeOpenAiCompatibleContract({
  name: 'openrouter',
  model: MODEL,
  otherModel: 'google/gemma-3-27b-it:free',
  path: '/api/v1/chat/completions',
  apiKey: API_KEY,
  startFake: () => startFakeOpenRouter({ apiKey: API_KEY }),
  env: (fake, key) => openRouterEnv(fake, key),
  // OpenRouter answers 400 for a model it does not know; its body tells it apart from other 400s.
  unknownModel: { status: 400, modelNotFound: true },
  headers: { 'http-referer': APP_URL, 'x-openrouter-title': APP_TITLE, 'x-title': APP_TITLE },
  // One reasoning object for every model behind OpenRouter; one that does not reason ignores it.
  dialectFields: (maxTokens) => ({ max_tokens: maxTokens, reasoning: { effort: 'minimal', exclude: true } }),
});

describe('openrouter: its own ways', () => {
  let fake: FakeProviderServer;
  let openrouter: Provider;
  beforeAll(async () => {
    fake = await startFakeOpenRouter({ apiKey: API_KEY });
    openrouter = await adapterFromEnv('openrouter', openRouterEnv(fake, API_KEY));
  });
  afterAll(async () => {
    await openrouter.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('sends no HTTP-Referer when no app URL is configured', async () => {
    const other = await adapterFromEnv('openrouter', openRouterEnv(fake, API_KEY, {}));
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
    const other = await adapterFromEnv('openrouter', openRouterEnv(fake, API_KEY));
    try {
      await other.complete(REQUEST, live());
      const headers = JSON.stringify(fake.requests[0]?.headers);
      expect(headers).not.toContain('leak');
      expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(fake.requests[0]?.headers['openai-organization']).toBeUndefined();
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

  it('reads a stream past keep-alive comments, mixed separators and the usage-only chunk, with its model', async () => {
    const chunks = await collect(openrouter.stream(REQUEST, live()));
    const answer = simulatedAnswer('openrouter', MODEL, 'What is the capital of France?');
    expect(chunks.map((c) => c.text).join('')).toBe(answer);
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'stop', model: MODEL, usage: { completionTokens: countTokens(answer) } });
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

  it.each([
    { label: 'error 502', status: 502, kind: 'unavailable' },
    { label: 'error 402 (no credits)', status: 402, kind: 'misconfigured' },
  ])('$label → $kind', async ({ status, kind }) => {
    fake.enqueue({ kind: 'error', status });
    expect(await failure(openrouter.complete(REQUEST, live()))).toMatchObject({ provider: 'openrouter', kind, status });
  });

  it('keeps the Retry-After of a 503', async () => {
    fake.enqueue({ kind: 'error', status: 503, retryAfterSeconds: 7 });
    const error = await failure(openrouter.complete(REQUEST, live()));
    expect(error).toMatchObject({ kind: 'unavailable', status: 503, retryAfterMs: 7000 });
    expect(fake.requests).toHaveLength(1);
  });

  it('words an unknown model without repeating its text, and keeps any other 400 as the request refused', async () => {
    const unknown = await failure(openrouter.complete({ ...REQUEST, model: 'nobody/no-such-model' }, live()));
    // Its text is tested, never repeated: it quotes the request.
    expect(unknown.message).toBe('openrouter does not know the model (HTTP 400)');
    fake.enqueue({ kind: 'error', status: 400 });
    expect(await failure(openrouter.complete(REQUEST, live()))).toMatchObject({ kind: 'rejected', status: 400, modelNotFound: false });
  });

  it('has a fake that serves the public model list and the key endpoint', async () => {
    const models = (await (await fetch(`${fake.url}/api/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toContain('openrouter/free');
    const key = await fetch(`${fake.url}/api/v1/key`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(((await key.json()) as { data: { is_free_tier: boolean } }).data.is_free_tier).toBe(true);
    expect((await fetch(`${fake.url}/api/v1/key`)).status).toBe(401);
  });

  it('has a fake that sends the free-tier daily 429 body with X-RateLimit headers and no Retry-After', async () => {
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
