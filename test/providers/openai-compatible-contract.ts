// The contract every provider on the Chat Completions wire keeps, run against each one's fake:
// Groq, OpenRouter, and an operator's own model server (keyless, or with a key as vLLM's
// --api-key asks). Each adapter is built the way the gateway builds it, from its variables through
// its registry row. What only one provider does stays in that provider's own test file.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import type { CompletionChunk, CompletionRequest, Provider } from '../../src/providers/types.ts';
import { countTokens, simulatedAnswer, type FakeProviderServer } from '../../src/simulator/fake-server.ts';
import { USER_AGENT } from '../../src/version.ts';
import { collect, failure, live, streamFailure } from '../helpers/provider-calls.ts';

export interface OpenAiCompatibleSetup {
  /** The provider's name, as the gateway and its fake call it. */
  name: string;
  /** The model it is configured with, and another one its fake serves. */
  model: string;
  otherModel: string;
  /** Where its chat completions are posted, on the fake. */
  path: string;
  /** Its key; none for a local runtime that takes none. */
  apiKey: string | undefined;
  startFake(): Promise<FakeProviderServer>;
  /** The provider's variables, pointing at the fake, with this key. */
  env(fake: FakeProviderServer, apiKey: string | undefined): Record<string, string>;
  /** How the fake answers a model it does not have. */
  unknownModel: { status: number; modelNotFound: boolean };
  /** Headers it sends on every call besides the common ones. */
  headers?: Record<string, string>;
  /**
   * The body fields its dialect adds for a token limit (Groq's max_completion_tokens, everyone
   * else's max_tokens) and its reasoning control for the configured model (docs/providers.md).
   */
  dialectFields(maxTokens: number): Record<string, unknown>;
}

const PROMPT = 'What is the capital of France?';
export const CONTRACT_REQUEST: CompletionRequest = {
  messages: [
    { role: 'system', content: 'Answer briefly.' },
    { role: 'user', content: PROMPT },
  ],
  maxTokens: 256,
  temperature: 0.2,
};

/** The adapter the gateway would build from these variables (registry row and all). */
export async function adapterFromEnv(name: string, env: Record<string, string>): Promise<Provider> {
  const settings = loadConfig({ API_KEYS: 'contract-test-key', ...env }).providers.get(name);
  if (settings === undefined) throw new Error(`the variables configure no provider "${name}"`);
  return settings.row.create(settings);
}

