// Function tools and structured output on /v1/responses with the official openai SDK as the
// client: a whole tool loop, a streamed call the SDK assembles, a parsed JSON answer, and the
// refusals, against the real gateway and the fake providers on their own wires.
import type OpenAI from 'openai';
import { zodTextFormat } from 'openai/helpers/zod';
import type { FunctionTool, ResponseInputItem } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { json, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { namedEvents, post, sdk } from './helpers.ts';

const WEATHER: FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

describe('function tools and structured output through /v1/responses', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gateway = await startGateway();
    client = sdk(gateway);
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  const noProviderAsked = () => Object.values(gateway.fakes).every((fake) => fake.requests.length === 0);

  it('runs a whole tool loop: a function_call item, its function_call_output sent back, an answer', async () => {
    const input: ResponseInputItem[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
    const { data, response } = await client.responses.create({ model: 'auto', input, tools: [WEATHER] }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(data.status).toBe('completed');
    expect(data.output).toEqual([
      {
        id: expect.stringMatching(/^fc_[0-9a-f]{32}$/),
        type: 'function_call',
        status: 'completed',
        call_id: expect.stringMatching(/^call_/),
        name: 'get_weather',
        arguments: expect.any(String),
      },
    ]);
    expect(data.output_text).toBe('');
    expect(data.tools).toEqual([{ ...WEATHER }]);
    expect(data.tool_choice).toBe('auto');
    const call = data.output[0]!;
    if (call.type !== 'function_call') throw new Error('no function call');
    expect(JSON.parse(call.arguments)).toEqual({ city: 'city-value' });
    // Gemini was sent the function's declaration.
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'The weather in a city' }] }],
    });

    // The previous answer's items go back as they came, then the result.
    input.push(...(data.output as ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '{"temperature":21}' });
    const second = await client.responses.create({ model: 'auto', input, tools: [WEATHER] });
    expect(second.status).toBe('completed');
    expect(second.output_text).toBe('The tools answered: {"temperature":21}');
    expect(gateway.fakes.gemini.requests).toHaveLength(2);
    const sent = gateway.fakes.gemini.requests[1]?.body as { contents: Array<{ role: string; parts: unknown[] }> };
    expect(sent.contents.map((content) => content.role)).toEqual(['user', 'model', 'user']);
    expect(sent.contents[1]?.parts).toEqual([expect.objectContaining({ functionCall: { name: 'get_weather', args: { city: 'city-value' }, id: expect.any(String) } })]);
    expect(sent.contents[2]?.parts).toEqual([{ functionResponse: { name: 'get_weather', response: expect.any(Object), id: expect.any(String) } }]);
  });

  it('sends an OpenAI-compatible provider tools, tool_choice and parallel_tool_calls in the chat shape', async () => {
    const data = await client.responses.create({
      model: 'groq',
      input: 'What is the weather in Paris?',
      tools: [WEATHER],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
    });
    expect(data.output.map((item) => item.type)).toEqual(['function_call']);
    expect(data.tool_choice).toEqual({ type: 'function', name: 'get_weather' });
    expect(gateway.fakes.groq.requests[0]?.body).toMatchObject({
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'The weather in a city', parameters: WEATHER.parameters, strict: true } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
    });
  });

  it('streams a function call as its own item, which the SDK assembles into the final response', async () => {
    const stream = client.responses.stream({ model: 'groq', input: 'What is the weather in Paris?', tools: [WEATHER] });
    const types: string[] = [];
    stream.on('event', (event) => types.push(event.type));
    const final = await stream.finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output).toEqual([
      {
        id: expect.stringMatching(/^fc_/),
        type: 'function_call',
        status: 'completed',
        call_id: expect.stringMatching(/^call_/),
        name: 'get_weather',
        arguments: '{"city":"city-value"}',
        // The SDK's own parse of a strict tool's arguments.
        parsed_arguments: { city: 'city-value' },
      },
    ]);
    expect(types[0]).toBe('response.created');
    expect(types).toContain('response.function_call_arguments.delta');
    expect(types.filter((type) => type !== 'response.function_call_arguments.delta')).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
  });

  it('writes the function call events with the fields of OpenAI\'s types', async () => {
    const response = await post(gateway, '/responses', { model: 'groq', input: 'What is the weather in Paris?', tools: [WEATHER], stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = namedEvents(await response.text());
    const added = events.find((event) => event.type === 'response.output_item.added');
    expect(added).toEqual({
      type: 'response.output_item.added',
      output_index: 0,
      item: { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'in_progress', call_id: expect.stringMatching(/^call_/), name: 'get_weather', arguments: '' },
      sequence_number: 2,
    });
    const deltas = events.filter((event) => event.type === 'response.function_call_arguments.delta');
    expect(deltas.length).toBeGreaterThan(0);
    for (const delta of deltas) expect(Object.keys(delta).sort()).toEqual(['delta', 'item_id', 'output_index', 'sequence_number', 'type']);
    expect(deltas.map((delta) => delta.delta).join('')).toBe('{"city":"city-value"}');
    expect(events.find((event) => event.type === 'response.function_call_arguments.done')).toEqual({
      type: 'response.function_call_arguments.done',
      item_id: added.item.id,
      output_index: 0,
      arguments: '{"city":"city-value"}',
      sequence_number: expect.any(Number),
    });
    expect(events.map((event) => event.sequence_number)).toEqual(events.map((_event, i) => i));
  });

  it('parses a json_schema answer with responses.parse and zodTextFormat', async () => {
    const Weather = z.object({ city: z.string(), temperature: z.number() });
    const { data, response } = await client.responses
      .parse({ model: 'auto', input: 'The weather in Paris, as JSON', text: { format: zodTextFormat(Weather, 'weather') } })
      .withResponse();
    expect(response.status).toBe(200);
    expect(data.status).toBe('completed');
    expect(Weather.parse(data.output_parsed)).toEqual(data.output_parsed);
    expect(data.text?.format).toMatchObject({ type: 'json_schema', name: 'weather', strict: true });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({ generationConfig: { responseMimeType: 'application/json' } });
  });

  it('sends json_object as the provider\'s JSON mode', async () => {
    const data = await client.responses.create({ model: 'groq', input: 'The weather in Paris, as JSON', text: { format: { type: 'json_object' } } });
    expect(typeof JSON.parse(data.output_text)).toBe('object');
    expect(gateway.fakes.groq.requests[0]?.body).toMatchObject({ response_format: { type: 'json_object' } });
  });

  it('the OpenAPI document describes the tools, the call items, text.format and function_call output items', async () => {
    const response = await fetch(`${gateway.url}/docs/json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const doc = (await response.json()) as any;
    const operation = doc.paths['/v1/responses'].post;
    const body = operation.requestBody.content['application/json'].schema;
    expect(JSON.stringify(body.properties.tools)).toContain('"maxItems":128');
    const text = JSON.stringify(body);
    for (const word of ['tool_choice', 'parallel_tool_calls', 'json_schema', 'json_object', 'function_call_output', 'call_id']) expect(text).toContain(word);
    const answer = JSON.stringify(operation.responses['200'].content['application/json'].schema);
    for (const word of ['"function_call"', 'call_id', 'response.function_call_arguments.delta']) expect(answer).toContain(word);
  });

  describe('refusals: a 400 naming the field, and no provider asked', () => {
    it.each<[string, Record<string, unknown>, string, RegExp]>([
      [
        'an output answering no call',
        { input: [{ role: 'user', content: 'Hi' }, { type: 'function_call_output', call_id: 'call_1', output: 'x' }], tools: [WEATHER] },
        'input.1.call_id',
        /answers no function_call/,
      ],
      ['an output before its call', { input: [{ type: 'function_call_output', call_id: 'c', output: 'x' }, { type: 'function_call', call_id: 'c', name: 'get_weather', arguments: '{}' }] }, 'input.0.call_id', /answers no function_call/],
      ['a call without its name', { input: [{ type: 'function_call', call_id: 'c', arguments: '{}' }] }, 'input.0.name', /letters, digits/],
      ['tool_choice naming no tool', { tools: [WEATHER], tool_choice: { type: 'function', name: 'get_time' } }, 'tool_choice.name', /names no function in tools/],
      ['a malformed schema in a tool', { tools: [{ ...WEATHER, parameters: { type: 'object', properties: { city: { type: 'text' } } } }] }, 'tools.0.parameters.properties.city.type', /must be object/],
      ['parameters that are not an object schema', { tools: [{ ...WEATHER, parameters: { type: 'string' } }] }, 'tools.0.parameters.type', /type "object"/],
      ['two tools of one name', { tools: [WEATHER, WEATHER] }, 'tools.1.name', /earlier tool/],
      [
        'a tool schema Gemini cannot express, for a Gemini model',
        { model: 'gemini/gemini-flash-lite-latest', tools: [{ ...WEATHER, parameters: { type: 'object', not: { required: ['a'] } } }] },
        'tools.0.parameters.not',
        /Gemini cannot express/,
      ],
      [
        'a format schema Gemini cannot express, for a Gemini model',
        { model: 'gemini/gemini-flash-lite-latest', text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object', not: { type: 'string' } } } } },
        'text.format.schema.not',
        /Gemini cannot express/,
      ],
      ['a malformed json_schema format', { text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object', required: 'a' } } } }, 'text.format.schema.required', /property names/],
    ])('%s', async (_what, fields, param, message) => {
      const response = await post(gateway, '/responses', { model: 'auto', input: 'What is the weather?', ...fields });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await json(response)) as { error: { code: string; type: string; param: string; message: string } };
      expect(body.error).toMatchObject({ code: 'invalid_request', type: 'invalid_request_error', param });
      expect(body.error.message).toMatch(message);
      expect(noProviderAsked()).toBe(true);
    });
  });
});
