// The Gemini adapter against the fake Gemini over real HTTP: the exact requests it sends, what it
// makes of every answer and failure, and its own connection pool.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createGeminiProvider } from '../../src/providers/gemini/gemini.ts';
import type { ProviderErrorKind } from '../../src/providers/provider-error.ts';
import type {
  CompletionRequest,
  EmbeddingRequest,
  Embeddings,
  Provider,
} from '../../src/providers/types.ts';
import { startFakeGemini } from '../../src/simulator/fake-gemini.ts';
import {
  countTokens,
  sendJson,
  simulatedAnswer,
  startFakeServer,
  startSse,
  type FakeProviderServer,
  type Fault,
} from '../../src/simulator/fake-server.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';

const KEY = 'gemini-test-key';
const MODEL = 'gemini-test';
const EMBEDDING_MODEL = 'gemini-embedding-001';
const USER_AGENT = 'secure-llm-router/test';

let fake: FakeProviderServer;
let gemini: Provider;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  fake = await startFakeGemini({ apiKey: KEY, models: [MODEL, 'gemini-other', EMBEDDING_MODEL] });
  gemini = providerWith(KEY);
});

afterAll(async () => {
  await gemini.close();
  await fake.close();
  process.off('unhandledRejection', onUnhandled);
});

beforeEach(() => fake.reset());

function providerWith(apiKey: string): Provider {
  return createGeminiProvider({ apiKey, model: MODEL, baseUrl: fake.url, embeddingModel: EMBEDDING_MODEL, userAgent: USER_AGENT });
}

function ask(text: string, extra: Partial<CompletionRequest> = {}): CompletionRequest {
  return { messages: [{ role: 'user', content: text }], maxTokens: 200, temperature: 0.2, ...extra };
}


function embed(request: EmbeddingRequest, signal: AbortSignal): Promise<Embeddings> {
  if (!gemini.embed) throw new Error('the Gemini provider should embed');
  return gemini.embed(request, signal);
}

