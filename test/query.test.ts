import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, query, startGateway, UUID, type TestGateway, json } from './helpers/gateway.ts';

describe('POST /query', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('answers through the first provider with the documented body', async () => {
    const response = await query(gateway, { prompt: 'Say hello', max_tokens: 64, temperature: 0.2 });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-request-id')).toMatch(UUID);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    const body = await json(response);
    expect(body).toMatchObject({
      provider: 'gemini',
      model: expect.any(String),
      finish_reason: 'stop',
      request_id: response.headers.get('x-request-id'),
      attempts: [{ provider: 'gemini', outcome: 'ok', latency_ms: expect.any(Number) }],
    });
    expect(body.response).toContain('Simulated answer from gemini');
    expect(body.response).toContain('Say hello');
    expect(body.latency_ms).toBeGreaterThanOrEqual(0);
    expect(body.usage.prompt_tokens).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  });

  it('sends the caller parameters upstream through the SDK', async () => {
    gateway.resetFakes();
    const response = await query(gateway, { prompt: 'Parameters please', max_tokens: 100, temperature: 1.5 });
    expect(response.status).toBe(200);
    const [sent] = gateway.fakes.gemini.requests;
    expect(sent?.path).toBe(`/v1beta/models/${gateway.config.providers.get('gemini')!.model}:streamGenerateContent`);
    expect(sent?.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'Parameters please' }] }],
      generationConfig: { maxOutputTokens: 100, temperature: 1.5 },
    });
  });

  it('applies the documented defaults for max_tokens and temperature', async () => {
    gateway.resetFakes();
    const response = await query(gateway, { prompt: 'Defaults' });
    expect(response.status).toBe(200);
    expect(gateway.fakes.gemini.requests[0]?.body).toMatchObject({
      generationConfig: { maxOutputTokens: 256, temperature: 0.7 },
    });
  });

  it('keeps a valid incoming x-request-id and replaces an unsafe one', async () => {
    const kept = await query(gateway, { prompt: 'id' }, { headers: { 'x-request-id': 'client-trace_42.a:b' } });
    expect(kept.headers.get('x-request-id')).toBe('client-trace_42.a:b');
    expect((await json(kept)).request_id).toBe('client-trace_42.a:b');

    const replaced = await query(gateway, { prompt: 'id' }, { headers: { 'x-request-id': 'bad id <script>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(UUID);

    const tooLong = await query(gateway, { prompt: 'id' }, { headers: { 'x-request-id': 'a'.repeat(129) } });
    expect(tooLong.headers.get('x-request-id')).toMatch(UUID);

    const rejected = await query(gateway, { prompt: '' }, { headers: { 'x-request-id': 'trace-on-error' } });
    expect(rejected.status).toBe(400);
    expect((await errorOf(rejected)).request_id).toBe('trace-on-error');
  });

  it('redirects / to the interactive docs', async () => {
    const response = await fetch(`${gateway.url}/`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/docs');
  });

  it('answers unknown routes with the JSON error body', async () => {
    const response = await fetch(`${gateway.url}/nope?x=1`);
    expect(response.status).toBe(404);
    const error = await errorOf(response);
    expect(error.code).toBe('not_found');
    // Whatever the method, body or type: a missing route never reads the body, so it cannot answer otherwise.
    for (const init of [
      { method: 'QUERY', body: 'x' },
      { method: 'POST', body: '{"broken', headers: { 'content-type': 'application/json' } },
      { method: 'PUT', body: 'x', headers: { 'content-type': 'text/csv' } },
    ]) {
      const odd = await fetch(`${gateway.url}/admin`, init);
      expect(odd.status, init.method).toBe(404);
      expect((await errorOf(odd)).code).toBe('not_found');
    }
  });
});
