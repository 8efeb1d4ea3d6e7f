// The server-sent-event reader against a real HTTP server through the upstream pool: events as
// they arrive, the end marker, a reader that throws, a body cut off, a consumer that stops early,
// and backpressure reaching the upstream.
import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readEventStream, type EventReader } from '../../../src/providers/transport/event-stream.ts';
import { ProviderError } from '../../../src/providers/provider-error.ts';
import { readAll, utf8Text } from '../../../src/providers/transport/response-body.ts';
import { createUpstreamPool, type UpstreamPool } from '../../../src/providers/transport/upstream-http.ts';
import { collect, live, streamFailure } from '../../helpers/provider-calls.ts';
import { startWatchedServer, type WatchedServer } from '../../helpers/watched-server.ts';

let upstream: WatchedServer;
let pool: UpstreamPool;

beforeAll(async () => {
  upstream = await startWatchedServer();
});

beforeEach(() => {
  upstream.reset();
  pool = createUpstreamPool(upstream.url);
});

afterEach(async () => {
  await pool.close();
  await expect.poll(() => upstream.sockets.size).toBe(0);
});

afterAll(() => upstream.close());

const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });
const open = () => pool.post('/', {}, '{}', live()).then((answer) => answer.body);

/** Records each event as [type, data] and ends with 'end'; `fail` wraps whatever went wrong. */
function recorder(overrides: Partial<EventReader<unknown>> = {}): EventReader<unknown> & { failures: unknown[] } {
  const failures: unknown[] = [];
  return {
    failures,
    event: (data, type) => [type, data],
    end: () => 'end',
    fail: (error) => {
      failures.push(error);
      return new ProviderError('openrouter', 'unavailable', 'stream failed', { cause: error });
    },
    ...overrides,
  };
}

