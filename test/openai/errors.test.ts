// Errors under /v1 in OpenAI's shape, so the official SDK raises its usual classes; and the
// OpenAPI document covering the /v1 routes.
import { request } from 'node:http';
import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, json, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { USER_HELLO, post, sdk } from './helpers.ts';

describe('errors under /v1', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('a missing or wrong key raises AuthenticationError, with the OpenAI error body', async () => {
    const error = await sdk(gateway, 'wrong-key').chat.completions.create({ model: 'auto', messages: USER_HELLO }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', type: 'authentication_error', param: null });

    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: USER_HELLO }),
    });
    expect(response.status).toBe(401);
    expect(await json(response)).toEqual({
      error: {
        message: 'A valid API key is required: send it as "X-API-Key: <key>" or "Authorization: Bearer <key>".',
        type: 'authentication_error',
        code: 'unauthorized',
        param: null,
        request_id: response.headers.get('x-request-id'),
      },
    });
    expect(Object.values(gateway.fakes).every((fake) => fake.requests.length === 0)).toBe(true);
  });

  it('accepts the key as X-API-Key too', async () => {
    const response = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': KEY } });
    expect(response.status).toBe(200);
  });

  it.each([
    ['n > 1', { n: 2 }, 'n'],
    ['tool_choice without tools', { tool_choice: 'auto' }, 'tool_choice'],
    ['tool_choice naming no tool', { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }, 'tool_choice.function.name'],
    ['a tool whose parameters are not an object schema', { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }, 'tools.0.function.parameters.type'],
    ['a malformed schema deep in a tool', { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'text' } } } } }] }, 'tools.0.function.parameters.properties.a.type'],
    ['a tool with a bad name', { tools: [{ type: 'function', function: { name: 'no spaces' } }] }, 'tools.0.function.name'],
    ['two tools of one name', { tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'f' } }] }, 'tools.1.function.name'],
    ['more than 128 tools', { tools: Array.from({ length: 129 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } })) }, 'tools'],
    ['functions', { functions: [{ name: 'f' }] }, 'functions'],
    ['a malformed json_schema', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', required: 'a' } } } }, 'response_format.json_schema.schema.required'],
    ['an unknown response format', { response_format: { type: 'yaml' } }, 'response_format.type'],
    ['logprobs', { logprobs: true }, 'logprobs'],
    ['top_logprobs', { top_logprobs: 2 }, 'top_logprobs'],
    ['a non-zero presence_penalty', { presence_penalty: 0.5 }, 'presence_penalty'],
    ['a logit_bias', { logit_bias: { '42': 10 } }, 'logit_bias'],
    ['max_tokens over the limit', { max_tokens: 8193 }, 'max_tokens'],
    ['max_tokens and max_completion_tokens that disagree', { max_tokens: 10, max_completion_tokens: 20 }, 'max_tokens'],
    ['temperature over 2', { temperature: 2.5 }, 'temperature'],
    ['top_p over 1', { top_p: 1.5 }, 'top_p'],
    ['five stop sequences', { stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop'],
    ['an image content part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] }, 'messages.0.content.0.type'],
    ['an audio content part', { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'input_audio', input_audio: { data: '', format: 'wav' } }] }] }, 'messages.0.content.1.type'],
    ['a tool message answering no call', { messages: [...USER_HELLO, { role: 'tool', content: 'x', tool_call_id: '1' }] }, 'messages.1.tool_call_id'],
    ['a tool message without tool_call_id', { messages: [...USER_HELLO, { role: 'tool', content: 'x' }] }, 'messages.1.tool_call_id'],
    ['an assistant tool call without a function', { messages: [{ role: 'assistant', content: 'x', tool_calls: [{ id: '1' }] }, ...USER_HELLO] }, 'messages.0.tool_calls.0.type'],
    ['no messages', { messages: [] }, 'messages'],
    ['an unknown field', { frobnicate: true }, 'frobnicate'],
  ])('%s raises BadRequestError naming param', async (_what, extra, param) => {
    const body = { model: 'auto', messages: USER_HELLO, ...extra } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const error = await sdk(gateway).chat.completions.create(body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', type: 'invalid_request_error', param });
    expect((error as Error).message).toContain(param);
  });

  it('rejects before streaming starts: a bad streamed request is a JSON 400 too', async () => {
    const response = await post(gateway, '/chat/completions', { messages: USER_HELLO, stream: true, n: 3 });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await json(response)).error).toMatchObject({ param: 'n', code: 'invalid_request' });
  });

  it('accepts the harmless fields OpenAI clients send by default', async () => {
    const response = await post(gateway, '/chat/completions', {
      model: 'auto',
      messages: [
        { role: 'system', content: 'Be brief.', name: 'setup' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello', refusal: null, tool_calls: [], function_call: null, audio: null },
        { role: 'user', content: 'Again' },
      ],
      n: 1,
      presence_penalty: 0,
      frequency_penalty: 0,
      logprobs: false,
      logit_bias: {},
      response_format: { type: 'text' },
      modalities: ['text'],
      user: 'u-1',
      seed: 1,
      store: false,
      metadata: { app: 'test' },
      parallel_tool_calls: true,
      tools: null,
      stream: false,
      stream_options: null,
    });
    expect(response.status).toBe(200);
    expect((await json(response)).object).toBe('chat.completion');
  });

  it('answers malformed JSON and unknown /v1 routes in the OpenAI shape', async () => {
    const malformed = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: '{"messages": [',
    });
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request' });

    const unknown = await fetch(`${gateway.url}/v1/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}` } });
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error).toMatchObject({ type: 'not_found_error', code: 'not_found' });
  });

  it('answers in the OpenAI shape a /v1 route reached by a percent-encoded path or an absolute-form target', async () => {
    const { port } = new URL(gateway.url);
    // fetch would normalise these targets; node:http sends them as written.
    const raw = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; requestId: unknown; body: { error?: Record<string, unknown> } }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (part: string) => (text += part));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: res.headers['x-request-id'], body: JSON.parse(text) }));
        });
        req.on('error', reject).end();
      });
    for (const path of ['/%761/models', 'http://gateway.example/v1/models']) {
      const refused = await raw(path);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toMatchObject({ type: 'authentication_error', code: 'unauthorized', request_id: refused.requestId });
      const listed = await raw(path, { authorization: `Bearer ${KEY}` });
      expect(listed.status).toBe(200);
    }
    // An unknown /v1 route reached the same way answers in the same shape.
    const missing = await raw('http://gateway.example/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ type: 'not_found_error', code: 'not_found', request_id: missing.requestId });
  });
});

