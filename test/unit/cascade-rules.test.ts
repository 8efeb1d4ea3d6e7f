// The cascade's rules on a clock the test moves, with scripted providers: retry and backoff,
// moving on, cooldowns, the breaker's probe, timeouts, the request budget, the caller leaving,
// and the stream's first-token, stall and total limits. The cascade, the deadline and the
// breakers are the real ones; only time and the providers are the test's.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Breakers } from '../../src/cascade/breakers.ts';
import { RequestCancelledError, runCascade, type AttemptRecord } from '../../src/cascade/cascade.ts';
import { Deadline } from '../../src/cascade/deadline.ts';
import { continueStream, runStreamCascade, type OpenedStream } from '../../src/cascade/stream-cascade.ts';
import { GatewayError } from '../../src/errors.ts';
import { ProviderError } from '../../src/providers/provider-error.ts';
import type { CompletionChunk, CompletionRequest, Provider } from '../../src/providers/types.ts';
import { FakeClock, settle } from '../helpers/fake-clock.ts';
import { answer, chunks, fail, hang, scriptedProvider, type Step } from '../helpers/scripted-provider.ts';

const REQUEST: CompletionRequest = { messages: [{ role: 'user', content: 'Hello' }], maxTokens: 64 };

interface Rules {
  threshold?: number;
  cooldownMs?: number;
  maxRetries?: number;
  attemptMs?: number;
  budgetMs?: number;
}

interface Asked {
  exactModel?: string;
  /** The caller's connection: aborting it is the caller leaving. */
  parent?: AbortSignal;
}

/** One gateway's worth of cascade state on a fake clock: breakers, a log, and a way to send requests. */
function cascade(rules: Rules = {}) {
  const clock = new FakeClock();
  const breakers = new Breakers({ breakerThreshold: rules.threshold ?? 3, breakerCooldownMs: rules.cooldownMs ?? 30_000, now: () => clock.now() });
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  // random() = 0: the backoff before retry n is exactly half its ceiling (50 ms before the first).
  const settings = { maxRetries: rules.maxRetries ?? 1, attemptTimeoutMs: () => rules.attemptMs ?? 1000, random: () => 0 };
  const provider = (name: string, ...steps: Step[]) => scriptedProvider(name, clock, ...steps);

  function context(asked: Asked) {
    const deadline = new Deadline(rules.budgetMs ?? 10_000, asked.parent, clock);
    const attempts: AttemptRecord[] = [];
    return { deadline, attempts, context: { deadline, breakers, log, attempts, exactModel: asked.exactModel } };
  }

  /** Starts a whole-answer request; `work` settles as the clock moves. */
  function start(providers: readonly Provider[], asked: Asked = {}) {
    const { deadline, attempts, context: ctx } = context(asked);
    const work = runCascade(providers, (p, signal) => p.complete(REQUEST, signal), settings, ctx).finally(() => deadline.dispose());
    return { work, attempts };
  }

  /** Runs a request to its end on the clock. */
  async function ask(providers: readonly Provider[], asked: Asked = {}) {
    const { work, attempts } = start(providers, asked);
    const outcome = await clock.run(work);
    return { ...outcome, attempts, outcomes: outcomes(attempts) };
  }

  /** Runs a streamed request up to its first text, each provider given firstTokenMs for it. */
  async function openStream(providers: readonly Provider[], firstTokenMs: number) {
    const { deadline, attempts, context: ctx } = context({});
    const work = runStreamCascade(providers, REQUEST, { maxRetries: settings.maxRetries, firstTokenTimeoutMs: () => firstTokenMs, stallTimeoutMs: () => firstTokenMs, random: settings.random }, ctx).finally(() => deadline.dispose());
    const outcome = await clock.run(work);
    return { ...outcome, attempts, outcomes: outcomes(attempts) };
  }

  /** Reads the rest of an opened stream under the given limits, on the clock. */
  async function rest(provider: Provider, opened: OpenedStream, idleMs: number, totalMs: number) {
    const seen: CompletionChunk[] = [];
    const reading = (async () => {
      for await (const chunk of continueStream(provider, opened, { idleMs, totalMs, cancel: new AbortController().signal, clock })) seen.push(chunk);
    })();
    const outcome = await clock.run(reading);
    return { seen, error: 'error' in outcome ? outcome.error : undefined };
  }

  return { clock, breakers, lines, provider, start, ask, openStream, rest };
}

