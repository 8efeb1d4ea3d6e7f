import { afterEach, describe, expect, it } from 'vitest';
import { errorOf, OTHER_KEY, query, startGateway, type TestGateway, json } from '../helpers/gateway.ts';

interface Attempt {
  provider: string;
  outcome: string;
  status?: number;
}

async function answer(response: Response): Promise<{ provider: string; attempts: Attempt[]; response: string }> {
  expect(response.status).toBe(200);
  return (await json(response)) as { provider: string; attempts: Attempt[]; response: string };
}

const outcomes = (attempts: Attempt[]) => attempts.map((a) => `${a.provider}:${a.outcome}`);

/**
 * Sends a query whose caller leaves once Gemini has seen `callsBefore` + 1 calls (the last one
 * hanging), and waits until the gateway has cut that call.
 */
async function leaveWhileGeminiAnswers(gateway: TestGateway, callsBefore: number): Promise<void> {
  const controller = new AbortController();
  const leaving = query(gateway, { prompt: 'leaving' }, { signal: controller.signal }).catch((e: Error) => e.name);
  await expect.poll(() => gateway.fakes.gemini.requests.length).toBe(callsBefore + 1);
  controller.abort();
  expect(await leaving).toBe('AbortError');
  await expect.poll(() => gateway.fakes.gemini.abortedRequests, { timeout: 1000 }).toBe(1);
}

