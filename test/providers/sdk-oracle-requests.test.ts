// The providers' official SDKs as oracles of what a request must look like on the wire. Each
// logical request in the table goes once through the official SDK (@google/genai for Gemini,
// groq-sdk for Groq, openai for OpenRouter) and once through our adapter, built the way the
// gateway builds it (its variables, then its registry row), both against a recording server; the
// two recorded requests must agree on method, path, query, auth header and body. Every deliberate
// difference is listed below with its reason, and asserted, so a change on either side shows.
// The gateway asks for every answer as a stream (whole ones included, so that failover follows
// liveness), so the streamed rows are what it sends on every request; the whole rows keep the
// adapter's complete() true as well.
import { GoogleGenAI, ThinkingLevel, type Content, type GenerateContentConfig } from '@google/genai';
import Groq from 'groq-sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CompletionRequest, Provider, ReasoningEffort } from '../../src/providers/types.ts';
import type { FakeProviderServer, RecordedRequest } from '../../src/simulator/fake-server.ts';
import { USER_AGENT } from '../../src/version.ts';
import { startRecordingServer } from '../helpers/recording-server.ts';
import { collect, live } from '../helpers/provider-calls.ts';
import { adapterFromEnv } from './openai-compatible-contract.ts';

const KEY = 'oracle-test-key';

interface Logical {
  name: string;
  request: CompletionRequest;
  stream: boolean;
}

// The gateway always sends a token limit (the routes fill in their default), so every SDK call
// names one too.
const ask = (content: string, extra: Partial<CompletionRequest> = {}): CompletionRequest => ({ messages: [{ role: 'user', content }], maxTokens: 64, ...extra });

