// The Retry-After wait rule on a clock the test moves, with scripted providers: a first provider's
// 429 whose wait is short enough, and fits in what is left of the budget, is waited out once and
// the provider asked again; anything else moves on at once, and the breaker still cools the
// provider for other requests. Also the content-refusal rule: the cascade stops on it unless told
// to move on. The cascade, the deadline and the breakers are the real ones.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Breakers } from '../../src/cascade/breakers.ts';
import { retryAfterWait, runCascade, type AttemptRecord, type CascadeSettings } from '../../src/cascade/cascade.ts';
import { Deadline } from '../../src/cascade/deadline.ts';
import { GatewayError } from '../../src/errors.ts';
import { ProviderError } from '../../src/providers/provider-error.ts';
import type { CompletionRequest, Provider } from '../../src/providers/types.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { fail, scriptedProvider, type Step } from '../helpers/scripted-provider.ts';

const REQUEST: CompletionRequest = { messages: [{ role: 'user', content: 'Hello' }], maxTokens: 64 };
const limited = (retryAfterMs: number): Step => fail('rate_limited', { status: 429, retryAfterMs });

function setup(settings: Partial<CascadeSettings> = {}, budgetMs = 10_000) {
  const clock = new FakeClock();
  const breakers = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => clock.now() });
  const log = pino({ level: 'silent' });
  const all: CascadeSettings = { maxRetries: 1, attemptTimeoutMs: () => 1000, random: () => 0, retryAfterWaitMaxMs: 2000, ...settings };
  const provider = (name: string, ...steps: Step[]) => scriptedProvider(name, clock, ...steps);
  function start(providers: readonly Provider[]) {
    const deadline = new Deadline(budgetMs, undefined, clock);
    const attempts: AttemptRecord[] = [];
    const work = runCascade(providers, (p, signal) => p.complete(REQUEST, signal), all, { deadline, breakers, log, attempts }).finally(() => deadline.dispose());
    return { work, attempts };
  }
  return { clock, breakers, provider, start };
}

const outcomes = (attempts: readonly AttemptRecord[]) => attempts.map((a) => `${a.provider}:${a.outcome}`);

describe('the Retry-After wait, on a fake clock', () => {
  it('waits out a short Retry-After once, not a moment less, then asks the same provider again', async () => {
    const { clock, provider, start, breakers } = setup();
    const a = provider('a', limited(2000));
    const b = provider('b');
    const { work, attempts } = start([a, b]);
    // The 429 arrives at once.
    await clock.advance(0);
    expect(a.calls).toHaveLength(1);
    // Meanwhile the provider cools down for everyone else.
    expect(breakers.snapshot('a')).toMatchObject({ state: 'cooling_down', reason: 'rate_limited' });
    await clock.advance(1999);
    expect(a.calls).toHaveLength(1);
    await clock.advance(1);
    expect(a.calls).toHaveLength(2);
    expect((await work).value.text).toBe('answer from a');
    expect(outcomes(attempts)).toEqual(['a:rate_limited', 'a:ok']);
    expect(b.calls).toHaveLength(0);
    // Its answer ends the cooldown.
    expect(breakers.snapshot('a')).toMatchObject({ state: 'ready' });
  });

  it('waits once only: a second 429 moves on', async () => {
    const { clock, provider, start } = setup({ maxRetries: 3 });
    const a = provider('a', limited(500), limited(500));
    const { work, attempts } = start([a, provider('b')]);
    const outcome = await clock.run(work);
    expect('value' in outcome && outcome.value.provider.name).toBe('b');
    expect(outcomes(attempts)).toEqual(['a:rate_limited', 'a:rate_limited', 'b:ok']);
  });

  it('does not count the wait as one of the retries (MAX_RETRIES=0 still waits)', async () => {
    const { clock, provider, start } = setup({ maxRetries: 0 });
    const a = provider('a', limited(1000));
    const { work, attempts } = start([a, provider('b')]);
    await clock.run(work);
    expect(outcomes(attempts)).toEqual(['a:rate_limited', 'a:ok']);
  });

  it('moves on at once past a Retry-After longer than the limit, or with the limit 0', async () => {
    for (const [retryAfterMs, max] of [
      [2001, 2000],
      [500, 0],
    ] as const) {
      const { clock, provider, start } = setup({ retryAfterWaitMaxMs: max });
      const a = provider('a', limited(retryAfterMs));
      const b = provider('b');
      const { work, attempts } = start([a, b]);
      await clock.advance(0);
      // b is asked at once: no time passed.
      expect(b.calls).toHaveLength(1);
      await clock.run(work);
      expect(outcomes(attempts)).toEqual(['a:rate_limited', 'b:ok']);
    }
  });

  it('moves on when the wait would not leave the attempt its whole time in the budget', async () => {
    // 2000 ms wait + 1000 ms attempt > 2500 ms budget.
    const { clock, provider, start } = setup({}, 2500);
    const { work, attempts } = start([provider('a', limited(2000)), provider('b')]);
    await clock.run(work);
    expect(outcomes(attempts)).toEqual(['a:rate_limited', 'b:ok']);
  });

  it('waits only for the first provider asked, not a later one', async () => {
    const { clock, provider, start } = setup();
    const b = provider('b', limited(500));
    const { work, attempts } = start([provider('a', fail('unavailable'), fail('unavailable')), b, provider('c')]);
    await clock.run(work);
    expect(outcomes(attempts)).toEqual(['a:unavailable', 'a:unavailable', 'b:rate_limited', 'c:ok']);
    expect(b.calls).toHaveLength(1);
  });

  it('retryAfterWait: the rule alone', () => {
    const error = new ProviderError('a', 'rate_limited', '429', { retryAfterMs: 2000 });
    expect(retryAfterWait(error, 2000, 1000, 3000)).toBe(2000);
    expect(retryAfterWait(error, 2000, 1000, 2999)).toBeUndefined();
    expect(retryAfterWait(error, 1999, 1000, 10_000)).toBeUndefined();
    expect(retryAfterWait(new ProviderError('a', 'rate_limited', '429'), 2000, 1000, 10_000)).toBeUndefined();
    expect(retryAfterWait(new ProviderError('a', 'unavailable', '503', { retryAfterMs: 1000 }), 2000, 1000, 10_000)).toBeUndefined();
  });
});

describe('a content refusal, on a fake clock', () => {
  const refused = fail('rejected', { status: 400, contentFilter: true });

  it('stops the cascade and names the provider, unless ON_CONTENT_FILTER=next', async () => {
    const { clock, provider, start } = setup();
    const b = provider('b');
    const { work, attempts } = start([provider('a', refused), b]);
    const outcome = await clock.run(work);
    expect('error' in outcome && outcome.error).toBeInstanceOf(GatewayError);
    expect((outcome as { error: GatewayError }).error).toMatchObject({ code: 'content_filtered', statusCode: 400, message: expect.stringContaining('Provider a refused') });
    expect(outcomes(attempts)).toEqual(['a:rejected']);
    expect(b.calls).toHaveLength(0);

    const next = setup({ onContentFilter: 'next' });
    const moved = next.start([next.provider('a', refused), next.provider('b')]);
    await next.clock.run(moved.work);
    expect(outcomes(moved.attempts)).toEqual(['a:rejected', 'b:ok']);
  });

  it('moves past a refusal that is not about content, as before', async () => {
    const { clock, provider, start } = setup();
    const { work, attempts } = start([provider('a', fail('rejected', { status: 400 })), provider('b')]);
    await clock.run(work);
    expect(outcomes(attempts)).toEqual(['a:rejected', 'b:ok']);
  });
});
