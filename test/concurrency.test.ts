// Requests in flight: a limit per client key (MAX_CONCURRENT_PER_KEY), so one key's long streams
// cannot fill a provider's connection pool; and a call that waits out its time for one of the
// pool's connections is the gateway's failure, never the provider's.
import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY, OTHER_KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { rawClient, type RawClient } from './helpers/raw-http.ts';

const STREAM = JSON.stringify({ model: 'gemini', stream: true, messages: [{ role: 'user', content: 'Tell me a long story, word by word' }] });

interface OpenStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Leaves, as a client that stops reading and closes its connection. */
  leave(): void;
}

/** Starts a streamed chat completion on a connection of its own, and resolves at its first bytes. */
function openStream(gateway: TestGateway, key: string): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    });
    req.on('response', (res) => {
      res.once('data', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, leave: () => req.destroy() }));
      res.on('error', () => undefined);
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET') reject(error);
    });
    req.end(STREAM);
  });
}

describe('requests in flight', () => {
  let gateway: TestGateway | undefined;
  let raw: RawClient | undefined;
  const streams: OpenStream[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.leave();
    raw?.close();
    await gateway?.close();
  });

  it('limits each key to MAX_CONCURRENT_PER_KEY, streams included, and frees a place when a request ends or its client leaves', async () => {
    // Streams that last (a chunk every 2 s, within the 5 s stall limit) until their client leaves.
    gateway = await startGateway({ MAX_CONCURRENT_PER_KEY: '2', PROVIDER_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '8000', FIRST_TOKEN_TIMEOUT_MS: '3000' });
    gateway.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 2000 });
    raw = rawClient(gateway.url, { maxSockets: 4 });
    const models = (key: string) => raw!.send({ method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${key}` } });

    streams.push(await openStream(gateway, KEY), await openStream(gateway, KEY));
    expect(streams.map((s) => s.status)).toEqual([200, 200]);

    // A third request of the same key is refused before anything is done for it, in either error shape.
    const refused = await raw.send({
      method: 'POST',
      path: '/query',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'one more' }),
    });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(refused.text)).toEqual({
      error: {
        code: 'too_many_concurrent_requests',
        message: 'This API key already has 2 requests in flight, the most it may have at once; wait for one to finish before sending another.',
        request_id: refused.headers['x-request-id'],
      },
    });
    const refusedV1 = await models(KEY);
    expect(refusedV1.status).toBe(429);
    expect(JSON.parse(refusedV1.text)).toEqual({
      error: {
        message: 'This API key already has 2 requests in flight, the most it may have at once; wait for one to finish before sending another.',
        type: 'rate_limit_error',
        code: 'too_many_concurrent_requests',
        param: null,
        request_id: refusedV1.headers['x-request-id'],
      },
    });
    expect(gateway.fakes.gemini.requests).toHaveLength(2);

    // Another key has places of its own.
    expect((await models(OTHER_KEY)).status).toBe(200);

    // A client that leaves its stream frees its place.
    streams.shift()?.leave();
    await expect.poll(async () => (await models(KEY)).status).toBe(200);
    // Requests that end free theirs: one place is left, and it serves one request after another.
    for (let i = 0; i < 3; i += 1) expect((await models(KEY)).status).toBe(200);
    gateway.fakes.gemini.setDefault({ kind: 'ok' });
    for (let i = 0; i < 3; i += 1) expect((await query(gateway, { prompt: 'hi' }, { key: KEY })).status).toBe(200);
    expect(gateway.logText()).not.toContain(KEY);
  });

  it('does not hold a wait for a pooled connection against the provider: the call moves on, and the provider stays ready', async () => {
    // 64 streams fill Gemini's pool of 64 connections (a chunk every 0.7 s, within the 1.5 s
    // stall limit). Requests after them wait for a connection until their attempt's time runs out.
    gateway = await startGateway({ MAX_CONCURRENT_PER_KEY: '100', PROVIDER_TIMEOUT_MS: '1500', REQUEST_TIMEOUT_MS: '4000', FIRST_TOKEN_TIMEOUT_MS: '1500' });
    gateway.fakes.gemini.setDefault({ kind: 'trickle', delayMs: 700 });
    const opened = await Promise.all(Array.from({ length: 64 }, () => openStream(gateway!, KEY)));
    streams.push(...opened);
    expect(opened.every((s) => s.status === 200 && s.headers['x-llm-provider'] === 'gemini')).toBe(true);
    expect(gateway.fakes.gemini.requests).toHaveLength(64);

    // As many as would cool Gemini down (CIRCUIT_BREAKER_THRESHOLD, 3) if they counted as its failures.
    const answers = await Promise.all([1, 2, 3].map((i) => query(gateway!, { prompt: `waiting ${i}` }, { key: OTHER_KEY })));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('x-llm-provider')).toBe('groq');
      const body = (await answer.json()) as { provider: string; attempts: Array<{ provider: string; outcome: string }> };
      expect(body.provider).toBe('groq');
      expect(body.attempts.map((a) => [a.provider, a.outcome])).toEqual([
        ['gemini', 'gateway_busy'],
        ['groq', 'ok'],
      ]);
    }
    // Gemini was never asked, and is still ready for everyone.
    expect(gateway.fakes.gemini.requests).toHaveLength(64);
    const health = (await (await fetch(`${gateway.url}/health`)).json()) as { providers: Array<{ name: string; state: string; consecutive_failures: number }> };
    expect(health.providers.find((p) => p.name === 'gemini')).toMatchObject({ state: 'ready', consecutive_failures: 0 });
    const failures = gateway.logs.filter((line) => line.msg === "provider gemini failed: no connection to gemini came free in time: the gateway's pool for it is busy");
    expect(failures).toHaveLength(3);
    expect(failures.every((line) => line.kind === 'gateway_busy' && line.cooldown_ms === undefined)).toBe(true);
  });
});
