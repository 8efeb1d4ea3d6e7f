// An operator's own model server (Ollama, llama-server, vLLM) configured by environment alone:
// EXTRA_PROVIDERS names it, its variables say where it is, and it answers through the cascade on
// every route, with no key unless one is set, and with timeouts of its own. The runtime is a fake
// local model server the test starts itself; the gateway runs without simulated providers and
// without keys for the built-in ones, so the runtime is the only provider configured.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';
import { startFakeLocalRuntime } from '../src/simulator/fake-local-runtime.ts';
import { simulatedAnswer, type FakeProviderServer } from '../src/simulator/fake-server.ts';
import { json, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort, spawnNode, waitForOk } from './helpers/process.ts';
import { post, sdk } from './openai/helpers.ts';

const MODEL = 'llama3.2';
const EMBEDDING_MODEL = 'nomic-embed-text';

/** The gateway with only the runtime behind it, named "ollama". */
function ollamaEnv(runtime: FakeProviderServer, env: Record<string, string> = {}): Record<string, string> {
  return { SIMULATED_PROVIDERS: 'false', EXTRA_PROVIDERS: 'ollama', OLLAMA_BASE_URL: `${runtime.url}/v1`, OLLAMA_MODEL: MODEL, ...env };
}

describe('a keyless local runtime configured by environment', () => {
  let runtime: FakeProviderServer;
  let gateway: TestGateway;

  beforeAll(async () => {
    runtime = await startFakeLocalRuntime({ name: 'ollama', models: [MODEL], embeddingModels: [EMBEDDING_MODEL] });
    gateway = await startGateway(ollamaEnv(runtime, { OLLAMA_EMBEDDING_MODEL: EMBEDDING_MODEL }));
  });
  afterAll(async () => {
    await gateway.close();
    await runtime.close();
  });
  afterEach(() => {
    // Nothing the gateway sent the runtime carried a key: it has none to send.
    expect(runtime.requests.length).toBeGreaterThan(0);
    for (const sent of runtime.requests) expect(sent.headers).not.toHaveProperty('authorization');
    runtime.reset();
  });

  it('answers /query through the cascade', async () => {
    const response = await query(gateway, { prompt: 'Hello' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('ollama');
    const body = await json(response);
    expect(body).toMatchObject({ provider: 'ollama', model: MODEL, response: simulatedAnswer('ollama', MODEL, 'Hello'), finish_reason: 'stop' });
    expect(body.attempts).toMatchObject([{ provider: 'ollama', outcome: 'ok' }]);
    expect(runtime.requests).toHaveLength(1);
    expect(runtime.requests[0]).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: { model: MODEL, messages: [{ role: 'user', content: 'Hello' }] } });
  });

  it('carries a tool loop through /v1/chat/completions, tools and messages passed through as sent', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } }];
    const client = sdk(gateway);
    const first = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'Look it up' }], tools });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({ type: 'function', function: { name: 'lookup', arguments: '{"q":"q-value"}' } });
    const messages = [{ role: 'user' as const, content: 'Look it up' }, first.choices[0]!.message, { role: 'tool' as const, tool_call_id: call!.id, content: 'found' }];
    const stream = client.chat.completions.stream({ model: 'auto', messages, tools });
    expect(await stream.finalContent()).toBe('The tools answered: found');
    expect(runtime.requests[1]?.body).toMatchObject({ messages: [{ role: 'user' }, { role: 'assistant', tool_calls: [{ id: call!.id }] }, { role: 'tool', tool_call_id: call!.id, content: 'found' }], tools });
  });

  it('answers /v1/chat/completions, whole, through the official SDK', async () => {
    const { data, response } = await sdk(gateway)
      .chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'Say hello' }] })
      .withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('ollama');
    expect(data.choices[0]?.message.content).toBe(simulatedAnswer('ollama', MODEL, 'Say hello'));
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('answers /v1/chat/completions, streamed, through the official SDK', async () => {
    const { data: stream, response } = await sdk(gateway)
      .chat.completions.create({ model: 'ollama', messages: [{ role: 'user', content: 'Stream please' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-llm-provider')).toBe('ollama');
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(simulatedAnswer('ollama', MODEL, 'Stream please'));
    expect(finish).toBe('stop');
    expect(runtime.requests[0]?.body).toMatchObject({ model: MODEL, stream: true, stream_options: { include_usage: true } });
  });

  it('lists the runtime and its models on /v1/models, and on /health', async () => {
    const models = await sdk(gateway).models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toEqual(['auto', 'ollama', `ollama/${MODEL}`, `ollama/${EMBEDDING_MODEL}`]);
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.status).toBe('ok');
    expect(health.providers.find((p: { name: string }) => p.name === 'ollama')).toMatchObject({ configured: true, model: MODEL, state: 'ready' });
    expect(health.providers.filter((p: { configured: boolean }) => p.configured)).toHaveLength(1);
    // /v1/models asked the gateway, not the runtime; one chat call keeps afterEach's check meaningful.
    expect((await query(gateway, { prompt: 'still there?' })).status).toBe(200);
  });

  it('serves /v1/embeddings with OLLAMA_EMBEDDING_MODEL', async () => {
    const { data, response } = await sdk(gateway).embeddings.create({ model: 'auto', input: ['first text', 'second, longer text'] }).withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('ollama');
    expect(data.data.map((e) => e.index)).toEqual([0, 1]);
    expect(data.data.every((e) => e.embedding.length === 8)).toBe(true);
    expect(data.data[0]?.embedding).not.toEqual(data.data[1]?.embedding);
    expect(runtime.requests[0]).toMatchObject({ path: '/v1/embeddings', body: { model: EMBEDDING_MODEL, input: ['first text', 'second, longer text'] } });
  });

  it('reaches an exact model on the runtime as ollama/<model>', async () => {
    const response = await post(gateway, '/chat/completions', { model: `ollama/${MODEL}`, messages: [{ role: 'user', content: 'exact' }] });
    expect(response.status).toBe(200);
    expect((await json(response)).choices[0].message.content).toBe(simulatedAnswer('ollama', MODEL, 'exact'));
  });
});

describe('a local runtime with a key', () => {
  it('sends OLLAMA_API_KEY as a Bearer token, and never logs it', async () => {
    const secret = 'local-runtime-secret-0001';
    // As `vllm serve --api-key` does, the runtime refuses calls without that key.
    const runtime = await startFakeLocalRuntime({ name: 'vllm', models: ['Qwen/Qwen2.5-1.5B-Instruct'], apiKey: secret });
    const gateway = await startGateway({
      SIMULATED_PROVIDERS: 'false',
      EXTRA_PROVIDERS: 'vllm',
      VLLM_BASE_URL: `${runtime.url}/v1`,
      VLLM_MODEL: 'Qwen/Qwen2.5-1.5B-Instruct',
      VLLM_API_KEY: secret,
    });
    try {
      const response = await query(gateway, { prompt: 'with a key' });
      expect(response.status).toBe(200);
      expect((await json(response)).provider).toBe('vllm');
      expect(runtime.requests[0]?.headers.authorization).toBe(`Bearer ${secret}`);
      expect(gateway.logText()).not.toContain(secret);
    } finally {
      await gateway.close();
      await runtime.close();
    }
  });
});

describe("a local runtime's own timeouts", () => {
  let runtime: FakeProviderServer;
  beforeAll(async () => {
    runtime = await startFakeLocalRuntime({ name: 'ollama', models: [MODEL] });
  });
  afterAll(() => runtime.close());
  afterEach(() => runtime.reset());

  const STREAM = { model: 'auto', messages: [{ role: 'user', content: 'slow start' }], stream: true };

  it('waits OLLAMA_FIRST_TOKEN_TIMEOUT_MS for a model that loads, though FIRST_TOKEN_TIMEOUT_MS is shorter', async () => {
    const gateway = await startGateway(
      ollamaEnv(runtime, { FIRST_TOKEN_TIMEOUT_MS: '200', OLLAMA_FIRST_TOKEN_TIMEOUT_MS: '8000', REQUEST_TIMEOUT_MS: '10000', MAX_RETRIES: '0' }),
    );
    try {
      runtime.enqueue({ kind: 'ok', delayMs: 800 });
      const response = await post(gateway, '/chat/completions', STREAM);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-llm-provider')).toBe('ollama');
      expect(await response.text()).toContain('data: [DONE]');
      expect(runtime.requests).toHaveLength(1);
    } finally {
      await gateway.close();
    }
  });

  it('gives up at OLLAMA_FIRST_TOKEN_TIMEOUT_MS though FIRST_TOKEN_TIMEOUT_MS is longer', async () => {
    const gateway = await startGateway(
      ollamaEnv(runtime, { FIRST_TOKEN_TIMEOUT_MS: '8000', OLLAMA_FIRST_TOKEN_TIMEOUT_MS: '200', REQUEST_TIMEOUT_MS: '10000', MAX_RETRIES: '0' }),
    );
    try {
      runtime.enqueue({ kind: 'ok', delayMs: 5000 });
      const response = await post(gateway, '/chat/completions', STREAM);
      expect(response.status).toBe(504);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await json(response)).error.code).toBe('upstream_timeout');
      await expect.poll(() => runtime.abortedRequests).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it('waits OLLAMA_FIRST_TOKEN_TIMEOUT_MS for a whole answer to start too, though FIRST_TOKEN_TIMEOUT_MS is shorter', async () => {
    // A whole answer is read from a stream: its provider is judged by when it starts, not by its length.
    const gateway = await startGateway(ollamaEnv(runtime, { FIRST_TOKEN_TIMEOUT_MS: '200', OLLAMA_FIRST_TOKEN_TIMEOUT_MS: '8000', REQUEST_TIMEOUT_MS: '10000', MAX_RETRIES: '0' }));
    try {
      runtime.enqueue({ kind: 'ok', delayMs: 800 });
      const response = await query(gateway, { prompt: 'slow start' });
      expect(response.status).toBe(200);
      expect((await json(response)).attempts).toMatchObject([{ provider: 'ollama', outcome: 'ok' }]);
    } finally {
      await gateway.close();
    }
  });
});

describe('a local runtime configured wrongly', () => {
  const CASES: Array<{ label: string; env: Record<string, string>; line: RegExp }> = [
    { label: 'a name a built-in provider has', env: { EXTRA_PROVIDERS: 'groq' }, line: /^Invalid configuration: EXTRA_PROVIDERS names "groq", which is taken/ },
    { label: 'no base URL', env: { EXTRA_PROVIDERS: 'ollama', OLLAMA_MODEL: MODEL }, line: /^Invalid configuration: OLLAMA_BASE_URL is required$/ },
    { label: 'no model', env: { EXTRA_PROVIDERS: 'ollama', OLLAMA_BASE_URL: 'http://localhost:11434/v1' }, line: /^Invalid configuration: OLLAMA_MODEL is required$/ },
    {
      label: 'a provider order naming an unknown provider',
      env: { PROVIDER_ORDER: 'ollama,gemini' },
      line: /^Invalid configuration: PROVIDER_ORDER names "ollama", which is not a provider \(.*add one of your own with EXTRA_PROVIDERS\)$/,
    },
  ];

  it.each(CASES)('is refused by loadConfig with one message naming the variable: $label', ({ env, line }) => {
    expect(() => loadConfig({ API_KEYS: 'k', ...env })).toThrow(ConfigError);
    expect(() => loadConfig({ API_KEYS: 'k', ...env })).toThrow(line);
  });

  it('stops `npm start` with exit code 1 and one line naming the variable, for each', async () => {
    const runs = CASES.map(({ env }) => spawnNode(['src/server.ts'], { API_KEYS: 'k', HOST: '127.0.0.1', PORT: '0', ...env }));
    try {
      const codes = await Promise.all(runs.map((run) => run.exited));
      expect(codes).toEqual(CASES.map(() => 1));
      runs.forEach((run, index) => {
        const lines = run.output().trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(CASES[index]!.line);
      });
    } finally {
      for (const run of runs) run.stop();
    }
  });
});

describe('npm run dev with EXTRA_PROVIDERS', () => {
  it('simulates the local runtime too, and puts it in the cascade', async () => {
    const port = await freePort();
    const dev = spawnNode(['src/dev.ts'], { PORT: String(port), NO_PRETTY_LOGS: '1', LOG_LEVEL: 'warn', EXTRA_PROVIDERS: 'local', PROVIDER_ORDER: 'local,gemini,groq,openrouter' });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitForOk(`${url}/health`);
      const health = await json(fetch(`${url}/health`));
      expect(health.simulated).toBe(true);
      expect(health.providers.map((p: { name: string }) => p.name)).toEqual(['gemini', 'groq', 'openrouter', 'local']);
      expect(health.providers.find((p: { name: string }) => p.name === 'local')).toMatchObject({ configured: true, state: 'ready' });

      const response = await fetch(`${url}/query`, { method: 'POST', headers: { 'x-api-key': 'dev-key-change-me', 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'Hello' }) });
      expect(response.status).toBe(200);
      const body = await json(response);
      expect(body.provider).toBe('local');
      expect(body.response).toMatch(/^Simulated answer from local/);
    } finally {
      dev.child.kill('SIGTERM');
      await dev.exited;
      dev.stop();
    }
  });
});
