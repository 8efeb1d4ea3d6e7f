// The lean fetch over a provider's pool (providers/http-agent.ts, given to the Gemini SDK), against
// a local HTTP server: what goes on the wire, what comes back, compressed and streamed bodies,
// aborts, failures and redirects.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFetch, createHttpAgent } from '../../src/providers/http-agent.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let base: string;
let handler: Handler;
let seen: Seen[] = [];
let connections = 0;
const closed: Array<Promise<unknown>> = [];
// A fresh pool per test, so every test opens (and can watch) its own connections.
let agent: ReturnType<typeof createHttpAgent>;
let fetch: typeof globalThis.fetch;

beforeAll(async () => {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', (socket: Socket) => {
    connections += 1;
    closed.push(once(socket, 'close'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  agent = createHttpAgent();
  fetch = createFetch(agent);
});

afterEach(async () => {
  await agent.destroy();
  seen = [];
  connections = 0;
  closed.length = 0;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
});

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}) =>
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

describe('sdk fetch: request and response', () => {
  it('sends the method, path, query, body and headers, plus the headers fetch adds', async () => {
    handler = (_req, res) => json(res, 200, { ok: true });
    const response = await fetch(`${base}/api/v1/chat/completions?x=1`, {
      method: 'post',
      headers: new Headers({ Authorization: 'Bearer k', 'Content-Type': 'application/json', 'User-Agent': 'OpenAI/JS 7' }),
      body: '{"model":"m"}',
    });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/api/v1/chat/completions?x=1');
    expect(request?.body).toBe('{"model":"m"}');
    expect(request?.headers).toMatchObject({
      authorization: 'Bearer k',
      'content-type': 'application/json',
      'user-agent': 'OpenAI/JS 7',
      'content-length': '13',
      accept: '*/*',
      'accept-language': '*',
      'accept-encoding': 'gzip, deflate',
      'sec-fetch-mode': 'cors',
    });
  });

  it('sends the same headers as undici fetch does', async () => {
    handler = (_req, res) => json(res, 200, {});
    const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-title': 't' }, body: '{}' };
    await fetch(`${base}/a`, init);
    const { fetch: undiciFetch } = await import('undici');
    await (await undiciFetch(`${base}/a`, { ...init, dispatcher: agent })).text();
    const [ours, theirs] = seen;
    expect(ours?.headers).toEqual(theirs?.headers);
  });

  it('answers with a Response: status, headers, URL, and a body read once as text or JSON', async () => {
    handler = (_req, res) =>
      json(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '7', 'x-request-id': 'req_1', 'set-cookie': ['a=1', 'b=2'] });
    const response = await fetch(`${base}/limited`, { method: 'POST', body: '{}' });
    expect(response).toBeInstanceOf(Response);
    expect(response.ok).toBe(false);
    expect(response.status).toBe(429);
    expect(response.statusText).toBe('Too Many Requests');
    expect(response.url).toBe(`${base}/limited`);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(response.headers.get('x-request-id')).toBe('req_1');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(response.bodyUsed).toBe(false);
    expect(await response.json()).toEqual({ error: { message: 'slow down' } });
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);
  });

  it('offers a buffered body as a stream too, and clones', async () => {
    handler = (_req, res) => json(res, 200, { n: 1 });
    const response = await fetch(`${base}/x`);
    const copy = response.clone();
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const { value } = await reader.read();
    expect(Buffer.from(value as Uint8Array).toString()).toBe('{"n":1}');
    expect((await reader.read()).done).toBe(true);
    expect(await copy.text()).toBe('{"n":1}');
  });

  it('has no body for a 204', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    const response = await fetch(`${base}/empty`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
    expect(await response.text()).toBe('');
  });

  it('reuses kept-alive connections for calls in a row', async () => {
    handler = (_req, res) => json(res, 200, {});
    for (let i = 0; i < 6; i += 1) await (await fetch(`${base}/k`, { method: 'POST', body: '{}' })).text();
    expect(seen).toHaveLength(6);
    // undici's pool opens a second connection while the first is still being released; no more.
    expect(connections).toBeLessThanOrEqual(2);
  });

  it.each([
    ['gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['x-gzip', (b: Buffer) => zlib.gzipSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateSync(b)],
    ['deflate', (b: Buffer) => zlib.deflateRawSync(b)],
    ['br', (b: Buffer) => zlib.brotliCompressSync(b)],
    ['zstd', (b: Buffer) => zlib.zstdCompressSync(b)],
    ['deflate, gzip', (b: Buffer) => zlib.gzipSync(zlib.deflateSync(b))],
  ])('decodes a %s body', async (encoding, encode) => {
    // Large and random enough to arrive in many chunks.
    const payload = JSON.stringify({ text: 'Paris '.repeat(200), noise: randomBytes(150_000).toString('hex') });
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding }).end(encode(Buffer.from(payload)));
    const response = await fetch(`${base}/z`);
    expect(await response.text()).toBe(payload);
  });

  it('drops a byte order mark, as fetch does', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('\uFEFF{"a":1}');
    expect(await (await fetch(`${base}/bom`)).json()).toEqual({ a: 1 });
  });

  it('passes a body with an unknown coding through untouched', async () => {
    handler = (_req, res) => res.writeHead(200, { 'content-encoding': 'snappy' }).end('raw');
    expect(await (await fetch(`${base}/z`)).text()).toBe('raw');
  });

  it('follows a redirect as fetch does', async () => {
    handler = (req, res, body) => {
      if (req.url === '/old') res.writeHead(307, { location: '/new' }).end();
      else json(res, 200, { path: req.url, body });
    };
    const response = await fetch(`${base}/old`, { method: 'POST', body: '{"a":1}' });
    expect(await response.json()).toEqual({ path: '/new', body: '{"a":1}' });
    expect(response.url).toBe(`${base}/new`);
  });

  it('hands anything but a string or bytes body to undici fetch', async () => {
    handler = (_req, res, body) => json(res, 200, { body });
    const response = await fetch(`${base}/form`, { method: 'POST', body: new URLSearchParams({ a: '1' }) });
    expect(await response.json()).toEqual({ body: 'a=1' });
    expect(seen[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
  });
});

