import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, KEY, OTHER_KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';

describe('authentication', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ AUTH_FAILURES_PER_MINUTE: '100' });
  });
  afterAll(() => gateway.close());

  it('answers a missing and a wrong key the same way, naming both ways to send one', async () => {
    const missing = await query(gateway, { prompt: 'hi' }, { key: null });
    const wrong = await query(gateway, { prompt: 'hi' }, { key: 'not-the-key' });
    expect(missing.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const a = await errorOf(missing);
    const b = await errorOf(wrong);
    expect(a).toEqual({
      code: 'unauthorized',
      message: 'A valid API key is required: send it as "X-API-Key: <key>" or "Authorization: Bearer <key>".',
      request_id: missing.headers.get('x-request-id'),
    });
    expect({ ...a, request_id: '' }).toEqual({ ...b, request_id: '' });
  });

  it('checks the key before looking at the body', async () => {
    const response = await query(gateway, '{not json', { key: 'wrong' });
    expect(response.status).toBe(401);
  });

  it('accepts every configured key, and the key as a Bearer token', async () => {
    expect((await query(gateway, { prompt: 'hi' }, { key: KEY })).status).toBe(200);
    expect((await query(gateway, { prompt: 'hi' }, { key: OTHER_KEY })).status).toBe(200);
    const bearer = await query(gateway, { prompt: 'hi' }, { key: null, headers: { authorization: `Bearer ${KEY}` } });
    expect(bearer.status).toBe(200);
    const basic = await query(gateway, { prompt: 'hi' }, { key: null, headers: { authorization: `Basic ${KEY}` } });
    expect(basic.status).toBe(401);
  });

  it('does not accept a prefix, a suffix or a differently cased key', async () => {
    for (const candidate of [KEY.slice(0, -1), `${KEY}x`, KEY.toUpperCase(), `${KEY} extra`]) {
      expect((await query(gateway, { prompt: 'hi' }, { key: candidate })).status, candidate).toBe(401);
    }
  });

  it('keeps /health and /docs public', async () => {
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/docs/json`)).status).toBe(200);
  });

  it('limits failed attempts per client IP, while valid keys keep working', async () => {
    const fresh = await startGateway({ AUTH_FAILURES_PER_MINUTE: '3' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await query(fresh, { prompt: 'hi' }, { key: `guess-${i}` })).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const limited = await query(fresh, { prompt: 'hi' }, { key: 'guess-again' });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await errorOf(limited)).code).toBe('too_many_auth_failures');
      expect((await query(fresh, { prompt: 'hi' }, { key: KEY })).status).toBe(200);
    } finally {
      await fresh.close();
    }
  });

  describe('behind a proxy (TRUST_PROXY)', () => {
    /** Wrong-key statuses for requests that each claim another address in front of `real`. */
    async function forgedStatuses(trustProxy: string, real: string): Promise<number[]> {
      const fresh = await startGateway({ AUTH_FAILURES_PER_MINUTE: '2', TRUST_PROXY: trustProxy });
      try {
        const statuses: number[] = [];
        for (let i = 1; i <= 4; i += 1) {
          // The client wrote the first address; the proxy (here the test, on loopback) appended the one it saw.
          const headers = { 'x-forwarded-for': `198.51.100.${i}, ${real}` };
          statuses.push((await query(fresh, { prompt: 'hi' }, { key: `guess-${i}`, headers })).status);
        }
        // Another real address has its own count.
        statuses.push((await query(fresh, { prompt: 'hi' }, { key: 'guess', headers: { 'x-forwarded-for': '203.0.113.99' } })).status);
        return statuses;
      } finally {
        await fresh.close();
      }
    }

    it('with the proxies listed, counts failures against the address the proxy saw, whatever the client claims', async () => {
      expect(await forgedStatuses('loopback', '203.0.113.7')).toEqual([401, 401, 429, 429, 401]);
      expect(await forgedStatuses('127.0.0.1/8, ::1', '203.0.113.7')).toEqual([401, 401, 429, 429, 401]);
    });

    it('with a hop count (TRUST_PROXY=1), counts failures against the address the nearest proxy added, whatever the client claims', async () => {
      expect(await forgedStatuses('1', '203.0.113.7')).toEqual([401, 401, 429, 429, 401]);
      // Two proxies: the address the farther one added is the client's.
      const fresh = await startGateway({ AUTH_FAILURES_PER_MINUTE: '2', TRUST_PROXY: '2' });
      try {
        const statuses: number[] = [];
        for (let i = 1; i <= 3; i += 1) {
          const headers = { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.7, 10.0.0.${i}` };
          statuses.push((await query(fresh, { prompt: 'hi' }, { key: `guess-${i}`, headers })).status);
        }
        expect(statuses).toEqual([401, 401, 429]);
      } finally {
        await fresh.close();
      }
    });

    it('with TRUST_PROXY=true, lets the client choose the address (as documented), and warns at start', async () => {
      expect(await forgedStatuses('true', '203.0.113.7')).toEqual([401, 401, 401, 401, 401]);
      const fresh = await startGateway({ TRUST_PROXY: 'true' });
      try {
        const warning = fresh.logs.find((line) => line.level === 40 && String(line.msg).startsWith('TRUST_PROXY=true'));
        expect(warning?.msg).toMatch(/a client can choose the address .* set TRUST_PROXY to the number of proxies in front of the gateway \(1 on Hugging Face Spaces\)/);
      } finally {
        await fresh.close();
      }
      for (const value of ['1', 'false', 'loopback']) {
        const other = await startGateway({ TRUST_PROXY: value });
        try {
          expect(other.logs.some((line) => String(line.msg).startsWith('TRUST_PROXY=true')), value).toBe(false);
        } finally {
          await other.close();
        }
      }
    });

    it('counts IPv6 clients by their /64, so one client cannot rotate through its own addresses', async () => {
      const fresh = await startGateway({ AUTH_FAILURES_PER_MINUTE: '2', TRUST_PROXY: '1' });
      try {
        const statuses: number[] = [];
        for (const address of ['2001:db8:aa:bb::1', '2001:db8:aa:bb:a:b:c:d', '2001:db8:aa:bb:ffff:1:2:3', '2001:db8:aa:bb::42']) {
          statuses.push((await query(fresh, { prompt: 'hi' }, { key: 'guess', headers: { 'x-forwarded-for': address } })).status);
        }
        // The next /64 is another client.
        statuses.push((await query(fresh, { prompt: 'hi' }, { key: 'guess', headers: { 'x-forwarded-for': '2001:db8:aa:bc::1' } })).status);
        expect(statuses).toEqual([401, 401, 429, 429, 401]);
      } finally {
        await fresh.close();
      }
    });

    it('at LOG_LEVEL=debug, logs the address each request is counted under and what it was resolved from', async () => {
      const fresh = await startGateway({ TRUST_PROXY: '1', LOG_LEVEL: 'debug' });
      try {
        const response = await fetch(`${fresh.url}/health`, { headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' } });
        expect(response.status).toBe(200);
        const requestId = response.headers.get('x-request-id');
        expect(fresh.logs.find((line) => line.msg === 'client address' && line.request_id === requestId)).toMatchObject({
          level: 20,
          ip: '203.0.113.7',
          counted_as: '203.0.113.7',
          peer: '127.0.0.1',
          x_forwarded_for: '198.51.100.1, 203.0.113.7',
        });
      } finally {
        await fresh.close();
      }
      // Not at info.
      expect(gateway.logs.some((line) => line.msg === 'client address')).toBe(false);
    });

    it('without it, counts every request from the proxy as one address', async () => {
      expect(await forgedStatuses('false', '203.0.113.7')).toEqual([401, 401, 429, 429, 429]);
    });
  });

  it('never writes a client key or a provider key to the log', async () => {
    await query(gateway, { prompt: 'hi' }, { key: 'wrong-secret-value-123' });
    await query(gateway, { prompt: 'hi' }, { key: null, headers: { authorization: `Bearer ${OTHER_KEY}` } });
    const text = gateway.logText();
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(OTHER_KEY);
    expect(text).not.toContain('wrong-secret-value-123');
    const providerKey = gateway.config.providers.get('gemini')!.apiKey ?? 'unset';
    expect(text).not.toContain(providerKey);
    // The request line names the key by its id instead.
    expect(gateway.logs.some((line) => line.client === 'key-2')).toBe(true);
  });
});
