// POST /v1/responses without streaming, driven by the official openai SDK: the `response` object,
// what reaches the provider, what `model` selects, and every refusal as the SDK's error class.
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { responseStatus, toResponseUsage } from '../../src/routes/openai/responses-mapping.ts';
import { simulatedAnswer } from '../../src/simulator/fake-server.ts';
import { json, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { post, sdk } from './helpers.ts';

const GEMINI_MODEL = 'gemini-flash-lite-latest';
const GEMINI_ANSWER = simulatedAnswer('gemini', GEMINI_MODEL, 'Say hello');

describe('POST /v1/responses', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gateway = await startGateway();
    client = sdk(gateway);
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  const noProviderAsked = () => Object.values(gateway.fakes).every((fake) => fake.requests.length === 0);

  it('answers a string input with a completed response object, the provider header and the usage', async () => {
    const { data, response } = await client.responses.create({ model: 'auto', input: 'Say hello' }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(data.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(data.object).toBe('response');
    expect(Math.abs(data.created_at - Date.now() / 1000)).toBeLessThan(5);
    expect(data).toMatchObject({ status: 'completed', error: null, incomplete_details: null, model: `gemini/${GEMINI_MODEL}`, store: false, tools: [] });
    expect(data.output).toEqual([
      {
        id: expect.stringMatching(/^msg_[0-9a-f]{32}$/),
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: GEMINI_ANSWER, annotations: [], logprobs: [] }],
      },
    ]);
    // The SDK's own convenience, assembled from output.
    expect(data.output_text).toBe(GEMINI_ANSWER);
    const usage = data.usage!;
    expect(usage.input_tokens).toBeGreaterThan(0);
    expect(usage.output_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
    expect(usage.output_tokens_details).toEqual({ reasoning_tokens: 0 });
    expect(usage.input_tokens_details).toEqual({ cached_tokens: 0 });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({ contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }] });
  });

  it('sends instructions as the system message, and the settings the caller chose', async () => {
    const data = await client.responses.create({
      model: 'auto',
      instructions: 'Be brief.',
      input: 'Say hello',
      max_output_tokens: 100,
      temperature: 0.3,
      top_p: 0.9,
    });
    expect(data).toMatchObject({ instructions: 'Be brief.', max_output_tokens: 100, temperature: 0.3, top_p: 0.9 });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { maxOutputTokens: 100, temperature: 0.3, topP: 0.9 },
    });
  });

  it('applies the documented defaults: 1024 tokens and no temperature the caller did not ask for', async () => {
    const data = await client.responses.create({ input: 'Say hello' });
    expect(data).toMatchObject({ status: 'completed', temperature: null, top_p: null, max_output_tokens: null, instructions: null });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({ generationConfig: { maxOutputTokens: 1024 } });
    expect(gateway.fakes.gemini.requests[0]?.body).not.toHaveProperty('generationConfig.temperature');
  });

  it('takes a conversation of message items, a previous answer sent back as it came', async () => {
    const first = await client.responses.create({ model: 'auto', input: [{ role: 'user', content: 'First question' }] });
    gateway.resetFakes();
    await client.responses.create({
      model: 'auto',
      input: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'input_text', text: 'Answer in English.' }] },
        { role: 'user', content: 'First question' },
        // The output of the first answer, items as the SDK typed them (id, status, annotations).
        ...first.output.map((item) => item as OpenAI.Responses.ResponseOutputMessage),
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Second' }, { type: 'input_text', text: 'question' }] },
      ],
    });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      contents: [
        { role: 'user', parts: [{ text: 'First question' }] },
        { role: 'model', parts: [{ text: simulatedAnswer('gemini', GEMINI_MODEL, 'First question') }] },
        { role: 'user', parts: [{ text: 'Second\nquestion' }] },
      ],
      systemInstruction: { parts: [{ text: 'Be brief.\n\nAnswer in English.' }] },
    });
  });

  it('answers a length cut as incomplete, with reason max_output_tokens', async () => {
    const data = await client.responses.create({ model: 'auto', input: 'Say hello', max_output_tokens: 2 });
    expect(data.status).toBe('incomplete');
    expect(data.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(data.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
    expect(data.output_text).toBe(GEMINI_ANSWER.slice(0, 8));
    expect(data.usage?.output_tokens).toBeGreaterThan(0);
  });

  it('accepts the harmless fields and says nothing was stored, even when asked to store', async () => {
    const { data, response } = await client.responses
      .create({
        input: 'Say hello',
        store: true,
        metadata: { ticket: 'A-1' },
        user: 'someone',
        safety_identifier: 'someone-hashed',
        prompt_cache_key: 'k',
        include: ['reasoning.encrypted_content'],
        parallel_tool_calls: false,
        tools: [],
        tool_choice: 'none',
        text: { format: { type: 'text' } },
        truncation: 'disabled',
        service_tier: 'auto',
        background: false,
        reasoning: { effort: 'low', summary: 'auto' },
      })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data).toMatchObject({ status: 'completed', store: false, metadata: { ticket: 'A-1' }, parallel_tool_calls: false, tool_choice: 'none', reasoning: { effort: 'low', summary: null } });
    expect(data.output_text).toBe(GEMINI_ANSWER);
  });

  describe('model routing, as for chat completions', () => {
    it('a provider name starts the cascade there; "provider/model-id" asks for exactly that model', async () => {
      const named = await client.responses.create({ model: 'groq', input: 'Say hello' }).withResponse();
      expect(named.response.headers.get('x-llm-provider')).toBe('groq');
      expect(named.data.model).toBe('groq/openai/gpt-oss-20b');

      const exact = await client.responses.create({ model: 'groq/openai/gpt-oss-120b', input: 'Say hello' });
      expect(exact.model).toBe('groq/openai/gpt-oss-120b');
      expect(exact.output_text).toBe(simulatedAnswer('groq', 'openai/gpt-oss-120b', 'Say hello'));
      expect(gateway.fakes.groq.requests.at(-1)?.body).toMatchObject({ model: 'openai/gpt-oss-120b' });
    });

    it('"auto" falls back along PROVIDER_ORDER', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
      const { data, response } = await client.responses.create({ model: 'auto', input: 'Say hello' }).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      expect(data.output_text).toBe(simulatedAnswer('groq', 'openai/gpt-oss-20b', 'Say hello'));
      expect(gateway.fakes.gemini.requests).toHaveLength(2);
    });

    it('an unknown model is the SDK\'s NotFoundError, and no provider is asked', async () => {
      const error = await client.responses.create({ model: 'mistral/mistral-small', input: 'Say hello' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model', type: 'not_found_error' });
      expect(noProviderAsked()).toBe(true);
    });
  });

  describe('refusals', () => {
    const stateless = /stateless/;
    it.each<[string, Record<string, unknown>, string, RegExp]>([
      ['previous_response_id', { previous_response_id: 'resp_123' }, 'previous_response_id', stateless],
      ['a conversation', { conversation: 'conv_123' }, 'conversation', stateless],
      ['a stored prompt', { prompt: { id: 'pmpt_123' } }, 'prompt', stateless],
      ['a background response', { background: true }, 'background', stateless],
      ['context management', { context_management: [{ type: 'compaction' }] }, 'context_management', stateless],
      ['an item reference', { input: [{ type: 'item_reference', id: 'msg_123' }] }, 'input.0.type', stateless],
      ['a hosted tool', { tools: [{ type: 'web_search' }] }, 'tools.0.type', /only function tools/],
      ['a required tool choice without tools', { tool_choice: 'required' }, 'tool_choice', /needs tools/],
      ['a hosted tool call item', { input: [{ type: 'web_search_call', id: 'ws_1', status: 'completed' }] }, 'input.0.type', /only function tools/],
      ['an unknown text format', { text: { format: { type: 'grammar' } } }, 'text.format.type', /text", "json_object" or "json_schema/],
      ['an image part', { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png', detail: 'auto' }] }] }, 'input.0.content.0.type', /only text/],
      ['a tool role', { input: [{ role: 'tool', content: 'x' }] }, 'input.0.role', /user, system, developer or assistant/],
      ['an unknown reasoning effort', { reasoning: { effort: 'xhigh' } }, 'reasoning.effort', /none, minimal, low, medium, high/],
      ['logprobs', { include: ['message.output_text.logprobs'] }, 'include', /logprobs/],
      ['an unknown field', { frobnicate: true }, 'frobnicate', /not an allowed field/],
      ['more metadata than OpenAI takes', { metadata: Object.fromEntries(Array.from({ length: 17 }, (_v, i) => [`k${i}`, 'v'])) }, 'metadata', /16 pairs/],
    ])('%s is the SDK\'s BadRequestError naming the field', async (_what, fields, param, message) => {
      const error = await client.responses.create({ model: 'auto', input: 'Say hello', ...fields } as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, code: 'invalid_request', type: 'invalid_request_error', param });
      expect((error as Error).message).toMatch(message);
      expect(noProviderAsked()).toBe(true);
    });

    it('writes the refusal in OpenAI\'s error shape with the request id', async () => {
      const response = await post(gateway, '/responses', { input: 'Say hello', previous_response_id: 'resp_123' });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await json(response)).toEqual({
        error: {
          message: expect.stringMatching(/^The request body is invalid\. previous_response_id: .*stateless/),
          type: 'invalid_request_error',
          code: 'invalid_request',
          param: 'previous_response_id',
          request_id: response.headers.get('x-request-id'),
        },
      });
    });

    it('refuses a request without input', async () => {
      const error = await client.responses.create({ model: 'auto' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ param: 'input' });
    });

    it('a wrong key is the SDK\'s AuthenticationError', async () => {
      const error = await sdk(gateway, 'wrong-key').responses.create({ input: 'Say hello' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
    });

    it('every provider failing is a 503 in OpenAI\'s shape', async () => {
      for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'error', status: 500 });
      const error = await client.responses.create({ input: 'Say hello' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error).toMatchObject({ status: 503, code: 'providers_unavailable', type: 'service_unavailable_error' });
    });
  });
});

describe('the response status and usage of an answer', () => {
  it('reads a length cut and a content filter as incomplete, saying which, and anything else as completed', () => {
    expect(responseStatus('length')).toEqual({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(responseStatus('content_filter')).toEqual({ status: 'incomplete', incomplete_details: { reason: 'content_filter' } });
    expect(responseStatus('stop')).toEqual({ status: 'completed', incomplete_details: null });
    expect(responseStatus('other')).toEqual({ status: 'completed', incomplete_details: null });
  });

  it('reports reasoning tokens when the provider gave them, 0 otherwise', () => {
    expect(toResponseUsage({ promptTokens: 10, completionTokens: 30, totalTokens: 40, reasoningTokens: 12 })).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 30,
      output_tokens_details: { reasoning_tokens: 12 },
      total_tokens: 40,
    });
    expect(toResponseUsage(undefined).output_tokens_details).toEqual({ reasoning_tokens: 0 });
  });
});
