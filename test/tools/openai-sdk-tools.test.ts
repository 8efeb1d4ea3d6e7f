// Tool calling and structured output on /v1/chat/completions with the official openai SDK as the
// client, against the real gateway and the fake providers on their own wires.
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KEY, startGateway, type TestGateway } from '../helpers/gateway.ts';

const WEATHER: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['city'] },
  },
};
const TIME: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } },
};

describe('tool calling through /v1/chat/completions with the openai SDK', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    // Providers made to fail in one test must not cool down for the next.
    gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '1000', CIRCUIT_BREAKER_COOLDOWN_MS: '0' });
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  /** The first turn of a loop: the model asks for the weather. */
  async function firstTurn(model: string) {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const { data, response } = await client.chat.completions.create({ model, messages, tools: [WEATHER] }).withResponse();
    return { data, response, messages };
  }

  for (const provider of ['gemini', 'groq', 'openrouter'] as const) {
    it(`runs a whole tool loop on ${provider}: a call, its result sent back, an answer`, async () => {
      const { data, response, messages } = await firstTurn(provider);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-llm-provider')).toBe(provider);
      const choice = data.choices[0];
      expect(choice?.finish_reason).toBe('tool_calls');
      expect(choice?.message.content).toBeNull();
      const call = choice?.message.tool_calls?.[0];
      expect(call?.type).toBe('function');
      if (call?.type !== 'function') throw new Error('no function call');
      expect(call.function.name).toBe('get_weather');
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'city-value' });

      messages.push(choice!.message, { role: 'tool', tool_call_id: call.id, content: '{"temperature":21}' });
      const { data: second, response: secondResponse } = await client.chat.completions.create({ model: provider, messages, tools: [WEATHER] }).withResponse();
      expect(secondResponse.headers.get('x-llm-provider')).toBe(provider);
      expect(second.choices[0]?.finish_reason).toBe('stop');
      expect(second.choices[0]?.message.content).toBe('The tools answered: {"temperature":21}');
      expect(gateway.fakes[provider].requests).toHaveLength(2);
    });
  }

  it('sends Gemini its functionDeclarations, and on the next turn its signed functionCall and a named functionResponse', async () => {
    const { data, messages } = await firstTurn('gemini');
    const call = data.choices[0]!.message.tool_calls![0]!;
    // The thought signature travels inside the id.
    expect(call.id).toMatch(/^call_[0-9a-f]{24}\.sig\.[A-Za-z0-9_-]+$/);
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'The weather in a city', parametersJsonSchema: WEATHER.function.parameters }] }],
      toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
    });
    messages.push(data.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' });
    await client.chat.completions.create({ model: 'gemini', messages, tools: [WEATHER] });
    const bare = call.id.split('.sig.')[0];
    const sent = gateway.fakes.gemini.requests[1]?.body as { contents: unknown[] };
    expect(sent.contents).toEqual([
      { role: 'user', parts: [{ text: 'What is the weather in Paris?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'city-value' }, id: bare }, thoughtSignature: expect.any(String) }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'sunny' }, id: bare } }] },
    ]);
  });

  it('falls back in the middle of a loop: Gemini called the tool, Groq answers with the result', async () => {
    const { data, messages } = await firstTurn('auto');
    const call = data.choices[0]!.message.tool_calls![0]!;
    messages.push(data.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"temperature":21}' });
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    const { data: second, response } = await client.chat.completions.create({ model: 'auto', messages, tools: [WEATHER] }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('groq');
    expect(second.choices[0]?.message.content).toBe('The tools answered: {"temperature":21}');
    // Groq gets the call and its result under the same id, without Gemini's signature.
    const bare = call.id.split('.sig.')[0];
    expect(gateway.fakes.groq.requests[0]?.body).toMatchObject({
      messages: [
        { role: 'user', content: 'What is the weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: bare, type: 'function', function: { name: 'get_weather', arguments: '{"city":"city-value"}' } }] },
        { role: 'tool', tool_call_id: bare, content: '{"temperature":21}' },
      ],
      tools: [WEATHER],
    });
  });

  it('falls back the other way: Groq called the tool, Gemini answers, its validator told the call is not its own', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    const { data, messages } = await firstTurn('auto');
    const call = data.choices[0]!.message.tool_calls![0]!;
    expect(call.id).not.toContain('.sig.');
    messages.push(data.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' });
    gateway.resetFakes();
    gateway.fakes.groq.setDefault({ kind: 'error', status: 503 });
    const { data: second, response } = await client.chat.completions.create({ model: 'gemini', messages, tools: [WEATHER] }).withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(second.choices[0]?.message.content).toBe('The tools answered: {"output":"sunny"}');
    expect((gateway.fakes.gemini.requests[0]?.body as { contents: unknown[] }).contents[1]).toEqual({
      role: 'model',
      parts: [{ functionCall: { name: 'get_weather', args: { city: 'city-value' }, id: call.id }, thoughtSignature: 'skip_thought_signature_validator' }],
    });
  });

  for (const provider of ['gemini', 'groq', 'openrouter'] as const) {
    it(`returns parallel calls from ${provider}`, async () => {
      const data = await client.chat.completions.create({
        model: provider,
        messages: [{ role: 'user', content: 'Use get_weather and get_time for Paris' }],
        tools: [WEATHER, TIME],
      });
      const calls = data.choices[0]?.message.tool_calls ?? [];
      expect(calls.map((c) => (c.type === 'function' ? c.function.name : c.type))).toEqual(['get_weather', 'get_time']);
      expect(new Set(calls.map((c) => c.id)).size).toBe(2);
    });
  }

  it('sends the results of parallel Gemini calls back as one turn of functionResponse parts, in order', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Use get_weather and get_time for Paris' }];
    const first = await client.chat.completions.create({ model: 'gemini', messages, tools: [WEATHER, TIME] });
    const message = first.choices[0]!.message;
    // Gemini signs only the first of parallel calls.
    expect(message.tool_calls?.map((c) => c.id.includes('.sig.'))).toEqual([true, false]);
    messages.push(message, ...message.tool_calls!.map((call, i) => ({ role: 'tool' as const, tool_call_id: call.id, content: `result ${i}` })));
    const second = await client.chat.completions.create({ model: 'gemini', messages, tools: [WEATHER, TIME] });
    expect(second.choices[0]?.message.content).toBe('The tools answered: {"output":"result 0"}; {"output":"result 1"}');
    const contents = (gateway.fakes.gemini.requests[1]?.body as { contents: Array<{ role: string; parts: unknown[] }> }).contents;
    expect(contents.map((c) => c.role)).toEqual(['user', 'model', 'user']);
    expect(contents[2]?.parts).toEqual([
      { functionResponse: { name: 'get_weather', response: { output: 'result 0' }, id: expect.any(String) } },
      { functionResponse: { name: 'get_time', response: { output: 'result 1' }, id: expect.any(String) } },
    ]);
  });

  it('passes tool_choice, parallel_tool_calls and tools through to Groq as sent', async () => {
    const data = await client.chat.completions.create({
      model: 'groq',
      messages: [{ role: 'user', content: 'Use get_weather and get_time for Paris' }],
      tools: [WEATHER, TIME],
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      parallel_tool_calls: false,
    });
    expect(data.choices[0]?.message.tool_calls?.map((c) => (c.type === 'function' ? c.function.name : ''))).toEqual(['get_time']);
    expect(gateway.fakes.groq.requests[0]?.body).toMatchObject({
      tools: [WEATHER, TIME],
      tool_choice: { type: 'function', function: { name: 'get_time' } },
      parallel_tool_calls: false,
    });
  });

  it('parallel_tool_calls false keeps Gemini to one call (it has no such switch)', async () => {
    const data = await client.chat.completions.create({
      model: 'gemini',
      messages: [{ role: 'user', content: 'Use get_weather and get_time for Paris' }],
      tools: [WEATHER, TIME],
      parallel_tool_calls: false,
    });
    expect(data.choices[0]?.message.tool_calls?.map((c) => (c.type === 'function' ? c.function.name : ''))).toEqual(['get_weather']);
  });

  it('falls back before the first tool-call delta: a stream Gemini cannot start is Groq\'s', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    const stream = client.chat.completions.stream({ model: 'auto', messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: [WEATHER] });
    const final = await stream.finalChatCompletion();
    expect(final.model).toBe('groq/openai/gpt-oss-20b');
    expect(final.choices[0]?.message.tool_calls?.[0]).toMatchObject({ type: 'function', function: { name: 'get_weather', arguments: '{"city":"city-value"}' } });
  });

  it('a stream cut after its first tool-call delta ends in an error event, with no fallback', async () => {
    gateway.fakes.openrouter.setDefault({ kind: 'stream_cut', afterChunks: 1 });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openrouter', stream: true, messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: [WEATHER] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('openrouter');
    const events = (await response.text()).split('\n\n').filter(Boolean).map((event) => event.slice('data: '.length));
    expect(events).not.toContain('[DONE]');
    const parsed = events.map((event) => JSON.parse(event) as { choices?: Array<{ delta?: { tool_calls?: unknown[] } }>; error?: { code: string } });
    expect(parsed.some((chunk) => chunk.choices?.[0]?.delta?.tool_calls !== undefined)).toBe(true);
    expect(parsed.at(-1)?.error).toMatchObject({ code: 'providers_unavailable' });
    expect(gateway.fakes.groq.requests).toHaveLength(0);
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
    // The SDK's stream helper raises instead of taking the calls as a whole answer.
    const stream = client.chat.completions.stream({ model: 'openrouter', messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: [WEATHER] });
    await expect(stream.finalChatCompletion()).rejects.toThrow();
  });

  it('maps tool_choice to Gemini: a named function is ANY with allowedFunctionNames, none is NONE', async () => {
    await client.chat.completions.create({ model: 'gemini', messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER, TIME], tool_choice: { type: 'function', function: { name: 'get_time' } } });
    await client.chat.completions.create({ model: 'gemini', messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER], tool_choice: 'none' });
    await client.chat.completions.create({ model: 'gemini', messages: [{ role: 'user', content: 'Hi' }], tools: [WEATHER], tool_choice: 'required' });
    const configs = gateway.fakes.gemini.requests.map((r) => (r.body as { toolConfig?: unknown }).toolConfig);
    expect(configs).toEqual([
      { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] } },
      { functionCallingConfig: { mode: 'NONE' } },
      { functionCallingConfig: { mode: 'ANY' } },
    ]);
  });

  for (const provider of ['gemini', 'groq', 'openrouter'] as const) {
    it(`streams ${provider}'s calls as deltas the SDK's stream helper puts back together`, async () => {
      const stream = client.chat.completions.stream({
        model: provider,
        messages: [{ role: 'user', content: 'Use get_weather and get_time for Paris' }],
        tools: [WEATHER, TIME],
      });
      const done: string[] = [];
      stream.on('tool_calls.function.arguments.done', (event) => done.push(event.name));
      const final = await stream.finalChatCompletion();
      expect(final.choices[0]?.finish_reason).toBe('tool_calls');
      const calls = final.choices[0]?.message.tool_calls ?? [];
      expect(calls.map((c) => (c.type === 'function' ? [c.function.name, JSON.parse(c.function.arguments)] : []))).toEqual([
        ['get_weather', { city: 'city-value' }],
        ['get_time', { zone: 'zone-value' }],
      ]);
      expect(done).toEqual(['get_weather', 'get_time']);
    });
  }

  it('runTools runs a streamed loop to its answer, a Gemini signature included', async () => {
    const seen: unknown[] = [];
    const runner = client.chat.completions.runTools({
      model: 'gemini',
      stream: true,
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'The weather in a city',
            parameters: WEATHER.function.parameters!,
            parse: (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>,
            function: (args: Record<string, unknown>) => {
              seen.push(args);
              return { temperature: 21 };
            },
          },
        },
      ],
    });
    expect(await runner.finalContent()).toBe('The tools answered: {"temperature":21}');
    expect(seen).toEqual([{ city: 'city-value' }]);
    expect(gateway.fakes.gemini.requests).toHaveLength(2);
  });

  it('parse() with a Zod schema returns a parsed object, from Gemini through responseJsonSchema', async () => {
    const Event = z.object({ name: z.string(), attendees: z.array(z.string()), count: z.int() });
    const completion = await client.chat.completions.parse({
      model: 'gemini',
      messages: [{ role: 'user', content: 'Alice and Bob meet on Friday' }],
      response_format: zodResponseFormat(Event, 'event'),
    });
    const parsed = completion.choices[0]?.message.parsed;
    expect(parsed).toEqual({ name: 'name-value', attendees: ['attendees-value'], count: 1 });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      generationConfig: { responseMimeType: 'application/json', responseJsonSchema: { type: 'object', required: ['name', 'attendees', 'count'] } },
    });
  });

  it('parse() on Groq passes response_format through', async () => {
    const Answer = z.object({ verdict: z.enum(['yes', 'no']) });
    const completion = await client.chat.completions.parse({ model: 'groq', messages: [{ role: 'user', content: 'Is it?' }], response_format: zodResponseFormat(Answer, 'answer') });
    expect(completion.choices[0]?.message.parsed).toEqual({ verdict: 'yes' });
    expect(gateway.fakes.groq.requests[0]?.body).toMatchObject({ response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true } } });
  });

  it('json_object asks Gemini for application/json', async () => {
    const data = await client.chat.completions.create({ model: 'gemini', messages: [{ role: 'user', content: 'Reply in JSON' }], response_format: { type: 'json_object' } });
    expect(JSON.parse(data.choices[0]?.message.content ?? '')).toEqual({ answer: expect.any(String) });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({ generationConfig: { responseMimeType: 'application/json' } });
    expect(gateway.fakes.gemini.requests[0]?.body).not.toHaveProperty('generationConfig.responseJsonSchema');
  });

  it('a schema Groq\'s model cannot honour goes to the next provider instead', async () => {
    const model = 'groq/qwen/qwen3.6-27b';
    const format = { type: 'json_schema' as const, json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } } };
    const refused = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Hi' }], response_format: format }),
    });
    expect(refused.status).toBe(400);
    expect(gateway.fakes.groq.requests).toHaveLength(0);
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    const { response } = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'Hi' }], response_format: format })
      .withResponse();
    // Groq's default model (gpt-oss) honours schemas.
    expect(response.headers.get('x-llm-provider')).toBe('groq');
  });

  describe('bad input is a 400 naming the field, and nothing is sent upstream', () => {
    const user = [{ role: 'user', content: 'Hi' }];
    it.each([
      ['a malformed parameters schema', { messages: user, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'text' } } } } }] }, 'tools.0.function.parameters.properties.a.type'],
      ['a malformed response schema', { messages: user, response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object', anyOf: [] } } } }, 'response_format.json_schema.schema.anyOf'],
      ['an unknown tool in tool_choice', { messages: user, tools: [WEATHER], tool_choice: { type: 'function', function: { name: 'get_time' } } }, 'tool_choice.function.name'],
      ['a tool message without a matching call', { messages: [...user, { role: 'tool', tool_call_id: 'call_1', content: 'x' }] }, 'messages.1.tool_call_id'],
      ['129 tools', { messages: user, tools: Array.from({ length: 129 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } })) }, 'tools'],
      [
        'a schema Gemini cannot express, for a Gemini model',
        { model: 'gemini/gemini-flash-lite-latest', messages: user, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', not: { required: ['a'] } } } }] },
        'tools.0.function.parameters.not',
      ],
    ])('%s', async (_what, body, param) => {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'auto', ...body }),
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const { error } = (await response.json()) as { error: { param: string; code: string; request_id: string; message: string } };
      expect(error).toMatchObject({ code: 'invalid_request', param, request_id: response.headers.get('x-request-id') });
      expect(error.message).toContain(param);
      expect(Object.values(gateway.fakes).every((fake) => fake.requests.length === 0)).toBe(true);
    });

    it('a schema Gemini cannot express goes to the next provider when there is one', async () => {
      const tools: ChatCompletionTool[] = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } }, not: { required: ['a'] } } } }];
      const { response } = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'Hi' }], tools }).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      expect(gateway.fakes.gemini.requests).toHaveLength(0);
    });
  });

  it('the OpenAPI document describes tools, tool_choice, tool messages, response_format and tool_calls in the answer', async () => {
    const response = await fetch(`${gateway.url}/docs/json`);
    expect(response.status).toBe(200);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const doc = (await response.json()) as any;
    const operation = doc.paths['/v1/chat/completions'].post;
    const body = operation.requestBody.content['application/json'].schema;
    const text = JSON.stringify(body);
    expect(JSON.stringify(body.properties.tools)).toContain('"maxItems":128');
    for (const word of ['tool_choice', 'parallel_tool_calls', 'json_schema', 'json_object', 'tool_call_id', 'tool_calls', '"tool"']) expect(text).toContain(word);
    const answer = JSON.stringify(operation.responses['200'].content['application/json'].schema);
    expect(answer).toContain('tool_calls');
    expect(answer).toContain('"tool_calls"'); // among the finish reasons too
  });
});
