// Who may read GET /metrics, over real HTTP: the token when METRICS_TOKEN is set; otherwise
// direct connections from the machine itself only. A non-loopback peer is made by connecting to
// the gateway's loopback port from one of this machine's own non-loopback addresses, so nothing
// leaves the machine and the gateway still listens on 127.0.0.1 alone.
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { KEY, startGateway, type TestGateway } from '../helpers/gateway.ts';

const TOKEN = 'a-metrics-token-of-some-length-42';

/** This machine's first non-loopback IPv4 address, if it has one. */
const ownAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
if (ownAddress === undefined) console.warn('no non-loopback IPv4 address here: /metrics refusing a non-loopback peer is not exercised');

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET from a chosen local address (the peer address the gateway sees). */
function get(gateway: TestGateway, path: string, headers: Record<string, string> = {}, localAddress = '127.0.0.1'): Promise<Answer> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers, localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const errorCode = (answer: Answer) => (JSON.parse(answer.body) as { error: { code: string; request_id: string } }).error;

describe('GET /metrics access', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway?.close();
  });

  describe('without METRICS_TOKEN', () => {
    it('answers a direct connection from loopback (127.0.0.1 and the rest of 127.0.0.0/8)', async () => {
      gateway = await startGateway();
      for (const from of ['127.0.0.1', '127.0.0.2']) {
        const answer = await get(gateway, '/metrics', {}, from);
        expect(answer.status, from).toBe(200);
        expect(answer.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
        expect(answer.headers['cache-control']).toBe('no-store');
        expect(answer.body).toContain('# TYPE llm_router_provider_attempts_total counter');
      }
    });

    it.runIf(ownAddress !== undefined)('refuses a peer that is not loopback with 403, whatever X-Forwarded-For says, even with TRUST_PROXY', async () => {
      gateway = await startGateway({ TRUST_PROXY: 'true' });
      const spoofed: Array<Record<string, string>> = [{}, { 'x-forwarded-for': '127.0.0.1' }];
      for (const headers of spoofed) {
        const answer = await get(gateway, '/metrics', headers, ownAddress);
        expect(answer.status).toBe(403);
        expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
        const error = errorCode(answer);
        expect(error.code).toBe('forbidden');
        expect(error.request_id).toBe(answer.headers['x-request-id']);
        expect(answer.body).toContain('METRICS_TOKEN');
        expect(answer.body).not.toContain('# TYPE');
      }
    });

    it('refuses loopback that a local proxy relays (a forwarding header), as the caller is elsewhere', async () => {
      gateway = await startGateway();
      const relayed: Array<Record<string, string>> = [{ 'x-forwarded-for': '203.0.113.7' }, { forwarded: 'for=203.0.113.7' }, { 'x-real-ip': '203.0.113.7' }];
      for (const headers of relayed) {
        const answer = await get(gateway, '/metrics', headers);
        expect(answer.status, JSON.stringify(headers)).toBe(403);
        expect(errorCode(answer).code).toBe('forbidden');
      }
    });

    it('is not limited per key: a scrape needs no API key and is never rate limited', async () => {
      gateway = await startGateway({ RATE_LIMIT_PER_MINUTE: '2' });
      const answers = await Promise.all(Array.from({ length: 6 }, () => get(gateway, '/metrics')));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    });
  });

  describe('with METRICS_TOKEN', () => {
    it('answers the token as a Bearer token, from anywhere', async () => {
      gateway = await startGateway({ METRICS_TOKEN: TOKEN });
      const local = await get(gateway, '/metrics', { authorization: `Bearer ${TOKEN}` });
      expect(local.status).toBe(200);
      expect(local.body).toContain('# TYPE http_server_active_requests gauge');
      if (ownAddress !== undefined) expect((await get(gateway, '/metrics', { authorization: `bearer ${TOKEN}` }, ownAddress)).status).toBe(200);
    });

    it('refuses loopback without it, a wrong token, and an API key with 401, and never echoes what was sent', async () => {
      gateway = await startGateway({ METRICS_TOKEN: TOKEN });
      const refused: Array<Record<string, string>> = [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${KEY}` }, { 'x-api-key': TOKEN }, { authorization: `Basic ${TOKEN}` }];
      for (const headers of refused) {
        const answer = await get(gateway, '/metrics', headers);
        expect(answer.status, JSON.stringify(headers)).toBe(401);
        expect(answer.headers['www-authenticate']).toBe('Bearer');
        expect(errorCode(answer).code).toBe('unauthorized');
        expect(answer.body).not.toContain(TOKEN);
        expect(answer.body).not.toContain(KEY);
      }
    });

    it('limits wrong tokens per address like wrong keys: 429 once AUTH_FAILURES_PER_MINUTE is spent, the right token still works', async () => {
      gateway = await startGateway({ METRICS_TOKEN: TOKEN, AUTH_FAILURES_PER_MINUTE: '3' });
      const answers = await Promise.all(Array.from({ length: 5 }, () => get(gateway, '/metrics', { authorization: 'Bearer wrong-token-wrong-token' })));
      expect(answers.map((a) => a.status).sort()).toEqual([401, 401, 401, 429, 429]);
      const limited = answers.find((a) => a.status === 429);
      expect(limited && errorCode(limited).code).toBe('too_many_auth_failures');
      expect(limited?.headers['retry-after']).toMatch(/^\d+$/);
      expect((await get(gateway, '/metrics', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    });

    it('is refused at start-up when shorter than 16 characters', () => {
      expect(() => loadConfig({ API_KEYS: KEY, METRICS_TOKEN: 'short-token' })).toThrow('METRICS_TOKEN must be at least 16 characters');
      expect(loadConfig({ API_KEYS: KEY, METRICS_TOKEN: TOKEN }).metricsToken).toBe(TOKEN);
    });
  });
});
