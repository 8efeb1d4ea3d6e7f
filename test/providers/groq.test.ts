// Groq: the OpenAI-compatible contract, plus what only Groq does (its 498, x_groq in streams,
// its rate-limit headers).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/providers/types.ts';
import { startFakeGroq } from '../../src/simulator/fake-groq.ts';
import { countTokens, simulatedAnswer, type FakeProviderServer } from '../../src/simulator/fake-server.ts';
import { EFFORT_TOKENS } from '../../src/simulator/fake-openai-compatible.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';
import { adapterFromEnv, CONTRACT_REQUEST as REQUEST, describeOpenAiCompatibleContract } from './openai-compatible-contract.ts';

const API_KEY = 'gsk_test_0123456789';
// A model that does not reason, so the contract's token counts are the answer's alone; gpt-oss,
// which reasons, has its own cases below.
const MODEL = 'meta-llama/llama-4-scout-17b-16e-instruct';
const groqEnv = (fake: FakeProviderServer, key: string | undefined) => ({ GROQ_BASE_URL: fake.url, GROQ_MODEL: MODEL, ...(key === undefined ? {} : { GROQ_API_KEY: key }) });

describeOpenAiCompatibleContract({
  name: 'groq',
  model: MODEL,
  otherModel: 'openai/gpt-oss-120b',
  // GROQ_BASE_URL is without /openai/v1, as Groq's own SDK takes it.
  path: '/openai/v1/chat/completions',
  apiKey: API_KEY,
  startFake: () => startFakeGroq({ apiKey: API_KEY }),
  env: groqEnv,
  // Groq's body names it: model_not_found, as for the models it retired on 2026-08-16.
  unknownModel: { status: 404, modelNotFound: true },
  // Groq marks max_tokens deprecated; a model that does not reason gets no reasoning field (Groq refuses one there).
  dialectFields: (maxTokens) => ({ max_completion_tokens: maxTokens }),
});

describe('groq: its own ways', () => {
  let fake: FakeProviderServer;
  let groq: Provider;
  beforeAll(async () => {
    fake = await startFakeGroq({ apiKey: API_KEY });
    groq = await adapterFromEnv('groq', groqEnv(fake, API_KEY));
  });
  afterAll(async () => {
    await groq.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('maps its 498 (flex tier capacity exceeded) to unavailable', async () => {
    fake.enqueue({ kind: 'error', status: 498 });
    expect(await failure(groq.complete(REQUEST, live()))).toMatchObject({ provider: 'groq', kind: 'unavailable', status: 498 });
  });

  it('throws after the chunks it got when the stream reports x_groq.error', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 2 });
    const { seen, error } = await streamFailure(groq.stream(REQUEST, live()));
    expect(seen).toHaveLength(2);
    expect(error.kind).toBe('unavailable');
  });

  it('treats a stream without any choice as a bad response', async () => {
    fake.enqueue({ kind: 'bad_response' });
    const { seen, error } = await streamFailure(groq.stream(REQUEST, live()));
    expect(seen).toEqual([]);
    expect(error.kind).toBe('bad_response');
  });

  it('has a fake that lists models and sends rate-limit headers on every answer', async () => {
    const response = await fetch(`${fake.url}/openai/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('14400');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    const list = (await response.json()) as { data: { id: string }[] };
    expect(list.data.map((m) => m.id)).toContain(MODEL);
  });
});

describe('groq: gpt-oss, which reasons', () => {
  const GPT_OSS = 'openai/gpt-oss-20b';
  /** What the fake's gpt-oss spends on reasoning at low effort, what the gateway asks for by default. */
  const REASONING_TOKENS = EFFORT_TOKENS.low ?? 0;
  let fake: FakeProviderServer;
  let groq: Provider;
  beforeAll(async () => {
    fake = await startFakeGroq({ apiKey: API_KEY });
    groq = await adapterFromEnv('groq', { ...groqEnv(fake, API_KEY), GROQ_MODEL: GPT_OSS });
  });
  afterAll(async () => {
    await groq.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('is asked for low effort with its reasoning left out, and counts its reasoning tokens as output', async () => {
    const completion = await groq.complete(REQUEST, live());
    const answer = simulatedAnswer('groq', GPT_OSS, 'What is the capital of France?');
    expect(completion.text).toBe(answer);
    expect(completion.usage).toMatchObject({ completionTokens: countTokens(answer) + REASONING_TOKENS, reasoningTokens: REASONING_TOKENS });
    // gpt-oss takes low, medium or high (not none); include_reasoning false keeps the reasoning out of the answer.
    expect(fake.requests[0]?.body).toMatchObject({ max_completion_tokens: 256, reasoning_effort: 'low', include_reasoning: false });
    expect(fake.requests[0]?.body).not.toHaveProperty('reasoning_format');
    expect(fake.requests[0]?.body).not.toHaveProperty('max_tokens');
  });

  it("maps a caller's reasoning effort to what gpt-oss takes", async () => {
    await groq.complete({ ...REQUEST, maxTokens: 1024, reasoningEffort: 'high' }, live());
    await groq.complete({ ...REQUEST, reasoningEffort: 'none' }, live());
    expect(fake.requests.map((r) => (r.body as { reasoning_effort?: string }).reasoning_effort)).toEqual(['high', 'low']);
  });

  it('reads a budget spent on reasoning alone as a refusal of this request, not a failure of Groq', async () => {
    const error = await failure(groq.complete({ ...REQUEST, maxTokens: REASONING_TOKENS }, live()));
    expect(error).toMatchObject({ kind: 'rejected' });
    expect(error.message).toMatch(/finish reason length/);
  });

  it('yields reasoning deltas as signs of life, never as text', async () => {
    const shown = await adapterFromEnv('groq', { ...groqEnv(fake, API_KEY), GROQ_MODEL: GPT_OSS, GROQ_REASONING_EFFORT: 'default' });
    try {
      const chunks = await collect(shown.stream(REQUEST, live()));
      // Without a reasoning control, gpt-oss reasons at medium and sends its reasoning first.
      expect(fake.requests[0]?.body).not.toHaveProperty('include_reasoning');
      const thinking = chunks.filter((c) => c.thinking === true);
      expect(thinking.length).toBeGreaterThan(0);
      expect(thinking.every((c) => c.text === '')).toBe(true);
      expect(chunks.findIndex((c) => c.text !== '')).toBeGreaterThan(chunks.findIndex((c) => c.thinking === true));
      expect(chunks.map((c) => c.text).join('')).toBe(simulatedAnswer('groq', GPT_OSS, 'What is the capital of France?'));
    } finally {
      await shown.close();
    }
  });

  it('answers a model Groq retired on 2026-08-16 with its 404 model_not_found', async () => {
    const error = await failure(groq.complete({ ...REQUEST, model: 'llama-3.1-8b-instant' }, live()));
    expect(error).toMatchObject({ kind: 'misconfigured', status: 404, modelNotFound: true });
  });
});
