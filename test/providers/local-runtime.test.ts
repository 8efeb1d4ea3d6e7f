// An operator's own model server on the Chat Completions wire (EXTRA_PROVIDERS): the
// OpenAI-compatible contract without a key (Ollama, llama-server) and with one (vLLM's --api-key),
// plus embeddings, which such a server serves beside chat when it has an embedding model.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Provider } from '../../src/providers/types.ts';
import { startFakeLocalRuntime } from '../../src/simulator/fake-local-runtime.ts';
import type { FakeProviderServer } from '../../src/simulator/fake-server.ts';
import { failure, live } from '../helpers/provider-calls.ts';
import { adapterFromEnv, describeOpenAiCompatibleContract } from './openai-compatible-contract.ts';

const OLLAMA_MODELS = ['llama3.2', 'qwen2.5:0.5b'];
const VLLM_MODELS = ['Qwen/Qwen2.5-1.5B-Instruct', 'meta-llama/Llama-3.2-1B-Instruct'];
const VLLM_KEY = 'token-abc123';

/** The variables of an extra provider called `name`. */
const extraEnv = (name: string, fake: FakeProviderServer, model: string, key: string | undefined, extra: Record<string, string> = {}) => {
  const prefix = name.toUpperCase();
  return { EXTRA_PROVIDERS: name, [`${prefix}_BASE_URL`]: `${fake.url}/v1`, [`${prefix}_MODEL`]: model, ...(key === undefined ? {} : { [`${prefix}_API_KEY`]: key }), ...extra };
};

describeOpenAiCompatibleContract({
  name: 'ollama',
  model: OLLAMA_MODELS[0]!,
  otherModel: OLLAMA_MODELS[1]!,
  path: '/v1/chat/completions',
  apiKey: undefined,
  startFake: () => startFakeLocalRuntime({ name: 'ollama', models: OLLAMA_MODELS }),
  env: (fake, key) => extraEnv('ollama', fake, OLLAMA_MODELS[0]!, key),
  unknownModel: { status: 404, modelNotFound: false },
  // A server of the operator's own: OpenAI's max_tokens (Ollama reads no other), and no reasoning field unless configured.
  dialectFields: (maxTokens) => ({ max_tokens: maxTokens }),
});

describeOpenAiCompatibleContract({
  name: 'vllm',
  model: VLLM_MODELS[0]!,
  otherModel: VLLM_MODELS[1]!,
  path: '/v1/chat/completions',
  apiKey: VLLM_KEY,
  startFake: () => startFakeLocalRuntime({ name: 'vllm', models: VLLM_MODELS, apiKey: VLLM_KEY }),
  env: (fake, key) => extraEnv('vllm', fake, VLLM_MODELS[0]!, key),
  unknownModel: { status: 404, modelNotFound: false },
  // A server of the operator's own: OpenAI's max_tokens (Ollama reads no other), and no reasoning field unless configured.
  dialectFields: (maxTokens) => ({ max_tokens: maxTokens }),
});

describe('a local runtime: embeddings', () => {
  let fake: FakeProviderServer;
  let ollama: Provider;
  beforeAll(async () => {
    fake = await startFakeLocalRuntime({ name: 'ollama', models: OLLAMA_MODELS, embeddingModels: ['nomic-embed-text', 'all-minilm'] });
    ollama = await adapterFromEnv('ollama', extraEnv('ollama', fake, OLLAMA_MODELS[0]!, undefined, { OLLAMA_EMBEDDING_MODEL: 'nomic-embed-text' }));
  });
  afterAll(async () => {
    await ollama.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('posts to /embeddings beside /chat/completions and reads the vectors in input order', async () => {
    expect(ollama.embeddingModel).toBe('nomic-embed-text');
    const result = await ollama.embed!({ inputs: ['one', 'two words'] }, live());
    expect(result.model).toBe('nomic-embed-text');
    expect(result.vectors).toHaveLength(2);
    expect(result.vectors.every((v) => v.length === 8)).toBe(true);
    expect(result.usage?.promptTokens).toBeGreaterThan(0);
    expect(fake.requests[0]).toMatchObject({ method: 'POST', path: '/v1/embeddings', body: { model: 'nomic-embed-text', input: ['one', 'two words'], encoding_format: 'float' } });
    expect(fake.requests[0]?.headers).not.toHaveProperty('authorization');
  });

  it('embeds with a per-call model', async () => {
    const result = await ollama.embed!({ inputs: ['one'], model: 'all-minilm' }, live());
    expect(result.model).toBe('all-minilm');
  });

  it('maps an embedding model the server does not have to misconfigured', async () => {
    expect(await failure(ollama.embed!({ inputs: ['one'], model: 'no-such-embedder' }, live()))).toMatchObject({ kind: 'misconfigured', status: 404 });
  });

  it('has no embed() without an embedding model', async () => {
    const chatOnly = await adapterFromEnv('ollama', extraEnv('ollama', fake, OLLAMA_MODELS[0]!, undefined));
    try {
      expect(chatOnly.embed).toBeUndefined();
      expect(chatOnly.embeddingModel).toBeUndefined();
    } finally {
      await chatOnly.close();
    }
  });
});
