// The global fetch as seen from inside and outside withFetch (providers/scoped-fetch.ts), against
// a local HTTP server: inside, the given fetch answers; outside, the original one, unchanged.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withFetch } from '../../src/providers/scoped-fetch.ts';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`server saw ${req.url}`));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A fetch that answers by itself and records what it was asked. */
function answering(name: string): { fetch: typeof globalThis.fetch; urls: string[] } {
  const urls: string[] = [];
  const fetch = (async (input: string | URL | Request) => {
    urls.push(String(input));
    // A turn of the event loop, so concurrent scopes really interleave.
    await new Promise((resolve) => setImmediate(resolve));
    return new Response(`${name} answered`);
  }) as typeof globalThis.fetch;
  return { fetch, urls };
}

describe('withFetch', () => {
  it('gives calls made inside it, and after their awaits, the fetch it was given', async () => {
    const mine = answering('mine');
    const text = await withFetch(mine.fetch, async () => {
      const first = await (await fetch(`${base}/one`)).text();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const second = await (await globalThis.fetch(`${base}/two`)).text();
      return [first, second];
    });
    expect(text).toEqual(['mine answered', 'mine answered']);
    expect(mine.urls).toEqual([`${base}/one`, `${base}/two`]);
  });

  it('leaves every other fetch to the original, which reaches the network', async () => {
    const mine = answering('mine');
    await withFetch(mine.fetch, async () => undefined);
    const response = await fetch(`${base}/outside`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('server saw /outside');
    expect(mine.urls).toEqual([]);
  });

  it('keeps concurrent calls apart', async () => {
    const a = answering('a');
    const b = answering('b');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => {
        const own = i % 2 === 0 ? a : b;
        return withFetch(own.fetch, async () => (await fetch(`${base}/${i}`)).text());
      }),
    );
    expect(results).toEqual(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'a answered' : 'b answered')));
    expect(a.urls).toHaveLength(5);
    expect(b.urls).toHaveLength(5);
  });

  it('wraps the global fetch once, however often it is used', async () => {
    await withFetch(answering('x').fetch, async () => undefined);
    const wrapped = globalThis.fetch;
    await withFetch(answering('y').fetch, async () => undefined);
    expect(globalThis.fetch).toBe(wrapped);
  });
});
