// The providers' official SDKs as oracles of what an answer may look like. Every answer our fakes
// give (whole, streamed, error statuses, an error inside a stream, thought parts and reasoning
// deltas, a budget spent on thinking, a retired model, the requests the real APIs refuse, daily
// limits, a guardrail) is read by the official SDK (@google/genai, groq-sdk, openai) and by our
// adapter, built the way the gateway builds it. The SDK must read it without an unexpected error
// (or fail with the expected error class and status), and give the same text, usage and finish
// reason as our reader. Where the two legitimately differ, the difference is asserted, with why.
import { ApiError, GoogleGenAI, ThinkingLevel, type Content, type GenerateContentConfig, type GenerateContentResponse } from '@google/genai';
import Groq from 'groq-sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ProviderError } from '../../src/providers/provider-error.ts';
import type { CompletionRequest, FinishReason, Provider, TokenUsage } from '../../src/providers/types.ts';
import { startFakeGemini } from '../../src/simulator/fake-gemini.ts';
import { startFakeGroq } from '../../src/simulator/fake-groq.ts';
import { startFakeOpenRouter } from '../../src/simulator/fake-openrouter.ts';
import type { FakeProviderServer, Fault } from '../../src/simulator/fake-server.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';
import { adapterFromEnv } from './openai-compatible-contract.ts';

const KEY = 'oracle-answer-key';
const PROMPT = 'What is the capital of France?';

/** What a reader made of an answer, in our terms. */
interface Read {
  text: string;
  usage: TokenUsage | undefined;
  finishReason: FinishReason | undefined;
}

const toFinishReason = (reason: string | null | undefined): FinishReason | undefined =>
  reason === null || reason === undefined ? undefined : reason === 'stop' || reason === 'length' || reason === 'content_filter' ? reason : 'other';

async function oursWhole(provider: Provider, request: CompletionRequest): Promise<Read> {
  const { text, usage, finishReason } = await provider.complete(request, live());
  return { text, usage, finishReason };
}

async function oursStreamed(provider: Provider, request: CompletionRequest): Promise<Read & { thinking: number }> {
  const chunks = await collect(provider.stream(request, live()));
  const last = chunks.at(-1);
  return { text: chunks.map((c) => c.text).join(''), usage: last?.usage, finishReason: last?.finishReason, thinking: chunks.filter((c) => c.thinking).length };
}

/** The error a call fails with; the test fails if it succeeds. */
async function sdkFailure(work: Promise<unknown>): Promise<Error & { status?: number }> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error & { status?: number };
}

function unhandledWatch() {
  const seen: unknown[] = [];
  const note = (reason: unknown) => void seen.push(reason);
  return { seen, on: () => process.on('unhandledRejection', note), off: () => process.off('unhandledRejection', note) };
}

