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

describe('GET /health/live and /health/ready', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  it('live answers while the process runs; ready names the usable providers', async () => {
    gateway = await startGateway();
    const live = await fetch(`${gateway.url}/health/live`);
    expect(live.status).toBe(200);
    expect(live.headers.get('x-request-id')).toBeTruthy();
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${gateway.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', usable_providers: ['gemini', 'groq', 'openrouter'] });
  });

  it('is not ready (503) once every provider cools down, and ready again when one is back', async () => {
    gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '1', CIRCUIT_BREAKER_COOLDOWN_MS: '600000', MAX_RETRIES: '0', RETRY_AFTER_WAIT_MAX_MS: '0' });
    gateway.fakes.gemini.enqueue({ kind: 'error', status: 503 });
    gateway.fakes.groq.enqueue({ kind: 'error', status: 503 });
    expect((await query(gateway, { prompt: 'x' })).status).toBe(200);
    expect(await json(fetch(`${gateway.url}/health/ready`))).toEqual({ status: 'ready', usable_providers: ['openrouter'] });
    gateway.fakes.openrouter.enqueue({ kind: 'rate_limited', retryAfterSeconds: 1 });
    expect((await query(gateway, { prompt: 'y' })).status).toBe(503);
    const notReady = await fetch(`${gateway.url}/health/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not_ready', usable_providers: [] });
    // Liveness does not follow the providers: restarting would not help.
    expect((await fetch(`${gateway.url}/health/live`)).status).toBe(200);
    // OpenRouter's Retry-After (1 s) passes; without a request to probe it, its breaker reads ready.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await json(fetch(`${gateway.url}/health/ready`))).toEqual({ status: 'ready', usable_providers: ['openrouter'] });
  });

  it('is not ready when no provider is configured', async () => {
    gateway = await startGateway({ SIMULATED_PROVIDERS: 'false' });
    const ready = await fetch(`${gateway.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'not_ready', usable_providers: [] });
  });

  it('are in the OpenAPI document, with /metrics and its own security scheme', async () => {
    gateway = await startGateway();
    const doc = await json(fetch(`${gateway.url}/docs/json`));
    expect(Object.keys(doc.paths['/health/live'].get.responses).sort()).toEqual(['200', '503']);
    expect(Object.keys(doc.paths['/health/ready'].get.responses).sort()).toEqual(['200', '503']);
    expect(doc.paths['/health/ready'].get.security).toBeUndefined();
    expect(doc.paths['/metrics'].get.security).toEqual([{ MetricsToken: [] }]);
    expect(Object.keys(doc.paths['/metrics'].get.responses).sort()).toEqual(['200', '401', '403', '429', '503']);
    expect(doc.components.securitySchemes.MetricsToken).toMatchObject({ type: 'http', scheme: 'bearer' });
  });
});
