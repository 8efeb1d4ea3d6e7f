import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createGroqProvider } from '../../src/providers/openai-compatible/groq.ts';
import type { CompletionChunk, CompletionRequest, Provider } from '../../src/providers/types.ts';
import { startFakeGroq } from '../../src/simulator/fake-groq.ts';
import { countTokens, simulatedAnswer, type FakeProviderServer } from '../../src/simulator/fake-server.ts';
import { EFFORT_TOKENS } from '../../src/simulator/fake-openai-compatible.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';

const API_KEY = 'gsk_test_0123456789';
const MODEL = 'openai/gpt-oss-20b';
const PROMPT = 'What is the capital of France?';
const USER_AGENT = 'secure-llm-router/test';
const ANSWER = simulatedAnswer('groq', MODEL, PROMPT);
/** What the fake's gpt-oss spends on reasoning at low effort. */
const REASONING_TOKENS = EFFORT_TOKENS.low ?? 0;
const REQUEST: CompletionRequest = {
  messages: [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content: PROMPT },
  ],
  maxTokens: 256,
  temperature: 0.2,
};

let fake: FakeProviderServer;
let groq: Provider;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  fake = await startFakeGroq({ apiKey: API_KEY });
  groq = createGroqProvider({ apiKey: API_KEY, model: MODEL, baseUrl: fake.url, userAgent: USER_AGENT });
});

afterAll(async () => {
  await groq.close();
  await fake.close();
  process.off('unhandledRejection', onUnhandled);
});

beforeEach(() => fake.reset());


describe('groq adapter: completions', () => {
  it('returns the answer, model, usage and finish reason', async () => {
    const completion = await groq.complete(REQUEST, live());
    const promptTokens = countTokens(PROMPT) + 8;
    // gpt-oss reasons at low effort (what the gateway asks for): its reasoning tokens are output tokens.
    const completionTokens = countTokens(ANSWER) + REASONING_TOKENS;
    expect(completion).toEqual({
      text: ANSWER,
      model: MODEL,
      finishReason: 'stop',
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, reasoningTokens: REASONING_TOKENS },
    });
  });

  it('sends exactly the expected body, key and headers, once', async () => {
    await groq.complete(REQUEST, live());
    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe('/openai/v1/chat/completions');
    // Groq marks max_tokens deprecated; gpt-oss takes low, medium or high, and include_reasoning
    // false keeps its reasoning out of the answer.
    expect(sent?.body).toEqual({
      model: MODEL,
      messages: REQUEST.messages,
      max_completion_tokens: 256,
      reasoning_effort: 'low',
      include_reasoning: false,
      temperature: 0.2,
    });
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent?.headers).toMatchObject({ 'user-agent': USER_AGENT, 'content-type': 'application/json', accept: 'application/json' });
  });

  it('passes top_p, stop and a per-call model', async () => {
    const completion = await groq.complete(
      { ...REQUEST, topP: 0.9, stop: ['\n\n'], model: 'openai/gpt-oss-120b' },
      live(),
    );
    expect(completion.model).toBe('openai/gpt-oss-120b');
    expect(fake.requests[0]?.body).toMatchObject({ model: 'openai/gpt-oss-120b', top_p: 0.9, stop: ['\n\n'] });
  });

  it('reports a cut answer as finish reason length', async () => {
    const completion = await groq.complete({ ...REQUEST, maxTokens: REASONING_TOKENS + 3 }, live());
    expect(completion.finishReason).toBe('length');
    expect(completion.text.length).toBeLessThan(ANSWER.length);
  });

  it('reads a budget spent on reasoning alone as a refusal of this request, not a failure of Groq', async () => {
    const error = await failure(groq.complete({ ...REQUEST, maxTokens: REASONING_TOKENS }, live()));
    expect(error).toMatchObject({ kind: 'rejected' });
    expect(error.message).toMatch(/finish reason length/);
  });

  it('sends no reasoning field to a model that does not reason (Groq refuses it there)', async () => {
    await groq.complete({ ...REQUEST, model: 'meta-llama/llama-4-scout-17b-16e-instruct' }, live());
    expect(fake.requests[0]?.body).not.toHaveProperty('reasoning_effort');
    expect(fake.requests[0]?.body).not.toHaveProperty('include_reasoning');
  });

  it("maps a caller's reasoning effort to what gpt-oss takes", async () => {
    await groq.complete({ ...REQUEST, maxTokens: 1024, reasoningEffort: 'high' }, live());
    await groq.complete({ ...REQUEST, reasoningEffort: 'none' }, live());
    expect(fake.requests.map((r) => (r.body as { reasoning_effort?: string }).reasoning_effort)).toEqual(['high', 'low']);
  });

  it('answers a retired model (decommissioned 2026-08-16) the way Groq does: 404 model_not_found', async () => {
    const error = await failure(groq.complete({ ...REQUEST, model: 'llama-3.1-8b-instant' }, live()));
    expect(error).toMatchObject({ kind: 'misconfigured', status: 404, modelNotFound: true });
  });

  it('reads a body that arrives in slow pieces', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 20 });
    expect((await groq.complete(REQUEST, live())).text).toBe(ANSWER);
  });
});

