// How the gateway conducts itself when a provider misbehaves in the ways that matter most to a
// careful caller: one malformed event in a healthy stream, a refusal on content grounds, and a
// short Retry-After. Through real HTTP, with the official OpenAI SDK as the client, streamed and
// whole, against the fake providers.
import { APIError, BadRequestError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { numberedWords } from '../src/simulator/fake-server.ts';
import { errorOf, json, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { sdk } from './openai/helpers.ts';

const ASK = [{ role: 'user' as const, content: 'Tell me a long story' }];
const SIXTY = numberedWords(60);

let gateway: TestGateway;
afterEach(() => gateway?.close());

/** The whole text of a streamed answer through the SDK, and its last chunk's finish reason. */
async function streamed(gateway: TestGateway, model: string) {
  const stream = await sdk(gateway).chat.completions.create({ model, messages: ASK, stream: true });
  let text = '';
  let finish: string | null | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

async function whole(gateway: TestGateway, model: string) {
  const reply = await sdk(gateway).chat.completions.create({ model, messages: ASK }).withResponse();
  return { status: reply.response.status, provider: reply.response.headers.get('x-llm-provider'), text: reply.data.choices[0]?.message.content, finish: reply.data.choices[0]?.finish_reason };
}

const summary = (gateway: TestGateway) => gateway.logs.filter((line) => line.msg === 'request completed').at(-1);

describe('a malformed event in a healthy stream', () => {
  for (const provider of ['groq', 'openrouter', 'gemini'] as const) {
    it(`is skipped, and ${provider}'s answer (60 words, the bad event after the 10th) arrives whole, streamed and not`, async () => {
      gateway = await startGateway();
      const fake = gateway.fakes[provider];
      fake.setDefault({ kind: 'malformed_event', afterChunks: 10, words: 60 });

      const stream = await streamed(gateway, provider);
      expect(stream).toEqual({ text: SIXTY, finish: 'stop' });
      expect(summary(gateway)).toMatchObject({ status: 200, provider, skipped_events: 1 });

      const answer = await whole(gateway, provider);
      expect(answer).toEqual({ status: 200, provider, text: SIXTY, finish: 'stop' });
      expect(summary(gateway)).toMatchObject({ status: 200, provider, skipped_events: 1 });
      // Asked once each: nothing failed over.
      expect(fake.requests).toHaveLength(2);
    });
  }

  it('still fails a stream that then ends without a finish reason (and moves on before the first token)', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', MAX_RETRIES: '0' });
    // The old fault: the broken event, then [DONE] with no finish.
    gateway.fakes.groq.setDefault({ kind: 'malformed' });
    const answer = await whole(gateway, 'auto');
    expect(answer).toMatchObject({ status: 200, provider: 'openrouter' });
    expect(summary(gateway)).toMatchObject({ attempts: [expect.objectContaining({ provider: 'groq', outcome: 'bad_response' }), expect.objectContaining({ provider: 'openrouter', outcome: 'ok' })] });
    expect(summary(gateway)?.skipped_events).toBeUndefined();
  });
});

describe('a content-policy refusal', () => {
  const cases = [
    { provider: 'groq', fault: { kind: 'content_policy' as const }, what: "an OpenAI-compatible 400 content_policy_violation" },
    { provider: 'openrouter', fault: { kind: 'content_policy' as const }, what: "OpenRouter's 403 for flagged input" },
    { provider: 'gemini', fault: { kind: 'blocked' as const }, what: "Gemini's promptFeedback.blockReason" },
    { provider: 'groq', fault: { kind: 'blocked' as const }, what: 'an answer withheld with finish_reason content_filter' },
  ];
  for (const { provider, fault, what } of cases) {
    it(`reaches the caller by default: ${what}`, async () => {
      const others = ['gemini', 'groq', 'openrouter'].filter((name) => name !== provider);
      gateway = await startGateway({ MAX_RETRIES: '0', PROVIDER_ORDER: [provider, ...others].join(',') });
      gateway.fakes[provider as 'groq'].setDefault(fault);

      // /query: a 400 of its own, naming the provider; nobody else was asked.
      const refused = await query(gateway, { prompt: 'something a filter refuses' });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('x-llm-provider')).toBeNull();
      const error = await errorOf(refused);
      expect(error.code).toBe('content_filtered');
      expect(error.message).toContain(`Provider ${provider} refused this request under its content policy`);

      // /v1, whole and streamed: the SDK raises BadRequestError with the code.
      for (const stream of [false, true]) {
        const thrown = await sdk(gateway)
          .chat.completions.create({ model: provider, messages: ASK, stream })
          .then(async (s) => {
            if (stream) for await (const _ of s as AsyncIterable<unknown>);
          })
          .catch((e: unknown) => e);
        expect(thrown).toBeInstanceOf(BadRequestError);
        expect(thrown).toMatchObject({ status: 400, code: 'content_filtered', type: 'invalid_request_error' });
      }
      for (const other of others) expect(gateway.fakes[other as 'groq'].requests).toHaveLength(0);
    });
  }

  it('is routed around only with ON_CONTENT_FILTER=next, streamed and whole', async () => {
    gateway = await startGateway({ ON_CONTENT_FILTER: 'next', MAX_RETRIES: '0' });
    gateway.fakes.gemini.setDefault({ kind: 'blocked' });
    const answered = await json(query(gateway, { prompt: 'something a filter refuses' }));
    expect(answered.provider).toBe('groq');
    expect(answered.attempts.map((a: { provider: string; outcome: string }) => `${a.provider}:${a.outcome}`)).toEqual(['gemini:rejected', 'groq:ok']);
    expect(await whole(gateway, 'auto')).toMatchObject({ status: 200, provider: 'groq', finish: 'stop' });
    expect((await streamed(gateway, 'auto')).finish).toBe('stop');
    // When every provider refuses, the refusal is still what the caller is told.
    gateway.fakes.groq.setDefault({ kind: 'content_policy' });
    gateway.fakes.openrouter.setDefault({ kind: 'content_policy' });
    const refused = await query(gateway, { prompt: 'x' });
    expect(refused.status).toBe(400);
    expect(await errorOf(refused)).toMatchObject({ code: 'content_filtered', message: expect.stringContaining('Provider openrouter refused') });
  });

  it('leaves refusals that are not about content as they were: the next provider is asked', async () => {
    gateway = await startGateway({ MAX_RETRIES: '0' });
    // A 400 that is about the request's form (Groq's context length, a parameter it does not take).
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 400 });
    const answered = await json(query(gateway, { prompt: 'x' }));
    expect(answered.provider).toBe('groq');
    expect(answered.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['rejected', 'ok']);
  });
});