describe('Gemini: @google/genai reads every answer of the fake as our adapter does', () => {
  const MODEL = 'gemini-3.8-flash';
  const unhandled = unhandledWatch();
  let fake: FakeProviderServer;
  let ours: Provider;
  let sdk: GoogleGenAI;

  beforeAll(async () => {
    unhandled.on();
    fake = await startFakeGemini({ apiKey: KEY, models: [MODEL, 'gemini-3.5-flash-lite'] });
    // The default reasoning setting: the least thinking the model takes (low, for 3.8 Flash).
    ours = await adapterFromEnv('gemini', { GEMINI_API_KEY: KEY, GEMINI_BASE_URL: fake.url, GEMINI_MODEL: MODEL });
    sdk = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: fake.url, apiVersion: 'v1beta' } });
  });
  afterAll(async () => {
    await ours.close();
    await fake.close();
    unhandled.off();
    expect(unhandled.seen).toEqual([]);
  });
  beforeEach(() => fake.reset());

  const request = (maxTokens = 256, model?: string): CompletionRequest => ({ messages: [{ role: 'user', content: PROMPT }], maxTokens, ...(model && { model }) });
  // What our adapter sends for that request, through the SDK (sdk-oracle-requests.test.ts checks they agree).
  const sdkConfig = (maxTokens = 256, extra: GenerateContentConfig = {}): GenerateContentConfig => ({
    maxOutputTokens: maxTokens,
    thinkingConfig: { thinkingLevel: ThinkingLevel.LOW, ...extra.thinkingConfig },
    ...extra,
  });
  const contents: Content[] = [{ role: 'user', parts: [{ text: PROMPT }] }];

  function read(response: GenerateContentResponse): Read {
    const meta = response.usageMetadata;
    const thoughts = meta?.thoughtsTokenCount ?? 0;
    return {
      text: response.text ?? '',
      usage: meta && {
        promptTokens: meta.promptTokenCount,
        completionTokens: (meta.candidatesTokenCount ?? 0) + thoughts,
        totalTokens: meta.totalTokenCount,
        ...(thoughts > 0 && { reasoningTokens: thoughts }),
      },
      finishReason: geminiFinish(response.candidates?.[0]?.finishReason),
    };
  }
  const geminiFinish = (reason: string | undefined): FinishReason | undefined =>
    reason === undefined ? undefined : reason === 'STOP' ? 'stop' : reason === 'MAX_TOKENS' ? 'length' : reason === 'SAFETY' ? 'content_filter' : 'other';

  const sdkWhole = async (config = sdkConfig(), model = MODEL, body = contents) => sdk.models.generateContent({ model, contents: body, config });
  async function sdkStreamed(config = sdkConfig()): Promise<{ read: Read; chunks: GenerateContentResponse[] }> {
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of await sdk.models.generateContentStream({ model: MODEL, contents, config })) chunks.push(chunk);
    const last = chunks.at(-1)!;
    return { read: { ...read(last), text: chunks.map((c) => c.text ?? '').join('') }, chunks };
  }

  it('a whole answer: same text, usage (thinking tokens included) and finish reason', async () => {
    const theirs = read(await sdkWhole());
    const mine = await oursWhole(ours, request());
    expect(mine).toEqual(theirs);
    expect(mine.usage?.reasoningTokens).toBeGreaterThan(0);
    expect(mine.finishReason).toBe('stop');
  });

  it('a streamed answer: same text, usage and finish reason', async () => {
    const { read: theirs, chunks } = await sdkStreamed();
    expect(chunks.length).toBeGreaterThan(1);
    const { thinking, ...mine } = await oursStreamed(ours, request());
    expect(mine).toEqual(theirs);
    expect(thinking).toBe(0);
  });

  it('thought parts are not answer text, to the SDK as to us', async () => {
    const withThoughts = sdkConfig(256, { thinkingConfig: { thinkingLevel: ThinkingLevel.LOW, includeThoughts: true } });
    const whole = await sdkWhole(withThoughts);
    expect(whole.candidates?.[0]?.content?.parts?.some((part) => part.thought === true)).toBe(true);
    expect(read(whole)).toEqual(await oursWhole(ours, request()));
    const { read: streamed, chunks } = await sdkStreamed(withThoughts);
    // The thoughts come in an event of their own, which the SDK reads as no text.
    expect(chunks[0]?.candidates?.[0]?.content?.parts?.[0]?.thought).toBe(true);
    expect(chunks[0]?.text).toBeUndefined();
    const { thinking: _thinking, ...mine } = await oursStreamed(ours, request());
    expect(mine).toEqual(streamed);
  });

  it('a budget spent on thinking: the SDK hands back no text; ours refuses the empty answer so another provider is asked', async () => {
    const theirs = await sdkWhole(sdkConfig(10));
    expect(theirs.candidates?.[0]?.content?.parts).toBeUndefined();
    expect(read(theirs)).toMatchObject({ text: '', finishReason: 'length', usage: { reasoningTokens: 10 } });
    expect(await failure(ours.complete(request(10), live()))).toMatchObject({ kind: 'rejected' });
    const { read: streamed } = await sdkStreamed(sdkConfig(10));
    expect(streamed).toMatchObject({ text: '', finishReason: 'length' });
    expect((await streamFailure(ours.stream(request(10), live()))).error).toMatchObject({ kind: 'rejected' });
  });

  const statuses: Array<{ fault: Fault; status: number; kind: ProviderError['kind'] }> = [
    { fault: { kind: 'error', status: 503 }, status: 503, kind: 'unavailable' },
    { fault: { kind: 'error', status: 500 }, status: 500, kind: 'unavailable' },
    { fault: { kind: 'rate_limited', retryAfterSeconds: 46 }, status: 429, kind: 'rate_limited' },
    // A wrong key is a 400 at Gemini; only its ErrorInfo tells it apart.
    { fault: { kind: 'unauthorized' }, status: 400, kind: 'misconfigured' },
  ];
  for (const { fault, status, kind } of statuses) {
    it(`${fault.kind} ${status}: an ApiError with the status to the SDK, ${kind} to us`, async () => {
      fake.enqueue(fault, fault, fault, fault);
      const whole = await sdkFailure(sdkWhole());
      expect(whole).toBeInstanceOf(ApiError);
      expect(whole.status).toBe(status);
      const streamed = await sdkFailure(sdkStreamed());
      expect(streamed).toBeInstanceOf(ApiError);
      expect(streamed.status).toBe(status);
      const mine = await failure(ours.complete(request(), live()));
      expect(mine).toMatchObject({ kind, status });
      expect((await streamFailure(ours.stream(request(), live()))).error).toMatchObject({ kind, status });
      // Gemini sends no Retry-After: the wait is in RetryInfo, which the SDK leaves to its caller.
      if (fault.kind === 'rate_limited') expect(mine.retryAfterMs).toBe(46_000);
    });
  }

  it('a daily quota: a 429 to both; ours parks Gemini until the quota resets', async () => {
    fake.enqueue({ kind: 'daily_limit' }, { kind: 'daily_limit' });
    const theirs = await sdkFailure(sdkWhole());
    expect(theirs).toBeInstanceOf(ApiError);
    expect(theirs.status).toBe(429);
    expect(theirs.message).toContain('GenerateRequestsPerDayPerProjectPerModel-FreeTier');
    const mine = await failure(ours.complete(request(), live()));
    expect(mine).toMatchObject({ kind: 'rate_limited', status: 429, message: expect.stringContaining('daily quota') });
    expect(mine.retryAfterMs).toBeGreaterThan(0);
    expect(mine.retryAfterMs).toBeLessThanOrEqual(24 * 3600_000);
  });

  it('an error inside a 200 stream: the SDK fails, and so does ours, as unavailable', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 2 }, { kind: 'stream_cut', afterChunks: 2 });
    const theirs = await sdkFailure(sdkStreamed());
    // The SDK sees the bare error object as an ApiError when it arrives in a network read of its
    // own; when it arrives with the events before it, the SDK fails on it as an unfinished event.
    if (theirs instanceof ApiError) expect(theirs.status).toBe(500);
    else expect(theirs.message).toBe('Incomplete JSON segment at the end');
    const { seen, error } = await streamFailure(ours.stream(request(), live()));
    expect(seen.map((c) => c.text).join('')).not.toBe('');
    expect(error).toMatchObject({ kind: 'unavailable', status: 500 });
  });

  it('a retired model: 404 to both; ours calls it a configuration problem', async () => {
    const theirs = await sdkFailure(sdkWhole(sdkConfig(), 'gemini-2.0-flash'));
    expect(theirs).toBeInstanceOf(ApiError);
    expect(theirs.status).toBe(404);
    expect(await failure(ours.complete(request(256, 'gemini-2.0-flash'), live()))).toMatchObject({ kind: 'misconfigured', status: 404 });
  });

  it('an empty message: the SDK sends it and gets the real 400; ours leaves it out and gets the answer', async () => {
    const withEmpty: Content[] = [{ role: 'user', parts: [{ text: '' }] }, { role: 'model', parts: [{ text: 'Yes?' }] }, ...contents];
    const theirs = await sdkFailure(sdkWhole(sdkConfig(), MODEL, withEmpty));
    expect(theirs).toBeInstanceOf(ApiError);
    expect(theirs.status).toBe(400);
    expect(theirs.message).toContain("contents[0].parts[0].data: required oneof field 'data' must have one initialized field");
    const mine = await oursWhole(ours, {
      messages: [{ role: 'user', content: '' }, { role: 'assistant', content: 'Yes?' }, { role: 'user', content: PROMPT }],
      maxTokens: 256,
    });
    expect(mine.text).toBe((await oursWhole(ours, request())).text);
  });

  it('a conversation ending with a model turn: the real 400 to the SDK; ours refuses it before calling', async () => {
    const trailing: Content[] = [...contents, { role: 'model', parts: [{ text: 'The capital is' }] }];
    const theirs = await sdkFailure(sdkWhole(sdkConfig(), MODEL, trailing));
    expect(theirs).toBeInstanceOf(ApiError);
    expect(theirs.status).toBe(400);
    expect(theirs.message).toContain('Requests ending with a model turn are not supported.');
    fake.reset();
    const mine = await failure(ours.complete({ messages: [{ role: 'user', content: PROMPT }, { role: 'assistant', content: 'The capital is' }], maxTokens: 256 }, live()));
    expect(mine).toMatchObject({ kind: 'rejected' });
    expect(fake.requests).toHaveLength(0);
  });

  it('a blocked prompt: no text and a block reason to the SDK; ours calls it the request\'s doing', async () => {
    fake.enqueue({ kind: 'blocked' });
    const theirs = await sdkWhole();
    expect(theirs.text).toBeUndefined();
    expect(theirs.promptFeedback?.blockReason).toBe('SAFETY');
    fake.enqueue({ kind: 'blocked' });
    expect(await failure(ours.complete(request(), live()))).toMatchObject({ kind: 'rejected' });
  });
});