describe('groq adapter: streaming', () => {
  it('assembles the full text and ends with finish reason and usage', async () => {
    const chunks = await collect(groq.stream(REQUEST, live()));
    expect(chunks.map((c) => c.text).join('')).toBe(ANSWER);
    const last = chunks.at(-1);
    expect(last?.finishReason).toBe('stop');
    expect(last?.usage?.completionTokens).toBe(countTokens(ANSWER) + REASONING_TOKENS);
    expect(last?.usage?.reasoningTokens).toBe(REASONING_TOKENS);
    expect(chunks.slice(0, -1).every((c) => c.finishReason === undefined)).toBe(true);
    expect(fake.requests[0]?.body).toEqual({
      model: MODEL,
      messages: REQUEST.messages,
      max_completion_tokens: 256,
      reasoning_effort: 'low',
      include_reasoning: false,
      temperature: 0.2,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(fake.requests[0]?.headers).toMatchObject({ authorization: `Bearer ${API_KEY}`, accept: 'text/event-stream' });
  });

  it('assembles a trickled stream', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 10 });
    const chunks = await collect(groq.stream(REQUEST, live()));
    expect(chunks.map((c) => c.text).join('')).toBe(ANSWER);
  });

  it('throws after the chunks it got when the stream reports x_groq.error', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 2 });
    const { seen, error } = await streamFailure(groq.stream(REQUEST, live()));
    expect(seen).toHaveLength(2);
    expect(error.kind).toBe('unavailable');
  });

  it('treats broken JSON in an event as a bad response', async () => {
    fake.enqueue({ kind: 'malformed' });
    const { error } = await streamFailure(groq.stream(REQUEST, live()));
    expect(error.kind).toBe('bad_response');
  });

  it('treats a stream without any choice as a bad response', async () => {
    fake.enqueue({ kind: 'bad_response' });
    const { seen, error } = await streamFailure(groq.stream(REQUEST, live()));
    expect(seen).toEqual([]);
    expect(error.kind).toBe('bad_response');
  });

  it('fails before the first chunk on a 429', async () => {
    fake.enqueue({ kind: 'rate_limited', retryAfterSeconds: 120 });
    const { seen, error } = await streamFailure(groq.stream(REQUEST, live()));
    expect(seen).toEqual([]);
    expect(error).toMatchObject({ kind: 'rate_limited', retryAfterMs: 120_000 });
  });

  it('throws when aborted mid-stream instead of ending quietly', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 40 });
    const controller = new AbortController();
    const seen: CompletionChunk[] = [];
    const error = await failure(
      (async () => {
        for await (const chunk of groq.stream(REQUEST, controller.signal)) {
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
        for await (const chunk of groq.stream(REQUEST, controller.signal)) {
          yield chunk;
          controller.abort(new DOMException('deadline', 'TimeoutError'));
        }
      })(),
    );
    expect(seen).toHaveLength(1);
    expect(error.kind).toBe('timeout');
  });
});

