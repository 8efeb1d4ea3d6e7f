// Keeps docs/architecture.md true: every file it (and the README, and docs/providers.md) names exists, and its "How to
// add a provider" checklist holds for every built-in provider (a row, a fake for its wire that the
// gateway answers through, a contract run) and for a hosted one added as a row.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderSettings } from '../src/config.ts';
import { providerVariables } from '../src/config.ts';
import { BUILT_IN_PROVIDERS, openAiCompatibleRow } from '../src/providers/registry.ts';
import { startFakeLocalRuntime } from '../src/simulator/fake-local-runtime.ts';
import { simulatedAnswer } from '../src/simulator/fake-server.ts';
import { json, startGateway, type TestGateway } from './helpers/gateway.ts';
import { live } from './helpers/provider-calls.ts';
import { post } from './openai/helpers.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const exists = (path: string) => existsSync(new URL(`../${path}`, import.meta.url));
const architecture = read('docs/architecture.md');

/** The source and test files a document names in backticks; a bare `cascade/x.ts` is under src/. */
function namedFiles(markdown: string): string[] {
  const paths = [...markdown.matchAll(/`((?:src\/|test\/|docs\/|scripts\/)?[a-z][\w-]*(?:\/[\w.-]+)+\.(?:ts|md))`/g)].map((m) => m[1] ?? '');
  return [...new Set(paths.map((path) => (/^(src|test|docs|scripts)\//.test(path) ? path : `src/${path}`)))];
}

describe('docs/architecture.md and the README', () => {
  it('name only files that exist', () => {
    const named = [...namedFiles(architecture), ...namedFiles(read('README.md')), ...namedFiles(read('docs/providers.md'))];
    expect(named.length).toBeGreaterThan(30);
    expect(named.filter((path) => !exists(path))).toEqual([]);
  });

  it('no longer name files that moved', () => {
    for (const gone of ['src/routes/chat-completions.ts', 'src/providers/gemini.ts', 'provider-health', 'request-deadline', 'routes/model-routing.ts']) {
      expect(architecture).not.toContain(gone);
      expect(read('README.md')).not.toContain(gone);
    }
  });

  it('hold the checklist the test keeps', () => {
    expect(architecture).toContain('## How to add a provider');
    expect(architecture).toContain('`test/architecture.test.ts` keeps this list true');
    expect(read('src/simulator/start-simulator.ts')).toMatch(/async function startFake\(/);
  });
});

describe('how to add a provider: every built-in one', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it.each(BUILT_IN_PROVIDERS.map((row) => [row.name, row.wire]))('%s has a fake for its wire (%s) that the gateway answers through', async (name) => {
    const response = await post(gateway, '/chat/completions', { model: name, messages: [{ role: 'user', content: 'checklist' }] });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe(name);
    expect((await json(response)).choices[0].message.content).toContain(`Simulated answer from ${name}`);
  });

  it.each(BUILT_IN_PROVIDERS.map((row) => [row.name, row.wire]))('%s has its own test file, which runs the contract when its wire (%s) is Chat Completions', (name, wire) => {
    const file = `test/providers/${name}.test.ts`;
    expect(exists(file)).toBe(true);
    const source = read(file);
    if (wire === 'gemini') expect(source).not.toContain('describeOpenAiCompatibleContract(');
    else expect(source).toMatch(new RegExp(`describeOpenAiCompatibleContract\\(\\{\\s+name: '${name}'`));
  });
});

describe('how to add a provider: a hosted OpenAI-compatible one is a row', () => {
  const row = openAiCompatibleRow('cerebras', { defaultModel: 'llama3.1-8b', defaultBaseUrl: 'https://api.cerebras.ai/v1', keyRequired: true });

  it('takes its variables from the row', () => {
    expect(row).toMatchObject({ wire: 'openai-compatible', keyRequired: true, capabilities: ['chat', 'embeddings'] });
    expect(providerVariables(row)).toEqual(['CEREBRAS_API_KEY', 'CEREBRAS_MODEL', 'CEREBRAS_BASE_URL', 'CEREBRAS_REASONING_EFFORT', 'CEREBRAS_LIMITS', 'CEREBRAS_EMBEDDING_MODEL']);
  });

  it("answers through the row's factory, with its key", async () => {
    const key = 'csk-checklist-0001';
    const fake = await startFakeLocalRuntime({ name: 'cerebras', models: ['llama3.1-8b'], apiKey: key });
    const settings: ProviderSettings = {
      name: 'cerebras',
      row,
      apiKey: key,
      model: 'llama3.1-8b',
      baseUrl: `${fake.url}/v1`,
      embeddingModel: undefined,
      reasoningEffort: row.defaultReasoningEffort,
      options: {},
      timeouts: { attemptMs: 5000, firstTokenMs: 4000 },
      quota: { limits: {}, day: 'utc' },
    };
    const provider = await row.create(settings);
    try {
      const completion = await provider.complete({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 64 }, live());
      expect(completion.text).toBe(simulatedAnswer('cerebras', 'llama3.1-8b', 'hi'));
      expect(fake.requests[0]).toMatchObject({ path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` } });
    } finally {
      await provider.close();
      await fake.close();
    }
  });
});
