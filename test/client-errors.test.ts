// Requests refused by Node's HTTP layer before Fastify routes them still get the documented error
// body, a fresh request id and a closed connection (src/plugins/client-error.ts).
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY, startGateway, UUID, type TestGateway } from './helpers/gateway.ts';
import { parseRawAnswer, rawExchange } from './helpers/raw-http.ts';

/** Status, headers and JSON error body of a raw HTTP/1.1 answer. */
function parse(answer: string) {
  const { status, headers, body } = parseRawAnswer(answer);
  return { status, headers, body: JSON.parse(body) as { error: { code: string; message: string; request_id: string } } };
}

describe('requests refused before routing', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('answers headers over 16 KiB with 431 headers_too_large, and never logs the bytes', async () => {
    const answer = parse(await rawExchange(gateway.url, Buffer.from(`GET /health HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}${'k'.repeat(20_000)}\r\n\r\n`)));
    expect(answer.status).toBe(431);
    expect(answer.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', connection: 'close', 'cache-control': 'no-store' });
    expect(answer.headers['x-request-id']).toMatch(UUID);
    expect(answer.body).toEqual({ error: { code: 'headers_too_large', message: 'The request headers are larger than 16 KiB.', request_id: answer.headers['x-request-id'] } });
    expect(gateway.logText()).not.toContain(KEY);
  });

  it('answers a request that is not HTTP with 400 invalid_request', async () => {
    const answer = parse(await rawExchange(gateway.url, Buffer.from('HELLO THERE\r\n\r\n')));
    expect(answer.status).toBe(400);
    expect(answer.headers.connection).toBe('close');
    expect(answer.body.error).toEqual({ code: 'invalid_request', message: 'The request is not valid HTTP.', request_id: answer.headers['x-request-id'] });
  });

  it('answers an HTTP/1.1 request without Host with 400 invalid_request', async () => {
    const answer = parse(await rawExchange(gateway.url, Buffer.from('GET /health HTTP/1.1\r\nConnection: close\r\n\r\n')));
    expect(answer.status).toBe(400);
    expect(answer.headers['x-request-id']).toMatch(UUID);
    expect(answer.body.error).toEqual({ code: 'invalid_request', message: 'An HTTP/1.1 request needs a Host header.', request_id: answer.headers['x-request-id'] });
  });

  it('answers an Expect header it cannot meet with 417 expectation_failed, and still meets 100-continue', async () => {
    const answer = parse(await rawExchange(gateway.url, Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nX-Request-Id: caller-7\r\n\r\n')));
    expect(answer.status).toBe(417);
    expect(answer.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', connection: 'close', 'cache-control': 'no-store', 'x-request-id': 'caller-7' });
    expect(answer.body).toEqual({
      error: { code: 'expectation_failed', message: 'The only Expect header this gateway meets is "100-continue".', request_id: 'caller-7' },
    });

    const body = JSON.stringify({ prompt: 'hello' });
    const continued = await rawExchange(
      gateway.url,
      Buffer.from(`POST /query HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${body}`),
    );
    expect(continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
  });

  it('sends 100 Continue only once the key and the limit have passed, so a refused upload is never sent', async () => {
    const body = JSON.stringify({ prompt: 'hello' });
    const head = (key: string) =>
      `POST /query HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`;

    // A wrong key: the final answer comes with the body unsent, and no 100 before it.
    const refused = await rawExchange(gateway.url, Buffer.from(head('not-the-key')));
    expect(refused).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    expect(refused).not.toContain('100 Continue');
    expect(parse(refused).body.error.code).toBe('unauthorized');

    // The right key: the headers alone bring the 100; the body, sent only then, is answered.
    const url = new URL(gateway.url);
    const client = connect(Number(url.port), url.hostname);
    let received = '';
    client.setEncoding('latin1').on('data', (text: string) => (received += text));
    await once(client, 'connect');
    client.write(head(KEY));
    await expect.poll(() => received, { timeout: 5000 }).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    // Not end(): a half-closed connection is one whose caller left.
    client.write(body);
    await once(client, 'close');
    const answer = parseRawAnswer(received.slice('HTTP/1.1 100 Continue\r\n\r\n'.length));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ response: expect.any(String), request_id: answer.headers['x-request-id'] });

    // An unknown route is answered at once, its upload never invited.
    const unknown = await rawExchange(
      gateway.url,
      Buffer.from('POST /admin HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n'),
    );
    expect(unknown).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(parse(unknown).body.error.code).toBe('not_found');

    // A request whose body is never read (a GET) gets no 100 at all.
    const health = await rawExchange(gateway.url, Buffer.from('GET /health HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n'));
    expect(health).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(health).not.toContain('100 Continue');
  });

  it('answers a request that did not arrive in time with 408 request_timeout', async () => {
    // Node raises this from its connection-checking timer (every second here) once the 15 s
    // headersTimeout has passed; the test raises the same event on the same socket rather than wait.
    const serverSocket = once(gateway.app.server, 'connection') as Promise<[Socket]>;
    const url = new URL(gateway.url);
    const client = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.on('error', () => undefined);
    await once(client, 'connect');
    client.write('GET /health HTTP/1.1\r\nHost: x\r\n');
    const [socket] = await serverSocket;
    gateway.app.server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    await once(client, 'close');
    const answer = parse(Buffer.concat(chunks).toString('latin1'));
    expect(answer.status).toBe(408);
    expect(answer.headers.connection).toBe('close');
    expect(answer.body.error).toEqual({ code: 'request_timeout', message: 'The request was not received in time.', request_id: answer.headers['x-request-id'] });
  });

  it('answers 408 soon after the headers timeout, not at the next of Node\'s 30-second connection checks', async () => {
    // The gateway's 15 s, shortened on this server so the test need not wait for it.
    const own = await startGateway();
    try {
      own.app.server.headersTimeout = 1_000;
      const url = new URL(own.url);
      const client = connect(Number(url.port), url.hostname);
      const chunks: Buffer[] = [];
      client.on('data', (chunk: Buffer) => chunks.push(chunk));
      client.on('error', () => undefined);
      await once(client, 'connect');
      const started = performance.now();
      client.write('GET /health HTTP/1.1\r\nHost: x\r\n');
      await once(client, 'close');
      expect(performance.now() - started).toBeLessThan(5_000);
      const answer = parse(Buffer.concat(chunks).toString('latin1'));
      expect(answer.status).toBe(408);
      expect(answer.body.error).toEqual({ code: 'request_timeout', message: 'The request was not received in time.', request_id: answer.headers['x-request-id'] });
    } finally {
      await own.close();
    }
  });

  it('never writes a refusal into the middle of an answer already going out on the same connection', async () => {
    gateway.fakes.gemini.enqueue({ kind: 'trickle', delayMs: 40 });
    const url = new URL(gateway.url);
    const client = connect(Number(url.port), url.hostname);
    let received = '';
    client.setEncoding('latin1').on('data', (text: string) => (received += text));
    client.on('error', () => undefined);
    const closed = once(client, 'close');
    await once(client, 'connect');
    const body = JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }], stream: true });
    client.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await expect.poll(() => received.includes('data: '), { timeout: 5000 }).toBe(true);
    // Pipelined behind it: a request whose headers are over the limit.
    client.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'k'.repeat(20_000)}\r\n\r\n`);
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(received.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
  });

  it('lets a stalled upload reach its 408: the socket idle limit is longer than the request limit plus a check', () => {
    // The 408 comes from Node's request-timeout check, run every second; a socket idle limit that
    // fired first would close the connection with no answer at all.
    const server = gateway.app.server;
    expect(server.requestTimeout).toBeGreaterThan(0);
    expect(server.timeout).toBeGreaterThanOrEqual(server.requestTimeout + 3_000);
  });

  it('answers CONNECT, which Node keeps from Fastify, with the documented 404 instead of a dropped connection', async () => {
    const answer = parse(await rawExchange(gateway.url, Buffer.from('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nX-Request-Id: tunnel-1\r\n\r\n')));
    expect(answer.status).toBe(404);
    expect(answer.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', connection: 'close', 'x-request-id': 'tunnel-1' });
    expect(answer.body.error).toMatchObject({ code: 'not_found', request_id: 'tunnel-1' });
  });

  it('keeps serving afterwards', async () => {
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
  });
});
