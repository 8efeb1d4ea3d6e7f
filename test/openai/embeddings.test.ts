// POST /v1/embeddings through the providers that can embed (Gemini, behind the fake).
import OpenAI, { APIError } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { embeddingValues } from '../../src/simulator/fake-gemini-wire.ts';
import { json, query, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { post, sdk } from './helpers.ts';

describe('POST /v1/embeddings', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeEach(async () => {
    gateway = await startGateway();
    client = sdk(gateway);
  });
  afterEach(() => gateway.close());

  it('embeds one string (the SDK asks for base64 by default and decodes it)', async () => {
    const { data, response } = await client.embeddings.create({ model: 'auto', input: 'hello world' }).withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(data.object).toBe('list');
    expect(data.model).toBe('gemini/gemini-embedding-001');
    expect(data.data).toHaveLength(1);
    expect(data.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    const expected = embeddingValues('hello world');
    expect(data.data[0]?.embedding).toHaveLength(expected.length);
    data.data[0]?.embedding.forEach((value, i) => expect(value).toBeCloseTo(expected[i] ?? NaN, 6));
    expect(data.usage).toEqual({ prompt_tokens: 0, total_tokens: 0 });
    expect(gateway.fakes.gemini.requests[0]?.path).toBe('/v1beta/models/gemini-embedding-001:embedContent');
  });

  it('answers base64 as little-endian float32 and float as plain numbers', async () => {
    const base64 = await post(gateway, '/embeddings', { input: 'hello world', encoding_format: 'base64' });
    expect(base64.status).toBe(200);
    const encoded = (await json(base64)).data[0].embedding;
    expect(typeof encoded).toBe('string');
    const bytes = Buffer.from(encoded, 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => bytes.readFloatLE(i * 4));
    expect(decoded).toEqual(Array.from(new Float32Array(embeddingValues('hello world'))));

    const floats = await client.embeddings.create({ model: 'auto', input: 'hello world', encoding_format: 'float' });
    expect(floats.data[0]?.embedding).toEqual(embeddingValues('hello world'));
  });

  it('embeds a batch in one upstream call, in order', async () => {
    const inputs = ['first', 'second', 'third'];
    const data = await client.embeddings.create({ model: 'gemini/gemini-embedding-001', input: inputs, encoding_format: 'float' });
    expect(data.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect(data.data.map((d) => d.embedding)).toEqual(inputs.map(embeddingValues));
    expect(gateway.fakes.gemini.requests).toHaveLength(1);
    expect(gateway.fakes.gemini.requests[0]?.path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
  });

  it('passes an exact embedding model through', async () => {
    const data = await client.embeddings.create({ model: 'gemini/text-embedding-004', input: 'x' });
    expect(data.model).toBe('gemini/text-embedding-004');
    expect(gateway.fakes.gemini.requests[0]?.path).toBe('/v1beta/models/text-embedding-004:embedContent');
  });

  it.each([
    ['a provider that does not embed', 'groq', /groq does not serve embeddings/],
    ['a model on a provider that does not embed', 'groq/openai/gpt-oss-20b', /groq does not serve embeddings/],
    ['an unknown model', 'text-embedding-3-small', /No such model/],
  ])('answers %s with 404 model_not_found', async (_what, model, message) => {
    const error = await client.embeddings.create({ model, input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ code: 'model_not_found', param: 'model' });
    expect((error as Error).message).toMatch(message);
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
  });

  it.each([
    ['dimensions', { input: 'x', dimensions: 256 }, 'dimensions'],
    ['an empty list', { input: [] }, 'input'],
    ['an empty string', { input: '' }, 'input'],
    ['too many inputs', { input: Array.from({ length: 101 }, () => 'x') }, 'input'],
    ['token arrays', { input: [1, 2, 3] }, 'input'],
    ['an unknown encoding', { input: 'x', encoding_format: 'int8' }, 'encoding_format'],
    ['an unknown field', { input: 'x', truncate: true }, 'truncate'],
  ])('refuses %s with 400 naming the param', async (_what, body, param) => {
    const error = await client.embeddings.create(body as unknown as OpenAI.EmbeddingCreateParams).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).param).toBe(param);
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
  });

  it('answers 503 when the only embedding provider fails, after its retry', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    const error = await client.embeddings.create({ model: 'auto', input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toMatchObject({ status: 503, code: 'providers_unavailable' });
    expect(gateway.fakes.gemini.requests).toHaveLength(2);
    expect(gateway.fakes.groq.requests).toHaveLength(0);
  });

  const providerOf = async (response: Promise<Response>) => {
    const answer = await response;
    expect(answer.status).toBe(200);
    return answer.headers.get('x-llm-provider');
  };

  it("keeps the embedding model's cooldowns apart from chat's, both ways", async () => {
    // The embedding model's quota runs out: embeddings wait, chat still reaches Gemini.
    gateway.fakes.gemini.enqueue({ kind: 'rate_limited', retryAfterSeconds: 40 });
    const limited = await post(gateway, '/embeddings', { model: 'auto', input: 'x' });
    expect(limited.status).toBe(503);
    expect(limited.headers.get('retry-after')).toBe('40');
    expect(await providerOf(query(gateway, { prompt: 'chat still works' }))).toBe('gemini');

    // Chat's model runs out the other way round: embeddings still reach Gemini... once the
    // embedding model's own wait is over, which a fresh gateway stands in for.
    await gateway.close();
    gateway = await startGateway();
    gateway.fakes.gemini.enqueue({ kind: 'rate_limited', retryAfterSeconds: 40 });
    expect(await providerOf(query(gateway, { prompt: 'chat limited' }))).toBe('groq');
    expect(await providerOf(post(gateway, '/embeddings', { model: 'auto', input: 'x' }))).toBe('gemini');
  });

  it('cools only the embedding model when Gemini no longer has it, and chat goes on', async () => {
    gateway.fakes.gemini.enqueue({ kind: 'error', status: 404 });
    const missing = await post(gateway, '/embeddings', { model: 'auto', input: 'x' });
    expect(missing.status).toBe(503);
    expect(await providerOf(query(gateway, { prompt: 'chat still works' }))).toBe('gemini');
    const health = await json(fetch(`${gateway.url}/health`));
    const gemini = health.providers.find((p: { name: string }) => p.name === 'gemini');
    expect(gemini).toMatchObject({ state: 'ready', cooling_models: [{ model: 'gemini-embedding-001', cooldown_reason: 'misconfigured' }] });
  });
});

describe('POST /v1/embeddings without an embedding provider', () => {
  let gateway: TestGateway;
  beforeEach(async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter' });
  });
  afterEach(() => gateway.close());

  it('answers 503 and asks nobody', async () => {
    const error = await sdk(gateway).embeddings.create({ model: 'auto', input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect(error).toMatchObject({ status: 503, code: 'providers_unavailable' });
    expect((error as Error).message).toMatch(/No configured provider serves embeddings/);
    expect(gateway.fakes.groq.requests).toHaveLength(0);
    expect(gateway.fakes.openrouter.requests).toHaveLength(0);
  });
});