const TABLE: Logical[] = [
  { name: 'plain', request: ask('Hello there'), stream: false },
  {
    name: 'with a system message',
    request: { messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Hello there' }], maxTokens: 64 },
    stream: false,
  },
  {
    name: 'multi-turn',
    request: {
      messages: [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'What is 2 + 2?' },
        { role: 'assistant', content: '4' },
        { role: 'user', content: 'And times 3?' },
      ],
      maxTokens: 64,
    },
    stream: false,
  },
  { name: 'max tokens', request: ask('Write a long story', { maxTokens: 7 }), stream: false },
  { name: 'temperature, top_p, stop', request: ask('Count to ten', { temperature: 0.3, topP: 0.9, stop: ['5', 'five'] }), stream: false },
  { name: 'streamed', request: { messages: [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Hello there' }], maxTokens: 64, temperature: 0.5 }, stream: true },
  { name: 'a reasoning effort', request: ask('Think, then answer', { reasoningEffort: 'low' }), stream: false },
  { name: 'a reasoning effort, streamed', request: ask('Think, then answer', { reasoningEffort: 'high' }), stream: true },
];

async function callAdapter(provider: Provider, logical: Logical): Promise<void> {
  if (logical.stream) await collect(provider.stream(logical.request, live()));
  else await provider.complete(logical.request, live());
}

/** The one request a call made, taken off the recorder. */
function taken(recorder: FakeProviderServer): RecordedRequest {
  expect(recorder.requests).toHaveLength(1);
  const [request] = recorder.requests.splice(0);
  return request!;
}

describe('Gemini: @google/genai and our adapter send the same request', () => {
  const MODEL = 'gemini-3.8-flash';
  let recorder: FakeProviderServer;
  let ours: Provider;
  let sdk: GoogleGenAI;

  beforeAll(async () => {
    recorder = await startRecordingServer('gemini');
    // REASONING_EFFORT=default: the adapter sends no thinkingConfig unless a request names an effort.
    ours = await adapterFromEnv('gemini', { GEMINI_API_KEY: KEY, GEMINI_BASE_URL: recorder.url, GEMINI_MODEL: MODEL, GEMINI_REASONING_EFFORT: 'default' });
    // @google/genai 3.x defaults to /v1; the gateway speaks v1beta, so the SDK is pinned to it.
    sdk = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: recorder.url, apiVersion: 'v1beta' } });
  });
  afterAll(async () => {
    await ours.close();
    await recorder.close();
  });
  beforeEach(() => recorder.reset());

  const LEVELS: Record<ReasoningEffort, ThinkingLevel> = {
    none: ThinkingLevel.LOW,
    minimal: ThinkingLevel.LOW,
    low: ThinkingLevel.LOW,
    medium: ThinkingLevel.MEDIUM,
    high: ThinkingLevel.HIGH,
  };

  async function callSdk({ request, stream }: Logical): Promise<void> {
    const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content);
    const contents: Content[] = request.messages
      .filter((m) => m.role !== 'system')
      .map((m) => ({ role: m.role === 'assistant' ? 'model' : 'user', parts: [{ text: m.content }] }));
    const config: GenerateContentConfig = {
      maxOutputTokens: request.maxTokens,
      ...(system.length > 0 && { systemInstruction: system.join('\n\n') }),
      ...(request.temperature !== undefined && { temperature: request.temperature }),
      ...(request.topP !== undefined && { topP: request.topP }),
      ...(request.stop !== undefined && { stopSequences: request.stop }),
      ...(request.reasoningEffort !== undefined && { thinkingConfig: { thinkingLevel: LEVELS[request.reasoningEffort] } }),
    };
    if (!stream) {
      await sdk.models.generateContent({ model: MODEL, contents, config });
      return;
    }
    for await (const chunk of await sdk.models.generateContentStream({ model: MODEL, contents, config })) void chunk;
  }

  for (const logical of TABLE) {
    it(logical.name, async () => {
      await callSdk(logical);
      const theirs = taken(recorder);
      await callAdapter(ours, logical);
      const mine = taken(recorder);

      expect(mine.method).toBe(theirs.method);
      expect(mine.path).toBe(theirs.path);
      expect(mine.path).toBe(`/v1beta/models/${MODEL}:${logical.stream ? 'streamGenerateContent' : 'generateContent'}`);
      expect([...mine.query]).toEqual([...theirs.query]);
      expect(mine.headers['x-goog-api-key']).toBe(KEY);
      expect(mine.headers['x-goog-api-key']).toBe(theirs.headers['x-goog-api-key']);
      expect(mine.headers['content-type']).toBe(theirs.headers['content-type']);

      // Deliberate differences:
      // - user-agent: ours names the gateway; the SDK names itself (and adds x-goog-api-client).
      expect(mine.headers['user-agent']).toBe(USER_AGENT);
      expect(theirs.headers['user-agent']).toMatch(/^google-genai-sdk\//);
      // - accept: the SDK sends */* even for a stream; ours says which answer it reads.
      expect(theirs.headers.accept).toBe('*/*');
      expect(mine.headers.accept).toBe(logical.stream ? 'text/event-stream' : 'application/json');
      const body = structuredClone(mine.body) as { systemInstruction?: { role?: string }; generationConfig?: { thinkingConfig?: { thinkingLevel?: string } } };
      // - systemInstruction.role: the SDK turns a string into a Content with role "user"; ours
      //   says "system". The API reads only the parts of a system instruction.
      if (body.systemInstruction) {
        expect(body.systemInstruction.role).toBe('system');
        expect((theirs.body as { systemInstruction: { role: string } }).systemInstruction.role).toBe('user');
        body.systemInstruction.role = 'user';
      }
      // - thinkingLevel: the SDK's enum is upper case ("LOW"); ours is lower case, as in Google's
      //   REST examples. The API takes both.
      const level = body.generationConfig?.thinkingConfig?.thinkingLevel;
      if (level !== undefined) {
        expect(level).toBe(level.toLowerCase());
        body.generationConfig!.thinkingConfig!.thinkingLevel = level.toUpperCase();
      }
      expect(body).toEqual(theirs.body);
    });
  }
});

/** What both Chat Completions SDKs send for a logical request: the params object, verbatim. */
function chatParams({ request, stream }: Logical, maxTokensField: 'max_tokens' | 'max_completion_tokens', reasoning: Record<string, unknown> | undefined) {
  return {
    model: '',
    messages: request.messages,
    [maxTokensField]: request.maxTokens,
    ...(request.temperature !== undefined && { temperature: request.temperature }),
    ...(request.topP !== undefined && { top_p: request.topP }),
    ...(request.stop !== undefined && { stop: request.stop }),
    ...reasoning,
    ...(stream && { stream: true }),
  };
}

interface ChatCase {
  name: 'groq' | 'openrouter';
  sdkName: string;
  model: string;
  env(recorder: FakeProviderServer): Record<string, string>;
  path: string;
  maxTokensField: 'max_tokens' | 'max_completion_tokens';
  /** The provider's reasoning control for an effort, as its documentation spells it (docs/providers.md). */
  reasoning(effort: ReasoningEffort): Record<string, unknown>;
  send(recorder: FakeProviderServer, params: Record<string, unknown>): Promise<void>;
  userAgent: RegExp;
  /** Headers only ours sends, with their values. */
  extraHeaders: Record<string, string>;
}