async function eventually(check: () => boolean, withinMs = 500): Promise<void> {
  const until = Date.now() + withinMs;
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

describe('Gemini adapter: answers', () => {
  it('completes and sends the exact Gemini request body', async () => {
    const completion = await gemini.complete(
      {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hello there' },
          { role: 'assistant', content: 'Hi!' },
          { role: 'system', content: 'Answer in English.' },
          { role: 'user', content: 'What is 2+2?' },
        ],
        maxTokens: 100,
        temperature: 0.3,
        topP: 0.9,
        stop: ['END'],
      },
      live(),
    );

    const text = simulatedAnswer('gemini', MODEL, 'What is 2+2?');
    expect(completion).toEqual({
      text,
      model: MODEL,
      finishReason: 'stop',
      usage: { promptTokens: expect.any(Number), completionTokens: countTokens(text), totalTokens: expect.any(Number) },
    });
    expect(completion.usage?.totalTokens).toBe((completion.usage?.promptTokens ?? 0) + countTokens(text));

    expect(fake.requests).toHaveLength(1);
    const [sent] = fake.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toBe(`/v1beta/models/${MODEL}:generateContent`);
    expect(sent?.headers['x-goog-api-key']).toBe(KEY);
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(sent?.headers['user-agent']).toBe(USER_AGENT);
    expect(sent?.query.get('key')).toBeNull();
    expect(sent?.body).toEqual({
      generationConfig: { maxOutputTokens: 100, temperature: 0.3, topP: 0.9, stopSequences: ['END'] },
      systemInstruction: { role: 'system', parts: [{ text: 'Be brief.\n\nAnswer in English.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Hello there' }] },
        { role: 'model', parts: [{ text: 'Hi!' }] },
        { role: 'user', parts: [{ text: 'What is 2+2?' }] },
      ],
    });
  });

  it('leaves out systemInstruction, topP and stopSequences when not asked for', async () => {
    await gemini.complete(ask('hi'), live());
    expect(fake.requests[0]?.body).toEqual({
      generationConfig: { maxOutputTokens: 200, temperature: 0.2 },
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
    });
  });

  it('uses the model named in the request', async () => {
    const completion = await gemini.complete(ask('hi', { model: 'gemini-other' }), live());
    expect(completion.model).toBe('gemini-other');
    expect(fake.requests[0]?.path).toBe('/v1beta/models/gemini-other:generateContent');
  });

  it('treats a MAX_TOKENS answer with text as a success cut for length', async () => {
    const completion = await gemini.complete(ask('tell me everything', { maxTokens: 3 }), live());
    expect(completion.finishReason).toBe('length');
    expect(completion.text.length).toBeGreaterThan(0);
    expect(completion.text.length).toBeLessThan(simulatedAnswer('gemini', MODEL, 'tell me everything').length);
  });

  it('streams word deltas and ends with finishReason and usage', async () => {
    const chunks = await collect(gemini.stream(ask('Stream this please'), live()));
    const text = simulatedAnswer('gemini', MODEL, 'Stream this please');
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    expect(chunks.slice(0, -1).every((c) => c.finishReason === undefined && c.usage === undefined)).toBe(true);
    expect(chunks.at(-1)).toMatchObject({
      finishReason: 'stop',
      model: MODEL,
      usage: { completionTokens: countTokens(text) },
    });
    const [sent] = fake.requests;
    expect(sent?.path).toBe(`/v1beta/models/${MODEL}:streamGenerateContent`);
    expect(sent?.query.get('alt')).toBe('sse');
    expect(sent?.headers['x-goog-api-key']).toBe(KEY);
  });

  it('sends a conversation of system messages alone as one user turn, which Gemini needs', async () => {
    const answer = await gemini.complete(
      { messages: [{ role: 'system', content: 'Say hello.' }, { role: 'system', content: 'Be brief.' }], maxTokens: 10, temperature: 0 },
      live(),
    );
    expect(answer.text).not.toBe('');
    const body = fake.requests[0]?.body as { contents: unknown; systemInstruction?: unknown };
    expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'Say hello.\n\nBe brief.' }] }]);
    expect(body.systemInstruction).toBeUndefined();
  });

  it('refuses a conversation with no message at all without calling Gemini', async () => {
    const error = await failure(gemini.complete({ messages: [], maxTokens: 10, temperature: 0 }, live()));
    expect(error.kind).toBe('rejected');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('Gemini adapter: failures', () => {
  const cases: Array<[string, Fault, ProviderErrorKind, number | undefined]> = [
    ['503 overloaded', { kind: 'error' }, 'unavailable', 503],
    ['500 internal', { kind: 'error', status: 500 }, 'unavailable', 500],
    ['504 deadline', { kind: 'error', status: 504 }, 'unavailable', 504],
    ['400 invalid argument', { kind: 'error', status: 400 }, 'rejected', 400],
    ['429 quota', { kind: 'rate_limited', retryAfterSeconds: 7 }, 'rate_limited', 429],
    ['400 API_KEY_INVALID', { kind: 'unauthorized' }, 'misconfigured', 400],
    ['connection reset', { kind: 'reset' }, 'unavailable', undefined],
    ['malformed body', { kind: 'malformed' }, 'bad_response', undefined],
    ['empty candidate list', { kind: 'bad_response' }, 'bad_response', undefined],
    // The request's doing: no retry, no mark against Gemini, and another provider may answer it.
    ['blocked prompt', { kind: 'blocked' }, 'rejected', undefined],
  ];

  it.each(cases)('complete: %s', async (_name, fault, kind, status) => {
    fake.enqueue(fault);
    const error = await failure(gemini.complete(ask('hi'), live()));
    expect(error).toMatchObject({ provider: 'gemini', kind, status });
  });

  it.each(cases)('stream: %s', async (_name, fault, kind, status) => {
    fake.enqueue(fault);
    const error = await failure(collect(gemini.stream(ask('hi'), live())));
    expect(error).toMatchObject({ provider: 'gemini', kind, status });
  });

  it('reads the 429 wait from RetryInfo, since Gemini sends no Retry-After', async () => {
    fake.enqueue({ kind: 'rate_limited', retryAfterSeconds: 46 });
    const error = await failure(gemini.complete(ask('hi'), live()));
    expect(error.retryAfterMs).toBe(46_000);
    expect(error.retryable).toBe(false);
  });

  it("names the status and its canonical code, never the upstream message, URL or key", async () => {
    fake.enqueue({ kind: 'error' });
    const error = await failure(gemini.complete(ask('hi'), live()));
    expect(error.message).toBe('Gemini answered HTTP 503 (UNAVAILABLE)');
    expect(error.cause).toBeUndefined();
  });

  it('maps a wrong key and a missing key to misconfigured', async () => {
    const wrong = await failure(providerWith('not-the-key').complete(ask('hi'), live()));
    expect(wrong).toMatchObject({ kind: 'misconfigured', status: 400 });
    expect(wrong.message).not.toContain('not-the-key');
    const missing = await failure(providerWith('').complete(ask('hi'), live()));
    expect(missing).toMatchObject({ kind: 'misconfigured', status: 403 });
  });

  it('maps an unknown model to misconfigured', async () => {
    const error = await failure(gemini.complete(ask('hi', { model: 'gemini-nope' }), live()));
    expect(error).toMatchObject({ kind: 'misconfigured', status: 404 });
  });

  it('treats stream_cut on a plain call as a 500', async () => {
    fake.enqueue({ kind: 'stream_cut' });
    const error = await failure(gemini.complete(ask('hi'), live()));
    expect(error).toMatchObject({ kind: 'unavailable', status: 500 });
  });

  it('throws after the chunks that arrived before a stream is cut', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 2 });
    const received: string[] = [];
    const error = await failure(
      (async () => {
        for await (const chunk of gemini.stream(ask('a long enough prompt'), live())) received.push(chunk.text);
      })(),
    );
    expect(received).toHaveLength(2);
    // The fake writes a bare error object into the stream, as Gemini can; it names what failed (a 500 by default).
    expect(error).toMatchObject({ kind: 'unavailable', status: 500 });
  });
});

