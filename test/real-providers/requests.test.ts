// What reaches each real provider, through the gateway over HTTP with the official openai SDK as
// the client: current default models, each provider's reasoning control in the form its model
// takes, the caller's reasoning_effort, no temperature unless asked, and requests shaped so Gemini
// accepts them. Sources for each provider's rules: docs/providers.md.
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { json, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { USER_HELLO, sdk } from '../openai/helpers.ts';

/** The body of the last chat request a fake received. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function lastBody(gateway: TestGateway, name: string): any {
  const chats = gateway.fakes[name]!.requests.filter((r) => r.method === 'POST');
  return chats.at(-1)?.body;
}

async function providerState(gateway: TestGateway, name: string) {
  const health = await json(fetch(`${gateway.url}/health`));
  return (health.providers as Array<{ name: string; state: string }>).find((p) => p.name === name);
}

describe('the default models and their reasoning controls', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gateway = await startGateway();
    client = sdk(gateway);
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  it('answers a retired Groq model with 404 model_not_found, and Groq stays in service with gpt-oss-20b', async () => {
    const refused = await client.chat.completions.create({ model: 'groq/llama-3.1-8b-instant', messages: USER_HELLO }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(404);
    expect((refused as APIError).code).toBe('model_not_found');
    expect((refused as APIError).param).toBe('model');
    expect(await providerState(gateway, 'groq')).toMatchObject({ state: 'ready' });

    const { data, response } = await client.chat.completions.create({ model: 'groq', messages: USER_HELLO }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('groq');
    expect(data.model).toBe('groq/openai/gpt-oss-20b');
  });

  it('asks Groq for gpt-oss-20b at low effort with its reasoning hidden, in max_completion_tokens', async () => {
    const { response } = await client.chat.completions.create({ model: 'groq', messages: USER_HELLO, max_tokens: 300 }).withResponse();
    expect(response.status).toBe(200);
    const body = lastBody(gateway, 'groq');
    expect(body).toMatchObject({ model: 'openai/gpt-oss-20b', reasoning_effort: 'low', include_reasoning: false, max_completion_tokens: 300 });
    expect(body).not.toHaveProperty('max_tokens');
    expect(body).not.toHaveProperty('reasoning_format');
  });

  it("asks OpenRouter's free router for low-effort reasoning it keeps out of the answer", async () => {
    const { data } = await client.chat.completions.create({ model: 'openrouter', messages: USER_HELLO }).withResponse();
    expect(data.model).toMatch(/^openrouter\//);
    expect(lastBody(gateway, 'openrouter')).toMatchObject({ model: 'openrouter/free', reasoning: { effort: 'minimal', exclude: true } });
  });

  it("sends Gemini 3's thinkingConfig as a level (the least Flash-Lite takes), and none to a model of no known generation", async () => {
    await client.chat.completions.create({ model: 'gemini', messages: USER_HELLO });
    expect(lastBody(gateway, 'gemini').generationConfig.thinkingConfig).toEqual({ thinkingLevel: 'minimal' });

    await client.chat.completions.create({ model: 'gemini/gemini-3.8-flash', messages: USER_HELLO });
    // 3.7 and 3.8 Flash refuse minimal: low is their least.
    expect(lastBody(gateway, 'gemini').generationConfig.thinkingConfig).toEqual({ thinkingLevel: 'low' });

    await client.chat.completions.create({ model: 'gemini/gemma-3-27b-it', messages: USER_HELLO });
    expect(lastBody(gateway, 'gemini').generationConfig).not.toHaveProperty('thinkingConfig');
  });

  it("carries a caller's reasoning_effort to each provider as that provider's control", async () => {
    for (const effort of ['high', 'xhigh', 'max'] as const) {
      gateway.resetFakes();
      for (const model of ['gemini', 'groq', 'openrouter']) {
        const { response } = await client.chat.completions.create({ model, messages: USER_HELLO, reasoning_effort: effort }).withResponse();
        expect(response.status).toBe(200);
        expect(response.headers.get('x-llm-provider')).toBe(model);
      }
      // xhigh and max are more than every provider takes: they go as high.
      expect(lastBody(gateway, 'gemini').generationConfig.thinkingConfig).toEqual({ thinkingLevel: 'high' });
      expect(lastBody(gateway, 'groq')).toMatchObject({ reasoning_effort: 'high', include_reasoning: false });
      expect(lastBody(gateway, 'openrouter').reasoning).toEqual({ effort: 'high', exclude: true });
    }
  });

  it("carries /v1/responses' reasoning.effort the same way", async () => {
    const response = await client.responses.create({ model: 'groq', input: 'Say hello', reasoning: { effort: 'medium' } });
    expect(response.status).toBe('completed');
    expect(response.reasoning?.effort).toBe('medium');
    expect(lastBody(gateway, 'groq')).toMatchObject({ reasoning_effort: 'medium', include_reasoning: false });
  });

  it('refuses a reasoning_effort no provider knows, naming the field', async () => {
    const refused = await client.chat.completions
      .create({ model: 'groq', messages: USER_HELLO, reasoning_effort: 'enormous' as 'high' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(400);
    expect((refused as APIError).param).toBe('reasoning_effort');
    expect(gateway.fakes.groq.requests).toHaveLength(0);
  });

  it('sends no temperature the caller did not ask for, and the one it did', async () => {
    for (const model of ['gemini', 'groq', 'openrouter']) await client.chat.completions.create({ model, messages: USER_HELLO });
    expect(lastBody(gateway, 'gemini').generationConfig).not.toHaveProperty('temperature');
    expect(lastBody(gateway, 'groq')).not.toHaveProperty('temperature');
    expect(lastBody(gateway, 'openrouter')).not.toHaveProperty('temperature');

    gateway.resetFakes();
    for (const model of ['gemini', 'groq']) await client.chat.completions.create({ model, messages: USER_HELLO, temperature: 0.3 });
    expect(lastBody(gateway, 'gemini').generationConfig.temperature).toBe(0.3);
    expect(lastBody(gateway, 'groq').temperature).toBe(0.3);
  });

  it('leaves empty messages out of what Gemini gets (it refuses an empty part) and joins the turns that then meet', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'auto',
        messages: [
          { role: 'system', content: '' },
          { role: 'user', content: 'First' },
          { role: 'assistant', content: '' },
          { role: 'user', content: 'Second' },
        ],
      })
      .withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(data.choices[0]?.message.content).toMatch(/^Simulated answer from gemini /);
    const body = lastBody(gateway, 'gemini');
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'First' }, { text: 'Second' }] }]);
    expect(body).not.toHaveProperty('systemInstruction');
  });

  it('does not send Gemini 3 a conversation ending with an assistant turn: the next provider answers it', async () => {
    const messages = [
      { role: 'user' as const, content: 'Finish my sentence' },
      { role: 'assistant' as const, content: 'The capital of France is' },
    ];
    const { response } = await client.chat.completions.create({ model: 'auto', messages }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('groq');
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
    expect(await providerState(gateway, 'gemini')).toMatchObject({ state: 'ready' });

    // Asked of that model alone, it is the caller's 400, and Gemini is not called.
    const refused = await client.chat.completions.create({ model: 'gemini/gemini-3-flash', messages }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(400);
    expect((refused as APIError).code).toBe('invalid_request');
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
  });
});

describe('Gemini 2.5 as the configured model', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ GEMINI_MODEL: 'gemini-2.5-flash' });
  });
  afterAll(() => gateway.close());

  it('gets a thinking budget, not a level (which 2.5 refuses), and may end with an assistant turn', async () => {
    const client = sdk(gateway);
    const { data, response } = await client.chat.completions
      .create({ model: 'gemini', messages: [{ role: 'user', content: 'Finish it' }, { role: 'assistant', content: 'Once upon' }] })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.model).toBe('gemini/gemini-2.5-flash');
    const body = lastBody(gateway, 'gemini');
    expect(body.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 0 });
    expect(body.contents.at(-1).role).toBe('model');

    await client.chat.completions.create({ model: 'gemini', messages: USER_HELLO, reasoning_effort: 'high' });
    expect(lastBody(gateway, 'gemini').generationConfig.thinkingConfig).toEqual({ thinkingBudget: 24_576 });
  });
});
