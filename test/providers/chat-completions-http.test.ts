// The Chat Completions wire as Groq and OpenRouter speak it (providers/chat-completions-http.ts,
// read by openai-compatible.ts), against a local HTTP server that answers in ways the provider
// fakes do not: compressed and oversized answers, `event: error`, a stream held open after
// `[DONE]`, a last event without its blank line. Connection reuse is watched from the server.
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_ANSWER_BYTES } from '../../src/providers/transport/response-body.ts';
import { createOpenAICompatibleProvider } from '../../src/providers/openai-compatible/openai-compatible.ts';
import type { CompletionRequest, Provider } from '../../src/providers/types.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';
import { startWatchedServer, type WatchedServer } from '../helpers/watched-server.ts';

const KEY = 'sk-test-wire-0123456789';
const MODEL = 'test/model';
const REQUEST: CompletionRequest = { messages: [{ role: 'user', content: 'hi' }], maxTokens: 16, temperature: 0 };
const COMPLETION = {
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello there.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
};
const chunk = (content: string, finish: string | null = null) => ({
  model: MODEL,
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

let upstream: WatchedServer;
let provider: Provider;

beforeAll(async () => {
  upstream = await startWatchedServer();
});

beforeEach(() => {
  provider = createOpenAICompatibleProvider({
    name: 'openrouter',
    model: MODEL,
    url: `${upstream.url}/v1/chat/completions`,
    apiKey: KEY,
    userAgent: 'secure-llm-router/test',
  });
});

afterEach(async () => {
  await provider.close();
  upstream.reset();
});

afterAll(() => upstream.close());

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });
const event = (data: unknown, name?: string) => `${name ? `event: ${name}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

