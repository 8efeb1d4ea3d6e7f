// Hedging a slow first token (HEDGE_AFTER_MS) through real HTTP: a first provider that is slow to
// start gets a second one started beside it, the first to show life wins, and the other's call is
// aborted; a second provider without quota headroom is not started.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';

const HEDGED = {
  PROVIDER_ORDER: 'groq,openrouter',
  HEDGE_AFTER_MS: '500',
  PROVIDER_TIMEOUT_MS: '5000',
  FIRST_TOKEN_TIMEOUT_MS: '5000',
  REQUEST_TIMEOUT_MS: '10000',
  MAX_RETRIES: '0',
};

const calls = (gateway: TestGateway, name: 'groq' | 'openrouter') => gateway.fakes[name].requests.filter((r) => r.method === 'POST').length;

describe('hedging (HEDGE_AFTER_MS)', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  it('answers a whole answer from the second provider when the first is slow to start, and aborts the first', async () => {
    gateway = await startGateway(HEDGED);
    gateway.fakes.groq.setDefault({ kind: 'ok', delayMs: 3000 });
    const response = await query(gateway, { prompt: 'hedge me' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('openrouter');
    const body = await json(response);
    expect(body.provider).toBe('openrouter');
    expect(body.response).toContain('Simulated answer from openrouter');
    expect(body.attempts).toEqual([
      { provider: 'groq', outcome: 'hedged_lost', hedge: 'first', latency_ms: expect.any(Number) },
      { provider: 'openrouter', outcome: 'ok', hedge: 'second', latency_ms: expect.any(Number) },
    ]);
    expect(calls(gateway, 'groq')).toBe(1);
    expect(calls(gateway, 'openrouter')).toBe(1);
    await vi.waitFor(() => expect(gateway.fakes.groq.abortedRequests).toBe(1));
    expect(gateway.fakes.openrouter.abortedRequests).toBe(0);

    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('llm_router_hedges_total{gen_ai_provider_name="openrouter",outcome="won"} 1');
  });

  it('hedges a stream the same way: the first text comes from the second provider', async () => {
    gateway = await startGateway(HEDGED);
    gateway.fakes.groq.setDefault({ kind: 'ok', delayMs: 3000 });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hedge my stream' }] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-llm-provider')).toBe('openrouter');
    const text = await response.text();
    expect(text).toContain('Simulated');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    await vi.waitFor(() => expect(gateway.fakes.groq.abortedRequests).toBe(1));
    expect(calls(gateway, 'openrouter')).toBe(1);
  });

  it('starts no hedge when the next provider has no quota headroom', async () => {
    gateway = await startGateway({ ...HEDGED, OPENROUTER_LIMITS: 'rpm=1' });
    // Spend openrouter's one request of the minute: groq refuses once, and openrouter answers.
    gateway.fakes.groq.enqueue({ kind: 'error', status: 503 });
    expect((await json(query(gateway, { prompt: 'spend it' }))).provider).toBe('openrouter');
    expect(calls(gateway, 'openrouter')).toBe(1);

    gateway.fakes.groq.setDefault({ kind: 'ok', delayMs: 1500 });
    const body = await json(query(gateway, { prompt: 'slow, with nowhere to hedge' }));
    expect(body.provider).toBe('groq');
    expect(body.attempts).toEqual([{ provider: 'groq', outcome: 'ok', latency_ms: expect.any(Number) }]);
    expect(calls(gateway, 'openrouter')).toBe(1);
    expect(gateway.fakes.groq.abortedRequests).toBe(0);
  });

  it('starts no hedge for a first provider that answers in time', async () => {
    gateway = await startGateway(HEDGED);
    const body = await json(query(gateway, { prompt: 'quick' }));
    expect(body.provider).toBe('groq');
    expect(body.attempts).toEqual([{ provider: 'groq', outcome: 'ok', latency_ms: expect.any(Number) }]);
    expect(calls(gateway, 'openrouter')).toBe(0);
  });
});
