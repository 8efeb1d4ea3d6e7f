// The transport under every provider (providers/upstream-http.ts) and the body readers
// (providers/response-body.ts), against a local HTTP server that watches its own connections.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QueuedCallAbortedError } from '../../../src/providers/provider-error.ts';
import { discard, readAll, utf8Text } from '../../../src/providers/transport/response-body.ts';
import { createUpstreamPool, type UpstreamPool } from '../../../src/providers/transport/upstream-http.ts';
import { live } from '../../helpers/provider-calls.ts';
import { startWatchedServer, type WatchedServer } from '../../helpers/watched-server.ts';

let upstream: WatchedServer;
let pool: UpstreamPool;
let base: string;

beforeAll(async () => {
  upstream = await startWatchedServer();
  base = upstream.url;
});

beforeEach(() => {
  upstream.reset();
  pool = createUpstreamPool(base);
});

afterEach(async () => {
  await pool.close();
  await expect.poll(() => upstream.sockets.size).toBe(0);
});

afterAll(() => upstream.close());

const json = (res: ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

async function text(answer: { body: NodeJS.ReadableStream }): Promise<string> {
  return utf8Text(await readAll(answer.body as never));
}

describe('the pool', () => {
  it('POSTs the path, query, headers and body, and hands back status, headers and body', async () => {
    let seen: { method?: string; url?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    upstream.handler = (req, res, body) => {
      seen = { method: req.method, url: req.url, headers: req.headers, body };
      res.setHeader('x-upstream', 'yes');
      json(res, 201, { ok: true });
    };
    const answer = await pool.post('/v1/things?alt=sse', { 'content-type': 'application/json', 'x-key': 'k' }, '{"a":"é"}', live());
    expect(answer.status).toBe(201);
    expect(answer.headers['x-upstream']).toBe('yes');
    expect(JSON.parse(await text(answer))).toEqual({ ok: true });
    expect(seen).toMatchObject({ method: 'POST', url: '/v1/things?alt=sse', body: '{"a":"é"}' });
    expect(seen.headers).toMatchObject({
      host: new URL(base).host,
      'content-type': 'application/json',
      'x-key': 'k',
      'content-length': String(Buffer.byteLength('{"a":"é"}')),
      connection: 'keep-alive',
    });
  });

  it('refuses a header value that would split the request, before sending anything', async () => {
    upstream.handler = (_req, res) => json(res, 200, {});
    await expect(pool.post('/', { 'x-bad': 'a\r\nx-injected: 1' }, '{}', live())).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    expect(upstream.ports).toHaveLength(0);
  });

  it('keeps the connection alive between calls in a row', async () => {
    upstream.handler = (_req, res) => json(res, 200, {});
    for (let i = 0; i < 3; i += 1) await text(await pool.post('/', {}, '{}', live()));
    expect(upstream.ports).toHaveLength(3);
    expect(new Set(upstream.ports).size).toBe(1);
  });

  it('sends nothing when the signal has already fired, and rejects with its reason', async () => {
    upstream.handler = (_req, res) => json(res, 200, {});
    const reason = new DOMException('late', 'TimeoutError');
    await expect(pool.post('/', {}, '{}', AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(upstream.ports).toHaveLength(0);
  });

  it('cuts a call still waiting for its answer when the signal fires', async () => {
    upstream.handler = () => undefined; // never answers
    const controller = new AbortController();
    const call = pool.post('/', {}, '{}', controller.signal);
    await expect.poll(() => upstream.ports.length).toBe(1);
    controller.abort(new DOMException('deadline', 'TimeoutError'));
    await expect(call).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect.poll(() => upstream.sockets.size).toBe(0);
  });

  it('cuts a call still queued for a connection when the signal fires, and keeps the pool working', async () => {
    // Every connection the pool may open is busy with a stream that has not ended.
    const held: ServerResponse[] = [];
    upstream.handler = (req, res) => {
      if (req.url !== '/stream') return json(res, 200, { ok: true });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {}\n\n');
      held.push(res);
    };
    const streams = await Promise.all(Array.from({ length: 64 }, () => pool.post('/stream', {}, '{}', live())));
    for (const stream of streams) stream.body.resume();
    expect(upstream.sockets.size).toBe(64);

    const controller = new AbortController();
    const queued = pool.post('/queued', {}, '{}', controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort(new DOMException('attempt timed out', 'TimeoutError'));
    // Told apart from a call the provider was slow to answer: it never reached the provider.
    await expect(queued).rejects.toBeInstanceOf(QueuedCallAbortedError);
    await expect(queued).rejects.toMatchObject({ cause: { name: 'TimeoutError' } });
    // Nothing of the cut call was sent, and the connections it waited for still serve later calls.
    expect(upstream.ports).toHaveLength(64);
    for (const res of held) res.end();
    expect(JSON.parse(await text(await pool.post('/after', {}, '{}', live())))).toEqual({ ok: true });
    expect(upstream.ports).toHaveLength(65);
  });

  it('breaks the body when the signal fires halfway through it', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {}\n\n');
    };
    const controller = new AbortController();
    const answer = await pool.post('/', {}, '{}', controller.signal);
    const read = readAll(answer.body);
    controller.abort(new DOMException('gone', 'AbortError'));
    await expect(read).rejects.toThrow();
    await expect.poll(() => upstream.sockets.size).toBe(0);
  });

  it('leaves an answer that has fully arrived alone when the signal fires while it drains', async () => {
    upstream.handler = (_req, res) => json(res, 200, { done: true });
    const controller = new AbortController();
    const answer = await pool.post('/', {}, '{}', controller.signal);
    // The whole message is in; the signal fires before anyone reads it (a finished stream does this).
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new DOMException('response finished', 'AbortError'));
    expect(JSON.parse(await text(answer))).toEqual({ done: true });
    await text(await pool.post('/', {}, '{}', live()));
    expect(new Set(upstream.ports).size).toBe(1);
  });

  it('closes a connection left idle, but never one whose answer is slow to come', async () => {
    const quick = createUpstreamPool(base, 150);
    try {
      upstream.handler = (req, res) => {
        if (req.url !== '/slow') return json(res, 200, {});
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first ');
        setTimeout(() => res.end('and last, after a gap longer than the idle timeout'), 400);
      };
      expect(await text(await quick.post('/slow', {}, '{}', live()))).toBe('first and last, after a gap longer than the idle timeout');
      expect(upstream.sockets.size).toBe(1);
      await expect.poll(() => upstream.sockets.size, { timeout: 2000 }).toBe(0);
    } finally {
      await quick.close();
    }
  });

  it('rejects when nothing listens', async () => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const closedPort = createUpstreamPool(`http://127.0.0.1:${port}`);
    await expect(closedPort.post('/', {}, '{}', live())).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await closedPort.close();
  });

  it('closes its connections on close() and refuses calls after it', async () => {
    upstream.handler = (_req, res) => json(res, 200, {});
    await text(await pool.post('/', {}, '{}', live()));
    expect(upstream.sockets.size).toBe(1);
    await pool.close();
    await expect.poll(() => upstream.sockets.size).toBe(0);
    await expect(pool.post('/', {}, '{}', live())).rejects.toThrow('the connection pool is closed');
    expect(upstream.ports).toHaveLength(1);
  });
});

describe('bodies', () => {
  it('undoes gzip, zlib and raw deflate, and passes an unknown coding through untouched', async () => {
    const payload = JSON.stringify({ text: 'x'.repeat(5000) });
    const encodings: Array<[string, Buffer]> = [
      ['gzip', zlib.gzipSync(payload)],
      ['deflate', zlib.deflateSync(payload)],
      ['deflate', zlib.deflateRawSync(payload)],
      ['identity-ish', Buffer.from(payload)],
    ];
    for (const [coding, bytes] of encodings) {
      upstream.handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
        res.end(bytes);
      };
      expect(await text(await pool.post('/', {}, '{}', live()))).toBe(payload);
    }
  });

  it('drops a byte order mark', async () => {
    upstream.handler = (_req, res) => res.end('\ufeff{"a":1}');
    expect(await text(await pool.post('/', {}, '{}', live()))).toBe('{"a":1}');
  });

  it('stops reading past a size cap, and cuts the connection', async () => {
    upstream.handler = (_req, res) => res.end('y'.repeat(100_000));
    const answer = await pool.post('/', {}, '{}', live());
    expect(await readAll(answer.body, 10_000)).toBeUndefined();
    await expect.poll(() => upstream.sockets.size).toBe(0);
  });

  it('drains a short unread body so its connection is used again, and cuts a long one', async () => {
    upstream.handler = (req, res) => res.end(req.url === '/long' ? 'z'.repeat(1_000_000) : 'short');
    discard((await pool.post('/short', {}, '{}', live())).body);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await text(await pool.post('/short', {}, '{}', live()));
    expect(new Set(upstream.ports).size).toBe(1);
    discard((await pool.post('/long', {}, '{}', live())).body);
    await expect.poll(() => upstream.sockets.size).toBe(0);
  });
});
