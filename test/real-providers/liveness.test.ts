// Failover by liveness, not length, through the gateway over HTTP: a provider that shows signs of
// life (reasoning, then text) keeps the request however long the answer takes, as long as it is
// never silent for PROVIDER_TIMEOUT_MS; one that shows none within FIRST_TOKEN_TIMEOUT_MS is
// replaced. The limits are set far apart from the fakes' gaps, so a slow machine does not blur them.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { json, query, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { USER_HELLO, sdk } from '../openai/helpers.ts';

describe('a streamed answer from a model that reasons first', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gateway = await startGateway({
      PROVIDER_ORDER: 'groq,openrouter',
      // Nothing sent: gpt-oss reasons at its medium default and streams its reasoning.
      GROQ_REASONING_EFFORT: 'default',
      FIRST_TOKEN_TIMEOUT_MS: '300',
      PROVIDER_TIMEOUT_MS: '1500',
      REQUEST_TIMEOUT_MS: '1500',
    });
    client = sdk(gateway);
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  it('is not failed over while reasoning deltas arrive, though its first text comes after the first-token limit', async () => {
    // About a dozen reasoning deltas 100 ms apart: over a second of thinking before any text.
    gateway.fakes.groq.setDefault({ kind: 'trickle', delayMs: 100 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'auto', messages: USER_HELLO, stream: true }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('groq');
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    // The reasoning never reaches the caller; the answer does, whole.
    expect(text).toBe('Simulated answer from groq (openai/gpt-oss-20b). You said: "Say hello"');
    expect(gateway.fakes.openrouter.requests).toHaveLength(0);
  });

  it('is failed over when it stays silent past the first-token limit', async () => {
    gateway.fakes.groq.setDefault({ kind: 'hang' });
    const { data: stream, response } = await client.chat.completions.create({ model: 'auto', messages: USER_HELLO, stream: true }).withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('openrouter');
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toMatch(/^Simulated answer from openrouter /);
  });
});

describe('a whole answer', () => {
  const start = (env: Record<string, string>) => startGateway({ PROVIDER_ORDER: 'groq,openrouter', FIRST_TOKEN_TIMEOUT_MS: '300', ...env });

  it('is not cut while it trickles for longer than PROVIDER_TIMEOUT_MS in all, never silent that long', async () => {
    const gateway = await start({ PROVIDER_TIMEOUT_MS: '700', REQUEST_TIMEOUT_MS: '2000' });
    try {
      // A dozen pieces 300 ms apart: over three seconds in all, several times the provider limit and over the request budget.
      gateway.fakes.groq.setDefault({ kind: 'trickle', delayMs: 300 });
      const response = await query(gateway, { prompt: 'Say hello' });
      expect(response.status).toBe(200);
      const body = await json(response);
      expect(body).toMatchObject({ provider: 'groq', finish_reason: 'stop', response: 'Simulated answer from groq (openai/gpt-oss-20b). You said: "Say hello"' });
      expect(body.attempts).toEqual([expect.objectContaining({ provider: 'groq', outcome: 'ok' })]);
    } finally {
      await gateway.close();
    }
  });

  it('is asked of the next provider once the first shows no sign of life within FIRST_TOKEN_TIMEOUT_MS, well before PROVIDER_TIMEOUT_MS', async () => {
    // The provider limit is the whole budget: only the first-token limit leaves time for another provider.
    const gateway = await start({ PROVIDER_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '2000' });
    try {
      gateway.fakes.groq.setDefault({ kind: 'hang' });
      const response = await query(gateway, { prompt: 'Say hello' });
      expect(response.status).toBe(200);
      const body = await json(response);
      expect(body.provider).toBe('openrouter');
      expect(body.attempts[0]).toMatchObject({ provider: 'groq', outcome: 'timeout' });
    } finally {
      await gateway.close();
    }
  });
});
