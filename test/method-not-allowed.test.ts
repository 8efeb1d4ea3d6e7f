// A known path asked with a method it does not serve: 405 with Allow and a message naming the
// method to use, in the documented body (OpenAI's under /v1), answered like an unknown route:
// before the key is checked or the body read, and counted against the same per-address limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, json, KEY, startGateway, type TestGateway } from './helpers/gateway.ts';
import { parseRawAnswer, rawExchange } from './helpers/raw-http.ts';

describe('the wrong method on a known route', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('answers GET /query with 405, Allow: POST and the documented body, the same with a key, a wrong key or none', async () => {
    for (const headers of [{}, { 'x-api-key': KEY }, { 'x-api-key': 'wrong' }]) {
      const response = await fetch(`${gateway.url}/query?x=1`, { headers });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await json(response)).toEqual({
        error: { code: 'method_not_allowed', message: 'This route does not serve GET; use POST.', request_id: response.headers.get('x-request-id') },
      });
    }
  });

  it('answers under /v1 in the OpenAI shape, naming the method to use', async () => {
    const chat = await fetch(`${gateway.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(chat.status).toBe(405);
    expect(chat.headers.get('allow')).toBe('POST');
    expect(await json(chat)).toEqual({
      error: {
        message: 'This route does not serve GET; use POST.',
        type: 'invalid_request_error',
        code: 'method_not_allowed',
        param: null,
        request_id: chat.headers.get('x-request-id'),
      },
    });

    const models = await fetch(`${gateway.url}/v1/models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(models.status).toBe(405);
    expect(models.headers.get('allow')).toBe('GET, HEAD');
    expect((await json(models)).error).toMatchObject({ code: 'method_not_allowed', message: 'This route does not serve POST; use GET.' });
  });

  it('lists GET and HEAD for the public routes', async () => {
    const health = await fetch(`${gateway.url}/health`, { method: 'DELETE' });
    expect(health.status).toBe(405);
    expect(health.headers.get('allow')).toBe('GET, HEAD');
    expect(await errorOf(health)).toMatchObject({ code: 'method_not_allowed', message: 'This route does not serve DELETE; use GET.' });
  });

  it('never reads the body or invites its upload, and closes the connection', async () => {
    const answer = await rawExchange(
      gateway.url,
      Buffer.from('PUT /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n'),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    const { headers, body } = parseRawAnswer(answer);
    expect(headers).toMatchObject({ allow: 'POST', connection: 'close' });
    expect(JSON.parse(body).error).toMatchObject({ code: 'method_not_allowed', message: 'This route does not serve PUT; use POST.' });
  });

  it('counts against the unknown-route limit of the address, 405s and 404s alike', async () => {
    const own = await startGateway();
    try {
      for (let i = 1; i <= 60; i += 1) {
        const response = i % 2 === 0 ? await fetch(`${own.url}/query`) : await fetch(`${own.url}/no-such-route-${i}`);
        expect(response.status, `request ${i}`).toBe(i % 2 === 0 ? 405 : 404);
      }
      const limited = await fetch(`${own.url}/query`);
      expect(limited.status).toBe(429);
      expect((await errorOf(limited)).code).toBe('rate_limited');
    } finally {
      await own.close();
    }
  });
});