describe('a short Retry-After', () => {
  it('is waited out once on the first provider, which then answers, streamed and whole', async () => {
    // Retry-After: 1 s fits under RETRY_AFTER_WAIT_MAX_MS and leaves the attempt its time in the budget.
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', RETRY_AFTER_WAIT_MAX_MS: '2000', REQUEST_TIMEOUT_MS: '5000' });
    for (const ask of [() => whole(gateway, 'auto'), () => streamed(gateway, 'auto')]) {
      gateway.resetFakes();
      gateway.fakes.groq.enqueue({ kind: 'rate_limited', retryAfterSeconds: 1 }, { kind: 'ok' });
      const answer = await ask();
      expect(answer.finish).toBe('stop');
      expect(summary(gateway)).toMatchObject({ status: 200, provider: 'groq' });
      expect(summary(gateway)?.attempts).toEqual([expect.objectContaining({ provider: 'groq', outcome: 'rate_limited', status: 429 }), expect.objectContaining({ provider: 'groq', outcome: 'ok' })]);
      const [first, second] = gateway.fakes.groq.requests;
      expect(gateway.fakes.groq.requests).toHaveLength(2);
      // The second request came no sooner than the Retry-After said.
      expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(1000);
      expect(gateway.fakes.openrouter.requests).toHaveLength(0);
    }
  });

  it('lets other requests skip the cooling provider while one waits for it', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', RETRY_AFTER_WAIT_MAX_MS: '2000', REQUEST_TIMEOUT_MS: '5000' });
    gateway.fakes.groq.enqueue({ kind: 'rate_limited', retryAfterSeconds: 2 }, { kind: 'ok' });
    const waiting = json(query(gateway, { prompt: 'waits' }));
    await expect.poll(() => gateway.fakes.groq.requests.length, { interval: 5 }).toBe(1);
    // Sent while the first request waits out Groq's two seconds.
    const meanwhile = await json(query(gateway, { prompt: 'meanwhile' }));
    expect(meanwhile.attempts.map((a: { provider: string; outcome: string }) => `${a.provider}:${a.outcome}`)).toEqual(['groq:cooling_down', 'openrouter:ok']);
    const waited = await waiting;
    expect(waited.provider).toBe('groq');
    expect(waited.attempts.map((a: { provider: string; outcome: string }) => `${a.provider}:${a.outcome}`)).toEqual(['groq:rate_limited', 'groq:ok']);
    expect(gateway.fakes.groq.requests).toHaveLength(2);
  });

  it('waits out Retry-After: 2 under the default limit and budget', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', REQUEST_TIMEOUT_MS: '10000', PROVIDER_TIMEOUT_MS: '5000', FIRST_TOKEN_TIMEOUT_MS: '4000' });
    gateway.fakes.groq.enqueue({ kind: 'rate_limited', retryAfterSeconds: 2 }, { kind: 'ok' });
    const answered = await json(query(gateway, { prompt: 'x' }));
    expect(answered.provider).toBe('groq');
    const [first, second] = gateway.fakes.groq.requests;
    expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(2000);
  });

  it('is not waited when longer than the limit, or when RETRY_AFTER_WAIT_MAX_MS is 0: the next provider answers', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', RETRY_AFTER_WAIT_MAX_MS: '2000', REQUEST_TIMEOUT_MS: '5000' });
    gateway.fakes.groq.enqueue({ kind: 'rate_limited', retryAfterSeconds: 3 });
    const long = await json(query(gateway, { prompt: 'x' }));
    expect(long.provider).toBe('openrouter');
    expect(gateway.fakes.groq.requests).toHaveLength(1);
    // Meanwhile other requests skip the cooling provider.
    const meanwhile = await json(query(gateway, { prompt: 'y' }));
    expect(meanwhile.attempts.map((a: { provider: string; outcome: string }) => `${a.provider}:${a.outcome}`)).toEqual(['groq:cooling_down', 'openrouter:ok']);
    await gateway.close();

    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', RETRY_AFTER_WAIT_MAX_MS: '0', REQUEST_TIMEOUT_MS: '5000' });
    gateway.fakes.groq.enqueue({ kind: 'rate_limited', retryAfterSeconds: 1 });
    expect((await json(query(gateway, { prompt: 'x' }))).provider).toBe('openrouter');
    expect(gateway.fakes.groq.requests).toHaveLength(1);
  });

  it('is not waited when the wait would not leave the attempt its time within the budget', async () => {
    // 1 s wait + 400 ms attempt time > what is left of a 1.2 s budget.
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', RETRY_AFTER_WAIT_MAX_MS: '2000', REQUEST_TIMEOUT_MS: '1200' });
    gateway.fakes.groq.enqueue({ kind: 'rate_limited', retryAfterSeconds: 1 });
    const reply = await sdk(gateway).chat.completions.create({ model: 'auto', messages: ASK });
    expect(reply.model).toMatch(/^openrouter\//);
    expect(gateway.fakes.groq.requests).toHaveLength(1);
    expect(gateway.fakes.openrouter.requests).toHaveLength(1);
  });
});

