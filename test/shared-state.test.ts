// Two gateways on one real Redis (Debian's redis-server on loopback): the per-key limit, token
// quotas and provider cooldowns hold across both; with Redis gone each keeps serving on its own
// state, says so, and shares again once Redis is back. The two gateways are two buildApp
// instances in this test process, each with its own listening socket, fake providers and
// connections to Redis: what they share is only what Redis holds.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { quotaKey } from '../src/state/client-quota-store.ts';
import { errorOf, KEY, OTHER_KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { hasRedisServer, redisRequired, startRedis, type RedisServer } from './helpers/redis-server.ts';

const METERED_KEY = 'metered-client-key-00000000000001';
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

/** Polls until `check` holds; a bounded number of tries, no timing assumed. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

const ready = async (gateway: TestGateway) => (await fetch(`${gateway.url}/health/ready`)).json() as Promise<{ status: string; shared_state?: string }>;

describe.skipIf(!hasRedisServer && !redisRequired)('state shared by two gateways through Redis', () => {
  let redis: RedisServer;
  let dir: string;
  let a: TestGateway;
  let b: TestGateway;
  let inspect: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'slr-shared-'));
    const file = join(dir, 'clients.yaml');
    writeFileSync(file, `tiers: { metered: { tokens_per_day: 1000, max_tokens: 40, requests_per_minute: 1000 } }\nclients: [{ name: metered, tier: metered, key_sha256: ${sha256(METERED_KEY)} }]\n`);
    const env = { REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '10', KEYS_FILE: file, API_KEYS: `${KEY},${OTHER_KEY}`, PROVIDER_ORDER: 'gemini,groq,openrouter', MAX_CONCURRENT_PER_KEY: '100' };
    [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
    inspect = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    inspect.on('error', () => undefined);
  });
  afterEach(() => {
    a.resetFakes();
    b.resetFakes();
  });
  afterAll(async () => {
    inspect.disconnect();
    await Promise.all([a?.close(), b?.close()]);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('limits a key to 10 a minute across both: 25 concurrent requests spread over them give exactly 10 answers and 15 × 429', async () => {
    const responses = await Promise.all(Array.from({ length: 25 }, (_, i) => query(i % 2 === 0 ? a : b, { prompt: `shared ${i}` })));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(15);
    const refused = responses.find((r) => r.status === 429) as Response;
    expect((await errorOf(refused)).code).toBe('rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await ready(a)).shared_state).toBe('redis');
  });

  it('never settles more than a token quota of 1,000: 50 concurrent requests over both, the sum in Redis is what the providers counted', async () => {
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => query(i % 2 === 0 ? a : b, { prompt: `count ${i}`, max_tokens: 40 }, { key: METERED_KEY })));
    const answered = responses.filter((r) => r.status === 200);
    const spent = responses.filter((r) => r.status === 429);
    expect(answered.length + spent.length).toBe(50);
    expect(spent.length).toBeGreaterThan(0);
    for (const r of spent) expect((await errorOf(r)).code).toBe('quota_exceeded');
    let counted = 0;
    for (const r of answered) counted += ((await r.json()) as { usage: { total_tokens: number } }).usage.total_tokens;
    // Settlements run just after the answers: wait until the counter holds what was counted.
    const key = quotaKey('metered', Date.now());
    await eventually(async () => Number(await inspect.get(key)) === counted, `the quota counter reaching ${counted}`);
    expect(counted).toBeLessThanOrEqual(1000);
    expect(Number(await inspect.get(key))).toBeLessThanOrEqual(1000);
  });

  it('a provider\'s 429 seen by one gateway makes the other skip that provider', async () => {
    a.fakes.gemini.setDefault({ kind: 'rate_limited', retryAfterSeconds: 30 });
    const first = await query(a, { prompt: 'gemini says 429' }, { key: OTHER_KEY });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-llm-provider')).toBe('groq');
    await eventually(async () => {
      const health = (await (await fetch(`${b.url}/health`)).json()) as { providers: Array<{ name: string; state: string }> };
      return health.providers.find((p) => p.name === 'gemini')?.state === 'cooling_down';
    }, 'gateway b learning of gemini\'s cooldown');
    const second = await query(b, { prompt: 'gemini skipped' }, { key: OTHER_KEY });
    expect(second.status).toBe(200);
    expect(second.headers.get('x-llm-provider')).toBe('groq');
    expect(b.fakes.gemini.requests).toHaveLength(0);
  });

  it('keeps serving with Redis killed (no hang, no 500, said in the log and /health/ready), and shares the limit again once Redis is back', async () => {
    const port = redis.port;
    // A request that waited on Redis past its deadline would be aborted here, and fail the test.
    const deadline = Number(a.config.requestTimeoutMs) + 1000;
    const burst = (label: string) =>
      Array.from({ length: 6 }, async (_, i) => {
        const response = await query(i % 2 === 0 ? a : b, { prompt: `${label} ${i}`, max_tokens: 10 }, { key: METERED_KEY, signal: AbortSignal.timeout(deadline) });
        return { status: response.status };
      });
    // Killed while requests are under way, then more after it is gone.
    const [, whileKilled] = await Promise.all([redis.stop(), Promise.all(burst('killed'))]);
    const during = [...whileKilled, ...(await Promise.all(burst('no redis')))];
    for (const { status } of during) expect([200, 429]).toContain(status);
    expect(during.filter((r) => r.status === 200).length).toBeGreaterThan(0);
    expect((await ready(a)).shared_state).toBe('local_fallback');
    expect((await ready(b)).status).toBe('ready');
    expect(a.logs.some((l) => l.msg === 'Redis is unavailable; shared state is skipped until it is back')).toBe(true);
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/llm_router_shared_state_available 0/);
    expect(metrics).toMatch(/llm_router_shared_state_fallbacks_total\{state="(rate_limit|quota)"\} [1-9]/);

    redis = await startRedis(port);
    await eventually(async () => (await ready(a)).shared_state === 'redis' && (await ready(b)).shared_state === 'redis', 'both gateways reconnecting');
    expect(a.logs.some((l) => l.msg === 'Redis is available again')).toBe(true);
    // OTHER_KEY spent 2 in the test before, in the Redis that was lost: a fresh count of 10.
    const responses = await Promise.all(Array.from({ length: 14 }, (_, i) => query(i % 2 === 0 ? a : b, { prompt: `back ${i}` }, { key: OTHER_KEY })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(10);
    expect(responses.filter((r) => r.status === 429)).toHaveLength(4);
  });
});

describe.skipIf(!hasRedisServer && !redisRequired)('a gateway whose Redis is gone', () => {
  it('starts and serves with per-process limits, and closes without waiting for Redis', async () => {
    const redis = await startRedis();
    const url = redis.url;
    await redis.stop();
    const gateway = await startGateway({ REDIS_URL: url, RATE_LIMIT_PER_MINUTE: '2' });
    try {
      expect((await (await fetch(`${gateway.url}/health/ready`)).json()) as object).toMatchObject({ status: 'ready', shared_state: 'local_fallback' });
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await query(gateway, { prompt: `alone ${i}` })).status);
      // Counted in this process instead: still exactly the limit.
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await gateway.close();
    }
  });
});
