// The Vercel AI SDK with @ai-sdk/openai as it is most often written: createOpenAI with only the
// base URL and the key changed, and the default model factory, which calls POST /v1/responses.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, streamText } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { simulatedAnswer, toDeltas } from '../../src/simulator/fake-server.ts';
import { KEY, startGateway, type TestGateway } from '../helpers/gateway.ts';

const GEMINI_ANSWER = simulatedAnswer('gemini', 'gemini-flash-lite-latest', 'Say hello');

describe('the Vercel AI SDK (@ai-sdk/openai) against /v1', () => {
  let gateway: TestGateway;
  let openai: ReturnType<typeof createOpenAI>;
  beforeAll(async () => {
    gateway = await startGateway();
    openai = createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY });
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  /** The gateway routes the requests of this test reached. */
  const routesCalled = () => gateway.logs.filter((line) => line.msg === 'request completed').map((line) => line.url);

  it('generateText answers through /v1/responses, with the usage and finish reason', async () => {
    const before = routesCalled().length;
    const result = await generateText({ model: openai('auto'), prompt: 'Say hello', maxRetries: 0 });
    expect(result.text).toBe(GEMINI_ANSWER);
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.response.modelId).toBe('gemini/gemini-flash-lite-latest');
    expect(result.response.headers?.['x-llm-provider']).toBe('gemini');
    await expect.poll(() => routesCalled().slice(before)).toEqual(['/v1/responses']);
  });

  it('generateText with a system prompt, a conversation and a token limit reads the cut as "length"', async () => {
    const result = await generateText({
      model: openai('auto'),
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'First question' },
        { role: 'assistant', content: 'First answer' },
        { role: 'user', content: 'Say hello' },
      ],
      maxOutputTokens: 2,
      maxRetries: 0,
    });
    expect(result.finishReason).toBe('length');
    expect(result.text).toBe(GEMINI_ANSWER.slice(0, 8));
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      contents: [
        { role: 'user', parts: [{ text: 'First question' }] },
        { role: 'model', parts: [{ text: 'First answer' }] },
        { role: 'user', parts: [{ text: 'Say hello' }] },
      ],
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: { maxOutputTokens: 2 },
    });
  });

  it('streamText streams the answer, then the usage and finish reason', async () => {
    const result = streamText({ model: openai('auto'), prompt: 'Say hello', maxRetries: 0 });
    const pieces: string[] = [];
    for await (const piece of result.textStream) pieces.push(piece);
    expect(pieces.join('')).toBe(GEMINI_ANSWER);
    expect(pieces.length).toBe(toDeltas(GEMINI_ANSWER).length);
    expect(await result.finishReason).toBe('stop');
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });

  it('streamText surfaces a stream cut mid-way as an error and an "error" finish, not a whole answer', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'stream_cut', afterChunks: 2 });
    const errors: unknown[] = [];
    const result = streamText({ model: openai('auto'), prompt: 'Say hello', maxRetries: 0, onError: ({ error }) => void errors.push(error) });
    let text = '';
    for await (const part of result.fullStream) if (part.type === 'text-delta') text += part.text;
    expect(toDeltas(text)).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(String((errors[0] as Error).message)).toMatch(/incomplete/);
    expect(await result.finishReason).toBe('error');
  });
});
