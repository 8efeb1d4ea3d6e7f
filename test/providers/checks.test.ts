// Each adapter's start-up check (Provider.check) against the fakes over real HTTP: what it asks,
// and what it makes of a model list, a missing model, a refused key, a failure that cannot tell,
// and a provider that never answers. It never rejects, whatever comes back.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGeminiProvider } from '../../src/providers/gemini/gemini.ts';
import { createGroqProvider } from '../../src/providers/openai-compatible/groq.ts';
import { createOpenRouterProvider } from '../../src/providers/openai-compatible/openrouter.ts';
import type { Provider } from '../../src/providers/types.ts';
import { startFakeGemini } from '../../src/simulator/fake-gemini.ts';
import { startFakeGroq } from '../../src/simulator/fake-groq.ts';
import { startFakeOpenRouter } from '../../src/simulator/fake-openrouter.ts';
import type { FakeProviderServer } from '../../src/simulator/fake-server.ts';

const KEY = 'check-test-key';
const USER_AGENT = 'secure-llm-router/test';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
const providers: Provider[] = [];
const fakes: FakeProviderServer[] = [];

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await Promise.all(providers.map((p) => p.close()));
  await Promise.all(fakes.map((f) => f.close()));
});
afterEach(() => {
  expect(unhandled).toEqual([]);
});

const check = (provider: Provider, signal = new AbortController().signal) => provider.check!(signal);

describe('Gemini', () => {
  let fake: FakeProviderServer;
  const gemini = (model: string, apiKey = KEY, embeddingModel = 'gemini-embedding-001') => {
    const provider = createGeminiProvider({ apiKey, model, baseUrl: fake.url, embeddingModel, userAgent: USER_AGENT });
    providers.push(provider);
    return provider;
  };

  beforeAll(async () => {
    fake = await startFakeGemini({ apiKey: KEY, models: ['gemini-3.5-flash-lite', 'gemini-3.8-flash', 'gemini-embedding-001'] });
    fakes.push(fake);
  });
  afterEach(() => fake.reset());

  it('finds listed models in one page of the list', async () => {
    expect(await check(gemini('gemini-3.8-flash'))).toEqual({ outcome: 'ok' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]).toMatchObject({ method: 'GET', path: '/v1beta/models', headers: { 'x-goog-api-key': KEY, 'user-agent': USER_AGENT } });
    expect(fake.requests[0]?.query.get('pageSize')).toBe('1000');
  });

  it('names a retired model and the nearest listed ones', async () => {
    expect(await check(gemini('gemini-2.5-flash-lite'))).toEqual({
      outcome: 'model_missing',
      missing: [{ model: 'gemini-2.5-flash-lite', use: 'chat', nearest: ['gemini-3.5-flash-lite', 'gemini-3.8-flash', 'gemini-embedding-001'] }],
    });
  });

  it('asks for an alias by its own name and reads Gemini\'s 404 as missing', async () => {
    const result = await check(gemini('gemini-flash-latest', KEY, 'text-embedding-004'));
    expect(fake.requests.map((r) => r.path).sort()).toEqual(['/v1beta/models', '/v1beta/models/gemini-flash-latest']);
    expect(result).toMatchObject({
      outcome: 'model_missing',
      missing: [
        { model: 'gemini-flash-latest', use: 'chat' },
        { model: 'text-embedding-004', use: 'embeddings', nearest: expect.arrayContaining(['gemini-embedding-001']) },
      ],
    });
  });

  it('reads the 400 API_KEY_INVALID as a refused key', async () => {
    expect(await check(gemini('gemini-3.8-flash', 'wrong-key'))).toEqual({ outcome: 'key_rejected', detail: 'HTTP 400 (API_KEY_INVALID)' });
  });

  it('cannot tell from a 503 or a list that does not parse', async () => {
    fake.setDefault({ kind: 'error', status: 503 });
    expect(await check(gemini('gemini-3.8-flash'))).toEqual({ outcome: 'unknown', detail: 'HTTP 503' });
    fake.setDefault({ kind: 'malformed' });
    expect(await check(gemini('gemini-3.8-flash'))).toEqual({ outcome: 'unknown', detail: 'model list not readable' });
  });

  it('is unreachable when the signal fires before an answer', async () => {
    fake.setDefault({ kind: 'hang' });
    const controller = new AbortController();
    const pending = check(gemini('gemini-3.8-flash'), controller.signal);
    await expect.poll(() => fake.requests.length).toBe(1);
    controller.abort();
    expect(await pending).toEqual({ outcome: 'unreachable', detail: 'no answer in time' });
  });
});

describe('Groq', () => {
  let fake: FakeProviderServer;
  const groq = (model: string, apiKey = KEY) => {
    const provider = createGroqProvider({ apiKey, model, baseUrl: fake.url, userAgent: USER_AGENT });
    providers.push(provider);
    return provider;
  };

  beforeAll(async () => {
    fake = await startFakeGroq({ apiKey: KEY });
    fakes.push(fake);
  });
  afterEach(() => fake.reset());

  it('lists with the key, and suggests Groq\'s named successor for a retired model', async () => {
    expect(await check(groq('openai/gpt-oss-120b'))).toEqual({ outcome: 'ok' });
    expect(fake.requests[0]).toMatchObject({ method: 'GET', path: '/openai/v1/models', headers: { authorization: `Bearer ${KEY}`, 'user-agent': USER_AGENT } });
    const retired = await check(groq('llama-3.3-70b-versatile'));
    expect(retired).toMatchObject({ outcome: 'model_missing', missing: [{ model: 'llama-3.3-70b-versatile', use: 'chat' }] });
    expect(retired.missing?.[0]?.nearest[0]).toBe('openai/gpt-oss-120b');
  });

  it('reads 401 as a refused key and a 429 as not telling', async () => {
    expect(await check(groq('openai/gpt-oss-20b', 'wrong'))).toEqual({ outcome: 'key_rejected', detail: 'HTTP 401' });
    fake.setDefault({ kind: 'rate_limited' });
    expect(await check(groq('openai/gpt-oss-20b'))).toEqual({ outcome: 'unknown', detail: 'HTTP 429' });
  });
});

describe('OpenRouter', () => {
  let fake: FakeProviderServer;
  const openrouter = (model: string, apiKey = KEY) => {
    const provider = createOpenRouterProvider({ apiKey, model, baseUrl: `${fake.url}/api/v1`, userAgent: USER_AGENT, appTitle: 'test' });
    providers.push(provider);
    return provider;
  };

  beforeAll(async () => {
    fake = await startFakeOpenRouter({ apiKey: KEY });
    fakes.push(fake);
  });
  afterEach(() => fake.reset());

  it('counts the free router as present and reads the free tier from the key page', async () => {
    expect(await check(openrouter('openrouter/free'))).toEqual({ outcome: 'ok', freeTier: { isFreeTier: true, dailyRequestsLimit: 50, dailyRequestsRemaining: 50 } });
    const key = fake.requests.find((r) => r.path === '/api/v1/key');
    expect(key?.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('reads the key page\'s 401 as a refused key, whatever the public list says', async () => {
    expect(await check(openrouter('openrouter/free', 'wrong'))).toEqual({ outcome: 'key_rejected', detail: 'HTTP 401' });
  });

  it('names a model it does not list', async () => {
    const result = await check(openrouter('meta-llama/llama-3.2-3b-instruct:free'));
    expect(result).toMatchObject({ outcome: 'model_missing', missing: [{ model: 'meta-llama/llama-3.2-3b-instruct:free', use: 'chat' }] });
    expect(result.freeTier?.isFreeTier).toBe(true);
  });
});
