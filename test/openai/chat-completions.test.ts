// POST /v1/chat/completions without streaming, driven by the official openai SDK: the answer's
// shape, what reaches the provider, and what `model` selects.
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { simulatedAnswer } from '../../src/simulator/fake-server.ts';
import { json, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { USER_HELLO, post, sdk } from './helpers.ts';

const GEMINI_MODEL = 'gemini-flash-lite-latest';

describe('POST /v1/chat/completions', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gateway = await startGateway();
    client = sdk(gateway);
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  it('answers a plain completion in the chat.completion shape, with the provider header', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'auto', messages: USER_HELLO }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(data.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/);
    expect(data.object).toBe('chat.completion');
    expect(Math.abs(data.created - Date.now() / 1000)).toBeLessThan(5);
    expect(data.model).toBe(`gemini/${GEMINI_MODEL}`);
    expect(data.choices).toEqual([
      {
        index: 0,
        message: { role: 'assistant', content: simulatedAnswer('gemini', GEMINI_MODEL, 'Say hello'), refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ]);
    expect(data.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
  });

  it('sends the caller parameters and the whole conversation upstream', async () => {
    await client.chat.completions.create({
      model: 'auto',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: 'Answer in English.' },
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: 'First answer' },
        { role: 'user', content: [{ type: 'text', text: 'Second' }, { type: 'text', text: 'question' }] },
      ],
      max_tokens: 100,
      temperature: 0.3,
      top_p: 0.9,
      stop: ['END', 'STOP'],
      user: 'someone',
      n: 1,
      presence_penalty: 0,
      frequency_penalty: 0,
      seed: 7,
    });
    // toMatchObject: the Gemini SDK adds an empty safetySettings of its own.
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      contents: [
        { role: 'user', parts: [{ text: 'First question' }] },
        { role: 'model', parts: [{ text: 'First answer' }] },
        { role: 'user', parts: [{ text: 'Second\nquestion' }] },
      ],
      generationConfig: { maxOutputTokens: 100, temperature: 0.3, topP: 0.9, stopSequences: ['END', 'STOP'] },
      systemInstruction: { role: 'system', parts: [{ text: 'Be brief.\n\nAnswer in English.' }] },
    });
  });

  it('applies the documented defaults, reads max_completion_tokens and a single stop string', async () => {
    await client.chat.completions.create({ model: 'auto', messages: USER_HELLO });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({ generationConfig: { maxOutputTokens: 1024 } });
    // No temperature the caller did not ask for: the model's own default applies (Google's advice for Gemini 3).
    expect(gateway.fakes.gemini.requests[0]?.body).not.toHaveProperty('generationConfig.temperature');
    expect(gateway.fakes.gemini.requests[0]?.body).not.toHaveProperty('generationConfig.stopSequences');

    await client.chat.completions.create({ model: 'auto', messages: USER_HELLO, max_completion_tokens: 77, stop: 'END' });
    expect(gateway.fakes.gemini.requests[1]?.body).toMatchObject({ generationConfig: { maxOutputTokens: 77, stopSequences: ['END'] } });
  });

  it('reports finish_reason "length" when the answer was cut at max_tokens', async () => {
    const data = await client.chat.completions.create({ model: 'auto', messages: USER_HELLO, max_tokens: 2 });
    expect(data.choices[0]?.finish_reason).toBe('length');
    expect(data.choices[0]?.message.content).toBe(simulatedAnswer('gemini', GEMINI_MODEL, 'Say hello').slice(0, 8));
  });

  it('accepts no model at all as "auto"', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gateway.config.apiKeys[0]}` },
      body: JSON.stringify({ messages: USER_HELLO }),
    });
    expect(response.status).toBe(200);
    expect((await json(response)).model).toBe(`gemini/${GEMINI_MODEL}`);
  });

  describe('model routing', () => {
    it('"auto" falls back along PROVIDER_ORDER', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
      const { data, response } = await client.chat.completions.create({ model: 'auto', messages: USER_HELLO }).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      expect(data.model).toBe('groq/openai/gpt-oss-20b');
      expect(gateway.fakes.gemini.requests).toHaveLength(2);
    });

    it('a provider name starts the cascade at that provider, then the rest in order', async () => {
      const { data, response } = await client.chat.completions.create({ model: 'openrouter', messages: USER_HELLO }).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('openrouter');
      // The configured "openrouter/free" router names the model that really answered.
      // The free router picked a model, and the answer names it.
      expect(data.model).toBe('openrouter/openai/gpt-oss-20b:free');
      expect(gateway.fakes.gemini.requests).toHaveLength(0);

      gateway.resetFakes();
      gateway.fakes.openrouter.setDefault({ kind: 'error', status: 502 });
      const fallback = await client.chat.completions.create({ model: 'openrouter', messages: USER_HELLO }).withResponse();
      expect(fallback.response.headers.get('x-llm-provider')).toBe('gemini');
      expect(gateway.fakes.groq.requests).toHaveLength(0);
    });

    it('"provider/model-id" asks that provider for exactly that model', async () => {
      const { data, response } = await client.chat.completions.create({ model: 'groq/openai/gpt-oss-120b', messages: USER_HELLO }).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      expect(data.model).toBe('groq/openai/gpt-oss-120b');
      expect(gateway.fakes.groq.requests[0]?.body).toMatchObject({ model: 'openai/gpt-oss-120b' });
      expect(data.choices[0]?.message.content).toBe(simulatedAnswer('groq', 'openai/gpt-oss-120b', 'Say hello'));
    });

    it('splits "provider/model-id" on the first slash only', async () => {
      const data = await client.chat.completions.create({ model: 'openrouter/meta-llama/llama-3.3-70b-instruct:free', messages: USER_HELLO });
      expect(data.model).toBe('openrouter/meta-llama/llama-3.3-70b-instruct:free');
      expect(gateway.fakes.openrouter.requests[0]?.body).toMatchObject({ model: 'meta-llama/llama-3.3-70b-instruct:free' });

      const gemini = await client.chat.completions.create({ model: 'gemini/gemini-3-flash', messages: USER_HELLO });
      expect(gemini.model).toBe('gemini/gemini-3-flash');
      expect(gateway.fakes.gemini.requests.at(-1)?.path).toBe('/v1beta/models/gemini-3-flash:streamGenerateContent');
    });

    it('an exact model that fails is an error, never another provider', async () => {
      gateway.fakes.groq.setDefault({ kind: 'error', status: 503 });
      const error = await client.chat.completions.create({ model: 'groq/openai/gpt-oss-120b', messages: USER_HELLO }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect((error as APIError).status).toBe(503);
      expect((error as APIError).code).toBe('providers_unavailable');
      expect(gateway.fakes.groq.requests).toHaveLength(2);
      expect(gateway.fakes.gemini.requests).toHaveLength(0);
      expect(gateway.fakes.openrouter.requests).toHaveLength(0);
    });

    it('a model the provider does not have is a 404 that does not take the provider out for others', async () => {
      const groqHealth = async () => {
        const health = await json(fetch(`${gateway.url}/health`));
        return health.providers.find((p: { name: string }) => p.name === 'groq');
      };
      const before = await groqHealth();
      expect(before.state).toBe('ready');
      const error = await client.chat.completions.create({ model: 'groq/no-such-model', messages: USER_HELLO }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect((error as APIError).code).toBe('model_not_found');
      expect((error as APIError).param).toBe('model');
      // Not retried, and not counted against the provider.
      expect(gateway.fakes.groq.requests).toHaveLength(1);
      expect(await groqHealth()).toEqual(before);
      const again = await client.chat.completions.create({ model: 'groq', messages: USER_HELLO });
      expect(again.model).toBe('groq/openai/gpt-oss-20b');
    });

    it("an OpenRouter model it does not know (its 400 with model_not_found) is a 404, like any provider's", async () => {
      const openrouterHealth = async () => {
        const health = await json(fetch(`${gateway.url}/health`));
        return health.providers.find((p: { name: string }) => p.name === 'openrouter');
      };
      const before = await openrouterHealth();
      const error = await client.chat.completions.create({ model: 'openrouter/nobody/no-such-model', messages: USER_HELLO }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect((error as APIError).code).toBe('model_not_found');
      expect(gateway.fakes.openrouter.requests).toHaveLength(1);
      // The caller's mistake: nothing counted against the provider.
      expect(await openrouterHealth()).toEqual(before);
    });

    it.each([402, 403])('a model the account may not use (HTTP %i) is a 400 that does not take the provider out for others', async (status) => {
      gateway.fakes.groq.enqueue({ kind: 'error', status });
      const error = await client.chat.completions.create({ model: 'groq/openai/gpt-oss-120b', messages: USER_HELLO }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect((error as APIError).code).toBe('invalid_request');
      expect((error as APIError).message).toContain(`HTTP ${status}`);
      expect(gateway.fakes.groq.requests).toHaveLength(1);
      const health = await json(fetch(`${gateway.url}/health`));
      expect(health.providers.find((p: { name: string }) => p.name === 'groq')).toMatchObject({ state: 'ready', consecutive_failures: 0 });
      const again = await client.chat.completions.create({ model: 'groq', messages: USER_HELLO });
      expect(again.model).toBe('groq/openai/gpt-oss-20b');
    });

    it("OpenRouter's 402 with Retry-After on an exact model (its in-flight budget) is a 503 to retry then, not a 400", async () => {
      // Its own gateway: the cooldown would outlast this test.
      const own = await startGateway();
      try {
        own.fakes.openrouter.enqueue({ kind: 'error', status: 402, retryAfterSeconds: 7 });
        const model = 'openrouter/meta-llama/llama-3.3-70b-instruct:free';
        const busy = await post(own, '/chat/completions', { model, messages: USER_HELLO });
        expect(busy.status).toBe(503);
        expect(busy.headers.get('retry-after')).toBe('7');
        expect((await json(busy)).error).toMatchObject({ code: 'providers_unavailable', request_id: busy.headers.get('x-request-id') });
        const health = await json(fetch(`${own.url}/health`));
        const entry = health.providers.find((p: { name: string }) => p.name === 'openrouter');
        expect(entry).toMatchObject({ state: 'ready' });
        // /health is public: a model a caller named is counted there, never named.
        expect(entry).not.toHaveProperty('cooling_models');
        expect(entry.other_models_cooling).toBe(1);
        expect(JSON.stringify(health)).not.toContain('llama-3.3-70b-instruct');
      } finally {
        await own.close();
      }
    });

    it('a bad key on an exact model still cools the provider down', async () => {
      // Its own gateway: the cooldown would outlast this test.
      const own = await startGateway();
      try {
        own.fakes.groq.enqueue({ kind: 'unauthorized' });
        const error = await sdk(own).chat.completions.create({ model: 'groq/openai/gpt-oss-120b', messages: USER_HELLO }).catch((e: unknown) => e);
        expect((error as APIError).status).toBe(503);
        const health = await json(fetch(`${own.url}/health`));
        expect(health.providers.find((p: { name: string }) => p.name === 'groq')).toMatchObject({ state: 'cooling_down' });
      } finally {
        await own.close();
      }
    });

    it("an exact model's 429 cools that model alone: the cascade keeps the provider", async () => {
      // Its own gateway: the cooldown would outlast this test.
      const own = await startGateway();
      try {
        const gemini = own.fakes.gemini;
        gemini.enqueue({ kind: 'rate_limited', retryAfterSeconds: 60 });
        const limited = await post(own, '/chat/completions', { model: 'gemini/gemini-2.5-pro', messages: USER_HELLO });
        expect(limited.status).toBe(503);
        expect(limited.headers.get('retry-after')).toBe('60');
        expect((await json(limited)).error).toMatchObject({ code: 'providers_unavailable', request_id: limited.headers.get('x-request-id') });

        // The configured model still answers first in the cascade, streamed or not.
        const auto = await sdk(own).chat.completions.create({ model: 'auto', messages: USER_HELLO }).withResponse();
        expect(auto.response.headers.get('x-llm-provider')).toBe('gemini');
        const streamed = await post(own, '/chat/completions', { model: 'auto', messages: USER_HELLO, stream: true });
        expect(streamed.status).toBe(200);
        expect(streamed.headers.get('x-llm-provider')).toBe('gemini');
        await streamed.text();
        // So does another exact model on the same provider.
        const other = await sdk(own).chat.completions.create({ model: 'gemini/gemini-3-flash', messages: USER_HELLO });
        expect(other.model).toBe('gemini/gemini-3-flash');
        expect(gemini.requests).toHaveLength(4);

        // The limited model is not asked again until its Retry-After has passed.
        const again = await post(own, '/chat/completions', { model: 'gemini/gemini-2.5-pro', messages: USER_HELLO, stream: true });
        expect(again.status).toBe(503);
        expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(50);
        expect(Number(again.headers.get('retry-after'))).toBeLessThanOrEqual(60);
        expect((await json(again)).error.code).toBe('providers_unavailable');
        expect(gemini.requests).toHaveLength(4);

        const health = await json(fetch(`${own.url}/health`));
        expect(health.status).toBe('ok');
        const entry = health.providers.find((p: { name: string }) => p.name === 'gemini');
        expect(entry).toMatchObject({ state: 'ready', consecutive_failures: 0 });
        expect(entry).not.toHaveProperty('cooling_models');
        expect(entry.other_models_cooling).toBe(1);
        expect(JSON.stringify(health)).not.toContain('gemini-2.5-pro');
      } finally {
        await own.close();
      }
    });

    it("the provider's own cooldown does not stop an exact model on it", async () => {
      const own = await startGateway();
      try {
        own.fakes.gemini.enqueue({ kind: 'rate_limited', retryAfterSeconds: 60 });
        const auto = await sdk(own).chat.completions.create({ model: 'auto', messages: USER_HELLO }).withResponse();
        expect(auto.response.headers.get('x-llm-provider')).toBe('groq');
        const exact = await sdk(own).chat.completions.create({ model: 'gemini/gemini-2.5-pro', messages: USER_HELLO }).withResponse();
        expect(exact.response.headers.get('x-llm-provider')).toBe('gemini');
        expect(exact.data.model).toBe('gemini/gemini-2.5-pro');
        expect(own.fakes.gemini.requests.map((r) => r.path)).toEqual([
          `/v1beta/models/${GEMINI_MODEL}:streamGenerateContent`,
          '/v1beta/models/gemini-2.5-pro:streamGenerateContent',
        ]);
        const health = await json(fetch(`${own.url}/health`));
        const entry = health.providers.find((p: { name: string }) => p.name === 'gemini');
        expect(entry).toMatchObject({ state: 'cooling_down', cooldown_reason: 'rate_limited' });
        expect(entry).not.toHaveProperty('cooling_models');
      } finally {
        await own.close();
      }
    });

    it.each([
      ['an unknown model name', 'gpt-4o'],
      ['an unknown provider', 'mistral/mistral-small'],
      ['an empty provider', '/llama'],
    ])('answers %s with 404 model_not_found naming param "model"', async (_what, model) => {
      const error = await client.chat.completions.create({ model, messages: USER_HELLO }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model', type: 'not_found_error' });
      expect(Object.values(gateway.fakes).every((fake) => fake.requests.length === 0)).toBe(true);
    });

    it.each([
      ['a path segment', 'gemini/../../v1beta/files'],
      ['a slash in a Gemini model id', 'gemini/tunedModels/mine'],
      ['an empty model id', 'groq/'],
      ['odd characters', 'groq/llama 3?x=1'],
    ])('refuses %s in the model id with 400 naming param "model"', async (_what, model) => {
      const error = await client.chat.completions.create({ model, messages: USER_HELLO }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, code: 'invalid_request', param: 'model' });
      expect(Object.values(gateway.fakes).every((fake) => fake.requests.length === 0)).toBe(true);
    });
  });
});

describe('POST /v1/chat/completions with the messages clients send back', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'gemini' });
  });
  afterAll(() => gateway.close());

  it('takes an assistant turn with null content, keeping its refusal as its text', async () => {
    const messages = [
      { role: 'user', content: 'Help me with something bad.' },
      { role: 'assistant', content: null, refusal: "I can't help with that." },
      { role: 'user', content: 'Something else, then.' },
      { role: 'assistant', content: null },
      { role: 'user', content: 'Hello?' },
    ];
    const response = await post(gateway, '/chat/completions', { messages });
    expect(response.status).toBe(200);
    expect((await json(response)).object).toBe('chat.completion');
    const sent = gateway.fakes.gemini.requests.at(-1)?.body as { contents: Array<{ role: string; parts: Array<{ text: string }> }> };
    // Turns of one role that meet once the empty one is left out are joined into one, in parts.
    expect(sent.contents.map((c) => `${c.role}: ${c.parts.map((p) => p.text).join(' | ')}`)).toEqual([
      'user: Help me with something bad.',
      "model: I can't help with that.",
      'user: Something else, then. | Hello?',
    ]);
  });

  it('still refuses null content from anyone but the assistant', async () => {
    const response = await post(gateway, '/chat/completions', { messages: [{ role: 'user', content: null }] });
    expect(response.status).toBe(400);
    expect((await json(response)).error).toMatchObject({ code: 'invalid_request', param: 'messages.0.content' });
  });

  it('answers a conversation of system messages alone, as OpenAI does', async () => {
    const response = await post(gateway, '/chat/completions', { messages: [{ role: 'system', content: 'Say hello.' }] });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
  });
});

describe('POST /v1/chat/completions with a tuned Gemini model configured', () => {
  it('accepts the model /v1/models lists, and sends it to Gemini under its own resource name', async () => {
    const gateway = await startGateway({ GEMINI_MODEL: 'tunedModels/mine' });
    try {
      const models = await sdk(gateway).models.list();
      expect(models.data.map((m) => m.id)).toContain('gemini/tunedModels/mine');
      const reply = await sdk(gateway).chat.completions.create({ model: 'gemini/tunedModels/mine', messages: USER_HELLO });
      expect(reply.model).toBe('gemini/tunedModels/mine');
      expect(gateway.fakes.gemini.requests.at(-1)?.path).toBe('/v1beta/tunedModels/mine:streamGenerateContent');
      // Another tuned model is still not the caller's to name.
      const other = await post(gateway, '/chat/completions', { model: 'gemini/tunedModels/theirs', messages: USER_HELLO });
      expect(other.status).toBe(400);
    } finally {
      await gateway.close();
    }
  });
});

describe('POST /v1/chat/completions with a provider left out of PROVIDER_ORDER', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,gemini' });
  });
  afterAll(() => gateway.close());

  it.each(['openrouter', 'openrouter/openrouter/free'])('answers model "%s" with 404 model_not_found', async (model) => {
    const error = await sdk(gateway).chat.completions.create({ model, messages: USER_HELLO }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as APIError).message).toMatch(/openrouter is not configured/);
    expect(gateway.fakes.openrouter.requests).toHaveLength(0);
  });

  it('runs "auto" in the configured order', async () => {
    const { response } = await sdk(gateway).chat.completions.create({ model: 'auto', messages: USER_HELLO }).withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('groq');
  });
});