describe('groq adapter: failures', () => {
  it.each([
    { label: 'error 503', fault: { kind: 'error' as const }, kind: 'unavailable', status: 503 },
    { label: 'error 500', fault: { kind: 'error' as const, status: 500 }, kind: 'unavailable', status: 500 },
    { label: 'error 498', fault: { kind: 'error' as const, status: 498 }, kind: 'unavailable', status: 498 },
    { label: 'error 413', fault: { kind: 'error' as const, status: 413 }, kind: 'rejected', status: 413 },
    { label: 'non-streamed cut', fault: { kind: 'stream_cut' as const }, kind: 'unavailable', status: 500 },
    { label: 'unauthorized', fault: { kind: 'unauthorized' as const }, kind: 'misconfigured', status: 401 },
  ])('$label → $kind', async ({ fault, kind, status }) => {
    fake.enqueue(fault);
    const error = await failure(groq.complete(REQUEST, live()));
    expect(error).toMatchObject({ provider: 'groq', kind, status });
    expect(fake.requests).toHaveLength(1);
  });

  it('returns a 429 at once with retryAfterMs from Retry-After (never sleeping on it)', async () => {
    fake.enqueue({ kind: 'rate_limited', retryAfterSeconds: 120 });
    const started = performance.now();
    const error = await failure(groq.complete(REQUEST, live()));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 120_000, retryable: false });
    expect(fake.requests).toHaveLength(1);
  });

  it('maps a bad key to misconfigured without echoing the key', async () => {
    const wrongKey = 'gsk_wrong_secret_key';
    const other = createGroqProvider({ apiKey: wrongKey, model: MODEL, baseUrl: fake.url, userAgent: USER_AGENT });
    try {
      const error = await failure(other.complete(REQUEST, live()));
      expect(error).toMatchObject({ kind: 'misconfigured', status: 401 });
      expect(error.message).not.toContain(wrongKey);
    } finally {
      await other.close();
    }
  });

  it('maps an unknown model to misconfigured', async () => {
    const error = await failure(groq.complete({ ...REQUEST, model: 'no-such-model' }, live()));
    expect(error).toMatchObject({ kind: 'misconfigured', status: 404 });
  });

  it('maps a reset connection to unavailable, without retrying', async () => {
    fake.enqueue({ kind: 'reset' });
    const error = await failure(groq.complete(REQUEST, live()));
    expect(error.kind).toBe('unavailable');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps broken JSON in a 200 to bad_response', async () => {
    fake.enqueue({ kind: 'malformed' });
    expect((await failure(groq.complete(REQUEST, live()))).kind).toBe('bad_response');
  });

  it('maps a 200 without choices to bad_response', async () => {
    fake.enqueue({ kind: 'bad_response' });
    expect((await failure(groq.complete(REQUEST, live()))).kind).toBe('bad_response');
  });

  it('gives up on a hung call when the deadline fires, and closes the connection', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new DOMException('deadline', 'TimeoutError')), 100);
    const started = performance.now();
    const error = await failure(groq.complete(REQUEST, controller.signal));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error.kind).toBe('timeout');
    await expect.poll(() => fake.abortedRequests, { timeout: 1000, interval: 10 }).toBe(1);
  });

  it('sends through its own connection pool, which close() releases', async () => {
    const other = createGroqProvider({ apiKey: API_KEY, model: MODEL, baseUrl: fake.url, userAgent: USER_AGENT });
    await other.complete(REQUEST, live());
    await other.close();
    // A closed pool refuses work, which shows the calls really used it rather than the global one.
    expect((await failure(other.complete(REQUEST, live()))).kind).toBe('unavailable');
    expect(fake.requests).toHaveLength(1);
  });

  it('maps an abort for another reason to aborted, without calling out', async () => {
    const controller = new AbortController();
    controller.abort();
    expect((await failure(groq.complete(REQUEST, controller.signal))).kind).toBe('aborted');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('groq fake', () => {
  it('lists models and sends rate-limit headers on every answer', async () => {
    const response = await fetch(`${fake.url}/openai/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('14400');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    const list = (await response.json()) as { data: { id: string }[] };
    expect(list.data.map((m) => m.id)).toContain(MODEL);
  });
});

it('leaves no unhandled rejection behind', async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(unhandled).toEqual([]);
});
