// Two gateway processes, each started as `npm start` starts it (node src/server.ts), on one real
// Redis: the per-key limit holds across both, as it must across replicas. Each process runs its
// own simulated providers, so all they share is what Redis holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnNode, waitForOk, type Spawned } from './helpers/process.ts';
import { hasRedisServer, redisRequired, startRedis, type RedisServer } from './helpers/redis-server.ts';

const KEY = 'two-process-client-key-0000000001';
const LIMIT = 10;

describe.skipIf(!hasRedisServer && !redisRequired)('two gateway processes on one Redis', () => {
  let redis: RedisServer;
  const gateways: Array<{ process: Spawned; url: string }> = [];

  beforeAll(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i += 1) {
      const port = await freePort();
      const process = spawnNode(['src/server.ts'], {
        API_KEYS: KEY,
        HOST: '127.0.0.1',
        PORT: String(port),
        REDIS_URL: redis.url,
        RATE_LIMIT_PER_MINUTE: String(LIMIT),
        // All 25 come at once from one key: only the per-minute limit is under test here.
        MAX_CONCURRENT_PER_KEY: '100',
        SIMULATED_PROVIDERS: 'true',
        PREFLIGHT_INTERVAL_MS: '0',
        LOG_LEVEL: 'warn',
      });
      const url = `http://127.0.0.1:${port}`;
      gateways.push({ process, url });
      await waitForOk(`${url}/health/live`, 20_000);
    }
  });

  afterAll(async () => {
    for (const gateway of gateways) gateway.process.stop();
    await redis?.stop();
  });

  it(`answers exactly ${LIMIT} of 25 concurrent requests spread over both, and refuses the rest with 429`, async () => {
    const responses = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        fetch(`${gateways[i % 2]?.url}/query`, {
          method: 'POST',
          headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: `request ${i}` }),
        }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(25 - LIMIT);
    // Both processes answered some of the ten and refused some of the fifteen: the count was one.
    const byGateway = (status: number, g: number) => statuses.filter((s, i) => s === status && i % 2 === g).length;
    expect(byGateway(200, 0) + byGateway(200, 1)).toBe(LIMIT);
    expect(byGateway(429, 0) + byGateway(429, 1)).toBe(25 - LIMIT);
    for (const refused of responses.filter((r) => r.status === 429)) {
      const body = (await refused.json()) as { error: { code: string; request_id: string } };
      expect(body.error.code).toBe('rate_limited');
      expect(body.error.request_id).toBe(refused.headers.get('x-request-id'));
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    for (const answered of responses.filter((r) => r.status === 200)) await answered.json();
    expect(gateways.every((g) => !g.process.output().includes(KEY))).toBe(true);
  });
});
