import { afterEach, describe, expect, it } from 'vitest';
import { query, startGateway, type TestGateway, json } from './helpers/gateway.ts';

describe('GET /health', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  it('is ok with every configured provider ready', async () => {
    gateway = await startGateway();
    const response = await fetch(`${gateway.url}/health`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const body = await json(response);
    expect(body).toMatchObject({ status: 'ok', version: expect.stringMatching(/^\d+\.\d+\.\d+/), simulated: true });
    expect(body.uptime_s).toBeGreaterThanOrEqual(0);
    expect(body.providers).toEqual([
      { name: 'gemini', configured: true, model: gateway.config.providers.get('gemini')!.model, state: 'ready', consecutive_failures: 0 },
      { name: 'groq', configured: true, model: gateway.config.providers.get('groq')!.model, state: 'ready', consecutive_failures: 0 },
      { name: 'openrouter', configured: true, model: gateway.config.providers.get('openrouter')!.model, state: 'ready', consecutive_failures: 0 },
    ]);
  });

  it('is degraded while one provider cools down, and ok again after it recovers', async () => {
    gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '1', CIRCUIT_BREAKER_COOLDOWN_MS: '300', MAX_RETRIES: '0' });
    gateway.fakes.gemini.enqueue({ kind: 'error', status: 503 });
    expect((await query(gateway, { prompt: 'x' })).status).toBe(200);
    const degraded = await json(fetch(`${gateway.url}/health`));
    expect(degraded.status).toBe('degraded');
    expect(degraded.providers[0]).toMatchObject({ name: 'gemini', state: 'cooling_down', cooldown_reason: 'consecutive_failures', consecutive_failures: 1 });

    await new Promise((resolve) => setTimeout(resolve, 350));
    // Half-open: the next request tries gemini again, and its success closes the breaker.
    const body = await json(query(gateway, { prompt: 'y' }));
    expect(body.provider).toBe('gemini');
    const recovered = await json(fetch(`${gateway.url}/health`));
    expect(recovered.status).toBe('ok');
    expect(recovered.providers[0]).toMatchObject({ state: 'ready', consecutive_failures: 0 });
  });

  it('is unavailable, and says which providers are not configured, when none is', async () => {
    gateway = await startGateway({ SIMULATED_PROVIDERS: 'false' });
    const body = await json(fetch(`${gateway.url}/health`));
    expect(body.status).toBe('unavailable');
    expect(body.simulated).toBe(false);
    expect(body.providers.map((p: { state: string; configured: boolean }) => [p.state, p.configured])).toEqual([
      ['not_configured', false],
      ['not_configured', false],
      ['not_configured', false],
    ]);
  });
});