/** An OpenAI-style answer as a Chat Completions SDK gives it, in our terms. */
interface ChatAnswer {
  choices?: Array<{ message?: { content?: string | null }; finish_reason?: string | null }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number; completion_tokens_details?: { reasoning_tokens?: number } | null } | null;
}
interface ChatChunk {
  choices?: Array<{ delta?: { content?: string | null; reasoning?: string | null }; finish_reason?: string | null }>;
  usage?: ChatAnswer['usage'];
  x_groq?: { error?: string };
}

function readUsage(usage: ChatAnswer['usage']): TokenUsage | undefined {
  if (!usage) return undefined;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  return { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, totalTokens: usage.total_tokens, ...(reasoning ? { reasoningTokens: reasoning } : {}) };
}

function readChat(answer: ChatAnswer): Read {
  const choice = answer.choices?.[0];
  return { text: choice?.message?.content ?? '', usage: readUsage(answer.usage), finishReason: toFinishReason(choice?.finish_reason) };
}

function readChunks(chunks: ChatChunk[]): Read & { reasoningDeltas: number } {
  let text = '';
  let finishReason: FinishReason | undefined;
  let usage: TokenUsage | undefined;
  let reasoningDeltas = 0;
  for (const chunk of chunks) {
    const choice = chunk.choices?.[0];
    text += choice?.delta?.content ?? '';
    if (choice?.delta?.reasoning) reasoningDeltas += 1;
    finishReason = toFinishReason(choice?.finish_reason) ?? finishReason;
    usage = readUsage(chunk.usage) ?? usage;
  }
  return { text, usage, finishReason, reasoningDeltas };
}

