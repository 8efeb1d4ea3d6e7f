// The Vercel AI SDK (`ai` with @ai-sdk/openai-compatible) as a second real client of tool calling
// and structured output on /v1/chat/completions.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KEY, startGateway, type TestGateway } from '../helpers/gateway.ts';

describe('tool calling and structured output with the Vercel AI SDK (@ai-sdk/openai-compatible)', () => {
  let gateway: TestGateway;
  let provider: ReturnType<typeof createOpenAICompatible>;
  beforeAll(async () => {
    gateway = await startGateway();
    // supportsStructuredOutputs: send response_format json_schema (the default sends json_object only).
    provider = createOpenAICompatible({ baseURL: `${gateway.url}/v1`, apiKey: KEY, name: 'gateway', supportsStructuredOutputs: true });
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  const weather = () => {
    const calls: unknown[] = [];
    const getWeather = tool({
      description: 'The weather in a city',
      inputSchema: z.object({ city: z.string() }),
      execute: async (input) => {
        calls.push(input);
        return { temperature: 21 };
      },
    });
    return { calls, tools: { get_weather: getWeather } };
  };

  for (const model of ['gemini', 'groq', 'openrouter']) {
    it(`generateText runs several steps on ${model}: a tool call, its result, the answer`, async () => {
      const { calls, tools } = weather();
      const result = await generateText({ model: provider(model), prompt: 'What is the weather in Paris?', tools, stopWhen: stepCountIs(3), maxRetries: 0 });
      expect(calls).toEqual([{ city: 'city-value' }]);
      expect(result.steps).toHaveLength(2);
      expect(result.steps[0]?.finishReason).toBe('tool-calls');
      expect(result.text).toBe('The tools answered: {"temperature":21}');
      expect(result.finishReason).toBe('stop');
      expect(result.response.headers?.['x-llm-provider']).toBe(model);
    });
  }

  it('streamText streams a tool step and then the answer, from Gemini', async () => {
    const { calls, tools } = weather();
    const result = streamText({ model: provider('gemini'), prompt: 'What is the weather in Paris?', tools, stopWhen: stepCountIs(3), maxRetries: 0 });
    const kinds: string[] = [];
    for await (const part of result.fullStream) kinds.push(part.type);
    expect(calls).toEqual([{ city: 'city-value' }]);
    expect(kinds).toContain('tool-call');
    expect(kinds).toContain('tool-result');
    expect(await result.text).toBe('The tools answered: {"temperature":21}');
    expect(gateway.fakes.gemini.requests).toHaveLength(2);
  });

  it('generateObject with a Zod schema returns the object, Gemini writing it to the schema', async () => {
    const { object } = await generateObject({
      model: provider('gemini'),
      schema: z.object({ title: z.string(), tags: z.array(z.string()), rating: z.number().min(0).max(5) }),
      prompt: 'Describe a book',
      maxRetries: 0,
    });
    expect(object).toEqual({ title: 'title-value', tags: ['tags-value'], rating: 1.5 });
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      generationConfig: { responseMimeType: 'application/json', responseJsonSchema: { type: 'object', required: ['title', 'tags', 'rating'] } },
    });
  });
});
