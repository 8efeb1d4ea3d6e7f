// Groq: the OpenAI-compatible contract, plus what only Groq does (its 498, x_groq in streams,
// its rate-limit headers).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/providers/types.ts';
import { startFakeGroq } from '../../src/simulator/fake-groq.ts';
import type { FakeProviderServer } from '../../src/simulator/fake-server.ts';
import { failure, live, streamFailure } from '../helpers/provider-calls.ts';
import { adapterFromEnv, CONTRACT_REQUEST as REQUEST, describeOpenAiCompatibleContract } from './openai-compatible-contract.ts';

const API_KEY = 'gsk_test_0123456789';
const MODEL = 'llama-3.1-8b-instant';
const groqEnv = (fake: FakeProviderServer, key: string | undefined) => ({ GROQ_BASE_URL: fake.url, GROQ_MODEL: MODEL, ...(key === undefined ? {} : { GROQ_API_KEY: key }) });

describeOpenAiCompatibleContract({
  name: 'groq',
  model: MODEL,
  otherModel: 'llama-3.3-70b-versatile',
  // GROQ_BASE_URL is without /openai/v1, as Groq's own SDK takes it.
  path: '/openai/v1/chat/completions',
  apiKey: API_KEY,
  startFake: () => startFakeGroq({ apiKey: API_KEY }),
  env: groqEnv,
  unknownModel: { status: 404, modelNotFound: false },
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
