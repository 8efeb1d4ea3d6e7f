// What one request leaves in the log: a line for each failed attempt at a provider, and one
// summary line with the status and every attempt; never the same failure again on top.
import { afterEach, describe, expect, it } from 'vitest';
import { errorOf, query, startGateway, type TestGateway } from './helpers/gateway.ts';

describe('the log of one request', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  /** The request's lines, once its summary line is out. */
  async function linesOf(requestId: string): Promise<Array<Record<string, unknown>>> {
    await expect.poll(() => gateway.logs.some((line) => line.request_id === requestId && line.msg === 'request completed')).toBe(true);
    return gateway.logs.filter((line) => line.request_id === requestId);
  }

  it('has a line per failed attempt and one summary for a request no provider answered (503)', async () => {
    gateway = await startGateway({ MAX_RETRIES: '1' });
    for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'error', status: 500 });
    const response = await query(gateway, { prompt: 'all down' });
    expect(response.status).toBe(503);
    expect((await errorOf(response)).code).toBe('providers_unavailable');

    const lines = await linesOf(response.headers.get('x-request-id') ?? '');
    const failed = lines.filter((line) => line.msg !== 'request completed');
    expect(failed.map((line) => [line.level, line.provider, line.kind])).toEqual(
      ['gemini', 'gemini', 'groq', 'groq', 'openrouter', 'openrouter'].map((provider) => [40, provider, 'unavailable']),
    );
    const summary = lines.filter((line) => line.msg === 'request completed');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ level: 30, status: 503, url: '/query' });
    expect(summary[0]?.attempts).toHaveLength(6);
    expect(lines).toHaveLength(7);
  });

  it('has the same shape for a request that ran out of time (504)', async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq', FIRST_TOKEN_TIMEOUT_MS: '200', REQUEST_TIMEOUT_MS: '300' });
    gateway.fakes.groq.setDefault({ kind: 'hang' });
    const response = await query(gateway, { prompt: 'hang' });
    expect(response.status).toBe(504);
    const lines = await linesOf(response.headers.get('x-request-id') ?? '');
    const attempts = lines.find((line) => line.msg === 'request completed')?.attempts as unknown[];
    expect(attempts.length).toBeGreaterThan(0);
    expect(lines.filter((line) => line.level === 40)).toHaveLength(attempts.length);
    expect(lines).toHaveLength(attempts.length + 1);
  });

  it('still warns when there was no provider to try: the summary alone would not say why', async () => {
    gateway = await startGateway({ SIMULATED_PROVIDERS: 'false' });
    const response = await query(gateway, { prompt: 'nobody home' });
    expect(response.status).toBe(503);
    const lines = await linesOf(response.headers.get('x-request-id') ?? '');
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [40, 'No LLM provider is configured.'],
      [30, 'request completed'],
    ]);
  });
});
