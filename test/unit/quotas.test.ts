// The quota store's windows, the providers' rate-limit headers and 429 bodies as corrections, and
// the hedge's race, on a clock the test moves: counts, resets, which side wins and what is aborted.
import { describe, expect, it } from 'vitest';
import { hedge, HedgeAbandoned, type HedgeCall, type HedgeSide } from '../../src/cascade/hedge.ts';
import { fromHttpStatus } from '../../src/providers/gemini/gemini-errors.ts';
import { groqDurationMs, rateLimitCorrections } from '../../src/providers/rate-limit-headers.ts';
import { MemoryQuotaStore, nextReset } from '../../src/state/quota-store.ts';
import { FakeClock, settle } from '../helpers/fake-clock.ts';

const T0 = Date.UTC(2026, 11, 8, 18, 0, 10); // 10:00:10 in Los Angeles

describe('the in-memory quota store', () => {
  it('takes requests and tokens until a limit would be passed, names the window, and starts again when it resets', () => {
    const store = new MemoryQuotaStore();
    store.define('groq/m', { rpm: 2, tpm: 100 }, 'utc');
    expect(store.take('groq/m', { requests: 1, tokens: 40 }, T0)).toEqual({ ok: true });
    // Tokens first: 40 + 70 > 100, so nothing is taken.
    expect(store.take('groq/m', { requests: 1, tokens: 70 }, T0)).toEqual({ ok: false, window: 'tpm', resetAt: Date.UTC(2026, 11, 8, 18, 1, 0) });
    expect(store.take('groq/m', { requests: 1, tokens: 10 }, T0)).toEqual({ ok: true });
    expect(store.take('groq/m', { requests: 1, tokens: 1 }, T0 + 1000)).toMatchObject({ ok: false, window: 'rpm' });
    expect(store.view('groq/m', T0)).toEqual([
      { window: 'rpm', limit: 2, remaining: 0, resetAt: Date.UTC(2026, 11, 8, 18, 1, 0) },
      { window: 'tpm', limit: 100, remaining: 50, resetAt: Date.UTC(2026, 11, 8, 18, 1, 0) },
    ]);
    // The minute turns.
    expect(store.take('groq/m', { requests: 1, tokens: 1 }, Date.UTC(2026, 11, 8, 18, 1, 0))).toEqual({ ok: true });
  });

  it('replaces an estimate with the real count, never below zero', () => {
    const store = new MemoryQuotaStore();
    store.define('k', { tpd: 1000 }, 'utc');
    store.take('k', { requests: 1, tokens: 600 }, T0);
    store.addTokens('k', -500, T0);
    expect(store.view('k', T0)[0]).toMatchObject({ window: 'tpd', remaining: 900 });
    store.addTokens('k', -5000, T0);
    expect(store.view('k', T0)[0]).toMatchObject({ remaining: 1000 });
  });

  it("takes the provider's figures, keeping the higher count, and a spent window with no known limit until it resets", () => {
    const store = new MemoryQuotaStore();
    store.define('k', {}, 'pacific');
    store.take('k', { requests: 1, tokens: 0 }, T0);
    store.take('k', { requests: 1, tokens: 0 }, T0);
    store.correct('k', [{ window: 'rpd', limit: 10, remaining: 9, resetAt: T0 + 60_000 }], T0);
    // The provider counted one; two are ours (one still in flight for it).
    expect(store.view('k', T0)).toEqual([{ window: 'rpd', limit: 10, remaining: 8, resetAt: T0 + 60_000 }]);
    store.correct('k', [{ window: 'rpm', remaining: 0, resetAt: T0 + 30_000 }], T0);
    expect(store.take('k', { requests: 1, tokens: 0 }, T0 + 1000)).toEqual({ ok: false, window: 'rpm', resetAt: T0 + 30_000 });
    // After its reset the guess is forgotten: no limit is known for the window.
    expect(store.take('k', { requests: 1, tokens: 0 }, T0 + 30_000)).toEqual({ ok: true });
    expect(store.view('k', T0 + 30_000).map((v) => v.window)).toEqual(['rpd']);
  });

  it('turns a day at midnight Pacific or at 00:00 UTC', () => {
    expect(new Date(nextReset('rpd', 'pacific', T0)).toISOString()).toBe('2026-12-09T08:00:00.000Z');
    expect(new Date(nextReset('tpd', 'utc', T0)).toISOString()).toBe('2026-12-09T00:00:00.000Z');
    expect(new Date(nextReset('rpm', 'pacific', T0)).toISOString()).toBe('2026-12-08T18:01:00.000Z');
  });
});

