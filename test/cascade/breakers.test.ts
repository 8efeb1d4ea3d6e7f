// The breakers' bookkeeping, with a clock the test moves: exact models' breakers are capped, reading
// never creates one, a refused key cools the provider as well as the model, and after a cooldown
// one probe at a time is let through for a lease.
import { describe, expect, it } from 'vitest';
import { MAX_MODEL_BREAKERS, MISCONFIGURED_COOLDOWN_MS, Breakers } from '../../src/cascade/breakers.ts';
import { ProviderError } from '../../src/providers/provider-error.ts';

const limited = () => new ProviderError('gemini', 'rate_limited', '429', { status: 429, retryAfterMs: 60_000 });

describe('Breakers', () => {
  it("keeps an exact model's cooldown apart from its provider's", () => {
    const health = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => 1_000 });
    expect(health.recordFailure({ provider: 'gemini', model: 'gemini-2.5-pro' }, limited())).toBe(60_000);
    expect(health.cooldownRemaining({ provider: 'gemini', model: 'gemini-2.5-pro' })).toBe(60_000);
    expect(health.cooldownRemaining({ provider: 'gemini', model: 'gemini-3-flash' })).toBe(0);
    expect(health.cooldownRemaining({ provider: 'gemini' })).toBe(0);
    expect(health.coolingModels('gemini')).toEqual([{ model: 'gemini-2.5-pro', cooldownUntil: 61_000, reason: 'rate_limited' }]);
    expect(health.coolingModels('groq')).toEqual([]);

    // An answer from that model forgets its breaker.
    health.recordSuccess({ provider: 'gemini', model: 'gemini-2.5-pro' });
    expect(health.coolingModels('gemini')).toEqual([]);
  });

  it('cools the provider too when an exact model shows the key is refused', () => {
    const health = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => 0 });
    const refused = new ProviderError('groq', 'misconfigured', 'bad key', { status: 401 });
    health.recordFailure({ provider: 'groq', model: 'openai/gpt-oss-120b' }, refused);
    expect(health.cooldownRemaining({ provider: 'groq' })).toBe(MISCONFIGURED_COOLDOWN_MS);
    expect(health.snapshot('groq')).toMatchObject({ state: 'cooling_down', reason: 'misconfigured', consecutiveFailures: 1 });
  });

  it("waits out an unavailable provider's Retry-After, or the breaker's cooldown when that is longer", () => {
    let now = 0;
    const health = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => now });
    const overloaded = (retryAfterMs?: number) =>
      new ProviderError('openrouter', 'unavailable', '503', { status: 503, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
    expect(health.recordFailure({ provider: 'openrouter' }, overloaded(45_000))).toBe(45_000);
    expect(health.snapshot('openrouter')).toMatchObject({ state: 'cooling_down', cooldownUntil: 45_000, reason: 'unavailable' });

    now = 50_000;
    // Without a hint, the breaker trips at the threshold as before; a short hint does not cut it.
    expect(health.recordFailure({ provider: 'openrouter' }, overloaded())).toBe(0);
    expect(health.recordFailure({ provider: 'openrouter' }, overloaded(2_000))).toBe(30_000);
    expect(health.snapshot('openrouter')).toMatchObject({ cooldownUntil: 80_000, reason: 'consecutive_failures' });
  });

  it('holds at most MAX_MODEL_BREAKERS exact models, forgetting the oldest', () => {
    let now = 0;
    const health = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => now });
    for (let i = 0; i <= MAX_MODEL_BREAKERS; i += 1) {
      now = i;
      health.recordFailure({ provider: 'gemini', model: `model-${i}` }, limited());
    }
    const cooling = health.coolingModels('gemini');
    expect(cooling).toHaveLength(MAX_MODEL_BREAKERS);
    expect(cooling[0]?.model).toBe('model-1');
    expect(health.cooldownRemaining({ provider: 'gemini', model: 'model-0' })).toBe(0);
  });

  it('creates no breaker for reads, successes, refusals of the request itself or callers leaving', () => {
    const health = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => 0 });
    health.recordFailure({ provider: 'gemini', model: 'first' }, limited());
    // Had any of these created a breaker, the cap would have pushed "first" out.
    for (let i = 0; i < 2 * MAX_MODEL_BREAKERS; i += 1) {
      const key = (what: string) => ({ provider: 'openrouter' as const, model: `${what}-${i}` });
      health.cooldownRemaining(key('read'));
      health.recordSuccess(key('answered'));
      health.recordFailure(key('unknown'), new ProviderError('openrouter', 'rejected', 'no such model', { status: 404 }));
      health.recordFailure(key('left'), new ProviderError('openrouter', 'aborted', 'caller left'));
    }
    expect(health.coolingModels('gemini').map((m) => m.model)).toEqual(['first']);
    expect(health.coolingModels('openrouter')).toEqual([]);
  });

  it('after a cooldown admits one probe at a time, for a lease, and everyone once it succeeds', () => {
    let now = 0;
    const health = new Breakers({ breakerThreshold: 1, breakerCooldownMs: 10_000, now: () => now });
    const gemini = { provider: 'gemini' as const };
    expect(health.admit(gemini, 5_000)).toEqual({ waitMs: 0, probe: 0 });
    health.recordFailure(gemini, new ProviderError('gemini', 'unavailable', '503', { status: 503 }));
    expect(health.admit(gemini, 5_000)).toEqual({ waitMs: 10_000, probe: 0 });

    expect(health.snapshot('gemini').state).toBe('cooling_down');
    now = 10_000;
    expect(health.snapshot('gemini').state).toBe('ready');
    const first = health.admit(gemini, 5_000);
    expect(first.waitMs).toBe(0);
    expect(first.probe).not.toBe(0);
    expect(health.snapshot('gemini')).toMatchObject({ state: 'probing', cooldownUntil: undefined, consecutiveFailures: 1 });
    // The lease is the attempt's time plus a margin for recording its outcome.
    expect(health.admit(gemini, 5_000)).toEqual({ waitMs: 6_000, probe: 0 });
    expect(health.cooldownRemaining({ provider: 'gemini' })).toBe(6_000);
    // An exact model's caller (no lease) is not held back by a probe... of a breaker it does not share.
    expect(health.admit({ provider: 'gemini', model: 'other' }, 0)).toEqual({ waitMs: 0, probe: 0 });

    // A probe that outlives its lease lets the next request try; the old one's hand-back is ignored.
    now = 16_000;
    const second = health.admit(gemini, 5_000);
    expect(second.waitMs).toBe(0);
    expect(second.probe).not.toBe(first.probe);
    health.endProbe(gemini, first.probe);
    expect(health.admit(gemini, 5_000).waitMs).toBe(6_000);
    health.endProbe(gemini, second.probe);
    expect(health.snapshot('gemini').state).toBe('ready');

    const third = health.admit(gemini, 5_000);
    expect(third.probe).not.toBe(0);
    health.recordSuccess(gemini);
    expect(health.admit(gemini, 5_000)).toEqual({ waitMs: 0, probe: 0 });
    expect(health.admit(gemini, 5_000)).toEqual({ waitMs: 0, probe: 0 });
  });

  it("lets every caller through after a cooldown when it asks for no lease (an exact model's calls)", () => {
    let now = 0;
    const health = new Breakers({ breakerThreshold: 1, breakerCooldownMs: 10_000, now: () => now });
    const model = { provider: 'groq' as const, model: 'openai/gpt-oss-120b' };
    health.recordFailure(model, limited());
    expect(health.admit(model, 0).waitMs).toBe(60_000);
    now = 60_000;
    expect(health.admit(model, 0)).toEqual({ waitMs: 0, probe: 0 });
    expect(health.admit(model, 0)).toEqual({ waitMs: 0, probe: 0 });
  });

  it('leaves a probe whose failure starts no cooldown its turn for a retry, and cools down again on the next', () => {
    let now = 0;
    const health = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 10_000, now: () => now });
    const groq = { provider: 'groq' as const };
    const unavailable = () => new ProviderError('groq', 'unavailable', '503', { status: 503 });
    health.recordFailure(groq, limited());
    now = 60_000;
    const first = health.admit(groq, 5_000).probe;
    expect(first).not.toBe(0);
    // A 503 below the threshold starts no cooldown: the probe keeps its turn while it retries.
    expect(health.recordFailure(groq, unavailable())).toBe(0);
    expect(health.admit(groq, 5_000)).toEqual({ waitMs: 6_000, probe: 0 });
    now = 61_000;
    expect(health.renewProbe(groq, first, 5_000)).toBe(true);
    expect(health.admit(groq, 5_000)).toEqual({ waitMs: 6_000, probe: 0 });
    // Handed back when the request moves on: the next request probes.
    health.endProbe(groq, first);
    const second = health.admit(groq, 5_000).probe;
    expect(second).not.toBe(0);
    expect(health.renewProbe(groq, first, 5_000)).toBe(false);
    // The third failure in a row cools it down again, and the turn is over.
    expect(health.recordFailure(groq, new ProviderError('groq', 'timeout', 'slow'))).toBe(10_000);
    expect(health.renewProbe(groq, second, 5_000)).toBe(false);
    expect(health.admit(groq, 5_000)).toEqual({ waitMs: 10_000, probe: 0 });
  });

  it('gives a probe that outlived its lease no retry once another request has taken the turn', () => {
    let now = 0;
    const health = new Breakers({ breakerThreshold: 3, breakerCooldownMs: 10_000, now: () => now });
    const groq = { provider: 'groq' as const };
    health.recordFailure(groq, limited());
    now = 60_000;
    const slow = health.admit(groq, 5_000).probe;
    now = 66_001;
    const next = health.admit(groq, 5_000).probe;
    expect(next).not.toBe(0);
    expect(health.renewProbe(groq, slow, 5_000)).toBe(false);
    expect(health.renewProbe(groq, next, 5_000)).toBe(true);
  });
});