describe('the per-key rate limit under /v1', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(() => gateway.close());

  it('raises RateLimitError once the key has used its requests, whichever /v1 route', async () => {
    const client = sdk(gateway);
    await client.models.list();
    await client.chat.completions.create({ model: 'auto', messages: USER_HELLO });
    const error = await client.embeddings.create({ model: 'auto', input: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', type: 'rate_limit_error' });
    const retryAfter = Number((error as APIError).headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(gateway.fakes.gemini.requests).toHaveLength(1);
  });
});

describe('the OpenAPI document', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('documents every /v1 route with its schemas, tag, security and OpenAI-shaped errors', async () => {
    const doc = await json(fetch(`${gateway.url}/docs/json`));
    const operations = [doc.paths['/v1/chat/completions']?.post, doc.paths['/v1/embeddings']?.post, doc.paths['/v1/models']?.get];
    for (const operation of operations) {
      expect(operation.tags).toEqual(['openai']);
      expect(operation.security).toEqual([{ BearerAuth: [] }, { ApiKeyAuth: [] }]);
      const error = operation.responses['401'].content['application/json'].schema;
      expect(Object.keys(error.properties.error.properties).sort()).toEqual(['code', 'message', 'param', 'request_id', 'type']);
    }
    const [chat, embeddings] = operations;
    expect(Object.keys(chat.responses).sort()).toEqual(['200', '400', '401', '403', '404', '413', '415', '429', '500', '503', '504']);
    const body = chat.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['messages']);
    expect(body.additionalProperties).toBe(false);
    expect(body.properties.max_tokens.anyOf?.[0] ?? body.properties.max_tokens).toMatchObject({ minimum: 1, maximum: 8192 });
    expect(chat.responses['200'].content['application/json'].schema.properties.object).toMatchObject({ enum: ['chat.completion'] });
    expect(embeddings.requestBody.content['application/json'].schema.required).toEqual(['input']);
  });
});
