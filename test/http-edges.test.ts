// HTTP details a client or a proxy in between relies on: a refusal that comes before the body
// ends the connection, framing the RFCs call faulty is not kept alive, the Bearer scheme in any
// case, and answers no shared cache may keep or other site may frame.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, startGateway, type TestGateway } from './helpers/gateway.ts';
import { parseRawAnswer, parseRawAnswers, rawExchange } from './helpers/raw-http.ts';

describe('HTTP edges', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('refuses a request before reading its body, and closes the connection instead of reading the rest', async () => {
    // Headers that announce 50 MB, and 1 KB of it: the gateway must not wait for (or read) the rest.
    const head = `POST /query HTTP/1.1\r\nHost: x\r\nX-API-Key: wrong\r\nContent-Type: application/json\r\nContent-Length: 52428800\r\n\r\n`;
    const answer = parseRawAnswer(await rawExchange(gateway.url, Buffer.from(head + 'x'.repeat(1024)), 5_000));
    expect(answer.status).toBe(401);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body).error.code).toBe('unauthorized');
  });

  it('answers 400 to a request with two Host headers', async () => {
    const answer = parseRawAnswer(await rawExchange(gateway.url, Buffer.from('GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n')));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatchObject({ code: 'invalid_request', message: 'A request may carry one Host header only.' });
  });

  it('closes the connection after an HTTP/1.0 message framed by Transfer-Encoding', async () => {
    const body = JSON.stringify({ prompt: 'hi' });
    const bytes =
      `POST /query HTTP/1.0\r\nConnection: keep-alive\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` +
      'GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    const answers = parseRawAnswers(await rawExchange(gateway.url, Buffer.from(bytes), 5_000));
    expect(answers).toHaveLength(1);
    expect(answers[0]?.status).toBe(200);
    expect(answers[0]?.headers.connection).toBe('close');
  });

  it('takes the Bearer scheme in any case, and names it on a 401', async () => {
    const models = (authorization: string) => fetch(`${gateway.url}/v1/models`, { headers: { authorization } });
    expect((await models(`bearer ${KEY}`)).status).toBe(200);
    expect((await models(`BEARER ${KEY}`)).status).toBe(200);
    const refused = await fetch(`${gateway.url}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":"hi"}' });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('never logs a query string, where a client may have put a key', async () => {
    const response = await fetch(`${gateway.url}/v1/models?api_key=query-string-secret`, { headers: { 'x-api-key': KEY } });
    expect(response.status).toBe(200);
    await expect.poll(() => gateway.logs.some((line) => line.msg === 'request completed' && line.url === '/v1/models')).toBe(true);
    expect(gateway.logText()).not.toContain('query-string-secret');
  });

  it.each([
    ['a fragment', 'GET /health#api_key=fragment-secret-1 HTTP/1.1', '/health', 200],
    // Not a route of its own: the router reads the parameter as part of the path.
    ['a ; parameter', 'GET /health;api_key=param-secret-2 HTTP/1.1', '/health', 404],
    ['the userinfo of an absolute-form target', 'GET http://user:userinfo-secret-3@127.0.0.1/health HTTP/1.1', '/health', 200],
    // "/", which redirects to the docs.
    ['a userinfo with no path after it', 'GET HTTP://userinfo-secret-4@127.0.0.1?x=1 HTTP/1.1', '/', 302],
    ['a //authority target', 'GET //authority-secret-5@127.0.0.1/health HTTP/1.1', '/health', 404],
    ['an unknown route with a key in its parameters', 'GET /no-such-route;key=param-secret-6?api_key=query-secret-7 HTTP/1.1', '/no-such-route', 404],
    ['a keyed route', `GET /v1/models#api_key=fragment-secret-8 HTTP/1.1\r\nX-API-Key: ${KEY}`, '/v1/models', 200],
  ])('logs only the path of a target with a key in %s', async (_, requestLine, loggedUrl, status) => {
    const answer = parseRawAnswer(await rawExchange(gateway.url, Buffer.from(`${requestLine}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)));
    expect(answer.status).toBe(status);
    const requestId = answer.headers['x-request-id'];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    if (status === 404) expect(JSON.parse(answer.body).error).toMatchObject({ code: 'not_found', request_id: requestId });
    await expect.poll(() => gateway.logs.find((line) => line.msg === 'request completed' && line.request_id === requestId)).toMatchObject({ url: loggedUrl, status });
    expect(gateway.logText()).not.toMatch(/secret-\d/);
  });

  it('marks answers and errors as not for a shared cache', async () => {
    const models = await fetch(`${gateway.url}/v1/models`, { headers: { 'x-api-key': KEY } });
    expect(models.status).toBe(200);
    expect(models.headers.get('cache-control')).toBe('no-store');
    const missing = await fetch(`${gateway.url}/no-such-route`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('no-store');
  });

  it('keeps /docs, which holds the key a user authorizes with, out of other sites\' frames', async () => {
    for (const path of ['/docs/', '/docs/static/index.html', '/docs/static/swagger-initializer.js', '/docs/json']) {
      const response = await fetch(`${gateway.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('x-frame-options'), path).toBe('DENY');
      expect(response.headers.get('content-security-policy'), path).toBe("frame-ancestors 'none'");
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });
});
