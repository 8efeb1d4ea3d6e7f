// The start-up check's pure parts: which listed names are nearest to a missing model, and how a
// park in the breakers behaves (on a clock the test moves) next to the cooldowns of failed calls.
import { describe, expect, it } from 'vitest';
import { Breakers } from '../../src/cascade/breakers.ts';
import { compareModels, editDistance, nearestNames, worst } from '../../src/providers/model-check.ts';
import { GROQ_REPLACEMENTS } from '../../src/providers/openai-compatible/groq.ts';
import { ProviderError } from '../../src/providers/provider-error.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

// Ids Groq listed in 2026 (console.groq.com/docs/models), in no helpful order.
const GROQ_LIST = [
  'whisper-large-v3',
  'meta-llama/llama-guard-4-12b',
  'groq/compound-mini',
  'openai/gpt-oss-120b',
  'meta-llama/llama-4-scout-17b-16e-instruct',
  'qwen/qwen3.6-27b',
  'openai/gpt-oss-20b',
  'groq/compound',
  'openai/gpt-oss-safeguard-20b',
];

describe('nearest names', () => {
  it('puts a retired model\'s named successor first, then names that share its beginning', () => {
    expect(nearestNames('llama-3.1-8b-instant', GROQ_LIST, GROQ_REPLACEMENTS['llama-3.1-8b-instant'])).toEqual([
      'openai/gpt-oss-20b',
      'meta-llama/llama-guard-4-12b',
      'meta-llama/llama-4-scout-17b-16e-instruct',
    ]);
    expect(nearestNames('llama-3.3-70b-versatile', GROQ_LIST, GROQ_REPLACEMENTS['llama-3.3-70b-versatile'])?.[0]).toBe('openai/gpt-oss-120b');
  });

  it('finds a typo by edit distance, ignoring the owner part', () => {
    expect(nearestNames('openai/gpt-oss-2b', GROQ_LIST)[0]).toBe('openai/gpt-oss-20b');
    expect(nearestNames('gemini-3.5-flash-lit', ['gemini-3.5-flash', 'gemini-3.5-flash-lite', 'gemini-embedding-001'])[0]).toBe('gemini-3.5-flash-lite');
  });

  it('suggests no more than three, never the missing name itself, and a successor only when listed', () => {
    expect(nearestNames('x', GROQ_LIST)).toHaveLength(3);
    expect(nearestNames('gone', ['gone', 'other'])).toEqual(['other']);
    expect(nearestNames('llama-3.1-8b-instant', ['qwen/qwen3.6-27b'], 'openai/gpt-oss-20b')).toEqual(['qwen/qwen3.6-27b']);
    expect(nearestNames('anything', [])).toEqual([]);
  });

  it('counts edits', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
});

describe('comparing configured models with a list', () => {
  it('is ok when every one is listed, and names each one that is not', () => {
    expect(compareModels([{ model: 'openai/gpt-oss-20b', use: 'chat' }], GROQ_LIST)).toEqual({ outcome: 'ok' });
    expect(compareModels([{ model: 'openai/gpt-oss-20b', use: 'chat' }, { model: 'nomic-embed', use: 'embeddings' }], GROQ_LIST)).toMatchObject({
      outcome: 'model_missing',
      missing: [{ model: 'nomic-embed', use: 'embeddings' }],
    });
  });

  it('reports the worst of several findings', () => {
    expect(worst([{ outcome: 'ok' }, { outcome: 'unreachable' }, { outcome: 'key_rejected' }]).outcome).toBe('key_rejected');
    expect(worst([{ outcome: 'unknown' }, { outcome: 'model_missing' }]).outcome).toBe('model_missing');
  });
});

describe('a park in the breakers', () => {
  const breakers = (clock: FakeClock) => new Breakers({ breakerThreshold: 3, breakerCooldownMs: 30_000, now: () => clock.now() });

  it('keeps the provider out until the time given, and shows why', async () => {
    const clock = new FakeClock();
    const b = breakers(clock);
    b.park({ provider: 'groq' }, clock.now() + 60_000, 'key_rejected');
    expect(b.admit({ provider: 'groq' }, 1000).waitMs).toBe(60_000);
    expect(b.snapshot('groq')).toMatchObject({ state: 'cooling_down', reason: 'key_rejected', cooldownUntil: clock.now() + 60_000, consecutiveFailures: 0 });
    // Other providers and exact models on it are not parked.
    expect(b.admit({ provider: 'gemini' }, 1000).waitMs).toBe(0);
    expect(b.admit({ provider: 'groq', model: 'openai/gpt-oss-120b' }, 0).waitMs).toBe(0);
    await clock.advance(60_000);
    // After it, one request probes the provider, as after any cooldown.
    expect(b.admit({ provider: 'groq' }, 1000).probe).not.toBe(0);
  });

  it('ends early on unpark, which leaves a cooldown of a failed call alone', () => {
    const clock = new FakeClock();
    const b = breakers(clock);
    b.park({ provider: 'groq' }, clock.now() + 60_000, 'model_missing');
    b.unpark({ provider: 'groq' });
    expect(b.snapshot('groq').state).toBe('ready');

    b.recordFailure({ provider: 'gemini' }, new ProviderError('gemini', 'rate_limited', 'slow down', { retryAfterMs: 10_000 }));
    b.unpark({ provider: 'gemini' });
    expect(b.snapshot('gemini')).toMatchObject({ state: 'cooling_down', reason: 'rate_limited' });
  });
});
