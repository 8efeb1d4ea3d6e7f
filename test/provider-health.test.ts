// The breakers' bookkeeping that no HTTP test can reach in reasonable time: exact models' breakers
// are capped, reading never creates one, and a refused key cools the provider as well as the model.
import { describe, expect, it } from 'vitest';
import { MAX_MODEL_BREAKERS, MISCONFIGURED_COOLDOWN_MS, ProviderHealth } from '../src/cascade/provider-health.ts';
import { ProviderError } from '../src/providers/provider-error.ts';

const limited = () => new ProviderError('gemini', 'rate_limited', '429', { status: 429, retryAfterMs: 60_000 });

describe('ProviderHealth', () => {
  it("keeps an exact model's cooldown apart from its provider's", () => {
    const health = new ProviderHealth({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => 1_000 });
    expect(health.recordFailure({ provider: 'gemini', model: 'gemini-2.5-pro' }, limited())).toBe(60_000);
    expect(health.cooldownRemaining({ provider: 'gemini', model: 'gemini-2.5-pro' })).toBe(60_000);
    expect(health.cooldownRemaining({ provider: 'gemini', model: 'gemini-3-flash' })).toBe(0);
    expect(health.cooldownRemaining('gemini')).toBe(0);
    expect(health.coolingModels('gemini')).toEqual([{ model: 'gemini-2.5-pro', cooldownUntil: 61_000, reason: 'rate_limited' }]);
    expect(health.coolingModels('groq')).toEqual([]);

    // An answer from that model forgets its breaker.
    health.recordSuccess({ provider: 'gemini', model: 'gemini-2.5-pro' });
    expect(health.coolingModels('gemini')).toEqual([]);
  });

  it('cools the provider too when an exact model shows the key is refused', () => {
    const health = new ProviderHealth({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => 0 });
    const refused = new ProviderError('groq', 'misconfigured', 'bad key', { status: 401 });
    health.recordFailure({ provider: 'groq', model: 'llama-3.3-70b-versatile' }, refused);
    expect(health.cooldownRemaining('groq')).toBe(MISCONFIGURED_COOLDOWN_MS);
    expect(health.snapshot('groq')).toMatchObject({ state: 'cooling_down', reason: 'misconfigured', consecutiveFailures: 1 });
  });

  it('holds at most MAX_MODEL_BREAKERS exact models, forgetting the oldest', () => {
    let now = 0;
    const health = new ProviderHealth({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => now });
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
    const health = new ProviderHealth({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => 0 });
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
});