interface ChatSdk {
  create(params: Record<string, unknown>): Promise<unknown>;
}

async function sdkChunks(client: ChatSdk, params: Record<string, unknown>): Promise<ChatChunk[]> {
  const chunks: ChatChunk[] = [];
  const stream = (await client.create({ ...params, stream: true, stream_options: { include_usage: true } })) as AsyncIterable<ChatChunk>;
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('Groq: groq-sdk reads every answer of the fake as our adapter does', () => {
  const MODEL = 'openai/gpt-oss-20b';
  const unhandled = unhandledWatch();
  let fake: FakeProviderServer;
  let ours: Provider;
  let oursDefault: Provider;
  let sdk: ChatSdk;

  beforeAll(async () => {
    unhandled.on();
    fake = await startFakeGroq({ apiKey: KEY });
    ours = await adapterFromEnv('groq', { GROQ_API_KEY: KEY, GROQ_BASE_URL: fake.url });
    // With no reasoning control, gpt-oss reasons at medium and sends its reasoning.
    oursDefault = await adapterFromEnv('groq', { GROQ_API_KEY: KEY, GROQ_BASE_URL: fake.url, GROQ_REASONING_EFFORT: 'default' });
    const client = new Groq({ apiKey: KEY, baseURL: fake.url, maxRetries: 0 });
    sdk = { create: (params) => client.chat.completions.create(params as never) as Promise<unknown> };
  });
  afterAll(async () => {
    await ours.close();
    await oursDefault.close();
    await fake.close();
    unhandled.off();
    expect(unhandled.seen).toEqual([]);
  });
  beforeEach(() => fake.reset());

  const request = (maxTokens = 256, model?: string): CompletionRequest => ({ messages: [{ role: 'user', content: PROMPT }], maxTokens, ...(model && { model }) });
  // What our adapter sends by default (sdk-oracle-requests.test.ts checks the two agree).
  const params = (maxTokens = 256, model = MODEL): Record<string, unknown> => ({
    model,
    messages: [{ role: 'user', content: PROMPT }],
    max_completion_tokens: maxTokens,
    reasoning_effort: 'low',
    include_reasoning: false,
  });

  it('a whole answer: same text, usage (reasoning tokens included) and finish reason', async () => {
    const theirs = readChat((await sdk.create(params())) as ChatAnswer);
    const mine = await oursWhole(ours, request());
    expect(mine).toEqual(theirs);
    expect(mine.usage?.reasoningTokens).toBeGreaterThan(0);
  });

  it('a streamed answer: same text, usage and finish reason', async () => {
    const { reasoningDeltas, ...theirs } = readChunks(await sdkChunks(sdk, params()));
    expect(reasoningDeltas).toBe(0);
    const { thinking, ...mine } = await oursStreamed(ours, request());
    expect(mine).toEqual(theirs);
    expect(thinking).toBe(0);
  });

  it('reasoning deltas are not answer text: the SDK passes them on apart, ours counts them as signs of life', async () => {
    const { reasoning_effort: _e, include_reasoning: _i, ...plain } = params();
    const { reasoningDeltas, ...theirs } = readChunks(await sdkChunks(sdk, plain));
    expect(reasoningDeltas).toBeGreaterThan(0);
    const { thinking, ...mine } = await oursStreamed(oursDefault, request());
    expect(mine).toEqual(theirs);
    expect(thinking).toBe(reasoningDeltas);
    const whole = (await sdk.create(plain)) as ChatAnswer & { choices: Array<{ message: { reasoning?: string } }> };
    expect(whole.choices[0]?.message.reasoning).toBeTruthy();
    expect(readChat(whole)).toEqual(await oursWhole(oursDefault, request()));
  });

  it('a budget spent on reasoning: empty content and length to the SDK; ours refuses the empty answer', async () => {
    const theirs = readChat((await sdk.create(params(10))) as ChatAnswer);
    expect(theirs).toMatchObject({ text: '', finishReason: 'length', usage: { reasoningTokens: 10 } });
    expect(await failure(ours.complete(request(10), live()))).toMatchObject({ kind: 'rejected' });
    expect(readChunks(await sdkChunks(sdk, params(10)))).toMatchObject({ text: '', finishReason: 'length' });
    expect((await streamFailure(ours.stream(request(10), live()))).error).toMatchObject({ kind: 'rejected' });
  });

  const statuses: Array<{ fault: Fault; status: number; kind: ProviderError['kind']; type: new (...args: never[]) => Error }> = [
    { fault: { kind: 'error', status: 503 }, status: 503, kind: 'unavailable', type: Groq.InternalServerError },
    { fault: { kind: 'error', status: 500 }, status: 500, kind: 'unavailable', type: Groq.InternalServerError },
    { fault: { kind: 'rate_limited', retryAfterSeconds: 7 }, status: 429, kind: 'rate_limited', type: Groq.RateLimitError },
    { fault: { kind: 'unauthorized' }, status: 401, kind: 'misconfigured', type: Groq.AuthenticationError },
  ];
  for (const { fault, status, kind, type } of statuses) {
    it(`${fault.kind} ${status}: ${type.name} to the SDK, ${kind} to us`, async () => {
      fake.enqueue(fault, fault, fault, fault);
      const whole = await sdkFailure(sdk.create(params()));
      expect(whole).toBeInstanceOf(type);
      expect(whole.status).toBe(status);
      expect(await sdkFailure(sdkChunks(sdk, params()))).toMatchObject({ status });
      const mine = await failure(ours.complete(request(), live()));
      expect(mine).toMatchObject({ kind, status });
      expect((await streamFailure(ours.stream(request(), live()))).error).toMatchObject({ kind, status });
      if (fault.kind === 'rate_limited') expect(mine.retryAfterMs).toBe(7000);
    });
  }

  it('a retired model: NotFoundError 404 to the SDK; ours says the model is gone', async () => {
    const theirs = await sdkFailure(sdk.create(params(256, 'llama-3.1-8b-instant')));
    expect(theirs).toBeInstanceOf(Groq.NotFoundError);
    expect((theirs as InstanceType<typeof Groq.NotFoundError>).error).toMatchObject({ error: { code: 'model_not_found' } });
    expect(await failure(oursDefault.complete(request(256, 'llama-3.1-8b-instant'), live()))).toMatchObject({ kind: 'misconfigured', status: 404, modelNotFound: true });
  });

  it('a stream stopped early (x_groq.error): groq-sdk does not notice; ours fails it', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 2 }, { kind: 'stream_cut', afterChunks: 2 });
    // groq-sdk reads the last chunk's x_groq.error as any other field and ends the loop quietly,
    // with part of the answer and no finish reason: the caller would take it for an answer.
    const chunks = await sdkChunks(sdk, params());
    expect(chunks.at(-1)?.x_groq?.error).toMatch(/stopped generating early/);
    const theirs = readChunks(chunks);
    expect(theirs.text).not.toBe('');
    expect(theirs.finishReason).toBeUndefined();
    const { seen, error } = await streamFailure(ours.stream(request(), live()));
    expect(seen.map((c) => c.text).join('')).toBe(theirs.text);
    expect(error).toMatchObject({ kind: 'unavailable' });
  });
});