describe('the provider cascade', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  it('falls back to the next provider when the first answers 5xx, after one retry', async () => {
    gateway = await startGateway();
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    const body = await answer(await query(gateway, { prompt: 'fallback' }));
    expect(body.provider).toBe('groq');
    expect(body.response).toContain('Simulated answer from groq');
    expect(body.attempts).toMatchObject([
      { provider: 'gemini', outcome: 'unavailable', status: 503 },
      { provider: 'gemini', outcome: 'unavailable', status: 503 },
      { provider: 'groq', outcome: 'ok' },
    ]);
    expect(gateway.fakes.gemini.requests).toHaveLength(2);
  });

  it('recovers on the same provider when a retry succeeds', async () => {
    gateway = await startGateway();
    gateway.fakes.gemini.enqueue({ kind: 'error', status: 500 });
    const body = await answer(await query(gateway, { prompt: 'retry' }));
    expect(body.provider).toBe('gemini');
    expect(outcomes(body.attempts)).toEqual(['gemini:unavailable', 'gemini:ok']);
  });

  it('on 429 moves on at once, honours Retry-After, and skips the provider on the next request', async () => {
    gateway = await startGateway();
    gateway.fakes.gemini.enqueue({ kind: 'rate_limited', retryAfterSeconds: 30 });
    const first = await answer(await query(gateway, { prompt: 'limited' }));
    expect(first.provider).toBe('groq');
    expect(first.attempts).toMatchObject([{ provider: 'gemini', outcome: 'rate_limited', status: 429 }, { provider: 'groq', outcome: 'ok' }]);

    const second = await answer(await query(gateway, { prompt: 'again' }));
    expect(outcomes(second.attempts)).toEqual(['gemini:cooling_down', 'groq:ok']);
    expect(gateway.fakes.gemini.requests).toHaveLength(1);

    const health = await json(fetch(`${gateway.url}/health`));
    const gemini = health.providers.find((p: { name: string }) => p.name === 'gemini');
    expect(health.status).toBe('degraded');
    expect(gemini).toMatchObject({ state: 'cooling_down', cooldown_reason: 'rate_limited' });
    const until = Date.parse(gemini.cooldown_until) - Date.now();
    expect(until).toBeGreaterThan(25_000);
    expect(until).toBeLessThanOrEqual(30_000);
  });

  it('honours a Retry-After header from an OpenAI-compatible provider too', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,groq' });
    gateway.fakes.openrouter.enqueue({ kind: 'rate_limited', retryAfterSeconds: 120 });
    const first = await answer(await query(gateway, { prompt: 'limited' }));
    expect(outcomes(first.attempts)).toEqual(['openrouter:rate_limited', 'groq:ok']);
    const health = await json(fetch(`${gateway.url}/health`));
    const openrouter = health.providers.find((p: { name: string }) => p.name === 'openrouter');
    expect(Date.parse(openrouter.cooldown_until) - Date.now()).toBeGreaterThan(110_000);
  });

  it('on a 503 with Retry-After moves on at once and waits out the hint', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,groq' });
    gateway.fakes.openrouter.setDefault({ kind: 'error', status: 503, retryAfterSeconds: 40 });
    const first = await answer(await query(gateway, { prompt: 'overloaded' }));
    expect(first.attempts).toMatchObject([{ provider: 'openrouter', outcome: 'unavailable', status: 503 }, { provider: 'groq', outcome: 'ok' }]);
    const second = await answer(await query(gateway, { prompt: 'again' }));
    expect(outcomes(second.attempts)).toEqual(['openrouter:cooling_down', 'groq:ok']);
    expect(gateway.fakes.openrouter.requests).toHaveLength(1);
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.providers.find((p: { name: string }) => p.name === 'openrouter')).toMatchObject({
      state: 'cooling_down',
      cooldown_reason: 'unavailable',
    });

    // With every provider waiting, the gateway's Retry-After is the earliest of their ends.
    gateway.fakes.groq.setDefault({ kind: 'rate_limited', retryAfterSeconds: 20 });
    const refused = await query(gateway, { prompt: 'both waiting' });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get('retry-after'))).toBe(20);
    expect((await errorOf(refused)).code).toBe('providers_unavailable');
  });

  it("takes OpenRouter's 402 with Retry-After (a key's in-flight budget) as a wait, not as missing credit", async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,groq' });
    gateway.fakes.openrouter.enqueue({ kind: 'error', status: 402, retryAfterSeconds: 5 });
    const body = await answer(await query(gateway, { prompt: 'busy key' }));
    expect(body.attempts).toMatchObject([{ provider: 'openrouter', outcome: 'rate_limited', status: 402 }, { provider: 'groq', outcome: 'ok' }]);
    const health = await json(fetch(`${gateway.url}/health`));
    const openrouter = health.providers.find((p: { name: string }) => p.name === 'openrouter');
    expect(openrouter).toMatchObject({ state: 'cooling_down', cooldown_reason: 'rate_limited' });
    expect(Date.parse(openrouter.cooldown_until) - Date.now()).toBeLessThanOrEqual(5_000);
  });

  it('takes a redirect from a provider as a wrong base URL: no retry, a cooldown, and a 503 rather than a 400 blaming the caller', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq', MAX_RETRIES: '2' });
    gateway.fakes.groq.setDefault({ kind: 'error', status: 301 });
    const refused = await query(gateway, { prompt: 'redirected' });
    expect(refused.status).toBe(503);
    expect((await errorOf(refused)).code).toBe('providers_unavailable');
    // Not retried, and cooled down like a refused key, so the next request does not ask again.
    expect(gateway.fakes.groq.requests).toHaveLength(1);
    const again = await query(gateway, { prompt: 'again' });
    expect(again.status).toBe(503);
    expect(gateway.fakes.groq.requests).toHaveLength(1);
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.providers.find((p: { name: string }) => p.name === 'groq')).toMatchObject({
      state: 'cooling_down',
      cooldown_reason: 'misconfigured',
    });
    expect(gateway.logs.some((line) => line.level === 50 && String(line.msg).includes('check its key, model and base URL'))).toBe(true);
  });

  it('gives up on a hanging provider after FIRST_TOKEN_TIMEOUT_MS and answers from the next within the budget', async () => {
    gateway = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '300', REQUEST_TIMEOUT_MS: '2000' });
    gateway.fakes.gemini.setDefault({ kind: 'hang' });
    const started = Date.now();
    const body = await answer(await query(gateway, { prompt: 'hang' }));
    const elapsed = Date.now() - started;
    expect(body.provider).toBe('groq');
    expect(outcomes(body.attempts)).toEqual(['gemini:timeout', 'groq:ok']);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2000);
    // The hung upstream call was really aborted, not left running.
    await expect.poll(() => gateway.fakes.gemini.abortedRequests).toBe(1);
  });

  it('treats a connection reset as transient: retry, then the next provider', async () => {
    gateway = await startGateway();
    gateway.fakes.gemini.setDefault({ kind: 'reset' });
    const body = await answer(await query(gateway, { prompt: 'reset' }));
    expect(outcomes(body.attempts)).toEqual(['gemini:unavailable', 'gemini:unavailable', 'groq:ok']);
  });

  it('treats a malformed upstream body as a failure', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,openrouter', MAX_RETRIES: '0' });
    gateway.fakes.groq.setDefault({ kind: 'malformed' });
    const body = await answer(await query(gateway, { prompt: 'malformed' }));
    expect(outcomes(body.attempts)).toEqual(['groq:bad_response', 'openrouter:ok']);
  });

  it("treats OpenRouter's error inside a 200 as a failure", async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,gemini', MAX_RETRIES: '0' });
    gateway.fakes.openrouter.setDefault({ kind: 'bad_response' });
    const body = await answer(await query(gateway, { prompt: 'error in 200' }));
    // Asked as a stream, OpenRouter reports it as an error event: a failure of the provider either way.
    expect(outcomes(body.attempts)).toEqual(['openrouter:unavailable', 'gemini:ok']);
  });

  it("treats Gemini's empty answer as a failure", async () => {
    gateway = await startGateway({ MAX_RETRIES: '0' });
    gateway.fakes.gemini.setDefault({ kind: 'bad_response' });
    const body = await answer(await query(gateway, { prompt: 'empty' }));
    expect(outcomes(body.attempts)).toEqual(['gemini:bad_response', 'groq:ok']);
  });

  it('moves past a prompt a provider will not answer (with ON_CONTENT_FILTER=next) without a retry or a mark against it', async () => {
    gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '2', ON_CONTENT_FILTER: 'next' });
    gateway.fakes.gemini.setDefault({ kind: 'blocked' });
    for (const prompt of ['blocked 1', 'blocked 2', 'blocked 3']) {
      const body = await answer(await query(gateway, { prompt }));
      expect(outcomes(body.attempts)).toEqual(['gemini:rejected', 'groq:ok']);
    }
    // Three in a row, past the threshold of two, and Gemini is still asked: the prompts were the cause.
    expect(gateway.fakes.gemini.requests).toHaveLength(3);
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.providers.find((p: { name: string }) => p.name === 'gemini')).toMatchObject({ state: 'ready' });

    // When every provider will not answer, the caller hears that the request is the problem.
    gateway.fakes.groq.setDefault({ kind: 'blocked' });
    gateway.fakes.openrouter.setDefault({ kind: 'blocked' });
    const refused = await query(gateway, { prompt: 'blocked everywhere' });
    expect(refused.status).toBe(400);
    expect((await errorOf(refused)).code).toBe('content_filtered');
  });

  it('cools a provider down when its key is rejected, logs it loudly and goes on', async () => {
    gateway = await startGateway();
    gateway.fakes.gemini.setDefault({ kind: 'unauthorized' });
    const first = await answer(await query(gateway, { prompt: 'bad key' }));
    expect(outcomes(first.attempts)).toEqual(['gemini:misconfigured', 'groq:ok']);
    const second = await answer(await query(gateway, { prompt: 'again' }));
    expect(outcomes(second.attempts)).toEqual(['gemini:cooling_down', 'groq:ok']);
    const loud = gateway.logs.find((line) => line.level === 50 && line.provider === 'gemini');
    expect(loud?.msg).toMatch(/credentials or model/);
    expect(gateway.logText()).not.toContain(gateway.config.providers.get('gemini')!.apiKey ?? 'unset');
  });

  it('answers 503 when every provider fails, then cools them down and says when to retry', async () => {
    gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '3', CIRCUIT_BREAKER_COOLDOWN_MS: '20000' });
    for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'error', status: 500 });
    // Two failures each (one retry): below the threshold, so no cooldown and no Retry-After yet.
    const first = await query(gateway, { prompt: 'all down' });
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBeNull();
    const error = await errorOf(first);
    expect(error.code).toBe('providers_unavailable');
    expect(error.message).not.toMatch(/500|INTERNAL|fake/i);

    // The third failure in a row, now seen by a second client too, cools each provider down for
    // everyone; the answer says when to come back.
    const second = await query(gateway, { prompt: 'still down' }, { key: OTHER_KEY });
    expect(second.status).toBe(503);
    expect(Number(second.headers.get('retry-after'))).toBe(20);

    // Now nobody is even asked.
    const requestsBefore = Object.values(gateway.fakes).map((f) => f.requests.length);
    const third = await query(gateway, { prompt: 'and again' });
    expect(third.status).toBe(503);
    const retryAfter = Number(third.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(15);
    expect(retryAfter).toBeLessThanOrEqual(20);
    expect(Object.values(gateway.fakes).map((f) => f.requests.length)).toEqual(requestsBefore);
    const body = await json(third);
    expect(body.error.code).toBe('providers_unavailable');

    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.status).toBe('unavailable');
    expect(health.providers.every((p: { state: string }) => p.state === 'cooling_down')).toBe(true);
  });

  describe('after a cooldown (half-open)', () => {
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    /** A gateway whose Gemini has just come out of a 300 ms cooldown. */
    async function geminiJustRecovered(): Promise<TestGateway> {
      const own = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '1', CIRCUIT_BREAKER_COOLDOWN_MS: '300', MAX_RETRIES: '0', FIRST_TOKEN_TIMEOUT_MS: '1000', REQUEST_TIMEOUT_MS: '5000' });
      own.fakes.gemini.enqueue({ kind: 'error', status: 503 });
      expect(outcomes((await answer(await query(own, { prompt: 'down' }))).attempts)).toEqual(['gemini:unavailable', 'groq:ok']);
      await sleep(400);
      return own;
    }

    it('lets one request try the provider while the others go on at once to the next', async () => {
      gateway = await geminiJustRecovered();
      gateway.fakes.gemini.setDefault({ kind: 'hang' });
      const started = Date.now();
      const bodies = await Promise.all(Array.from({ length: 5 }, (_, i) => query(gateway, { prompt: `burst ${i}` }).then(answer)));
      // One call reached Gemini (it hung until FIRST_TOKEN_TIMEOUT_MS), not five.
      expect(gateway.fakes.gemini.requests).toHaveLength(2);
      const seen = bodies.map((b) => outcomes(b.attempts).join(' '));
      expect(seen.filter((s) => s === 'gemini:timeout groq:ok')).toHaveLength(1);
      expect(seen.filter((s) => s === 'gemini:cooling_down groq:ok')).toHaveLength(4);
      expect(bodies.every((b) => b.provider === 'groq')).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);

      // The probe's failure cooled Gemini down again.
      const health = await json(fetch(`${gateway.url}/health`));
      expect(health.providers.find((p: { name: string }) => p.name === 'gemini')).toMatchObject({ state: 'cooling_down', cooldown_reason: 'consecutive_failures' });
    });

    it("closes the breaker on the probe's success", async () => {
      gateway = await geminiJustRecovered();
      gateway.fakes.gemini.enqueue({ kind: 'ok', delayMs: 200 });
      const probe = query(gateway, { prompt: 'probe' }).then(answer);
      await expect.poll(() => gateway.fakes.gemini.requests.length).toBe(2);
      // While the probe is out, /health says so, and the gateway is not all there.
      const during = await json(fetch(`${gateway.url}/health`));
      expect(during.status).toBe('degraded');
      expect(during.providers.find((p: { name: string }) => p.name === 'gemini')).toMatchObject({ state: 'probing', consecutive_failures: 1 });
      const meanwhile = await answer(await query(gateway, { prompt: 'meanwhile' }));
      expect(outcomes(meanwhile.attempts)).toEqual(['gemini:cooling_down', 'groq:ok']);
      expect(outcomes((await probe).attempts)).toEqual(['gemini:ok']);
      const after = await answer(await query(gateway, { prompt: 'after' }));
      expect(outcomes(after.attempts)).toEqual(['gemini:ok']);
      const health = await json(fetch(`${gateway.url}/health`));
      expect(health.providers.find((p: { name: string }) => p.name === 'gemini')).toMatchObject({ state: 'ready', consecutive_failures: 0 });
    });

    it('keeps the turn with a probe that retries after a failure below the threshold', async () => {
      // A 429 cooldown of 1 s, after which one failure is not enough to cool Gemini down again.
      // RETRY_AFTER_WAIT_MAX_MS=0: the 1 s Retry-After is not waited out, Groq answers at once.
      gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '3', MAX_RETRIES: '1', FIRST_TOKEN_TIMEOUT_MS: '2000', REQUEST_TIMEOUT_MS: '5000', RETRY_AFTER_WAIT_MAX_MS: '0' });
      gateway.fakes.gemini.enqueue({ kind: 'rate_limited', retryAfterSeconds: 1 });
      expect(outcomes((await answer(await query(gateway, { prompt: 'limited' }))).attempts)).toEqual(['gemini:rate_limited', 'groq:ok']);
      await sleep(1100);
      gateway.fakes.gemini.enqueue({ kind: 'error', status: 503 }, { kind: 'ok', delayMs: 400 });
      const probe = query(gateway, { prompt: 'probe' }).then(answer);
      await expect.poll(() => gateway.fakes.gemini.requests.length, { interval: 5 }).toBe(2);
      // Between the probe's 503 and the end of its retry, whenever it arrives, another request
      // leaves Gemini to the probe.
      const meanwhile = await answer(await query(gateway, { prompt: 'meanwhile' }));
      expect(outcomes(meanwhile.attempts)).toEqual(['gemini:cooling_down', 'groq:ok']);
      expect(outcomes((await probe).attempts)).toEqual(['gemini:unavailable', 'gemini:ok']);
      expect(gateway.fakes.gemini.requests).toHaveLength(3);
    });

    it('lets the next request try at once when the probing caller leaves', async () => {
      gateway = await geminiJustRecovered();
      gateway.fakes.gemini.setDefault({ kind: 'hang' });
      await leaveWhileGeminiAnswers(gateway, 1);
      // Without the probe handed back, Gemini would be skipped for its whole lease (2 s here).
      gateway.fakes.gemini.setDefault({ kind: 'ok' });
      await expect
        .poll(async () => outcomes((await answer(await query(gateway, { prompt: 'next' }))).attempts), { timeout: 1000, interval: 50 })
        .toEqual(['gemini:ok']);
    });
  });

  it('answers 400, not a 503 to retry, when every provider refuses the request itself; nothing cools down', async () => {
    gateway = await startGateway();
    for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'error', status: 400 });
    const response = await query(gateway, { prompt: 'refused everywhere' });
    expect(response.status).toBe(400);
    expect(response.headers.get('retry-after')).toBeNull();
    const error = await errorOf(response);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toMatch(/refused this request as invalid/);
    // One call each: a refusal is not retried, and it says nothing about the provider's health.
    expect(Object.values(gateway.fakes).map((fake) => fake.requests.length)).toEqual([1, 1, 1]);
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.status).toBe('ok');
  });

  it('still answers 503 when a refusal is mixed with a provider failure', async () => {
    gateway = await startGateway({ MAX_RETRIES: '0' });
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 400 });
    gateway.fakes.groq.setDefault({ kind: 'error', status: 503 });
    gateway.fakes.openrouter.setDefault({ kind: 'error', status: 422 });
    const response = await query(gateway, { prompt: 'mixed' });
    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe('providers_unavailable');
  });

  it('answers 504 within the budget when every provider hangs', async () => {
    gateway = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '200', REQUEST_TIMEOUT_MS: '1000' });
    for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'hang' });
    const started = Date.now();
    const response = await query(gateway, { prompt: 'all hang' });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    expect((await errorOf(response)).code).toBe('upstream_timeout');
    // Within the budget, plus room for a loaded machine (a hang would never end).
    expect(elapsed).toBeLessThan(1000 + 1500);
  });

  it('answers 504 when the request budget runs out mid-attempt', async () => {
    gateway = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '700', REQUEST_TIMEOUT_MS: '900' });
    for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'hang' });
    const started = Date.now();
    const response = await query(gateway, { prompt: 'budget' });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    expect(elapsed).toBeGreaterThanOrEqual(880);
    expect(elapsed).toBeLessThan(900 + 1500);
    expect(gateway.fakes.openrouter.requests).toHaveLength(0);
    await expect.poll(() => gateway.fakes.gemini.abortedRequests + gateway.fakes.groq.abortedRequests).toBe(2);
  });

  it('answers 503 with a clear message when no provider is configured', async () => {
    gateway = await startGateway({ SIMULATED_PROVIDERS: 'false' });
    const response = await query(gateway, { prompt: 'nobody home' });
    expect(response.status).toBe(503);
    const error = await errorOf(response);
    expect(error.code).toBe('providers_unavailable');
    expect(error.message).toMatch(/no LLM provider is configured/i);
  });

  it('aborts the upstream call when the client disconnects', async () => {
    gateway = await startGateway({ FIRST_TOKEN_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '8000' });
    gateway.fakes.gemini.setDefault({ kind: 'hang' });
    await leaveWhileGeminiAnswers(gateway, 0);
    // It did not go on to bother the next provider for a caller who left.
    expect(gateway.fakes.groq.requests).toHaveLength(0);
  });

  it('follows PROVIDER_ORDER', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter,gemini' });
    const body = await answer(await query(gateway, { prompt: 'order' }));
    expect(body.provider).toBe('openrouter');
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.providers.map((p: { name: string }) => p.name)).toEqual(['gemini', 'groq', 'openrouter']);
  });
});