describe('chat completions wire: answers', () => {
  it('decodes a gzip-compressed answer', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(JSON.stringify(COMPLETION)));
    };
    expect(await provider.complete(REQUEST, live())).toMatchObject({ text: 'Hello there.', finishReason: 'stop' });
  });

  it('refuses an answer larger than its limit, as a bad response', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"pad":"${'x'.repeat(MAX_ANSWER_BYTES)}"}`);
    };
    const error = await failure(provider.complete(REQUEST, live()));
    expect(error).toMatchObject({ kind: 'bad_response', retryable: true, message: `openrouter sent an answer larger than ${MAX_ANSWER_BYTES} bytes` });
  });

  it('treats an HTML page in a 200 as malformed JSON', async () => {
    upstream.handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>maintenance</html>');
    expect((await failure(provider.complete(REQUEST, live()))).message).toBe('openrouter sent malformed JSON');
  });

  it('prefers retry-after-ms to retry-after, and never reads the error body into the message', async () => {
    upstream.handler = (_req, res) =>
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': '9', 'retry-after-ms': '1500' })
        .end(JSON.stringify({ error: { message: `Rate limited for key ${KEY}` } }));
    const error = await failure(provider.complete(REQUEST, live()));
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 1500 });
    expect(JSON.stringify({ message: error.message, cause: String(error.cause) })).not.toContain(KEY);
  });

  it('keeps its connection open for the next call', async () => {
    upstream.handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(COMPLETION));
    for (let i = 0; i < 3; i += 1) {
      await provider.complete(REQUEST, live());
      // The pool takes a connection back a moment after its answer ends.
      await settle();
    }
    expect(new Set(upstream.ports).size).toBe(1);
  });
});

describe('chat completions wire: what a 200 or an error body means', () => {
  const json = (status: number, body: unknown) => (_req: unknown, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const choice = (message: object, finishReason: string | null) => ({ model: MODEL, choices: [{ index: 0, message, finish_reason: finishReason }] });

  it('fails a whole answer whose choice ended with finish_reason "error", keeping none of its part', async () => {
    upstream.handler = json(200, choice({ role: 'assistant', content: 'The answer is' }, 'error'));
    expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'bad_response', retryable: true });
  });

  it('reads a 429 inside a 200 as a rate limit, like the stream reader does', async () => {
    upstream.handler = json(200, { error: { code: 429, message: 'Rate limit exceeded', metadata: { error_type: 'rate_limit_exceeded' } }, user_id: 'u' });
    expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'rate_limited', retryable: false });
  });

  it.each([
    ['withheld by a filter', { role: 'assistant', content: '' }, 'content_filter'],
    ['cut by max_tokens before any text', { role: 'assistant', content: null }, 'length'],
  ])('treats an answer %s as the request refused, not a failure of the provider', async (_name, message, finishReason) => {
    upstream.handler = json(200, choice(message, finishReason));
    expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'rejected', retryable: false });
  });

  it('treats an answer with no text and no reason as a failure of the provider', async () => {
    upstream.handler = json(200, choice({ role: 'assistant', content: '' }, 'stop'));
    expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'bad_response', retryable: true });
  });

  it('treats a stream that ends with content_filter before any text as the request refused', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.end(event(chunk('')) + event(chunk('', 'content_filter')) + event('[DONE]'));
    };
    expect(await failure(collect(provider.stream(REQUEST, live())))).toMatchObject({ kind: 'rejected' });
  });

  it.each([
    ['Groq: a retired model', { error: { message: 'The model `llama3-70b-8192` has been decommissioned', type: 'invalid_request_error', code: 'model_decommissioned' } }],
    ['OpenRouter: a deprecated model', { error: { message: 'gone', availability: { code: 'model_deprecated' } } }],
  ])('maps a 400 for %s to misconfigured, as a model it does not know', async (_name, body) => {
    upstream.handler = json(400, body);
    expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'misconfigured', status: 400, modelNotFound: true });
  });

  it("treats OpenRouter's 403 for flagged input as the request refused, and any other 403 as a key problem", async () => {
    upstream.handler = json(403, { error: { code: 403, message: 'Input was flagged', metadata: { reasons: ['harassment'], flagged_input: 'abc', provider_name: 'x', model_slug: 'y' } } });
    expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'rejected', status: 403 });

    upstream.handler = json(403, { error: { code: 403, message: 'Key not allowed' } });
    expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'misconfigured', status: 403 });
  });
});

describe('chat completions wire: streams', () => {
  it('ends at [DONE] without waiting for the answer to close, and reuses the connection', async () => {
    const held: ServerResponse[] = [];
    upstream.handler = (_req, res) => {
      sse(res);
      res.write(event(chunk('Hel')) + event(chunk('lo', 'stop')) + event('[DONE]'));
      // The end of the answer is left to the test: the stream must not wait for it.
      held.push(res);
    };
    const chunks = await collect(provider.stream(REQUEST, live()));
    expect(chunks.map((c) => c.text).join('')).toBe('Hello');
    expect(chunks.at(-1)?.finishReason).toBe('stop');
    const [first] = held as [ServerResponse];
    expect(first.writableEnded).toBe(false);
    first.end();
    await once(first, 'finish');
    await settle();
    upstream.handler = (_req, res) => {
      sse(res);
      res.end(event(chunk('Hi', 'stop')) + event('[DONE]'));
    };
    await collect(provider.stream(REQUEST, live()));
    expect(upstream.ports).toHaveLength(2);
    expect(new Set(upstream.ports).size).toBe(1);
  });

  it('reads a last event that has no blank line after it', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.end(`${event(chunk('Hi', 'stop'))}data: ${JSON.stringify({ model: MODEL, choices: [], usage: COMPLETION.usage })}`);
    };
    const chunks = await collect(provider.stream(REQUEST, live()));
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'stop', usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 } });
  });

  it('maps an `event: error` with code 429 to rate_limited, after the text before it', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.end(event(chunk('Hel')) + event({ error: { code: 429, message: 'slow down' } }, 'error'));
    };
    const { seen, error } = await streamFailure(provider.stream(REQUEST, live()));
    expect(seen.map((c) => c.text)).toEqual(['Hel']);
    expect(error).toMatchObject({ kind: 'rate_limited', message: 'openrouter reported an error mid-stream' });
  });

  it('fails with bad_response, after the text before it, on an event whose JSON is not a chunk', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.end(event(chunk('Hel')) + event('5') + event(chunk('lo', 'stop')) + event('[DONE]'));
    };
    const { seen, error } = await streamFailure(provider.stream(REQUEST, live()));
    expect(seen.map((c) => c.text)).toEqual(['Hel']);
    expect(error).toMatchObject({ kind: 'bad_response', message: 'openrouter sent an event that is not a chunk' });
  });

  it('refuses an event larger than its limit and closes the connection', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write(`data: "${'x'.repeat(2 * 1024 * 1024)}`);
    };
    const error = await failure(collect(provider.stream(REQUEST, live())));
    expect(error).toMatchObject({ kind: 'bad_response', message: expect.stringContaining('sent an event larger than') });
    await expect.poll(() => upstream.sockets.size, { timeout: 1000, interval: 10 }).toBe(0);
  });

  it('closes the connection when the reader stops early', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write(event(chunk('one')));
      // Never ends on its own.
    };
    for await (const piece of provider.stream(REQUEST, live())) {
      expect(piece.text).toBe('one');
      break;
    }
    await expect.poll(() => upstream.sockets.size, { timeout: 1000, interval: 10 }).toBe(0);
  });
});