const outcomes = (attempts: readonly AttemptRecord[]) => attempts.map((a) => `${a.provider}:${a.outcome}`);

function valueOf<T>(outcome: { value: T } | { error: unknown }): T {
  if ('error' in outcome) throw new Error(`expected an answer, got ${String(outcome.error)}`);
  return outcome.value;
}

function gatewayErrorOf(outcome: { value: unknown } | { error: unknown }): GatewayError {
  expect('error' in outcome && outcome.error).toBeInstanceOf(GatewayError);
  return (outcome as { error: GatewayError }).error;
}

const rateLimited = (name: string, retryAfterMs: number) => new ProviderError(name, 'rate_limited', '429', { status: 429, retryAfterMs });

describe('the cascade, on a fake clock', () => {
  it('answers from the first provider without asking the next', async () => {
    const { provider, ask } = cascade();
    const a = provider('a');
    const b = provider('b');
    const result = await ask([a, b]);
    expect(valueOf(result)).toMatchObject({ value: { text: 'answer from a' }, provider: a });
    expect(result.outcomes).toEqual(['a:ok']);
    expect(b.calls).toHaveLength(0);
  });

  it('retries a transient failure after its backoff, on the same provider', async () => {
    const { provider, start, clock } = cascade({ maxRetries: 1 });
    const a = provider('a', fail('unavailable', { status: 503 }), answer('second try'));
    const b = provider('b');
    const { work, attempts } = start([a, b]);
    await settle();
    expect(a.calls).toHaveLength(1);
    // The first backoff, with random() = 0, is 50 ms: not a moment sooner.
    await clock.advance(49);
    expect(a.calls).toHaveLength(1);
    await clock.advance(1);
    expect(a.calls).toHaveLength(2);
    expect((await work).value.text).toBe('second try');
    expect(outcomes(attempts)).toEqual(['a:unavailable', 'a:ok']);
    expect(b.calls).toHaveLength(0);
  });

  it('moves on once MAX_RETRIES retries have failed, logging each failed attempt once', async () => {
    const { provider, ask, lines } = cascade({ maxRetries: 2 });
    const a = provider('a', fail('unavailable'), fail('bad_response'), fail('unavailable'));
    const result = await ask([a, provider('b')]);
    expect(result.outcomes).toEqual(['a:unavailable', 'a:bad_response', 'a:unavailable', 'b:ok']);
    expect(lines.filter((line) => line.level === 40).map((line) => [line.provider, line.kind])).toEqual([
      ['a', 'unavailable'],
      ['a', 'bad_response'],
      ['a', 'unavailable'],
    ]);
  });

  it('moves past a refusal at once: no retry, and no mark against the provider', async () => {
    const { provider, ask, breakers } = cascade({ maxRetries: 2, threshold: 2 });
    const a = provider('a', fail('rejected', { status: 400 }), fail('rejected', { status: 422 }), fail('rejected', { status: 413 }));
    for (let i = 0; i < 3; i += 1) expect((await ask([a, provider('b')])).outcomes).toEqual(['a:rejected', 'b:ok']);
    // Three refusals, past a threshold of two, and it is still asked every time.
    expect(a.calls).toHaveLength(3);
    expect(breakers.snapshot('a')).toMatchObject({ state: 'ready', consecutiveFailures: 0 });
  });

  it("cools a provider down for its 429's Retry-After: the next requests skip it until the clock passes it", async () => {
    const { provider, ask, clock, breakers } = cascade();
    const a = provider('a', fail('rate_limited', { status: 429, retryAfterMs: 10_000 }));
    const b = provider('b');
    expect((await ask([a, b])).outcomes).toEqual(['a:rate_limited', 'b:ok']);
    expect(breakers.snapshot('a')).toMatchObject({ state: 'cooling_down', reason: 'rate_limited', cooldownUntil: clock.now() + 10_000 });

    await clock.advance(9_999);
    expect((await ask([a, b])).outcomes).toEqual(['a:cooling_down', 'b:ok']);
    expect(a.calls).toHaveLength(1);

    await clock.advance(1);
    expect((await ask([a, b])).outcomes).toEqual(['a:ok']);
    expect(breakers.snapshot('a')).toMatchObject({ state: 'ready', consecutiveFailures: 0 });
  });

  describe('the breaker', () => {
    /** A cascade whose provider a has just failed `threshold` times in a row (no retries). */
    async function tripped() {
      const rules = cascade({ threshold: 3, cooldownMs: 30_000, maxRetries: 0 });
      const a = rules.provider('a', fail('unavailable'), fail('unavailable'), fail('unavailable'));
      const b = rules.provider('b');
      for (let i = 0; i < 3; i += 1) expect((await rules.ask([a, b])).outcomes).toEqual(['a:unavailable', 'b:ok']);
      return { ...rules, a, b };
    }

    it('opens after the threshold of failures in a row, for the cooldown', async () => {
      const { a, b, ask, clock, breakers } = await tripped();
      expect(breakers.snapshot('a')).toMatchObject({ state: 'cooling_down', reason: 'consecutive_failures', consecutiveFailures: 3 });
      await clock.advance(29_999);
      expect((await ask([a, b])).outcomes).toEqual(['a:cooling_down', 'b:ok']);
      expect(a.calls).toHaveLength(3);
    });

    it('lets exactly one request probe after the cooldown while the others skip, and closes on its success', async () => {
      const { a, b, start, ask, clock, breakers } = await tripped();
      await clock.advance(30_000);
      a.script(answer('back', 100));
      const probe = start([a, b]);
      const others = [start([a, b]), start([a, b]), start([a, b])];
      for (const other of others) {
        await clock.run(other.work);
        expect(outcomes(other.attempts)).toEqual(['a:cooling_down', 'b:ok']);
      }
      expect(breakers.snapshot('a').state).toBe('probing');
      expect(a.calls).toHaveLength(4);

      expect(valueOf(await clock.run(probe.work)).value.text).toBe('back');
      expect(outcomes(probe.attempts)).toEqual(['a:ok']);
      expect(breakers.snapshot('a')).toMatchObject({ state: 'ready', consecutiveFailures: 0 });
      expect((await ask([a, b])).outcomes).toEqual(['a:ok']);
    });

    it("re-opens on the probe's failure", async () => {
      const { a, b, ask, clock, breakers } = await tripped();
      await clock.advance(30_000);
      a.script(fail('unavailable', { status: 502 }));
      expect((await ask([a, b])).outcomes).toEqual(['a:unavailable', 'b:ok']);
      expect(breakers.snapshot('a')).toMatchObject({ state: 'cooling_down', reason: 'consecutive_failures', consecutiveFailures: 4, cooldownUntil: clock.now() + 30_000 });
      expect((await ask([a, b])).outcomes).toEqual(['a:cooling_down', 'b:ok']);
    });
  });

  describe('timeouts', () => {
    it('moves on from a provider that timed out when a later one is ready, and aborts its call', async () => {
      const { provider, start, clock } = cascade({ attemptMs: 1000, maxRetries: 1 });
      const a = provider('a', hang);
      const b = provider('b');
      const { work, attempts } = start([a, b]);
      await clock.advance(999);
      expect(b.calls).toHaveLength(0);
      await clock.advance(1);
      expect((await work).provider).toBe(b);
      expect(outcomes(attempts)).toEqual(['a:timeout', 'b:ok']);
      expect(a.calls).toHaveLength(1);
      expect(a.calls[0]?.signal.aborted).toBe(true);
    });

    it('gives the last provider standing its retries', async () => {
      const { provider, ask } = cascade({ attemptMs: 1000, maxRetries: 1 });
      const alone = provider('a', hang, answer('late but there'));
      expect((await ask([alone])).outcomes).toEqual(['a:timeout', 'a:ok']);
    });

    it('retries after a timeout when every later provider is cooling down', async () => {
      const { provider, ask, breakers } = cascade({ attemptMs: 1000, maxRetries: 1 });
      const a = provider('a', hang, answer('second try'));
      const b = provider('b');
      breakers.recordFailure({ provider: 'b' }, rateLimited('b', 60_000));
      const result = await ask([a, b]);
      expect(result.outcomes).toEqual(['a:timeout', 'a:ok']);
      expect(b.calls).toHaveLength(0);
    });

    it('answers upstream_timeout (504) when the request budget runs out, aborting the call in flight', async () => {
      const { provider, ask } = cascade({ attemptMs: 1000, budgetMs: 1500 });
      const a = provider('a', hang);
      const b = provider('b', hang);
      const c = provider('c');
      const result = await ask([a, b, c]);
      const error = gatewayErrorOf(result);
      expect(error).toMatchObject({ code: 'upstream_timeout', statusCode: 504 });
      // b had what was left of the budget, not a whole attempt, and c never got a turn.
      expect(result.outcomes).toEqual(['a:timeout', 'b:timeout']);
      expect(b.calls[0]?.signal.aborted).toBe(true);
      expect(c.calls).toHaveLength(0);
    });
  });

  it('answers invalid_request (400) when every provider refuses the request', async () => {
    const { provider, ask, breakers } = cascade({ maxRetries: 2 });
    const a = provider('a', fail('rejected', { status: 400 }));
    const b = provider('b', fail('rejected', { status: 422 }));
    const result = await ask([a, b]);
    expect(gatewayErrorOf(result)).toMatchObject({ code: 'invalid_request', statusCode: 400 });
    expect(result.outcomes).toEqual(['a:rejected', 'b:rejected']);
    expect([breakers.snapshot('a').state, breakers.snapshot('b').state]).toEqual(['ready', 'ready']);
  });

  it('answers providers_unavailable (503) with Retry-After at the earliest end when every provider is cooling down', async () => {
    const { provider, ask, clock } = cascade();
    const a = provider('a', fail('rate_limited', { status: 429, retryAfterMs: 20_000 }));
    const b = provider('b', fail('rate_limited', { status: 429, retryAfterMs: 45_000 }));
    const first = gatewayErrorOf(await ask([a, b]));
    expect(first).toMatchObject({ code: 'providers_unavailable', statusCode: 503, retryAfterSeconds: 20 });

    await clock.advance(5_000);
    const second = await ask([a, b]);
    expect(second.outcomes).toEqual(['a:cooling_down', 'b:cooling_down']);
    expect(gatewayErrorOf(second)).toMatchObject({ code: 'providers_unavailable', retryAfterSeconds: 15 });
    expect([a.calls.length, b.calls.length]).toEqual([1, 1]);
  });

  it('stops when the caller leaves: RequestCancelledError, the call in flight aborted, nobody else asked, no mark', async () => {
    const { provider, start, breakers } = cascade();
    const a = provider('a', hang);
    const b = provider('b');
    const caller = new AbortController();
    const { work } = start([a, b], { parent: caller.signal });
    await settle();
    caller.abort();
    await expect(work).rejects.toBeInstanceOf(RequestCancelledError);
    expect(a.calls[0]?.signal.aborted).toBe(true);
    expect(b.calls).toHaveLength(0);
    expect(breakers.snapshot('a').consecutiveFailures).toBe(0);
  });

  describe('exact models', () => {
    it("keep their own breaker: an exact model's 429 does not cool the provider", async () => {
      const { provider, ask, breakers } = cascade();
      const a = provider('a', fail('rate_limited', { status: 429, retryAfterMs: 60_000 }));
      expect(gatewayErrorOf(await ask([a], { exactModel: 'big-model' })).code).toBe('providers_unavailable');
      expect(breakers.cooldownRemaining({ provider: 'a', model: 'big-model' })).toBe(60_000);
      expect(breakers.snapshot('a').state).toBe('ready');
      // The provider's own model still answers; the exact model is skipped until its cooldown ends.
      expect((await ask([a])).outcomes).toEqual(['a:ok']);
      expect((await ask([a], { exactModel: 'big-model' })).outcomes).toEqual(['a:cooling_down']);
      expect(a.calls).toHaveLength(2);
    });

    it('cool the provider too when the key is refused, but not for a model the provider does not have', async () => {
      const { provider, ask, breakers } = cascade();
      const a = provider('a', fail('misconfigured', { status: 404, modelNotFound: true }), fail('misconfigured', { status: 401 }));
      await ask([a], { exactModel: 'no-such-model' });
      expect(breakers.snapshot('a').state).toBe('ready');
      await ask([a], { exactModel: 'other-model' });
      expect(breakers.snapshot('a')).toMatchObject({ state: 'cooling_down', reason: 'misconfigured' });
    });
  });

  describe('streams', () => {
    it('moves on from a provider silent past its first-token limit, unseen, and aborts it', async () => {
      const { provider, openStream, rest } = cascade({ maxRetries: 0 });
      const a = provider('a', hang);
      const b = provider('b', chunks(['Hel', 'lo']));
      const result = await openStream([a, b], 800);
      const { value: opened, provider: answering } = valueOf(result);
      expect(answering).toBe(b);
      expect(opened.first.text).toBe('Hel');
      expect(result.outcomes).toEqual(['a:timeout', 'b:ok']);
      expect(a.calls[0]?.signal.aborted).toBe(true);
      const { seen, error } = await rest(b, opened, 1000, 10_000);
      expect(error).toBeUndefined();
      expect(seen).toEqual([expect.objectContaining({ text: 'lo' }), { text: '', finishReason: 'stop' }]);
    });

    it('ends a stream that stalls longer than the stall limit after it started, aborting the upstream call', async () => {
      const { provider, openStream, rest } = cascade();
      const a = provider('a', chunks(['one ', 'two '], 0, 'hang'));
      const opened = valueOf(await openStream([a], 800)).value;
      const { seen, error } = await rest(a, opened, 500, 60_000);
      expect(seen.map((c) => c.text)).toEqual(['two ']);
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ kind: 'timeout', message: 'a sent nothing for 500 ms mid-stream' });
      expect(opened.upstream.signal.aborted).toBe(true);
      expect(a.calls[0]?.signal.aborted).toBe(true);
    });

    it('ends a stream that outlives its total cap, though it never stalls', async () => {
      const { provider, openStream, rest } = cascade();
      const a = provider('a', chunks(Array.from({ length: 20 }, (_, i) => `${i} `), 300));
      const opened = valueOf(await openStream([a], 800)).value;
      // Chunks come every 300 ms, under the 500 ms stall limit; the cap of 1000 ms stops the stream.
      const { seen, error } = await rest(a, opened, 500, 1000);
      expect(seen.map((c) => c.text)).toEqual(['1 ', '2 ', '3 ']);
      expect(error).toMatchObject({ kind: 'timeout', message: 'a ran past the stream time limit mid-stream' });
      expect(opened.upstream.signal.aborted).toBe(true);
    });
  });
});
