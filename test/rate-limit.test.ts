import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, KEY, OTHER_KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';

describe('per-key rate limit', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ RATE_LIMIT_PER_MINUTE: '10' });
  });
  afterAll(() => gateway.close());

  it('lets 10 requests a minute through, answers the 11th with 429 and leaves other keys alone', async () => {
    for (let i = 1; i <= 10; i += 1) {
      const response = await query(gateway, { prompt: `request ${i}` });
      expect(response.status, `request ${i}`).toBe(200);
      expect(response.headers.get('x-ratelimit-limit')).toBe('10');
      expect(response.headers.get('x-ratelimit-remaining')).toBe(String(10 - i));
    }
    const limited = await query(gateway, { prompt: 'one too many' });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('10');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
    // The body says it too: which limit, and in how many seconds to retry (Retry-After's).
    expect(await errorOf(limited)).toEqual({
      code: 'rate_limited',
      message: `Rate limit exceeded for this API key: 10 requests a minute (RATE_LIMIT_PER_MINUTE). Retry in ${retryAfter} second${retryAfter === 1 ? '' : 's'}.`,
      request_id: limited.headers.get('x-request-id'),
    });

    const other = await query(gateway, { prompt: 'another key' }, { key: OTHER_KEY });
    expect(other.status).toBe(200);
  });

  it('limits on the key, not the address: the same key from another address is still limited', async () => {
    // Forwarded addresses believed, so the two callers below really are two addresses to the gateway.
    const own = await startGateway({ RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: 'loopback' });
    try {
      const from = (address: string, key?: string) =>
        query(own, { prompt: 'hi' }, { headers: { 'x-forwarded-for': address }, ...(key === undefined ? {} : { key }) });
      expect((await from('203.0.113.1')).status).toBe(200);
      expect((await from('203.0.113.1')).status).toBe(200);
      expect((await from('203.0.113.9')).status).toBe(429);
      // ... while another key from the first address is not.
      expect((await from('203.0.113.1', OTHER_KEY)).status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('does not count requests with a wrong key against a real key', async () => {
    const fresh = await startGateway({ RATE_LIMIT_PER_MINUTE: '2' });
    try {
      for (let i = 0; i < 5; i += 1) expect((await query(fresh, { prompt: 'x' }, { key: 'nope' })).status).toBe(401);
      expect((await query(fresh, { prompt: 'x' })).status).toBe(200);
      expect((await query(fresh, { prompt: 'x' })).status).toBe(200);
      expect((await query(fresh, { prompt: 'x' })).status).toBe(429);
    } finally {
      await fresh.close();
    }
  });
});

describe('unknown routes', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('answers 404 up to 60 a minute per address, then 429 saying which limit was hit; keys are untouched', async () => {
    for (let i = 1; i <= 60; i += 1) {
      const response = await fetch(`${gateway.url}/no-such-route-${i}`);
      expect(response.status, `request ${i}`).toBe(404);
      expect((await errorOf(response)).code).toBe('not_found');
    }
    const limited = await fetch(`${gateway.url}/no-such-route-61`);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const error = await errorOf(limited);
    expect(error).toMatchObject({ code: 'rate_limited', message: `Too many requests for unknown routes from this address. Retry in ${limited.headers.get('retry-after')} seconds.` });

    expect((await query(gateway, { prompt: 'still served' })).status).toBe(200);
  });

  it('answers 404 whatever the body, and counts a body that does not parse like any other', async () => {
    const own = await startGateway();
    try {
      const bodies = [
        { 'content-type': 'application/json', body: '{' },
        { 'content-type': 'application/xml', body: '<a/>' },
        { 'content-type': 'application/json', body: 'x'.repeat(70_000) },
      ];
      for (let i = 0; i < 60; i += 1) {
        const { body, ...headers } = bodies[i % bodies.length] as { body: string; 'content-type': string };
        const response = await fetch(`${own.url}/admin-${i}`, { method: 'POST', headers, body });
        expect(response.status, `request ${i + 1}`).toBe(404);
        expect((await errorOf(response)).code).toBe('not_found');
      }
      const limited = await fetch(`${own.url}/admin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
      expect(limited.status).toBe(429);
      expect((await errorOf(limited)).message).toMatch(/^Too many requests for unknown routes from this address\. Retry in \d+ seconds?\.$/);
      // A real route still refuses a broken body with 400, after its key check.
      const known = await fetch(`${own.url}/query`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': KEY }, body: '{' });
      expect(known.status).toBe(400);
    } finally {
      await own.close();
    }
  });
});
