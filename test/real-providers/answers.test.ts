// How the gateway reads what real providers answer, through its HTTP API: reasoning tokens in the
// usage of /v1 and /query, thought parts that never become answer text, a Gemini finish that is
// not a clean stop, and an error object Gemini writes into a 200 stream.
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { json, query, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { startWatchedServer, type WatchedServer } from '../helpers/watched-server.ts';
import { USER_HELLO, sdk } from '../openai/helpers.ts';

/** What the fake Groq's gpt-oss spends reasoning at low effort (EFFORT_TOKENS.low). */
const LOW_EFFORT_TOKENS = 16;

describe('reasoning tokens in usage', () => {
  let gateway: TestGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gateway = await startGateway();
    client = sdk(gateway);
  });
  afterAll(() => gateway.close());
  beforeEach(() => gateway.resetFakes());

  it("reports a whole answer's reasoning tokens in completion_tokens_details, within completion_tokens", async () => {
    const { data, response } = await client.chat.completions.create({ model: 'groq', messages: USER_HELLO }).withResponse();
    expect(response.status).toBe(200);
    expect(data.usage?.completion_tokens_details?.reasoning_tokens).toBe(LOW_EFFORT_TOKENS);
    expect(data.usage?.completion_tokens).toBeGreaterThan(LOW_EFFORT_TOKENS);
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
  });

  it("reports them in a stream's usage chunk", async () => {
    const stream = await client.chat.completions.create({ model: 'groq', messages: USER_HELLO, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens_details).toEqual({ reasoning_tokens: LOW_EFFORT_TOKENS });
  });

  it('reports them in /query, and null where the provider counted none', async () => {
    const fromGemini = await json(query(gateway, { prompt: 'Say hello' }));
    expect(fromGemini.provider).toBe('gemini');
    // Flash-Lite at its minimal level does not think.
    expect(fromGemini.usage.reasoning_tokens).toBeNull();

    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    const response = await query(gateway, { prompt: 'Say hello' });
    expect(response.status).toBe(200);
    const fromGroq = await json(response);
    expect(fromGroq.provider).toBe('groq');
    expect(fromGroq.usage.reasoning_tokens).toBe(LOW_EFFORT_TOKENS);
    expect(fromGroq.usage.completion_tokens).toBeGreaterThan(LOW_EFFORT_TOKENS);
  });
});

describe("Gemini's finishes and errors", () => {
  let gateway: TestGateway;
  let client: OpenAI;
  // A gateway each: failures count against Gemini's breaker.
  beforeEach(async () => {
    gateway = await startGateway();
    client = sdk(gateway);
  });
  afterEach(() => gateway.close());

  it.each(['OTHER', 'MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL'])('does not pass an answer that ended %s off as a clean stop: the next provider answers', async (finishReason) => {
    gateway.fakes.gemini.setDefault({ kind: 'odd_finish', finishReason });
    const { data, response } = await client.chat.completions.create({ model: 'auto', messages: USER_HELLO }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('groq');
    expect(data.choices[0]?.finish_reason).toBe('stop');

    // Streamed, too: the failure is known before any text reaches the caller.
    const stream = await client.chat.completions.create({ model: 'auto', messages: USER_HELLO, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toMatch(/^Simulated answer from groq /);
  });

  it('reads an error object written into a 200 stream as the error it names, not as a stream without a finish', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'stream_cut', afterChunks: 0, status: 503 });
    const response = await query(gateway, { prompt: 'Say hello' });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.provider).toBe('groq');
    expect(body.attempts[0]).toMatchObject({ provider: 'gemini', outcome: 'unavailable', status: 503 });
    expect(gateway.fakes.gemini.requests[0]?.path).toMatch(/:streamGenerateContent$/);
  });
});

describe('thought parts', () => {
  let upstream: WatchedServer;
  let gateway: TestGateway;
  const THOUGHT = 'secret thought about the question';
  beforeAll(async () => {
    upstream = await startWatchedServer();
    // Gemini's answer with thoughts (as includeThoughts asks for): a thought part, then the answer
    // with its thought signature; a stream sends the thought in an event of its own.
    upstream.handler = (req, res) => {
      const thought = { text: THOUGHT, thought: true };
      const answer = { text: 'Paris.', thoughtSignature: 'c2ln' };
      const usageMetadata = { promptTokenCount: 5, candidatesTokenCount: 2, thoughtsTokenCount: 9, totalTokenCount: 16 };
      const event = (parts: unknown[], finishReason?: string) => ({
        candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}), index: 0 }],
        ...(finishReason ? { usageMetadata } : {}),
        modelVersion: 'gemini-3.8-flash',
      });
      if (req.url?.includes(':streamGenerateContent')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify(event([thought]))}\r\n\r\ndata: ${JSON.stringify(event([answer], 'STOP'))}\r\n\r\n`);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(event([thought, answer], 'STOP')));
      }
    };
    gateway = await startGateway({
      SIMULATED_PROVIDERS: 'false',
      GEMINI_API_KEY: 'gemini-test-key',
      GEMINI_BASE_URL: upstream.url,
      GEMINI_MODEL: 'gemini-3.8-flash',
    });
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('never become answer text, whole or streamed, and count as reasoning tokens', async () => {
    const client = sdk(gateway);
    const { data } = await client.chat.completions.create({ model: 'gemini', messages: USER_HELLO }).withResponse();
    expect(data.choices[0]?.message.content).toBe('Paris.');
    expect(data.usage).toEqual({ prompt_tokens: 5, completion_tokens: 11, total_tokens: 16, completion_tokens_details: { reasoning_tokens: 9 } });

    const stream = await client.chat.completions.create({ model: 'gemini', messages: USER_HELLO, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Paris.');

    const body = await json(query(gateway, { prompt: 'Capital of France?' }));
    expect(body.response).toBe('Paris.');
    expect(body.usage).toEqual({ prompt_tokens: 5, completion_tokens: 11, total_tokens: 16, reasoning_tokens: 9 });
  });
});