export function describeOpenAiCompatibleContract(setup: OpenAiCompatibleSetup): void {
  const { name, model, path, apiKey } = setup;
  const answer = simulatedAnswer(name, model, PROMPT);
  const REQUEST = CONTRACT_REQUEST;
  let fake: FakeProviderServer;
  let provider: Provider;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  const another = (key: string | undefined) => adapterFromEnv(name, setup.env(fake, key));

  describe(`${name}: the OpenAI-compatible contract`, () => {
    beforeAll(async () => {
      process.on('unhandledRejection', onUnhandled);
      fake = await setup.startFake();
      provider = await another(apiKey);
    });
    afterAll(async () => {
      await provider.close();
      await fake.close();
      process.off('unhandledRejection', onUnhandled);
    });
    beforeEach(() => fake.reset());

    describe('completions', () => {
      it('returns the answer, model, usage and finish reason', async () => {
        const completion = await provider.complete(REQUEST, live());
        const promptTokens = countTokens(PROMPT) + 8;
        expect(completion).toEqual({
          text: answer,
          model,
          finishReason: 'stop',
          usage: { promptTokens, completionTokens: countTokens(answer), totalTokens: promptTokens + countTokens(answer) },
        });
      });

      it(`sends exactly the expected body and headers, once, with ${apiKey === undefined ? 'no Authorization header' : 'the key as a Bearer token'}`, async () => {
        await provider.complete(REQUEST, live());
        expect(fake.requests).toHaveLength(1);
        const [sent] = fake.requests;
        expect(sent?.method).toBe('POST');
        expect(sent?.path).toBe(path);
        expect(sent?.body).toEqual({ model, messages: REQUEST.messages, ...setup.dialectFields(256), temperature: 0.2 });
        expect(sent?.headers).toMatchObject({ 'user-agent': USER_AGENT, 'content-type': 'application/json', accept: 'application/json', ...setup.headers });
        if (apiKey === undefined) expect(sent?.headers).not.toHaveProperty('authorization');
        else expect(sent?.headers.authorization).toBe(`Bearer ${apiKey}`);
      });

      it('passes top_p, stop and a per-call model', async () => {
        const completion = await provider.complete({ ...REQUEST, topP: 0.9, stop: ['\n\n'], model: setup.otherModel }, live());
        expect(completion.model).toBe(setup.otherModel);
        expect(fake.requests[0]?.body).toMatchObject({ model: setup.otherModel, top_p: 0.9, stop: ['\n\n'] });
      });

      it('leaves out a temperature the caller did not ask for', async () => {
        await provider.complete({ messages: REQUEST.messages, maxTokens: 256 }, live());
        expect(fake.requests[0]?.body).not.toHaveProperty('temperature');
      });

      it('reports a cut answer as finish reason length', async () => {
        const completion = await provider.complete({ ...REQUEST, maxTokens: 3 }, live());
        expect(completion.finishReason).toBe('length');
        expect(completion.text.length).toBeLessThan(answer.length);
      });

      it('reads a body that arrives in slow pieces', async () => {
        fake.enqueue({ kind: 'trickle', delayMs: 20 });
        expect((await provider.complete(REQUEST, live())).text).toBe(answer);
      });
    });

    describe('streaming', () => {
      it('assembles the full text and ends with finish reason and usage', async () => {
        const chunks = await collect(provider.stream(REQUEST, live()));
        expect(chunks.map((c) => c.text).join('')).toBe(answer);
        const last = chunks.at(-1);
        expect(last?.finishReason).toBe('stop');
        expect(last?.usage?.completionTokens).toBe(countTokens(answer));
        expect(chunks.slice(0, -1).every((c) => c.finishReason === undefined)).toBe(true);
        expect(fake.requests[0]?.body).toEqual({
          model,
          messages: REQUEST.messages,
          ...setup.dialectFields(256),
          temperature: 0.2,
          stream: true,
          stream_options: { include_usage: true },
        });
        expect(fake.requests[0]?.headers).toMatchObject({ accept: 'text/event-stream', ...setup.headers });
      });

      it('assembles a trickled stream', async () => {
        fake.enqueue({ kind: 'trickle', delayMs: 10 });
        const chunks = await collect(provider.stream(REQUEST, live()));
        expect(chunks.map((c) => c.text).join('')).toBe(answer);
      });

      it('treats broken JSON in an event as a bad response', async () => {
        fake.enqueue({ kind: 'malformed' });
        const { error } = await streamFailure(provider.stream(REQUEST, live()));
        expect(error.kind).toBe('bad_response');
      });

      it('fails before the first chunk on a 429, with its Retry-After', async () => {
        fake.enqueue({ kind: 'rate_limited', retryAfterSeconds: 120 });
        const { seen, error } = await streamFailure(provider.stream(REQUEST, live()));
        expect(seen).toEqual([]);
        expect(error).toMatchObject({ kind: 'rate_limited', retryAfterMs: 120_000 });
      });

      it('throws when aborted mid-stream instead of ending quietly', async () => {
        fake.enqueue({ kind: 'trickle', delayMs: 40 });
        const controller = new AbortController();
        const seen: CompletionChunk[] = [];
        const error = await failure(
          (async () => {
            for await (const chunk of provider.stream(REQUEST, controller.signal)) {
              seen.push(chunk);
              controller.abort();
            }
          })(),
        );
        expect(seen).toHaveLength(1);
        expect(error.kind).toBe('aborted');
      });

      it('reports a deadline that fires mid-stream as a timeout', async () => {
        fake.enqueue({ kind: 'trickle', delayMs: 40 });
        const controller = new AbortController();
        const { seen, error } = await streamFailure(
          (async function* () {
            for await (const chunk of provider.stream(REQUEST, controller.signal)) {
              yield chunk;
              controller.abort(new DOMException('deadline', 'TimeoutError'));
            }
          })(),
        );
        expect(seen).toHaveLength(1);
        expect(error.kind).toBe('timeout');
      });
    });

    describe('failures', () => {
      it.each([
        { label: 'error 503', fault: { kind: 'error' as const, status: 503 }, kind: 'unavailable', status: 503 },
        { label: 'error 500', fault: { kind: 'error' as const, status: 500 }, kind: 'unavailable', status: 500 },
        { label: 'error 400', fault: { kind: 'error' as const, status: 400 }, kind: 'rejected', status: 400 },
        { label: 'error 413', fault: { kind: 'error' as const, status: 413 }, kind: 'rejected', status: 413 },
        { label: 'non-streamed cut', fault: { kind: 'stream_cut' as const }, kind: 'unavailable', status: 500 },
        { label: 'unauthorized', fault: { kind: 'unauthorized' as const }, kind: 'misconfigured', status: 401 },
      ])('$label → $kind', async ({ fault, kind, status }) => {
        fake.enqueue(fault);
        const error = await failure(provider.complete(REQUEST, live()));
        expect(error).toMatchObject({ provider: name, kind, status });
        expect(fake.requests).toHaveLength(1);
      });

      it('returns a 429 at once with retryAfterMs from Retry-After, not retryable', async () => {
        fake.enqueue({ kind: 'rate_limited', retryAfterSeconds: 120 });
        const error = await failure(provider.complete(REQUEST, live()));
        expect(error).toMatchObject({ kind: 'rate_limited', status: 429, retryAfterMs: 120_000, retryable: false });
        expect(fake.requests).toHaveLength(1);
      });

      it('maps a model it does not have to misconfigured', async () => {
        const error = await failure(provider.complete({ ...REQUEST, model: 'nobody/no-such-model' }, live()));
        expect(error).toMatchObject({ kind: 'misconfigured', status: setup.unknownModel.status, modelNotFound: setup.unknownModel.modelNotFound });
      });

      if (apiKey !== undefined) {
        it('maps a wrong key to misconfigured without echoing the key', async () => {
          const wrongKey = `${apiKey}-wrong-secret`;
          const other = await another(wrongKey);
          try {
            const error = await failure(other.complete(REQUEST, live()));
            expect(error).toMatchObject({ kind: 'misconfigured', status: 401 });
            expect(error.message).not.toContain(wrongKey);
          } finally {
            await other.close();
          }
        });
      }

      it('maps a reset connection to unavailable, without retrying', async () => {
        fake.enqueue({ kind: 'reset' });
        const error = await failure(provider.complete(REQUEST, live()));
        expect(error.kind).toBe('unavailable');
        expect(fake.requests).toHaveLength(1);
      });

      it('maps broken JSON in a 200 to bad_response', async () => {
        fake.enqueue({ kind: 'malformed' });
        expect((await failure(provider.complete(REQUEST, live()))).kind).toBe('bad_response');
      });

      it('maps a 200 that carries no answer to bad_response, worth another try', async () => {
        fake.enqueue({ kind: 'bad_response' });
        expect(await failure(provider.complete(REQUEST, live()))).toMatchObject({ kind: 'bad_response', retryable: true });
      });

      it('maps an answer a filter withheld to rejected', async () => {
        fake.enqueue({ kind: 'blocked' });
        expect((await failure(provider.complete(REQUEST, live()))).kind).toBe('rejected');
      });

      it('gives up on a hung call when the deadline fires, and closes the connection', async () => {
        fake.enqueue({ kind: 'hang' });
        const controller = new AbortController();
        const call = failure(provider.complete(REQUEST, controller.signal));
        await expect.poll(() => fake.requests.length).toBe(1);
        controller.abort(new DOMException('deadline', 'TimeoutError'));
        expect((await call).kind).toBe('timeout');
        await expect.poll(() => fake.abortedRequests, { timeout: 1000, interval: 10 }).toBe(1);
      });

      it('sends through its own connection pool, which close() releases', async () => {
        const other = await another(apiKey);
        await other.complete(REQUEST, live());
        await other.close();
        // A closed pool refuses work, which shows the calls really used it rather than the global one.
        expect((await failure(other.complete(REQUEST, live()))).kind).toBe('unavailable');
        expect(fake.requests).toHaveLength(1);
      });

      it('maps an abort for another reason to aborted, without calling out', async () => {
        const controller = new AbortController();
        controller.abort();
        expect((await failure(provider.complete(REQUEST, controller.signal))).kind).toBe('aborted');
        expect(fake.requests).toHaveLength(0);
      });
    });

    it('leaves no unhandled rejection behind', async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    });
  });
}
