// The in-flight gauge and the request counts under concurrency: requests held at the provider are
// counted while they wait, and every one is counted out once, whether its answer finished or its
// caller left first (Fastify's onResponse does not run then; the gateway records it instead).
import { afterEach, describe, expect, it } from 'vitest';
import { query, startGateway, type TestGateway } from '../helpers/gateway.ts';

/** One sample's value from the exposition, by its exact series text. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const scrape = async (gateway: TestGateway) => (await fetch(`${gateway.url}/metrics`)).text();

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('condition not reached');
}

describe('requests in flight', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  it('counts concurrent requests while they wait, and none once they are answered', async () => {
    gateway = await startGateway({ PROVIDER_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '10000' });
    gateway.fakes.gemini.setDefault({ kind: 'ok', delayMs: 400 });
    const answers = Promise.all(Array.from({ length: 5 }, (_, i) => query(gateway, { prompt: `p${i}` })));
    await until(() => gateway.fakes.gemini.requests.length === 5);
    // The five held at the provider, and the scrape itself.
    expect(sample(await scrape(gateway), 'http_server_active_requests')).toBe(6);
    expect((await answers).map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const after = await scrape(gateway);
    expect(sample(after, 'http_server_active_requests')).toBe(1);
    expect(sample(after, 'http_server_request_duration_seconds_count{http_route="/query",http_request_method="POST",http_response_status_code="200"}')).toBe(5);
  });

  it('counts a caller who left as 499, once, and no longer in flight', async () => {
    gateway = await startGateway({ PROVIDER_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '10000' });
    gateway.fakes.gemini.setDefault({ kind: 'ok', delayMs: 2_000 });
    const controllers = Array.from({ length: 3 }, () => new AbortController());
    const left = controllers.map((c, i) => query(gateway, { prompt: `p${i}` }, { signal: c.signal }).catch(() => 'aborted'));
    await until(() => gateway.fakes.gemini.requests.length === 3);
    for (const c of controllers) c.abort();
    expect(await Promise.all(left)).toEqual(['aborted', 'aborted', 'aborted']);
    const series = 'http_server_request_duration_seconds_count{http_route="/query",http_request_method="POST",http_response_status_code="499"}';
    await until(async () => sample(await scrape(gateway), series) === 3);
    const text = await scrape(gateway);
    expect(sample(text, 'http_server_active_requests')).toBe(1);
    // No attempt ended (the caller left during the first), so no provider is named.
    expect(sample(text, 'gen_ai_server_request_duration_seconds_count{gen_ai_operation_name="chat",gen_ai_provider_name="none",gen_ai_request_model="none",error_type="499"}')).toBe(3);
  });
});