describe('sdk fetch: streams', () => {
  it('hands on server-sent events as they arrive', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      void released.then(() => res.end('data: {"n":2}\n\ndata: [DONE]\n\n'));
    };
    const response = await fetch(`${base}/stream`, { method: 'POST', body: '{"stream":true}' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe('data: {"n":1}\n\n');
    release();
    let rest = '';
    for (let part = await reader.read(); !part.done; part = await reader.read()) rest += Buffer.from(part.value).toString();
    expect(rest).toBe('data: {"n":2}\n\ndata: [DONE]\n\n');
  });

  it('closes the upstream connection when the reader cancels', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
    };
    const response = await fetch(`${base}/stream`, { method: 'POST', body: '{}' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel();
    await Promise.all(closed);
  });
});

describe('sdk fetch: the end of a stream', () => {
  it('comes after every chunk, and a reader cancelling meanwhile breaks nothing', async () => {
    // The whole body, end included, arrives in one packet: the end is handed on a turn later,
    // and this reader cancels inside that turn.
    handler = (_req, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end('data: {"n":1}\n\n');
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 20; i += 1) {
        const response = await fetch(`${base}/stream`, { method: 'POST', body: '{}' });
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        const first = await reader.read();
        expect(Buffer.from(first.value as Uint8Array).toString()).toBe('data: {"n":1}\n\n');
        await reader.cancel();
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('sdk fetch: aborts and failures', () => {
  it('rejects with the reason of an already aborted signal, sending nothing', async () => {
    handler = (_req, res) => json(res, 200, {});
    const reason = new DOMException('too late', 'TimeoutError');
    await expect(fetch(`${base}/x`, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(seen).toHaveLength(0);
  });

  it('rejects with the reason when aborted before the answer, and drops the connection', async () => {
    handler = () => undefined; // never answers
    const controller = new AbortController();
    const pending = fetch(`${base}/hang`, { method: 'POST', body: '{}', signal: controller.signal });
    await expect.poll(() => seen.length).toBe(1);
    const reason = new DOMException('gone', 'AbortError');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    await Promise.all(closed);
  });

  it('errors the stream with the reason when aborted mid-stream', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
    };
    const controller = new AbortController();
    const response = await fetch(`${base}/stream`, { method: 'POST', body: '{}', signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    await Promise.all(closed);
  });

  it('rejects with TypeError "fetch failed" when nothing listens', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    probe.close();
    const error = await fetch(`http://127.0.0.1:${port}/x`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('fetch failed');
    expect(((error as TypeError).cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it('rejects with TypeError "terminated" when the connection drops mid-body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 10);
    };
    const error = await fetch(`${base}/cut`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('terminated');
  });

  it('errors a stream with TypeError "terminated" when the connection drops mid-stream', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
      setTimeout(() => res.socket?.destroy(), 10);
    };
    const response = await fetch(`${base}/stream`, { method: 'POST', body: '{}' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const error = await reader.read().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as TypeError).message).toBe('terminated');
  });
});