describe('what providers say about their limits', () => {
  it("reads Groq's headers: requests per day and tokens per minute, with their resets", () => {
    const headers = {
      'x-ratelimit-limit-requests': '1000',
      'x-ratelimit-remaining-requests': '997',
      'x-ratelimit-reset-requests': '2m59.56s',
      'x-ratelimit-limit-tokens': '8000',
      'x-ratelimit-remaining-tokens': '7880',
      'x-ratelimit-reset-tokens': '7.66s',
    };
    expect(rateLimitCorrections(headers, T0)).toEqual([
      { window: 'rpd', limit: 1000, remaining: 997, resetAt: T0 + 179_560 },
      { window: 'tpm', limit: 8000, remaining: 7880, resetAt: T0 + 7660 },
    ]);
    expect(groqDurationMs('1h2m3.5s')).toBe(3_723_500);
    expect(groqDurationMs('250ms')).toBe(250);
    expect(groqDurationMs('soon')).toBeUndefined();
  });

  it("reads OpenRouter's X-RateLimit headers, the window told by the reset's distance", () => {
    expect(rateLimitCorrections({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(T0 + 40_000) }, T0)).toEqual([
      { window: 'rpm', limit: 20, remaining: 0, resetAt: T0 + 40_000 },
    ]);
    expect(rateLimitCorrections({ 'x-ratelimit-limit': '50', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(T0 + 6 * 3_600_000) }, T0)).toEqual([
      { window: 'rpd', limit: 50, remaining: 0, resetAt: T0 + 6 * 3_600_000 },
    ]);
    expect(rateLimitCorrections({ 'content-type': 'application/json' }, T0)).toEqual([]);
  });

  it("reads Gemini's QuotaFailure: the window its quota id names, and its value", () => {
    const body = (quotaId: string, extra: unknown[] = []) =>
      JSON.stringify({
        error: {
          code: 429,
          status: 'RESOURCE_EXHAUSTED',
          details: [{ '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaId, quotaValue: '15' }] }, ...extra],
        },
      });
    const minute = fromHttpStatus(429, body('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '21s' }]));
    expect(minute).toMatchObject({ kind: 'rate_limited', retryAfterMs: 21_000, quota: { window: 'rpm', limit: 15 } });
    expect(fromHttpStatus(429, body('GenerateContentInputTokensPerModelPerMinute-FreeTier')).quota).toEqual({ window: 'tpm', limit: 15 });
    expect(fromHttpStatus(429, body('GenerateRequestsPerDayPerProjectPerModel-FreeTier')).quota).toEqual({ window: 'rpd', limit: 15 });
    expect(fromHttpStatus(429, '{"error":{"code":429}}').quota).toBeUndefined();
  });
});

/** A call the test settles by hand, recording whether its caller aborted it. */
function scripted() {
  let live = (): void => undefined;
  let settleWith: { resolve: (v: string) => void; reject: (e: unknown) => void } | undefined;
  const call: HedgeCall<string> = (shown) => {
    live = shown;
    return new Promise((resolve, reject) => (settleWith = { resolve, reject }));
  };
  return {
    call,
    get started() {
      return settleWith !== undefined;
    },
    showLife: () => live(),
    answer: (value: string) => settleWith?.resolve(value),
    fail: (error: unknown) => settleWith?.reject(error),
  };
}

function race(options: { headroom?: boolean } = {}) {
  const clock = new FakeClock(T0);
  const first = scripted();
  const second = scripted();
  const lost: HedgeSide[] = [];
  const secondFailures: unknown[] = [];
  let asked = 0;
  const outcome = hedge<string>({
    afterMs: 500,
    clock,
    first: first.call,
    second: async () => {
      asked += 1;
      return options.headroom === false ? undefined : second.call;
    },
    lost: (side) => void lost.push(side),
    secondFailed: (error) => void secondFailures.push(error),
  });
  const result: { value?: unknown; error?: unknown } = {};
  outcome.then(
    (value) => (result.value = value),
    (error: unknown) => (result.error = error),
  );
  return { clock, first, second, lost, secondFailures, result, asked: () => asked };
}

describe('the hedge race', () => {
  it('starts no second call when the first shows life in time', async () => {
    const r = race();
    await r.clock.advance(100);
    r.first.showLife();
    await r.clock.advance(1000);
    expect(r.asked()).toBe(0);
    r.first.answer('from the first');
    await settle();
    expect(r.result.value).toEqual({ side: 'first', value: 'from the first' });
    expect(r.lost).toEqual([]);
  });

  it('starts the second after the wait; the first to show life wins and the other is aborted at once', async () => {
    const r = race();
    await r.clock.advance(499);
    expect(r.second.started).toBe(false);
    await r.clock.advance(1);
    expect(r.second.started).toBe(true);
    r.second.showLife();
    expect(r.lost).toEqual(['first']);
    // The first's late answer changes nothing.
    r.first.answer('too late');
    r.second.answer('from the second');
    await settle();
    expect(r.result.value).toEqual({ side: 'second', value: 'from the second' });
  });

  it('aborts the second when the first shows life after it started', async () => {
    const r = race();
    await r.clock.advance(500);
    r.first.showLife();
    expect(r.lost).toEqual(['second']);
    r.first.answer('first after all');
    await settle();
    expect(r.result.value).toEqual({ side: 'first', value: 'first after all' });
  });

  it('starts nothing when the next provider has no headroom', async () => {
    const r = race({ headroom: false });
    await r.clock.advance(2000);
    expect(r.asked()).toBe(1);
    expect(r.second.started).toBe(false);
    r.first.answer('alone');
    await settle();
    expect(r.result.value).toEqual({ side: 'first', value: 'alone' });
  });

  it('waits for the second when the first fails, and hands back the first error for the record', async () => {
    const r = race();
    await r.clock.advance(500);
    const error = new Error('first failed');
    r.first.fail(error);
    await settle();
    expect(r.result).toEqual({});
    r.second.answer('rescued');
    await settle();
    expect(r.result.value).toEqual({ side: 'second', value: 'rescued', firstError: error });
    expect(r.lost).toEqual([]);
  });

  it('goes on with the first when the second fails, and rejects with the first error when both fail', async () => {
    const r = race();
    await r.clock.advance(500);
    r.second.fail(new Error('second failed'));
    await settle();
    expect(r.secondFailures).toHaveLength(1);
    const error = new Error('first failed too');
    r.first.fail(error);
    await settle();
    expect(r.result.error).toBe(error);
  });

  it('rejects with HedgeAbandoned when the second, having won, fails', async () => {
    const r = race();
    await r.clock.advance(500);
    r.second.showLife();
    r.second.fail(new Error('cut'));
    await settle();
    expect(r.lost).toEqual(['first']);
    expect(r.secondFailures).toHaveLength(1);
    expect(r.result.error).toBeInstanceOf(HedgeAbandoned);
  });
});