describe('a stream that breaks after its first text', () => {
  const FORTY = `${numberedWords(40)} `;
  const TWENTY = `${numberedWords(20)} `;

  /** Streams through the SDK with include_usage: every text, the chunks' models, the finish, the usage, or the error. */
  async function read(gateway: TestGateway) {
    const stream = await sdk(gateway).chat.completions.create({ model: 'auto', messages: ASK, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const models: string[] = [];
    let finish: string | null | undefined;
    let usage: unknown;
    try {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        models.push(chunk.model);
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
    } catch (error) {
      return { text, models, finish, usage, error };
    }
    return { text, models, finish, usage, error: undefined };
  }

  const lastTurn = (gateway: TestGateway, name: 'groq') => (gateway.fakes[name].requests.at(-1)?.body as { messages: unknown[] }).messages.at(-1);

  for (const [what, fault, sent] of [
    ['cut after 40 words', { kind: 'stream_cut', afterChunks: 40, words: 60 }, FORTY],
    ['stalled after 20 words', { kind: 'stream_stall', afterChunks: 20, words: 60 }, TWENTY],
  ] as const) {
    it(`with STREAM_RESUME=true, ${what}, is finished by the fallback from where it stopped`, async () => {
      gateway = await startGateway({ STREAM_RESUME: 'true', PROVIDER_ORDER: 'openrouter,groq', MAX_RETRIES: '0' });
      gateway.fakes.openrouter.setDefault(fault);
      gateway.fakes.groq.setDefault({ kind: 'ok', words: 60 });
      const result = await read(gateway);
      expect(result.error).toBeUndefined();
      expect(result.text).toBe(SIXTY);
      expect(result.finish).toBe('stop');
      // The fallback was asked to continue: the conversation, then the text sent so far as the assistant's turn.
      expect(gateway.fakes.groq.requests).toHaveLength(1);
      expect(lastTurn(gateway, 'groq')).toEqual({ role: 'assistant', content: sent });
      // The first chunks name the first provider; the last ones, both.
      expect(result.models[0]).toMatch(/^openrouter\//);
      expect(result.models.at(-1)).toMatch(/^openrouter\/[^,]+,groq\/openai\/gpt-oss-20b$/);
      // The usage is both providers' counts added; the broken stream sent none, so the fallback's.
      expect((result.usage as { completion_tokens: number }).completion_tokens).toBeGreaterThan(0);
    });
  }

  it('with STREAM_RESUME=true, is finished by a Gemini 2.x fallback, sent the partial answer as a trailing model turn', async () => {
    gateway = await startGateway({ STREAM_RESUME: 'true', PROVIDER_ORDER: 'openrouter,gemini', GEMINI_MODEL: 'gemini-2.5-flash', MAX_RETRIES: '0' });
    gateway.fakes.openrouter.setDefault({ kind: 'stream_cut', afterChunks: 40, words: 60 });
    gateway.fakes.gemini.setDefault({ kind: 'ok', words: 60 });
    const result = await read(gateway);
    expect(result.error).toBeUndefined();
    expect(result.text).toBe(SIXTY);
    expect(result.models.at(-1)).toMatch(/^openrouter\/[^,]+,gemini\/gemini-2\.5-flash$/);
    const contents = (gateway.fakes.gemini.requests[0]?.body as { contents: unknown[] }).contents;
    expect(contents.at(-1)).toEqual({ role: 'model', parts: [{ text: FORTY }] });
  });

  it('with STREAM_RESUME=true but no fallback that takes a partial turn, ends with the error event, not a restarted answer', async () => {
    // Gemini's default model (3.x) refuses a conversation ending with a model turn; OpenRouter's row takes no prefill.
    gateway = await startGateway({ STREAM_RESUME: 'true', PROVIDER_ORDER: 'groq,gemini,openrouter', MAX_RETRIES: '0' });
    gateway.fakes.groq.setDefault({ kind: 'stream_cut', afterChunks: 40, words: 60 });
    const result = await read(gateway);
    expect(result.error).toBeInstanceOf(APIError);
    expect(result.text).toBe(FORTY);
    expect(result.finish).toBeUndefined();
    // Gemini refused before its call; OpenRouter was never asked to start over.
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
    expect(gateway.fakes.openrouter.requests).toHaveLength(0);
    expect(summary(gateway)?.attempts).toEqual([expect.objectContaining({ provider: 'groq', outcome: 'ok' }), expect.objectContaining({ provider: 'gemini', outcome: 'rejected' })]);
  });

  it('without STREAM_RESUME, ends with the error event as before', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,groq', MAX_RETRIES: '0' });
    gateway.fakes.openrouter.setDefault({ kind: 'stream_cut', afterChunks: 40, words: 60 });
    const result = await read(gateway);
    expect(result.error).toBeInstanceOf(APIError);
    expect(result.text).toBe(FORTY);
    expect(gateway.fakes.groq.requests).toHaveLength(0);
  });

  it('as a whole answer, is replaced by the next provider unseen, whatever STREAM_RESUME says', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,groq', MAX_RETRIES: '0' });
    gateway.fakes.openrouter.setDefault({ kind: 'stream_cut', afterChunks: 40, words: 60 });
    gateway.fakes.groq.setDefault({ kind: 'ok', words: 60 });
    expect(await whole(gateway, 'auto')).toEqual({ status: 200, provider: 'groq', text: SIXTY, finish: 'stop' });
    // Asked afresh, not to continue.
    expect(lastTurn(gateway, 'groq')).toMatchObject({ role: 'user' });
  });
});