const CHAT_CASES: ChatCase[] = [
  {
    name: 'groq',
    sdkName: 'groq-sdk',
    model: 'openai/gpt-oss-20b',
    env: (recorder) => ({ GROQ_API_KEY: KEY, GROQ_BASE_URL: recorder.url, GROQ_REASONING_EFFORT: 'default' }),
    path: '/openai/v1/chat/completions',
    // groq-sdk marks max_tokens deprecated in favour of max_completion_tokens; both sides use the latter.
    maxTokensField: 'max_completion_tokens',
    // gpt-oss: reasoning_format is not supported; include_reasoning false keeps the reasoning out.
    reasoning: (effort) => ({ reasoning_effort: effort, include_reasoning: false }),
    async send(recorder, params) {
      const client = new Groq({ apiKey: KEY, baseURL: recorder.url, maxRetries: 0 });
      const answer = await client.chat.completions.create(params as never);
      if (params.stream === true) for await (const chunk of answer as unknown as AsyncIterable<unknown>) void chunk;
    },
    userAgent: /^Groq\/JS /,
    extraHeaders: {},
  },
  {
    name: 'openrouter',
    sdkName: 'openai',
    model: 'openrouter/free',
    env: (recorder) => ({ OPENROUTER_API_KEY: KEY, OPENROUTER_BASE_URL: `${recorder.url}/api/v1`, OPENROUTER_REASONING_EFFORT: 'default' }),
    path: '/api/v1/chat/completions',
    maxTokensField: 'max_tokens',
    reasoning: (effort) => ({ reasoning: { effort, exclude: true } }),
    async send(recorder, params) {
      const client = new OpenAI({ apiKey: KEY, baseURL: `${recorder.url}/api/v1`, maxRetries: 0 });
      const answer = await client.chat.completions.create(params as never);
      if (params.stream === true) for await (const chunk of answer as unknown as AsyncIterable<unknown>) void chunk;
    },
    userAgent: /^OpenAI\/JS /,
    // OpenRouter lists an app under these (APP_TITLE's default); X-Title is the older name it still reads.
    extraHeaders: { 'x-openrouter-title': 'secure-llm-router', 'x-title': 'secure-llm-router' },
  },
];

for (const setup of CHAT_CASES) {
  describe(`${setup.name}: ${setup.sdkName} and our adapter send the same request`, () => {
    let recorder: FakeProviderServer;
    let ours: Provider;

    beforeAll(async () => {
      recorder = await startRecordingServer('chat-completions');
      ours = await adapterFromEnv(setup.name, setup.env(recorder));
    });
    afterAll(async () => {
      await ours.close();
      await recorder.close();
    });
    beforeEach(() => recorder.reset());

    for (const logical of TABLE) {
      it(logical.name, async () => {
        const effort = logical.request.reasoningEffort;
        const params = { ...chatParams(logical, setup.maxTokensField, effort === undefined ? undefined : setup.reasoning(effort)), model: setup.model };
        await setup.send(recorder, params);
        const theirs = taken(recorder);
        await callAdapter(ours, logical);
        const mine = taken(recorder);

        expect(mine.method).toBe('POST');
        expect(mine.method).toBe(theirs.method);
        expect(mine.path).toBe(setup.path);
        expect(mine.path).toBe(theirs.path);
        expect([...mine.query]).toEqual([...theirs.query]);
        expect(mine.headers.authorization).toBe(`Bearer ${KEY}`);
        expect(mine.headers.authorization).toBe(theirs.headers.authorization);
        expect(mine.headers['content-type']).toBe(theirs.headers['content-type']);

        // Deliberate differences:
        // - user-agent: ours names the gateway; the SDK names itself (and adds x-stainless-* headers).
        expect(mine.headers['user-agent']).toBe(USER_AGENT);
        expect(theirs.headers['user-agent']).toMatch(setup.userAgent);
        // - accept: the SDK sends application/json even for a stream; ours says which answer it reads.
        expect(theirs.headers.accept).toBe('application/json');
        expect(mine.headers.accept).toBe(logical.stream ? 'text/event-stream' : 'application/json');
        for (const [header, value] of Object.entries(setup.extraHeaders)) {
          expect(mine.headers[header]).toBe(value);
          expect(theirs.headers[header]).toBeUndefined();
        }
        const body = structuredClone(mine.body) as Record<string, unknown>;
        // - stream_options.include_usage: without it an OpenAI-style server sends no token counts
        //   in a stream, and the gateway reports usage for every answer.
        if (logical.stream) {
          expect(body.stream_options).toEqual({ include_usage: true });
          delete body.stream_options;
        }
        expect(body).toEqual(theirs.body);
      });
    }
  });
}