describe('Gemini adapter: 200s that are not answers', () => {
  // A bare server that replays one body, for shapes the fake Gemini has no fault for.
  let replay: FakeProviderServer;
  let body: unknown;
  let events: string[] = [];
  let raw: Provider;

  beforeAll(async () => {
    replay = await startFakeServer('gemini-replay', ({ req, res }) => {
      if (!req.url?.includes('alt=sse')) return sendJson(res, 200, body);
      startSse(res);
      for (const event of events) res.write(`data: ${event}\n\n`);
      res.end();
    });
    raw = createGeminiProvider({ apiKey: KEY, model: MODEL, baseUrl: replay.url, embeddingModel: EMBEDDING_MODEL, userAgent: USER_AGENT });
  });

  afterAll(async () => {
    await raw.close();
    await replay.close();
  });

  const candidate = (extra: object) => ({ candidates: [{ index: 0, ...extra }] });
  const says = (...texts: string[]) => ({ role: 'model', parts: texts.map((text) => ({ text })) });

  it.each([
    ['a candidate blocked for SAFETY', candidate({ finishReason: 'SAFETY' })],
    ['MAX_TOKENS spent on thinking, no parts', candidate({ content: { role: 'model' }, finishReason: 'MAX_TOKENS' })],
    ['PROHIBITED_CONTENT with empty text', candidate({ content: says(''), finishReason: 'PROHIBITED_CONTENT' })],
  ])('complete: %s is the request refused, not a failure of Gemini', async (_name, reply) => {
    body = reply;
    expect(await failure(raw.complete(ask('hi'), live()))).toMatchObject({ kind: 'rejected', retryable: false });
  });

  it.each([
    ['no candidates at all', { candidates: [] }],
    ['a STOP with no text', candidate({ content: says(''), finishReason: 'STOP' })],
  ])('complete: %s is bad_response', async (_name, reply) => {
    body = reply;
    expect((await failure(raw.complete(ask('hi'), live()))).kind).toBe('bad_response');
  });

  it.each(['SAFETY', 'RECITATION', 'LANGUAGE', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII'])('reads text cut for %s as content_filter, never as a whole answer', async (reason) => {
    body = candidate({ content: says('partial'), finishReason: reason });
    expect(await raw.complete(ask('hi'), live())).toMatchObject({ text: 'partial', finishReason: 'content_filter' });
  });

  it('keeps text cut by a filter, and counts thinking tokens as output', async () => {
    body = {
      ...candidate({ content: says('partial ', 'answer'), finishReason: 'RECITATION' }),
      usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 2, thoughtsTokenCount: 10, totalTokenCount: 17 },
    };
    expect(await raw.complete(ask('hi'), live())).toEqual({
      text: 'partial answer',
      model: MODEL,
      finishReason: 'content_filter',
      usage: { promptTokens: 5, completionTokens: 12, totalTokens: 17, reasoningTokens: 10 },
    });
  });

  it.each([
    ['null', null],
    ['a JSON array', [1, 2]],
    ['a string', 'candidates'],
    ['candidates that are not a list', { candidates: { 0: 'x' } }],
    ['parts that are not a list', candidate({ content: { parts: 'text' }, finishReason: 'STOP' })],
  ])('complete: %s in a 200 is bad_response, not a crash', async (_name, reply) => {
    body = reply;
    expect((await failure(raw.complete(ask('hi'), live()))).kind).toBe('bad_response');
  });

  it('stream: an error event fails like its HTTP status would, with the RetryInfo wait', async () => {
    events = [
      JSON.stringify(candidate({ content: says('Hel') })),
      JSON.stringify({
        error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: `quota for ${KEY}`, details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '3s' }] },
      }),
    ];
    const { seen, error } = await streamFailure(raw.stream(ask('hi'), live()));
    expect(seen.map((c) => c.text)).toEqual(['Hel']);
    expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 3000, message: 'Gemini answered HTTP 429 (RESOURCE_EXHAUSTED)' });
  });

  it('stream: an event that is not JSON is bad_response', async () => {
    events = ['{"candidates": ['];
    expect((await failure(collect(raw.stream(ask('hi'), live())))).kind).toBe('bad_response');
  });

  it.each([
    ['an empty body', []],
    ['text but no finish reason', [JSON.stringify(candidate({ content: says('half') }))]],
  ])('stream: %s is bad_response', async (_name, replayed) => {
    events = replayed;
    expect((await failure(collect(raw.stream(ask('hi'), live())))).kind).toBe('bad_response');
  });

  it.each([
    ['a SAFETY stop before any text', [JSON.stringify(candidate({ finishReason: 'SAFETY' }))]],
    ['MAX_TOKENS before any text', [JSON.stringify(candidate({ content: { role: 'model' }, finishReason: 'MAX_TOKENS' }))]],
  ])('stream: %s is the request refused', async (_name, replayed) => {
    events = replayed;
    expect((await failure(collect(raw.stream(ask('hi'), live())))).kind).toBe('rejected');
  });
});

