// Usage records in a real PostgreSQL (Debian's package, on loopback with a throwaway cluster):
// a row per request, written in batches off the request path; a database that stops and starts
// during traffic fails no request, the rows resume and what did not fit is counted. With Redis
// too, the tokens recorded match the quota counted across two gateways.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quotaKey } from '../src/state/client-quota-store.ts';
import { errorOf, KEY, OTHER_KEY, query, startGateway } from './helpers/gateway.ts';
import { hasPostgres, postgresRequired, startPostgres, type PostgresServer } from './helpers/postgres-server.ts';
import { hasRedisServer, redisRequired, startRedis, type RedisServer } from './helpers/redis-server.ts';

const run = promisify(execFile);
const METERED_KEY = 'metered-client-key-00000000000002';
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i += 1) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}

interface Row {
  client: string;
  route: string;
  provider: string | null;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_ms: number;
  status: number;
  request_id: string;
}

describe.skipIf(!hasPostgres && !postgresRequired)('usage records in PostgreSQL', () => {
  let postgres: PostgresServer;
  let db: pg.Pool;
  beforeAll(async () => {
    postgres = await startPostgres();
    db = new pg.Pool({ connectionString: postgres.url, max: 1 });
    db.on('error', () => undefined);
  });
  afterAll(async () => {
    await db?.end();
    postgres?.stop();
  });

  const rows = async (where = 'true', values: unknown[] = []) => (await db.query<Row>(`SELECT * FROM usage_records WHERE ${where} ORDER BY id`, values)).rows;

  it('creates the schema at start and writes a row per request: client, route, provider, model, tokens, latency, status, request id', async () => {
    const gateway = await startGateway({ DATABASE_URL: postgres.url });
    try {
      const answered = await query(gateway, { prompt: 'count me' });
      expect(answered.status).toBe(200);
      const body = (await answered.json()) as { provider: string; model: string; usage: { prompt_tokens: number; completion_tokens: number } };
      const chat = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${OTHER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'no-such-provider', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(chat.status).toBe(404);
      const id = answered.headers.get('x-request-id');
      await eventually(async () => (await rows('request_id = $1', [id])).length === 1, 'the row written');
      const [row] = await rows('request_id = $1', [id]);
      expect(row).toMatchObject({
        client: 'key-1',
        route: '/query',
        provider: body.provider,
        model: body.model,
        prompt_tokens: body.usage.prompt_tokens,
        completion_tokens: body.usage.completion_tokens,
        status: 200,
      });
      expect(row?.latency_ms).toBeGreaterThanOrEqual(0);
      // A request refused before it reached the gateway (an unknown model) has no trip, and no row.
      expect(await rows('request_id = $1', [chat.headers.get('x-request-id')])).toHaveLength(0);
      expect(gateway.logText()).not.toContain(KEY);

      const { stdout } = await run(process.execPath, ['scripts/usage.ts', '--since', '7d'], { env: { ...process.env, DATABASE_URL: postgres.url } });
      const line = stdout.split('\n').find((l) => l.includes(' key-1 '));
      expect(stdout.split('\n')[0]).toMatch(/^day \(UTC\)\s+client\s+requests\s+prompt tokens\s+completion tokens/);
      expect(line).toMatch(new RegExp(`^${new Date().toISOString().slice(0, 10)}\\s+key-1\\s+\\d+\\s+\\d+\\s+\\d+`));
    } finally {
      await gateway.close();
    }
  });

  it('fails no request while the database is stopped and started; rows resume, and those beyond the buffer are dropped and counted', async () => {
    const gateway = await startGateway({ DATABASE_URL: postgres.url, USAGE_BUFFER_MAX: '10' });
    try {
      postgres.pause();
      const during = [];
      for (let i = 0; i < 15; i += 1) during.push((await query(gateway, { prompt: `while down ${i}` }, { key: OTHER_KEY })).status);
      expect(during.every((s) => s === 200)).toBe(true);
      await eventually(async () => gateway.logs.some((l) => l.msg === 'usage records not written; keeping them and trying again'), 'the failed write logged');
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/llm_router_usage_records_dropped_total 5/);
      expect(gateway.logs.some((l) => l.msg === 'usage records buffer full: dropping the oldest until the database takes them again')).toBe(true);

      postgres.start();
      await eventually(async () => gateway.app.usage?.buffered === 0, 'the kept rows written');
      const after = await query(gateway, { prompt: 'back again' }, { key: OTHER_KEY });
      expect(after.status).toBe(200);
      await eventually(async () => (await rows('request_id = $1', [after.headers.get('x-request-id')])).length === 1, 'rows written again');
      // The 10 newest of the 15 kept during the outage, and the one after it.
      const written = await rows("client = 'key-2' AND route = '/query'");
      expect(written).toHaveLength(11);
      expect(gateway.logs.find((l) => l.msg === 'usage records written again')).toMatchObject({ dropped: 5 });
    } finally {
      await gateway.close();
    }
  });

  it('starts without the database, keeps the rows, and creates the schema and writes them once it can', async () => {
    // A database that does not exist yet: every connection to it is refused until it is created.
    const late = postgres.url.replace(/\/postgres$/, '/late_usage');
    const gateway = await startGateway({ DATABASE_URL: late });
    try {
      expect(gateway.logs.some((l) => l.msg === 'usage records database unavailable at start; rows are kept and the schema is checked again before they are written')).toBe(true);
      const answered = await query(gateway, { prompt: 'before the database' });
      expect(answered.status).toBe(200);
      await db.query('CREATE DATABASE late_usage');
      const lateDb = new pg.Pool({ connectionString: late, max: 1 });
      try {
        await eventually(async () => {
          const found = await lateDb.query('SELECT request_id FROM usage_records WHERE request_id = $1', [answered.headers.get('x-request-id')]).catch(() => ({ rows: [] }));
          return found.rows.length === 1;
        }, 'the schema created and the kept row written');
      } finally {
        await lateDb.end();
      }
    } finally {
      await gateway.close();
    }
  });

  describe.skipIf(!hasRedisServer && !redisRequired)('with two gateways on one Redis', () => {
    let redis: RedisServer;
    let dir: string;
    beforeAll(async () => {
      redis = await startRedis();
      dir = mkdtempSync(join(tmpdir(), 'slr-usage-'));
    });
    afterAll(async () => {
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('records exactly the tokens the shared quota settled: 50 concurrent requests against 1,000 tokens', async () => {
      const file = join(dir, 'clients.yaml');
      writeFileSync(file, `tiers: { metered: { tokens_per_day: 1000, max_tokens: 40 } }\nclients: [{ name: quota-check, tier: metered, key_sha256: ${sha256(METERED_KEY)} }]\n`);
      const env = { REDIS_URL: redis.url, DATABASE_URL: postgres.url, KEYS_FILE: file, API_KEYS: KEY, MAX_CONCURRENT_PER_KEY: '100' };
      const [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
      const inspect = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      inspect.on('error', () => undefined);
      try {
        const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => query(i % 2 === 0 ? a : b, { prompt: `meter ${i}`, max_tokens: 40 }, { key: METERED_KEY })));
        const answered = responses.filter((r) => r.status === 200).length;
        const refused = responses.filter((r) => r.status === 429);
        expect(answered + refused.length).toBe(50);
        expect(refused.length).toBeGreaterThan(0);
        expect((await errorOf(refused[0] as Response)).code).toBe('quota_exceeded');
        await Promise.all([a.app.usage?.flush(), b.app.usage?.flush()]);
        const sum = async () =>
          (await db.query<{ n: string; tokens: string }>("SELECT count(*) AS n, coalesce(sum(prompt_tokens + completion_tokens), 0) AS tokens FROM usage_records WHERE client = 'quota-check' AND status = 200")).rows[0];
        await eventually(async () => Number((await sum())?.n) === answered, 'every answered request recorded');
        const recorded = Number((await sum())?.tokens);
        const key = quotaKey('quota-check', Date.now());
        await eventually(async () => Number(await inspect.get(key)) === recorded, `the Redis counter reaching the ${recorded} tokens recorded`);
        expect(recorded).toBeGreaterThan(0);
        expect(recorded).toBeLessThanOrEqual(1000);
      } finally {
        inspect.disconnect();
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
