// Draining: once close() has begun, a request that still arrives on an open connection gets the
// documented 503 and its connection is closed, while the request already in flight finishes.
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY, startGateway, type TestGateway } from './helpers/gateway.ts';
import { parseRawAnswers } from './helpers/raw-http.ts';

describe('shutting down', () => {
  let gateway: TestGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it('answers a request that arrives while draining with 503 shutting_down and closes its connection; the one in flight completes', async () => {
    gateway = await startGateway();
    gateway.fakes.gemini.enqueue({ kind: 'ok', delayMs: 300 });
    const { hostname, port } = new URL(gateway.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => (received += text));
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const post = (requestId: string) => {
      const body = JSON.stringify({ prompt: 'Hello' });
      return (
        `POST /query HTTP/1.1\r\nHost: ${hostname}:${port}\r\nX-API-Key: ${KEY}\r\nX-Request-Id: ${requestId}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
      );
    };

    socket.write(post('in-flight-1'));
    await expect.poll(() => gateway?.fakes.gemini.requests.length).toBe(1);
    const closed = gateway.app.close();
    socket.write(post('late-arrival-1'));
    await closed;
    await ended;

    const [first, second, ...more] = parseRawAnswers(received);
    expect(more).toEqual([]);
    expect(first?.status).toBe(200);
    expect(first?.headers['x-request-id']).toBe('in-flight-1');
    expect(JSON.parse(first?.body ?? '')).toMatchObject({ provider: 'gemini' });

    expect(second?.status).toBe(503);
    expect(second?.headers.connection).toBe('close');
    expect(second?.headers['x-request-id']).toBe('late-arrival-1');
    expect(second?.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(second?.body ?? '')).toEqual({
      error: { code: 'shutting_down', message: 'The gateway is shutting down.', request_id: 'late-arrival-1' },
    });
    // Nothing of the late request reached a provider.
    expect(gateway.fakes.gemini.requests).toHaveLength(1);
    expect(gateway.fakes.groq.requests).toHaveLength(0);
  });

  it('finishes closing once the answers in flight are out, though their clients keep their connections alive', async () => {
    gateway = await startGateway();
    gateway.fakes.gemini.enqueue({ kind: 'ok', delayMs: 300 });
    gateway.fakes.gemini.enqueue({ kind: 'trickle', delayMs: 60 });
    const agent = new Agent({ keepAlive: true });
    const { port } = new URL(gateway.url);
    const send = (path: string, body: unknown) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({ agent, host: '127.0.0.1', port, path, method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (part: string) => (text += part));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject).end(JSON.stringify(body));
      });
    try {
      const whole = send('/query', { prompt: 'Hello' });
      const streamed = send('/v1/chat/completions', { stream: true, messages: [{ role: 'user', content: 'Hello' }] });
      await expect.poll(() => gateway?.fakes.gemini.requests.length).toBe(2);
      const closed = gateway.app.close().then(() => performance.now());
      const answers = await Promise.all([whole, streamed]);
      const lastAnswer = performance.now();
      expect(answers.map((a) => a.status)).toEqual([200, 200]);
      expect(answers[1]?.text).toContain('data: [DONE]');
      // Without closing the connections they leave idle, close() would wait out the 72 s
      // keep-alive timeout.
      expect((await closed) - lastAnswer).toBeLessThan(2_000);
    } finally {
      agent.destroy();
    }
  });
});