describe('reading an event stream', () => {
  it('yields what the reader makes of each event, stops at the end marker and keeps the connection', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write(': comment\n\ndata: {"n":1}\r\n\r\nevent: error\ndata: {"n":2}\n\n');
      setTimeout(() => res.end('data: [DONE]\n\ndata: {"after":true}\n\n'), 10);
    };
    const reader = recorder();
    expect(await collect(readEventStream(open, reader, { name: 'openrouter', endMarker: '[DONE]' }))).toEqual([
      [undefined, '{"n":1}'],
      ['error', '{"n":2}'],
      'end',
    ]);
    expect(reader.failures).toEqual([]);
    // The rest is drained in the background; then the connection is free again.
    await new Promise((resolve) => setTimeout(resolve, 20));
    upstream.handler = (_req, res) => res.end('again');
    expect(utf8Text(await readAll(await open()))).toBe('again');
    expect(new Set(upstream.ports).size).toBe(1);
  });

  it('ends at the end of the body when there is no end marker, even without a last blank line', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.end('data: one\n\ndata: two');
    };
    expect(await collect(readEventStream(open, recorder(), { name: 'gemini' }))).toEqual([[undefined, 'one'], [undefined, 'two'], 'end']);
  });

  it('skips events the reader yields nothing for', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.end('data: skip\n\ndata: keep\n\ndata: [DONE]\n\n');
    };
    const reader = recorder({ event: (data) => (data === 'skip' ? undefined : data), end: () => undefined });
    expect(await collect(readEventStream(open, reader, { name: 'openrouter', endMarker: '[DONE]' }))).toEqual(['keep']);
  });

  it('hands over what came before a failing event, then the reader’s error, and cuts the connection', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write('data: fine\n\ndata: broken\n\n');
    };
    const broken = new Error('cannot read this event');
    const reader = recorder({
      event: (data) => {
        if (data === 'broken') throw broken;
        return data;
      },
    });
    const { seen, error } = await streamFailure(readEventStream(open, reader, { name: 'openrouter' }));
    expect(error).toMatchObject({ message: 'stream failed', cause: broken });
    expect(seen).toEqual(['fine']);
    expect(reader.failures).toEqual([broken]);
    await expect.poll(() => upstream.sockets.size).toBe(0);
  });

  it('fails when end() finds the answer incomplete', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.end('data: partial\n\n');
    };
    const incomplete = new Error('no finish reason');
    const reader = recorder({
      end: () => {
        throw incomplete;
      },
    });
    await expect(collect(readEventStream(open, reader, { name: 'gemini' }))).rejects.toMatchObject({ cause: incomplete });
  });

  it('fails when the body is cut off halfway', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write('data: first\n\n');
      setTimeout(() => res.socket?.destroy(), 10);
    };
    const reader = recorder();
    const { seen, error } = await streamFailure(readEventStream(open, reader, { name: 'openrouter', endMarker: '[DONE]' }));
    expect(error.message).toBe('stream failed');
    expect(seen).toEqual([[undefined, 'first']]);
    expect(reader.failures).toHaveLength(1);
  });

  it('fails with the reader’s error when the call itself fails', async () => {
    const refused = new Error('refused');
    const reader = recorder();
    await expect(collect(readEventStream(() => Promise.reject(refused), reader, { name: 'groq' }))).rejects.toMatchObject({ cause: refused });
    expect(reader.failures).toEqual([refused]);
  });

  it('does not call upstream until the first next()', async () => {
    let opened = 0;
    const stream = readEventStream(
      () => {
        opened += 1;
        return open();
      },
      recorder(),
      { name: 'openrouter' },
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(opened).toBe(0);
    await stream.return?.();
  });

  it('cuts the connection when the consumer stops early', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write('data: {"n":1}\n\n');
    };
    for await (const item of readEventStream(open, recorder(), { name: 'openrouter' })) {
      expect(item).toEqual([undefined, '{"n":1}']);
      break;
    }
    await expect.poll(() => upstream.sockets.size).toBe(0);
  });

  it('cuts the answer that arrives after the consumer left while the call was under way', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write('data: late\n\n');
    };
    const stream = readEventStream(open, recorder(), { name: 'openrouter' });
    const first = stream.next();
    await stream.return?.();
    expect(await first).toEqual({ value: undefined, done: true });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    await expect.poll(() => upstream.sockets.size).toBe(0);
  });

  it('refuses an event that grows past its size cap before it ends', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      res.write(`data: ${'x'.repeat(5000)}`);
      setTimeout(() => res.end('\n\n'), 20);
    };
    const reader = recorder({ fail: (error) => error as Error });
    await expect(collect(readEventStream(open, reader, { name: 'openrouter', maxEventChars: 1000 }))).rejects.toMatchObject({
      name: 'ProviderError',
      kind: 'bad_response',
      message: 'openrouter sent an event larger than 1000 characters',
    });
  });

  it('stops reading while the consumer is not taking events, so the upstream is held back', async () => {
    const event = `data: ${'e'.repeat(10_000)}\n\n`;
    const limit = 64 * 1024 * 1024;
    let written = 0;
    upstream.handler = (_req, res) => {
      sse(res);
      const more = () => {
        while (written < limit) {
          written += event.length;
          if (!res.write(event)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    };
    const stream = readEventStream(open, recorder({ event: (data) => data.length }), { name: 'openrouter' });
    expect(await stream.next()).toEqual({ value: 10_000, done: false });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Read-ahead and the sockets' buffers hold a few megabytes; without the pause it would all arrive.
    expect(written).toBeLessThan(limit / 2);
    const stalled = written;
    // Taking the events lets the body, and then the upstream, flow again.
    for (let i = 0; i < 3000 && written === stalled; i += 1) await stream.next();
    expect(written).toBeGreaterThan(stalled);
    await stream.return?.();
  });
});

describe('lines that are no part of an event', () => {
  it('reach the reader whole, even split across chunks or left unfinished at the end of the body', async () => {
    upstream.handler = (_req, res) => {
      sse(res);
      // Each piece is written on its own turn, so each arrives in a chunk of its own.
      const pieces = ['data: {"n":1}\n\n{"error":', '{"code":500}}', '\nwhole line\ndata: {"n":2}\n\n', '[1,', '2]'];
      const next = () => {
        const piece = pieces.shift();
        if (piece === undefined) return void res.end();
        res.write(piece);
        setTimeout(next, 20);
      };
      next();
    };
    const stray: string[] = [];
    const reader = recorder({ stray: (line) => void stray.push(line) });
    expect(await collect(readEventStream(open, reader, { name: 'gemini' }))).toEqual([
      [undefined, '{"n":1}'],
      [undefined, '{"n":2}'],
      'end',
    ]);
    expect(stray).toEqual(['{"error":{"code":500}}', 'whole line', '[1,2]']);
  });
});
