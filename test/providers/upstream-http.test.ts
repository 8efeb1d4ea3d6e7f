// The transport under every provider (providers/upstream-http.ts) and the body readers
// (providers/response-body.ts), against a local HTTP server that watches its own connections.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { discard, readAll, readEvents, utf8Text } from '../../src/providers/response-body.ts';
import { createUpstreamPool, type UpstreamPool } from '../../src/providers/upstream-http.ts';
import { live } from '../helpers/provider-calls.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let handler: Handler;
let pool: UpstreamPool;
let base: string;
/** Each request's client port: the same port twice means the connection was reused. */
let ports: number[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((req, res) => {
    ports.push(req.socket.remotePort ?? 0);
    let body = '';
    req.setEncoding('utf8').on('data', (text: string) => (body += text));
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

beforeEach(() => {
  ports = [];
  pool = createUpstreamPool(base);
});

afterEach(async () => {
  await pool.close();
  await expect.poll(() => sockets.size).toBe(0);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

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
    handler = (req, res, body) => {
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
    handler = (_req, res) => json(res, 200, {});
    await expect(pool.post('/', { 'x-bad': 'a\r\nx-injected: 1' }, '{}', live())).rejects.toMatchObject({ code: 'ERR_INVALID_CHAR' });
    expect(ports).toHaveLength(0);
  });

  it('keeps the connection alive between calls in a row', async () => {
    handler = (_req, res) => json(res, 200, {});
    for (let i = 0; i < 3; i += 1) await text(await pool.post('/', {}, '{}', live()));
    expect(ports).toHaveLength(3);
    expect(new Set(ports).size).toBe(1);
  });

  it('sends nothing when the signal has already fired, and rejects with its reason', async () => {
    handler = (_req, res) => json(res, 200, {});
    const reason = new DOMException('late', 'TimeoutError');
    await expect(pool.post('/', {}, '{}', AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(ports).toHaveLength(0);
  });

  it('cuts a call still waiting for its answer when the signal fires', async () => {
    handler = () => undefined; // never answers
    const controller = new AbortController();
    const call = pool.post('/', {}, '{}', controller.signal);
    await expect.poll(() => ports.length).toBe(1);
    controller.abort(new DOMException('deadline', 'TimeoutError'));
    await expect(call).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect.poll(() => sockets.size).toBe(0);
  });

  it('breaks the body when the signal fires halfway through it', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {}\n\n');
    };
    const controller = new AbortController();
    const answer = await pool.post('/', {}, '{}', controller.signal);
    const read = readAll(answer.body);
    controller.abort(new DOMException('gone', 'AbortError'));
    await expect(read).rejects.toThrow();
    await expect.poll(() => sockets.size).toBe(0);
  });

  it('leaves an answer that has fully arrived alone when the signal fires while it drains', async () => {
    handler = (_req, res) => json(res, 200, { done: true });
    const controller = new AbortController();
    const answer = await pool.post('/', {}, '{}', controller.signal);
    // The whole message is in; the signal fires before anyone reads it (a finished stream does this).
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort(new DOMException('response finished', 'AbortError'));
    expect(JSON.parse(await text(answer))).toEqual({ done: true });
    await text(await pool.post('/', {}, '{}', live()));
    expect(new Set(ports).size).toBe(1);
  });

  it('closes a connection left idle, but never one whose answer is slow to come', async () => {
    const quick = createUpstreamPool(base, 150);
    try {
      handler = (req, res) => {
        if (req.url !== '/slow') return json(res, 200, {});
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first ');
        setTimeout(() => res.end('and last, after a gap longer than the idle timeout'), 400);
      };
      expect(await text(await quick.post('/slow', {}, '{}', live()))).toBe('first and last, after a gap longer than the idle timeout');
      expect(sockets.size).toBe(1);
      await expect.poll(() => sockets.size, { timeout: 2000 }).toBe(0);
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
    handler = (_req, res) => json(res, 200, {});
    await text(await pool.post('/', {}, '{}', live()));
    expect(sockets.size).toBe(1);
    await pool.close();
    await expect.poll(() => sockets.size).toBe(0);
    await expect(pool.post('/', {}, '{}', live())).rejects.toThrow('the connection pool is closed');
    expect(ports).toHaveLength(1);
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
      handler = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
        res.end(bytes);
      };
      expect(await text(await pool.post('/', {}, '{}', live()))).toBe(payload);
    }
  });

  it('drops a byte order mark', async () => {
    handler = (_req, res) => res.end('\ufeff{"a":1}');
    expect(await text(await pool.post('/', {}, '{}', live()))).toBe('{"a":1}');
  });

  it('stops reading past a size cap, and cuts the connection', async () => {
    handler = (_req, res) => res.end('y'.repeat(100_000));
    const answer = await pool.post('/', {}, '{}', live());
    expect(await readAll(answer.body, 10_000)).toBeUndefined();
    await expect.poll(() => sockets.size).toBe(0);
  });

  it('drains a short unread body so its connection is used again, and cuts a long one', async () => {
    handler = (req, res) => res.end(req.url === '/long' ? 'z'.repeat(1_000_000) : 'short');
    discard((await pool.post('/short', {}, '{}', live())).body);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await text(await pool.post('/short', {}, '{}', live()));
    expect(new Set(ports).size).toBe(1);
    discard((await pool.post('/long', {}, '{}', live())).body);
    await expect.poll(() => sockets.size).toBe(0);
  });

  it('reads server-sent events, stops at the end marker and keeps the connection', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': comment\n\ndata: {"n":1}\r\n\r\nevent: error\ndata: {"n":2}\n\n');
      setTimeout(() => res.end('data: [DONE]\n\ndata: {"after":true}\n\n'), 10);
    };
    const events = [];
    for await (const event of readEvents((await pool.post('/', {}, '{}', live())).body, { name: 'openrouter', endMarker: '[DONE]', maxEventChars: 1000 })) {
      events.push([event.event, event.data]);
    }
    // The rest is drained in the background; then the connection is free again.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events).toEqual([
      [undefined, '{"n":1}'],
      ['error', '{"n":2}'],
    ]);
    await text(await pool.post('/', {}, '{}', live()));
    expect(new Set(ports).size).toBe(1);
  });

  it('cuts the connection when the reader stops early', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\n');
    };
    for await (const event of readEvents((await pool.post('/', {}, '{}', live())).body, { name: 'openrouter', maxEventChars: 1000 })) {
      expect(event.data).toBe('{"n":1}');
      break;
    }
    await expect.poll(() => sockets.size).toBe(0);
  });

  it('refuses an event that grows past its size cap before it ends', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${'x'.repeat(5000)}`);
      setTimeout(() => res.end('\n\n'), 20);
    };
    const reading = (async () => {
      for await (const _event of readEvents((await pool.post('/', {}, '{}', live())).body, { name: 'openrouter', maxEventChars: 1000 })) {
        // nothing arrives
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'ProviderError', kind: 'bad_response', message: 'openrouter sent an event larger than 1000 characters' });
  });
});