describe('OpenRouter: openai reads every answer of the fake as our adapter does', () => {
  const MODEL = 'openrouter/free';
  const unhandled = unhandledWatch();
  let fake: FakeProviderServer;
  let ours: Provider;
  let oursDefault: Provider;
  let sdk: ChatSdk;

  beforeAll(async () => {
    unhandled.on();
    fake = await startFakeOpenRouter({ apiKey: KEY });
    ours = await adapterFromEnv('openrouter', { OPENROUTER_API_KEY: KEY, OPENROUTER_BASE_URL: `${fake.url}/api/v1` });
    oursDefault = await adapterFromEnv('openrouter', { OPENROUTER_API_KEY: KEY, OPENROUTER_BASE_URL: `${fake.url}/api/v1`, OPENROUTER_REASONING_EFFORT: 'default' });
    const client = new OpenAI({ apiKey: KEY, baseURL: `${fake.url}/api/v1`, maxRetries: 0 });
    sdk = { create: (params) => client.chat.completions.create(params as never) as Promise<unknown> };
  });
  afterAll(async () => {
    await ours.close();
    await oursDefault.close();
    await fake.close();
    unhandled.off();
    expect(unhandled.seen).toEqual([]);
  });
  beforeEach(() => fake.reset());

  const request = (maxTokens = 256, model?: string): CompletionRequest => ({ messages: [{ role: 'user', content: PROMPT }], maxTokens, ...(model && { model }) });
  const params = (maxTokens = 256, model = MODEL): Record<string, unknown> => ({
    model,
    messages: [{ role: 'user', content: PROMPT }],
    max_tokens: maxTokens,
    reasoning: { effort: 'minimal', exclude: true },
  });

  it('a whole answer: same text, usage and finish reason', async () => {
    const answer = (await sdk.create(params())) as ChatAnswer & { model: string };
    const mine = await oursWhole(ours, request());
    expect(mine).toEqual(readChat(answer));
    // The free router names the model it picked.
    expect(answer.model).not.toBe(MODEL);
  });

  it('a streamed answer, with keep-alive comments and mixed separators: same text, usage and finish reason', async () => {
    const { reasoningDeltas, ...theirs } = readChunks(await sdkChunks(sdk, params()));
    expect(reasoningDeltas).toBe(0);
    const { thinking, ...mine } = await oursStreamed(ours, request());
    expect(mine).toEqual(theirs);
    expect(thinking).toBe(0);
  });

  it('reasoning deltas are not answer text: the SDK passes them on apart, ours counts them as signs of life', async () => {
    const { reasoning: _r, ...plain } = params();
    const { reasoningDeltas, ...theirs } = readChunks(await sdkChunks(sdk, plain));
    expect(reasoningDeltas).toBeGreaterThan(0);
    const { thinking, ...mine } = await oursStreamed(oursDefault, request());
    expect(mine).toEqual(theirs);
    expect(thinking).toBe(reasoningDeltas);
  });

  it('a budget spent on reasoning: empty content and length to the SDK; ours refuses the empty answer', async () => {
    const theirs = readChat((await sdk.create(params(3))) as ChatAnswer);
    expect(theirs).toMatchObject({ text: '', finishReason: 'length', usage: { reasoningTokens: 3 } });
    expect(await failure(ours.complete(request(3), live()))).toMatchObject({ kind: 'rejected' });
  });

  const statuses: Array<{ fault: Fault; status: number; kind: ProviderError['kind']; type: new (...args: never[]) => Error }> = [
    { fault: { kind: 'error', status: 503 }, status: 503, kind: 'unavailable', type: OpenAI.InternalServerError },
    { fault: { kind: 'error', status: 502 }, status: 502, kind: 'unavailable', type: OpenAI.InternalServerError },
    { fault: { kind: 'error', status: 402 }, status: 402, kind: 'misconfigured', type: OpenAI.APIError },
    { fault: { kind: 'rate_limited', retryAfterSeconds: 9 }, status: 429, kind: 'rate_limited', type: OpenAI.RateLimitError },
    { fault: { kind: 'unauthorized' }, status: 401, kind: 'misconfigured', type: OpenAI.AuthenticationError },
    // A guardrail's 403 (metadata.patterns) is about the request, not the provider.
    { fault: { kind: 'error', status: 403 }, status: 403, kind: 'rejected', type: OpenAI.PermissionDeniedError },
  ];
  for (const { fault, status, kind, type } of statuses) {
    it(`${fault.kind} ${status}: ${type.name} to the SDK, ${kind} to us`, async () => {
      fake.enqueue(fault, fault, fault, fault);
      const whole = await sdkFailure(sdk.create(params()));
      expect(whole).toBeInstanceOf(type);
      expect(whole.status).toBe(status);
      expect(await sdkFailure(sdkChunks(sdk, params()))).toMatchObject({ status });
      const mine = await failure(ours.complete(request(), live()));
      expect(mine).toMatchObject({ kind, status });
      expect((await streamFailure(ours.stream(request(), live()))).error).toMatchObject({ kind, status });
      if (fault.kind === 'rate_limited') expect(mine.retryAfterMs).toBe(9000);
    });
  }

  it('the guardrail 403 carries the patterns it matched', async () => {
    fake.enqueue({ kind: 'error', status: 403 });
    const theirs = (await sdkFailure(sdk.create(params()))) as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(theirs.error).toMatchObject({ code: 403, metadata: { patterns: expect.any(Array) } });
  });

  it('the free models\' daily limit: RateLimitError 429 to the SDK; ours parks OpenRouter until the reset it names', async () => {
    fake.enqueue({ kind: 'daily_limit' }, { kind: 'daily_limit' });
    const theirs = await sdkFailure(sdk.create(params()));
    expect(theirs).toBeInstanceOf(OpenAI.RateLimitError);
    expect(theirs.message).toContain('free-models-per-day');
    const mine = await failure(ours.complete(request(), live()));
    expect(mine).toMatchObject({ kind: 'rate_limited', status: 429 });
    expect(mine.retryAfterMs).toBeGreaterThan(0);
    expect(mine.retryAfterMs).toBeLessThanOrEqual(24 * 3600_000);
  });

  it('an unknown model: BadRequestError 400 to the SDK; ours says the model is unknown', async () => {
    const theirs = await sdkFailure(sdk.create(params(256, 'meta-llama/llama-3.1-8b-instruct:free')));
    expect(theirs).toBeInstanceOf(OpenAI.BadRequestError);
    expect(await failure(oursDefault.complete(request(256, 'meta-llama/llama-3.1-8b-instruct:free'), live()))).toMatchObject({ kind: 'misconfigured', status: 400, modelNotFound: true });
  });

  it('an error inside a 200 stream: an APIError without a status to the SDK; unavailable to us', async () => {
    fake.enqueue({ kind: 'stream_cut', afterChunks: 2 }, { kind: 'stream_cut', afterChunks: 2 });
    const theirs = await sdkFailure(sdkChunks(sdk, params()));
    expect(theirs).toBeInstanceOf(OpenAI.APIError);
    expect(theirs.status).toBeUndefined();
    expect((theirs as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ code: 502 });
    expect((await streamFailure(ours.stream(request(), live()))).error).toMatchObject({ kind: 'unavailable' });
  });

  it('an error as the only event of a 200 stream: an APIError to the SDK; ours fails it too', async () => {
    fake.enqueue({ kind: 'bad_response' }, { kind: 'bad_response' });
    expect(await sdkFailure(sdkChunks(sdk, params()))).toBeInstanceOf(OpenAI.APIError);
    const { seen, error } = await streamFailure(ours.stream(request(), live()));
    expect(seen).toEqual([]);
    expect(error.kind).toBe('unavailable');
  });

  it('a 200 whose body is only an error: the SDK hands it back as a completion with no choices; ours fails it', async () => {
    fake.enqueue({ kind: 'bad_response' });
    // The openai SDK does not look inside a 2xx body: the caller gets an object without choices.
    const theirs = (await sdk.create(params())) as ChatAnswer & { error?: unknown };
    expect(theirs.choices).toBeUndefined();
    expect(theirs.error).toMatchObject({ code: 502 });
    fake.enqueue({ kind: 'bad_response' });
    expect(await failure(ours.complete(request(), live()))).toMatchObject({ kind: 'bad_response' });
  });
});
