// POST /v1/chat/completions with stream: true. The cascade applies until the first token; after
// it, a failure is an error event and never a clean finish; a client leaving cancels upstream.
import { request } from 'node:http';
import OpenAI, { APIError } from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
type ProviderName = 'gemini' | 'groq' | 'openrouter';
import { simulatedAnswer, toDeltas } from '../../src/simulator/fake-server.ts';
import { json, OTHER_KEY, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { USER_HELLO, post, sdk, sseData, sseEvents } from './helpers.ts';

const GEMINI_MODEL = 'gemini-flash-lite-latest';
const GEMINI_ANSWER = simulatedAnswer('gemini', GEMINI_MODEL, 'Say hello');
const GROQ_ANSWER = simulatedAnswer('groq', 'openai/gpt-oss-20b', 'Say hello');
const STREAM = { model: 'auto', messages: USER_HELLO, stream: true as const };

/** Reads an SDK stream to the end: the text, every chunk, and the error it ended with, if any. */
async function drain(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const chunks: OpenAI.ChatCompletionChunk[] = [];
  let text = '';
  let error: unknown;
  try {
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
    }
  } catch (thrown) {
    error = thrown;
  }
  return { chunks, text, error };
}

describe('streamed chat completions', () => {
  // A gateway per test: failures cool providers down, and that must not leak into the next test.
  let gateway: TestGateway;
  let client: OpenAI;
  beforeEach(async () => {
    gateway = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '300', PROVIDER_TIMEOUT_MS: '400', REQUEST_TIMEOUT_MS: '1500' });
    client = sdk(gateway);
  });
  afterEach(() => gateway.close());

  it('assembles to the same answer as the provider gave, chunk by chunk', async () => {
    const { data: stream, response } = await client.chat.completions.create(STREAM).withResponse();
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    const { chunks, text, error } = await drain(stream);
    expect(error).toBeUndefined();
    expect(text).toBe(GEMINI_ANSWER);
    expect(chunks.length).toBe(toDeltas(GEMINI_ANSWER).length + 2);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0]?.id).toMatch(/^chatcmpl-/);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === `gemini/${GEMINI_MODEL}`)).toBe(true);
    // No usage unless asked for.
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
  });

  it('frames the events as SSE: data lines, the role first, [DONE] last, with no-buffering headers', async () => {
    const response = await post(gateway, '/chat/completions', STREAM);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(response.headers.get('x-request-id')).toBeTruthy();
    // Set before the stream started, so they go out with it.
    expect(Number(response.headers.get('x-ratelimit-remaining'))).toBeGreaterThan(0);
    const events = sseEvents(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.filter((e) => e === '[DONE]')).toHaveLength(1);
    const requestId = response.headers.get('x-request-id');
    await expect
      .poll(() => gateway.logs.find((line) => line.msg === 'request completed' && line.request_id === requestId))
      .toMatchObject({ status: 200, provider: 'gemini', url: '/v1/chat/completions' });
    expect(events[0].choices[0]).toEqual({ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null });
    const finish = events.at(-2);
    expect(finish.choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
    const content = events.slice(1, -2).map((e) => e.choices[0].delta.content).join('');
    expect(content).toBe(GEMINI_ANSWER);
  });

  it('sends the usage chunk last before [DONE] when include_usage is set', async () => {
    const { chunks, error } = await drain(await client.chat.completions.create({ ...STREAM, stream_options: { include_usage: true } }));
    expect(error).toBeUndefined();
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(last?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(last?.usage?.total_tokens).toBe((last?.usage?.prompt_tokens ?? 0) + (last?.usage?.completion_tokens ?? 0));
    // Like OpenAI: every other chunk says usage: null.
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);

    const raw = sseEvents(await (await post(gateway, '/chat/completions', { ...STREAM, stream_options: { include_usage: true } })).text());
    expect(raw.at(-1)).toBe('[DONE]');
    expect(raw.at(-2)).toMatchObject({ choices: [], usage: { total_tokens: expect.any(Number) } });
  });

  it('writes each event as soon as it arrives', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 120 });
    const started = performance.now();
    const response = await post(gateway, '/chat/completions', STREAM);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let firstContentAt = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!firstContentAt && text.includes('"content":"Simulated')) firstContentAt = performance.now() - started;
    }
    const endedAt = performance.now() - started;
    const gaps = toDeltas(GEMINI_ANSWER).length - 1;
    expect(endedAt).toBeGreaterThan(gaps * 120 - 50);
    // The first word reached the client long before the last one was generated.
    expect(firstContentAt).toBeLessThan(endedAt - (gaps - 2) * 120);
    expect(sseData(text).at(-1)).toBe('[DONE]');
  });

  describe('before the first token', () => {
    it('falls back when the first provider errors, and the client never sees it', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
      const { data: stream, response } = await client.chat.completions.create(STREAM).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      const { text, error } = await drain(stream);
      expect(error).toBeUndefined();
      expect(text).toBe(GROQ_ANSWER);
      expect(gateway.fakes.gemini.requests).toHaveLength(2);
    });

    it('falls back when the first provider hangs past FIRST_TOKEN_TIMEOUT_MS, and aborts the hung call', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'hang' });
      const started = performance.now();
      const { data: stream, response } = await client.chat.completions.create(STREAM).withResponse();
      const waited = performance.now() - started;
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      expect(waited).toBeGreaterThanOrEqual(290);
      // Groq answered (the header), so the first-token timer, not the 1.5 s budget, ended Gemini's turn.
      expect(waited).toBeLessThan(1500);
      expect((await drain(stream)).text).toBe(GROQ_ANSWER);
      await expect.poll(() => gateway.fakes.gemini.abortedRequests).toBe(1);
    });

    it('falls back when the first provider is too slow to start', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'ok', delayMs: 2000 });
      const { data: stream, response } = await client.chat.completions.create(STREAM).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      expect((await drain(stream)).text).toBe(GROQ_ANSWER);
      await expect.poll(() => gateway.fakes.gemini.abortedRequests).toBe(1);
    });

    it('answers a plain JSON 503 when every provider fails before the first token', async () => {
      for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'error', status: 500 });
      const error = await client.chat.completions.create(STREAM).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error).toMatchObject({ status: 503, code: 'providers_unavailable' });

      const response = await post(gateway, '/chat/completions', STREAM);
      expect(response.status).toBe(503);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(response.headers.get('x-llm-provider')).toBeNull();
      const body = await json(response);
      expect(body).toEqual({
        error: {
          message: expect.any(String),
          type: 'service_unavailable_error',
          code: 'providers_unavailable',
          param: null,
          request_id: response.headers.get('x-request-id'),
        },
      });
    });

    it('answers a plain JSON 504 within the budget when every provider stays silent', async () => {
      for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'hang' });
      const started = performance.now();
      const error = await client.chat.completions.create(STREAM).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error).toMatchObject({ status: 504, code: 'upstream_timeout' });
      expect(performance.now() - started).toBeLessThan(1500 + 1500);
    });

    it('an exact model that fails before the first token is an error, never another provider', async () => {
      gateway.fakes.groq.setDefault({ kind: 'error', status: 503 });
      const error = await client.chat.completions.create({ ...STREAM, model: 'groq/openai/gpt-oss-120b' }).catch((e: unknown) => e);
      expect(error).toMatchObject({ status: 503, code: 'providers_unavailable' });
      expect(gateway.fakes.gemini.requests).toHaveLength(0);
      expect(gateway.fakes.openrouter.requests).toHaveLength(0);
    });

    it('streams an exact model from its provider', async () => {
      const { data: stream, response } = await client.chat.completions.create({ ...STREAM, model: 'groq/openai/gpt-oss-120b' }).withResponse();
      expect(response.headers.get('x-llm-provider')).toBe('groq');
      const { chunks, text } = await drain(stream);
      expect(text).toBe(simulatedAnswer('groq', 'openai/gpt-oss-120b', 'Say hello'));
      expect(chunks[0]?.model).toBe('groq/openai/gpt-oss-120b');
      expect(gateway.fakes.groq.requests[0]?.body).toMatchObject({ model: 'openai/gpt-oss-120b', stream: true });
    });
  });

  describe('after the first token', () => {
    it.each<ProviderName>(['gemini', 'groq', 'openrouter'])(
      'a %s stream cut mid-way ends with an error event and no [DONE], and no other provider is asked',
      async (name) => {
        const order = [name, ...(['gemini', 'groq', 'openrouter'] as const).filter((n) => n !== name)];
        const local = await startGateway({ PROVIDER_ORDER: order.join(',') });
        try {
          local.fakes[name].setDefault({ kind: 'stream_cut', afterChunks: 2 });
          const { data: stream, response } = await sdk(local).chat.completions.create(STREAM).withResponse();
          expect(response.headers.get('x-llm-provider')).toBe(name);
          const { text, error } = await drain(stream);
          // The SDK's iteration throws instead of ending as if the answer were whole.
          expect(error).toBeInstanceOf(OpenAI.APIError);
          expect((error as APIError).status).toBeUndefined();
          expect((error as APIError).code).toBe('providers_unavailable');
          expect((error as APIError).message).toMatch(/incomplete/);
          expect(text.length).toBeGreaterThan(0);
          expect(toDeltas(text)).toHaveLength(2);

          const raw = await post(local, '/chat/completions', STREAM);
          expect(raw.status).toBe(200);
          const events = sseEvents(await raw.text());
          expect(events).not.toContain('[DONE]');
          expect(events.at(-1)).toEqual({
            error: {
              message: expect.stringMatching(/incomplete/),
              type: 'service_unavailable_error',
              code: 'providers_unavailable',
              param: null,
              request_id: raw.headers.get('x-request-id'),
            },
          });
          expect(events.some((e) => e.choices?.[0]?.finish_reason)).toBe(false);
          for (const other of order.slice(1)) expect(local.fakes[other].requests).toHaveLength(0);
        } finally {
          await local.close();
        }
      },
    );

    it('a provider that stalls between chunks gets PROVIDER_TIMEOUT_MS, then the stream ends with a timeout error event', async () => {
      gateway.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 4000 });
      const started = performance.now();
      const response = await post(gateway, '/chat/completions', STREAM);
      const events = sseEvents(await response.text());
      const elapsed = performance.now() - started;
      expect(events[1].choices[0].delta.content).toBe(toDeltas(GEMINI_ANSWER)[0]);
      expect(events.at(-1)).toMatchObject({ error: { code: 'upstream_timeout', type: 'service_unavailable_error' } });
      expect(events).not.toContain('[DONE]');
      expect(elapsed).toBeGreaterThanOrEqual(390);
      // Well before the next chunk would have come.
      expect(elapsed).toBeLessThan(3000);
      await expect.poll(() => gateway.fakes.gemini.abortedRequests).toBe(1);
    });

    it('the request budget covers reaching the first token, not the whole stream', async () => {
      const local = await startGateway({ REQUEST_TIMEOUT_MS: '600', PROVIDER_TIMEOUT_MS: '400', FIRST_TOKEN_TIMEOUT_MS: '300' });
      try {
        local.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 150 });
        const started = performance.now();
        const { text, error } = await drain(await sdk(local).chat.completions.create(STREAM));
        expect(performance.now() - started).toBeGreaterThan(1000);
        expect(error).toBeUndefined();
        expect(text).toBe(GEMINI_ANSWER);
      } finally {
        await local.close();
      }
    });
  });

  describe('a client that leaves', () => {
    it('cancels the upstream stream at once when it stops reading, not at the next chunk', async () => {
      // Chunks 1.5 s apart (and a stall limit above that): only a direct cancel is fast.
      const local = await startGateway({ PROVIDER_TIMEOUT_MS: '3000', REQUEST_TIMEOUT_MS: '4000', FIRST_TOKEN_TIMEOUT_MS: '1000' });
      try {
        local.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 1500 });
        const stream = await sdk(local).chat.completions.create(STREAM);
        let text = '';
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? '';
          // Leaving the loop aborts the SDK's request, as a user's break would.
          if (text !== '') break;
        }
        const left = performance.now();
        await expect.poll(() => local.fakes.gemini.abortedRequests, { timeout: 1200, interval: 20 }).toBe(1);
        // Before the next chunk (1.5 s on), which is what would end it without a direct cancel.
        expect(performance.now() - left).toBeLessThan(1200);
        expect(local.fakes.gemini.requests).toHaveLength(1);
        await expect
          .poll(() => local.logs.find((line) => line.status === 499))
          .toMatchObject({ msg: 'client disconnected before the answer was complete', provider: 'gemini', client: 'key-1', url: '/v1/chat/completions' });
      } finally {
        await local.close();
      }
    });

    it('names the client (never its key) on the last log line of a stream it abandoned, before and after the first token', async () => {
      const local = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '5000', PROVIDER_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '8000' });
      try {
        // After the first token: the response has started, so its request id is known.
        local.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 5000 });
        const started = await new Promise<{ requestId: string; status: number; type: string; close: () => void }>((resolve, reject) => {
          const req = request(`${local.url}/v1/chat/completions`, {
            method: 'POST',
            agent: false,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${OTHER_KEY}` },
          });
          req.on('response', (res) => {
            res.once('data', () =>
              resolve({ requestId: String(res.headers['x-request-id']), status: res.statusCode ?? 0, type: String(res.headers['content-type']), close: () => req.destroy() }),
            );
          });
          req.on('error', reject);
          req.end(JSON.stringify(STREAM));
        });
        expect(started.status).toBe(200);
        expect(started.type).toBe('text/event-stream; charset=utf-8');
        started.close();
        const lastLine = () => local.logs.filter((line) => line.request_id === started.requestId).at(-1);
        await expect.poll(() => lastLine()?.msg).toBe('client disconnected before the answer was complete');
        expect(lastLine()).toMatchObject({ status: 499, provider: 'gemini', client: 'key-2', url: '/v1/chat/completions' });

        // Before the first token: nothing was sent, so the line is found by its message.
        local.fakes.gemini.setDefault({ kind: 'hang' });
        const controller = new AbortController();
        const pending = post(local, '/chat/completions', STREAM, { signal: controller.signal, key: OTHER_KEY }).catch((e: unknown) => e);
        await expect.poll(() => local.fakes.gemini.requests.length).toBe(2);
        controller.abort();
        expect(await pending).toBeInstanceOf(DOMException);
        const beforeAnswer = () => local.logs.find((line) => line.msg === 'client disconnected before the answer was complete' && line.request_id !== started.requestId);
        await expect.poll(beforeAnswer).toMatchObject({ status: 499, client: 'key-2' });
        const abandoned = beforeAnswer();
        expect(local.logs.filter((line) => line.request_id === abandoned?.request_id).at(-1)).toEqual(abandoned);
        expect(local.logText()).not.toContain(OTHER_KEY);
      } finally {
        await local.close();
      }
    });

    it('cancels the upstream call when it leaves before the first token', async () => {
      const local = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '5000', PROVIDER_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '8000' });
      try {
        local.fakes.gemini.setDefault({ kind: 'hang' });
        const controller = new AbortController();
        const pending = sdk(local).chat.completions.create(STREAM, { signal: controller.signal }).catch((e: unknown) => e);
        await expect.poll(() => local.fakes.gemini.requests.length).toBe(1);
        controller.abort();
        expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
        await expect.poll(() => local.fakes.gemini.abortedRequests, { timeout: 1000 }).toBe(1);
        expect(local.fakes.groq.requests).toHaveLength(0);
      } finally {
        await local.close();
      }
    });
  });
});
