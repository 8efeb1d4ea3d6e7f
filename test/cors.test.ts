import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, KEY, query, startGateway, UUID, type TestGateway } from './helpers/gateway.ts';
import { parseRawAnswers } from './helpers/raw-http.ts';

const PAGE = 'https://app.example.com';
const OTHER_PAGE = 'https://elsewhere.example.org';

/** A browser's preflight before a POST with a key, as Chromium sends it. */
function preflight(gateway: TestGateway, path: string, origin: string | undefined, requestHeaders = 'content-type,x-api-key'): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method: 'OPTIONS',
    headers: {
      ...(origin === undefined ? {} : { origin }),
      'access-control-request-method': 'POST',
      'access-control-request-headers': requestHeaders,
    },
  });
}

describe('CORS, off by default', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('answers a preflight with the documented 405 (the route serves POST only) and no CORS headers', async () => {
    const response = await preflight(gateway, '/query', PAGE);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect((await errorOf(response)).code).toBe('method_not_allowed');
  });

  it('adds no CORS headers to an answer for a page', async () => {
    const response = await query(gateway, { prompt: 'hi' }, { headers: { origin: PAGE } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toBeNull();
  });
});

describe('CORS for listed origins', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ CORS_ORIGINS: `${PAGE}/, http://localhost:5173`, RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(() => gateway.close());

  it('answers a listed page its preflight without a key, allowing the headers it asked for', async () => {
    const asked = 'authorization,content-type,x-stainless-os,x-stainless-retry-count';
    const response = await preflight(gateway, '/v1/chat/completions', PAGE, asked);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, HEAD, POST');
    expect(response.headers.get('access-control-allow-headers')).toBe(asked);
    expect(response.headers.get('access-control-max-age')).toBe('600');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toContain('Origin');
    expect(response.headers.get('x-request-id')).toMatch(UUID);
    expect(await response.text()).toBe('');
  });

  it('answers an OPTIONS from a listed page without a method to ask for like a preflight, not with a bare 400', async () => {
    const response = await fetch(`${gateway.url}/health`, { method: 'OPTIONS', headers: { origin: PAGE } });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(PAGE);
  });

  it('answers an OPTIONS it cannot read in the documented shape', async () => {
    const response = await fetch(`${gateway.url}/`, { method: 'OPTIONS', headers: { 'content-type': 'application/json' } });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe('invalid_request');
  });

  it('gives a page that is not listed the documented 404 and no CORS headers', async () => {
    for (const origin of [OTHER_PAGE, `${PAGE}.evil.example`, 'null', undefined]) {
      const response = await preflight(gateway, '/query', origin);
      expect(response.status, String(origin)).toBe(404);
      expect(response.headers.get('access-control-allow-origin'), String(origin)).toBeNull();
      expect((await errorOf(response)).code).toBe('not_found');
    }
    const answer = await query(gateway, { prompt: 'hi' }, { key: 'not-a-key', headers: { origin: OTHER_PAGE } });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets a listed page read the answer and the headers it needs', async () => {
    const response = await query(gateway, { prompt: 'hi' }, { headers: { origin: 'http://localhost:5173' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(response.headers.get('access-control-expose-headers')).toBe(
      'x-request-id, x-llm-provider, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, retry-after',
    );
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(((await response.json()) as { response: string }).response.length).toBeGreaterThan(0);
  });

  it('lets a listed page read refusals too: a wrong key, a bad body, the rate limit', async () => {
    const headers = { origin: PAGE };
    const wrongKey = await query(gateway, { prompt: 'hi' }, { key: 'not-a-key', headers });
    expect(wrongKey.status).toBe(401);
    expect(wrongKey.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect((await errorOf(wrongKey)).code).toBe('unauthorized');

    const badBody = await query(gateway, { prompt: '' }, { headers });
    expect(badBody.status).toBe(400);
    expect(badBody.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect((await errorOf(badBody)).code).toBe('invalid_request');

    // The limit is 3 a minute, whatever the other tests here have used of it.
    let limited = await query(gateway, { prompt: 'hi' }, { headers });
    for (let sent = 1; sent <= 3 && limited.status === 200; sent += 1) limited = await query(gateway, { prompt: 'hi' }, { headers });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('access-control-allow-origin')).toBe(PAGE);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await errorOf(limited)).code).toBe('rate_limited');
  });

  it('lets a listed page read the refusals that come before any route: unknown routes and their limit, and draining', async () => {
    const own = await startGateway({ CORS_ORIGINS: PAGE });
    try {
      const headers = { origin: PAGE };
      let answer = await fetch(`${own.url}/nothing-here`, { headers });
      expect(answer.status).toBe(404);
      expect(answer.headers.get('access-control-allow-origin')).toBe(PAGE);
      for (let sent = 1; sent <= 60 && answer.status === 404; sent += 1) answer = await fetch(`${own.url}/nothing-here`, { headers });
      expect(answer.status).toBe(429);
      expect(answer.headers.get('access-control-allow-origin')).toBe(PAGE);
      expect(answer.headers.get('access-control-expose-headers')).toContain('retry-after');
      expect((await errorOf(answer)).code).toBe('rate_limited');

      // A request that arrives, behind one in flight, on a connection open while the gateway drains.
      own.fakes.gemini.enqueue({ kind: 'ok', delayMs: 300 });
      const { hostname, port } = new URL(own.url);
      const socket = connect(Number(port), hostname);
      let received = '';
      socket.setEncoding('latin1').on('data', (text: string) => (received += text));
      const ended = once(socket, 'close');
      const body = JSON.stringify({ prompt: 'Hello' });
      socket.write(`POST /query HTTP/1.1\r\nHost: x\r\nOrigin: ${PAGE}\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await expect.poll(() => own.fakes.gemini.requests.length).toBe(1);
      const closed = own.app.close();
      socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nOrigin: ${PAGE}\r\n\r\n`);
      await closed;
      await ended;
      const [first, second] = parseRawAnswers(received);
      expect(first?.status).toBe(200);
      expect(second?.status).toBe(503);
      expect(second?.headers['access-control-allow-origin']).toBe(PAGE);
      expect(JSON.parse(second?.body ?? '')).toMatchObject({ error: { code: 'shutting_down' } });
    } finally {
      await own.close();
    }
  });
});

describe('CORS for any origin', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ CORS_ORIGINS: '*' });
  });
  afterAll(() => gateway.close());

  it('allows every page, streamed answers included, and still needs the key', async () => {
    const pre = await preflight(gateway, '/v1/chat/completions', OTHER_PAGE);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');

    const stream = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { origin: OTHER_PAGE, authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    expect(stream.headers.get('access-control-allow-origin')).toBe('*');
    expect(stream.headers.get('access-control-expose-headers')).toContain('x-llm-provider');
    expect(await stream.text()).toContain('data: [DONE]');

    const keyless = await query(gateway, { prompt: 'hi' }, { key: null, headers: { origin: OTHER_PAGE } });
    expect(keyless.status).toBe(401);
    expect(keyless.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('adds nothing for a caller that is not a page (no Origin header)', async () => {
    const response = await query(gateway, { prompt: 'hi' });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