describe('Gemini adapter: signals', () => {
  it('turns a hang into a timeout quickly and the fake sees the client leave', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new DOMException('t', 'TimeoutError')), 50);
    const started = Date.now();
    const error = await failure(gemini.complete(ask('hi'), controller.signal));
    expect(error.kind).toBe('timeout');
    // The signal, not the hang (which never ends), ended the call.
    expect(Date.now() - started).toBeLessThan(5_000);
    await eventually(() => fake.abortedRequests === 1);
  });

  it('turns a hung stream into a timeout', async () => {
    fake.enqueue({ kind: 'hang' });
    const error = await failure(collect(gemini.stream(ask('hi'), AbortSignal.timeout(50))));
    expect(error.kind).toBe('timeout');
    await eventually(() => fake.abortedRequests === 1);
  });

  it('reports a plain abort as aborted', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const error = await failure(gemini.complete(ask('hi'), controller.signal));
    expect(error.kind).toBe('aborted');
    await eventually(() => fake.abortedRequests === 1);
  });

  it('throws when the signal fires in the middle of a stream', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 40 });
    const controller = new AbortController();
    const received: string[] = [];
    const error = await failure(
      (async () => {
        for await (const chunk of gemini.stream(ask('hi'), controller.signal)) {
          received.push(chunk.text);
          if (received.length === 1) controller.abort();
        }
      })(),
    );
    expect(error.kind).toBe('aborted');
    expect(received).toHaveLength(1);
    await eventually(() => fake.abortedRequests === 1);
  });

  it('cancels the upstream body when the consumer stops reading', async () => {
    fake.enqueue({ kind: 'trickle', delayMs: 40 });
    for await (const chunk of gemini.stream(ask('hi'), live())) {
      expect(chunk.text).not.toBe('');
      break;
    }
    await eventually(() => fake.abortedRequests === 1);
  });

  it('sends nothing for an already-aborted signal', async () => {
    const signal = AbortSignal.abort();
    expect((await failure(gemini.complete(ask('hi'), signal))).kind).toBe('aborted');
    expect((await failure(collect(gemini.stream(ask('hi'), signal)))).kind).toBe('aborted');
    expect((await failure(embed({ inputs: ['x'] }, signal))).kind).toBe('aborted');
    const timedOut = AbortSignal.abort(new DOMException('t', 'TimeoutError'));
    expect((await failure(gemini.complete(ask('hi'), timedOut))).kind).toBe('timeout');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('Gemini adapter: embeddings', () => {
  it('embeds one input with embedContent', async () => {
    const result = await embed({ inputs: ['hello'] }, live());
    expect(result.model).toBe(EMBEDDING_MODEL);
    expect(result.vectors).toHaveLength(1);
    expect(result.vectors[0]).toHaveLength(8);
    expect(fake.requests[0]?.path).toBe(`/v1beta/models/${EMBEDDING_MODEL}:embedContent`);
    expect(fake.requests[0]?.body).toEqual({ content: { role: 'user', parts: [{ text: 'hello' }] } });
  });

  it('embeds several inputs in one batch, in order, with the same vectors as one by one', async () => {
    const inputs = ['alpha', 'beta', 'gamma'];
    const batch = await embed({ inputs }, live());
    expect(fake.requests[0]?.path).toBe(`/v1beta/models/${EMBEDDING_MODEL}:batchEmbedContents`);
    expect(fake.requests[0]?.body).toEqual({
      requests: inputs.map((text) => ({
        content: { role: 'user', parts: [{ text }] },
        model: `models/${EMBEDDING_MODEL}`,
      })),
    });
    const single = await Promise.all(inputs.map((text) => embed({ inputs: [text] }, live())));
    expect(batch.vectors).toEqual(single.map((s) => s.vectors[0]));
    expect(new Set(batch.vectors.map((v) => v.join())).size).toBe(3);
  });

  it('maps embedding failures like any other call', async () => {
    fake.enqueue({ kind: 'rate_limited', retryAfterSeconds: 2 }, { kind: 'malformed' }, { kind: 'bad_response' });
    expect(await failure(embed({ inputs: ['x'] }, live()))).toMatchObject({
      kind: 'rate_limited',
      retryAfterMs: 2000,
    });
    expect((await failure(embed({ inputs: ['x'] }, live()))).kind).toBe('bad_response');
    expect((await failure(embed({ inputs: ['x', 'y'] }, live()))).kind).toBe('bad_response');
  });
});

describe('fake Gemini wire details', () => {
  it('accepts ?key=, lists models, and answers auth failures with Google bodies', async () => {
    const list = await fetch(`${fake.url}/v1beta/models?key=${KEY}`);
    expect(list.status).toBe(200);
    const { models } = (await list.json()) as { models: Array<{ name: string }> };
    expect(models.map((m) => m.name)).toEqual([`models/${MODEL}`, 'models/gemini-other', `models/${EMBEDDING_MODEL}`]);

    const missing = await fetch(`${fake.url}/v1beta/models/${MODEL}`);
    expect(missing.status).toBe(403);
    expect(await missing.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });

    const wrong = await fetch(`${fake.url}/v1beta/models/${MODEL}`, { headers: { 'x-goog-api-key': 'nope' } });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({
      error: { code: 400, status: 'INVALID_ARGUMENT', details: [{ reason: 'API_KEY_INVALID' }, {}] },
    });

    expect((await fetch(`${fake.url}/nowhere?key=${KEY}`)).status).toBe(404);
  });

  it('frames stream events as single-line data fields ended by CRLF CRLF, with no [DONE]', async () => {
    const response = await fetch(`${fake.url}/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: { 'x-goog-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    const body = await response.text();
    const events = body.split('\r\n\r\n');
    expect(events.at(-1)).toBe('');
    expect(events.slice(0, -1).every((e) => /^data: \{.*\}$/.test(e))).toBe(true);
    expect(body).not.toContain('[DONE]');
  });
});

describe('transport', () => {
  it("sends its calls over the provider's own keep-alive pool, which close() releases", async () => {
    const open = new Set<Socket>();
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => sendJson(res, 200, { candidates: [{ index: 0, content: { role: 'model', parts: [{ text: 'pooled' }] }, finishReason: 'STOP' }] }));
    });
    server.on('connection', (socket: Socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const provider = createGeminiProvider({
      apiKey: KEY,
      model: MODEL,
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      embeddingModel: EMBEDDING_MODEL,
      userAgent: USER_AGENT,
    });
    try {
      for (let i = 0; i < 3; i += 1) expect((await provider.complete(ask('hi'), live())).text).toBe('pooled');
      // Kept alive between calls; Node's shared pool would also keep them past close().
      expect(open.size).toBeGreaterThan(0);
      await provider.close();
      await expect.poll(() => open.size).toBe(0);
    } finally {
      server.close();
    }
  });
});

// Last on purpose: a forgotten rejection handler would show up here.
it('left no unhandled promise rejection behind', async () => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(unhandled).toEqual([]);
});
