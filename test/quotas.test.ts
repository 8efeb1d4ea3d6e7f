// Quota-aware routing through real HTTP: fakes that enforce limits the way their providers do (each
// one's own 429 body and headers), on a clock the test moves, and the gateway routing around a
// limit before the provider refuses.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { errorOf, json, KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { movingClock, type MovingClock } from './helpers/moving-clock.ts';

/** A burst on a machine shared with other suites must not meet the usual fast test timeouts. */
const PATIENT = { PROVIDER_TIMEOUT_MS: '5000', FIRST_TOKEN_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '10000' };

/** Chat calls a fake received (listing models does not count against a limit). */
const calls = (gateway: TestGateway, name: 'gemini' | 'groq' | 'openrouter') => gateway.fakes[name].requests.filter((r) => r.method === 'POST').length;

/** A clock one second into a minute, so a burst does not straddle the minute's turn. */
function startOfMinute(): MovingClock {
  const clock = movingClock();
  clock.advance(60_000 - (Date.now() % 60_000) + 1000);
  return clock;
}

async function health(gateway: TestGateway, name: string) {
  const response = await fetch(`${gateway.url}/health`);
  expect(response.status).toBe(200);
  return (await json(response)).providers.find((p: { name: string }) => p.name === name);
}

describe('quota-aware routing', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  it('sends a provider with a known limit no more than it allows in a burst, and the rest to the next', async () => {
    const clock = startOfMinute();
    gateway = await startGateway({ ...PATIENT, PROVIDER_ORDER: 'groq,openrouter', GROQ_LIMITS: 'rpm=5', MAX_RETRIES: '0' }, { clock });
    gateway.fakes.groq.setLimits({ rpm: 5, now: clock.now });
    gateway.fakes.openrouter.setLimits({ rpm: 20, now: clock.now });

    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => query(gateway, { prompt: `burst ${i}` })));
    const bodies = await Promise.all(responses.map((r) => json(r)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const by = (name: string) => bodies.filter((b) => b.provider === name);
    expect(by('groq')).toHaveLength(5);
    expect(by('openrouter')).toHaveLength(15);
    // The provider never saw the sixth request: no 429 was needed, none reached a client.
    expect(calls(gateway, 'groq')).toBe(5);
    expect(calls(gateway, 'openrouter')).toBe(15);
    expect(gateway.fakes.groq.limitRefusals).toBe(0);
    expect(gateway.fakes.openrouter.limitRefusals).toBe(0);
    for (const body of by('openrouter')) {
      expect(body.attempts).toEqual([
        { provider: 'groq', outcome: 'quota_exhausted', latency_ms: 0 },
        { provider: 'openrouter', outcome: 'ok', latency_ms: expect.any(Number) },
      ]);
    }

    const groq = await health(gateway, 'groq');
    expect(groq.state).toBe('quota_exhausted');
    const resetAt = (Math.floor(clock.now() / 60_000) + 1) * 60_000;
    expect(groq.quota_exhausted_until).toBe(new Date(resetAt).toISOString());
    expect(groq.quota).toContainEqual({ window: 'rpm', limit: 5, remaining: 0, reset: new Date(resetAt).toISOString() });
    // Corrected from Groq's headers on each answer: its daily request count and its tokens per minute.
    expect(groq.quota).toContainEqual(expect.objectContaining({ window: 'rpd', limit: 14_400 }));
    expect(groq.quota).toContainEqual(expect.objectContaining({ window: 'tpm', limit: 6000 }));

    // When the minute turns, the provider serves again.
    clock.advance(60_000);
    const next = await query(gateway, { prompt: 'next minute' });
    expect(next.status).toBe(200);
    expect((await json(next)).provider).toBe('groq');
    expect((await health(gateway, 'groq')).state).toBe('ready');
  });

  it('answers 503 with Retry-After at the earliest reset when every provider is out of quota', async () => {
    const clock = startOfMinute();
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', GROQ_LIMITS: 'rpm=1', OPENROUTER_LIMITS: 'rpm=1,rpd=10' }, { clock });
    expect((await json(query(gateway, { prompt: 'one' }))).provider).toBe('groq');
    expect((await json(query(gateway, { prompt: 'two' }))).provider).toBe('openrouter');

    const untilMinute = () => Math.ceil(((Math.floor(clock.now() / 60_000) + 1) * 60_000 - clock.now()) / 1000);
    const before = untilMinute();
    const response = await query(gateway, { prompt: 'three' });
    expect(response.status).toBe(503);
    const after = untilMinute();
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(after);
    expect(retryAfter).toBeLessThanOrEqual(before);
    expect((await errorOf(response)).code).toBe('providers_unavailable');
    expect(calls(gateway, 'groq')).toBe(1);
    expect(calls(gateway, 'openrouter')).toBe(1);
  });

  it('with the limit unknown, takes one 429 per window and learns the limit from it', async () => {
    const clock = startOfMinute();
    // Gemini publishes no free-tier figures: the gateway starts without a limit for it.
    // Tracked, with no request limit known (a token limit far off keeps tracking on).
    gateway = await startGateway({ PROVIDER_ORDER: 'gemini,groq', GEMINI_LIMITS: 'tpd=1000000000', MAX_RETRIES: '0' }, { clock });
    gateway.fakes.gemini.setLimits({ rpm: 5, day: 'pacific', now: clock.now });

    const providers: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      const response = await query(gateway, { prompt: `one by one ${i}` });
      expect(response.status).toBe(200);
      providers.push((await json(response)).provider);
    }
    expect(providers.filter((p) => p === 'gemini')).toHaveLength(5);
    expect(providers.filter((p) => p === 'groq')).toHaveLength(15);
    expect(calls(gateway, 'gemini')).toBe(6);
    expect(gateway.fakes.gemini.limitRefusals).toBe(1);
    // The 429's QuotaFailure named the per-minute quota and its value.
    const gemini = await health(gateway, 'gemini');
    expect(gemini.quota).toContainEqual(expect.objectContaining({ window: 'rpm', limit: 5, remaining: 0 }));

    // The next minute: the limit is known now, so the provider is not asked a sixth time.
    clock.advance(60_000);
    const next: string[] = [];
    for (let i = 0; i < 7; i += 1) next.push((await json(query(gateway, { prompt: `next ${i}` }))).provider);
    expect(next).toEqual(['gemini', 'gemini', 'gemini', 'gemini', 'gemini', 'groq', 'groq']);
    expect(gateway.fakes.gemini.limitRefusals).toBe(1);
  });

  it('keeps a provider whose daily limit is spent parked until its day turns, and /health says so', async () => {
    const clock = movingClock();
    // 10:00 in Los Angeles (UTC-8 in December).
    clock.advance(Date.UTC(2026, 11, 8, 18, 0, 0) - Date.now());
    gateway = await startGateway({ PROVIDER_ORDER: 'gemini,groq', GEMINI_LIMITS: 'rpd=3' }, { clock });
    gateway.fakes.gemini.setLimits({ rpd: 3, day: 'pacific', now: clock.now });

    const served: string[] = [];
    for (let i = 0; i < 5; i += 1) served.push((await json(query(gateway, { prompt: `day ${i}` }))).provider);
    expect(served).toEqual(['gemini', 'gemini', 'gemini', 'groq', 'groq']);
    expect(calls(gateway, 'gemini')).toBe(3);
    expect(gateway.fakes.gemini.limitRefusals).toBe(0);

    const midnightPacific = '2026-12-09T08:00:00.000Z';
    const parked = await health(gateway, 'gemini');
    expect(parked).toMatchObject({ state: 'quota_exhausted', quota_exhausted_until: midnightPacific, quota: [{ window: 'rpd', limit: 3, remaining: 0, reset: midnightPacific }] });
    const status = await json(fetch(`${gateway.url}/health`));
    expect(status.status).toBe('degraded');

    // 23:59 Pacific: still parked.
    clock.advance(13 * 3_600_000 + 59 * 60_000);
    expect((await json(query(gateway, { prompt: 'late' }))).provider).toBe('groq');
    // Past midnight Pacific: a new day, and it serves again.
    clock.advance(2 * 60_000);
    expect((await health(gateway, 'gemini')).state).toBe('ready');
    expect((await json(query(gateway, { prompt: 'new day' }))).provider).toBe('gemini');
    expect(calls(gateway, 'gemini')).toBe(4);
  });

  it("learns a daily limit from Groq's headers and stops before the provider refuses", async () => {
    const clock = startOfMinute();
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', GROQ_LIMITS: 'rpm=100' }, { clock });
    gateway.fakes.groq.setLimits({ rpd: 3, now: clock.now });
    const served: string[] = [];
    for (let i = 0; i < 5; i += 1) served.push((await json(query(gateway, { prompt: `headers ${i}` }))).provider);
    expect(served).toEqual(['groq', 'groq', 'groq', 'openrouter', 'openrouter']);
    expect(calls(gateway, 'groq')).toBe(3);
    expect(gateway.fakes.groq.limitRefusals).toBe(0);
    expect((await health(gateway, 'groq')).quota).toContainEqual(expect.objectContaining({ window: 'rpd', limit: 3, remaining: 0 }));
  });

  it("learns OpenRouter's per-minute limit from the X-RateLimit headers of its one 429", async () => {
    const clock = startOfMinute();
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,groq', OPENROUTER_LIMITS: 'rpd=1000', GROQ_LIMITS: 'none', MAX_RETRIES: '0' }, { clock });
    gateway.fakes.openrouter.setLimits({ rpm: 3, now: clock.now });
    const served: string[] = [];
    for (let i = 0; i < 6; i += 1) served.push((await json(query(gateway, { prompt: `router ${i}` }))).provider);
    expect(served).toEqual(['openrouter', 'openrouter', 'openrouter', 'groq', 'groq', 'groq']);
    expect(calls(gateway, 'openrouter')).toBe(4);
    expect(gateway.fakes.openrouter.limitRefusals).toBe(1);
    // Its reset is X-RateLimit-Reset: the fake gives the next whole second at or after the minute's turn.
    const turn = (Math.floor(clock.now() / 60_000) + 1) * 60_000;
    const rpm = (await health(gateway, 'openrouter')).quota.find((w: { window: string }) => w.window === 'rpm');
    expect(rpm).toMatchObject({ limit: 3, remaining: 0 });
    expect(Date.parse(rpm.reset)).toBeGreaterThanOrEqual(turn);
    expect(Date.parse(rpm.reset)).toBeLessThan(turn + 1000);
  });

  it("reads what is left of OpenRouter's free-model day from its key endpoint at start", async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,groq', OPENROUTER_LIMITS: 'rpm=20,rpd=7' });
    const keyRead = () => gateway.fakes.openrouter.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/key');
    await vi.waitFor(() => expect(keyRead()).toHaveLength(1));
    expect(keyRead()[0]?.headers.authorization).toBe(`Bearer ${gateway.config.providers.get('openrouter')!.apiKey}`);
    // The account's own figure (50 a UTC day) replaces the configured 7.
    await vi.waitFor(async () => expect((await health(gateway, 'openrouter')).quota).toContainEqual(expect.objectContaining({ window: 'rpd', limit: 50, remaining: 50 })));
  });

  it("counts a request's estimated tokens while it runs, then the provider's own count", async () => {
    const clock = startOfMinute();
    // Groq's headers say 6000 tokens a minute. Each request is estimated at over 1000 (max_tokens),
    // so without the real counts replacing the estimates the sixth would not fit.
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', GROQ_LIMITS: 'rpm=100' }, { clock });
    const served: string[] = [];
    for (let i = 0; i < 8; i += 1) served.push((await json(query(gateway, { prompt: `tokens ${i}`, max_tokens: 1000 }))).provider);
    expect(served).toEqual(Array(8).fill('groq'));
    const tpm = (await health(gateway, 'groq')).quota.find((w: { window: string }) => w.window === 'tpm');
    expect(tpm.limit).toBe(6000);
    expect(tpm.remaining).toBeGreaterThan(5000);
  });

  it('routes streams around a spent quota too', async () => {
    const clock = startOfMinute();
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', GROQ_LIMITS: 'rpm=2' }, { clock });
    gateway.fakes.groq.setLimits({ rpm: 2, now: clock.now });
    const providers: Array<string | null> = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: `stream ${i}` }] }),
      });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('data: [DONE]');
      providers.push(response.headers.get('x-llm-provider'));
    }
    expect(providers).toEqual(['groq', 'groq', 'openrouter']);
    expect(calls(gateway, 'groq')).toBe(2);
    expect(gateway.fakes.groq.limitRefusals).toBe(0);
  });

  it('tracks nothing for a provider set to none', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', GROQ_LIMITS: 'none', MAX_RETRIES: '0' });
    gateway.fakes.groq.setLimits({ rpd: 1 });
    expect((await json(query(gateway, { prompt: 'a' }))).provider).toBe('groq');
    // Unknown to the gateway: the provider's own 429 moves the request on, and cools the provider down.
    const second = await json(query(gateway, { prompt: 'b' }));
    expect(second.provider).toBe('openrouter');
    expect(second.attempts[0]).toMatchObject({ provider: 'groq', outcome: 'rate_limited', status: 429 });
    expect((await health(gateway, 'groq')).quota).toBeUndefined();
  });
});
