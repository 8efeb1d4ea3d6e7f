// The exact-match answer cache, through real HTTP against the fake providers: what it answers
// (deterministic requests only, per client unless shared), what it never keeps (errors, refusals,
// cut answers, broken streams), when entries expire, how a cached answer streams, and the Redis
// store shared by two gateways.
import { Redis } from 'ioredis';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { errorOf, json, KEY, OTHER_KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { movingClock, type MovingClock } from './helpers/moving-clock.ts';
import { hasRedisServer, redisRequired, startRedis, type RedisServer } from './helpers/redis-server.ts';
import { post, sdk, sseEvents } from './openai/helpers.ts';

const DETERMINISTIC = { prompt: 'What is 2 + 2?', temperature: 0 };
const CHAT = { model: 'auto', messages: [{ role: 'user' as const, content: 'Say hello' }], temperature: 0 };

/** Requests every fake provider has received. */
const providerCalls = (gateway: TestGateway) => Object.values(gateway.fakes).reduce((sum, fake) => sum + fake.requests.length, 0);

describe('answer cache (memory)', () => {
  let gateway: TestGateway;
  let clock: MovingClock;
  beforeEach(async () => {
    clock = movingClock();
    gateway = await startGateway({ CACHE_TTL_S: '60' }, { clock });
  });
  afterEach(() => gateway.close());

  it('answers the second identical deterministic request from the cache, with no provider call', async () => {
    const first = await query(gateway, DETERMINISTIC);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const firstBody = await json(first);
    const second = await query(gateway, DETERMINISTIC);
    expect(second.status).toBe(200);
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.headers.get('x-llm-provider')).toBe('gemini');
    expect(second.headers.get('cache-control')).toBe('no-store');
    const secondBody = await json(second);
    expect(secondBody).toMatchObject({ response: firstBody.response, provider: 'gemini', model: firstBody.model, finish_reason: 'stop', usage: firstBody.usage, attempts: [] });
    expect(secondBody.request_id).toBe(second.headers.get('x-request-id'));
    expect(gateway.fakes.gemini.requests).toHaveLength(1);
    expect(providerCalls(gateway)).toBe(1);
    // What the metrics will read: the counts, and the store's size.
    const cache = gateway.app.gateway.cache!;
    expect(cache.counts).toEqual({ hits: 1, misses: 1, stores: 1 });
    expect(cache.store.size()).toEqual({ entries: 1, bytes: expect.any(Number) });
    expect(cache.store.size()!.bytes).toBeGreaterThan(firstBody.response.length);
    await expect.poll(() => gateway.logs.filter((line) => line.msg === 'request completed').map((line) => line.cache)).toEqual(['MISS', 'HIT']);
  });

  it('tells apart requests that differ in anything that changes the answer', async () => {
    await query(gateway, DETERMINISTIC);
    for (const body of [{ ...DETERMINISTIC, prompt: 'What is 3 + 3?' }, { ...DETERMINISTIC, max_tokens: 100 }]) {
      const response = await query(gateway, body);
      expect(response.headers.get('x-cache'), JSON.stringify(body)).toBe('MISS');
    }
    // The same question on /v1 is another route: its own entry.
    expect((await post(gateway, '/chat/completions', { ...CHAT, messages: [{ role: 'user', content: DETERMINISTIC.prompt }] })).headers.get('x-cache')).toBe('MISS');
    expect((await post(gateway, '/chat/completions', { ...CHAT, model: 'groq' })).headers.get('x-cache')).toBe('MISS');
    expect((await post(gateway, '/chat/completions', { ...CHAT, model: 'auto' })).headers.get('x-cache')).toBe('MISS');
    expect((await post(gateway, '/chat/completions', { ...CHAT, model: 'groq' })).headers.get('x-cache')).toBe('HIT');
    expect(providerCalls(gateway)).toBe(6);
  });

  it('keeps one client’s answers from another under CACHE_SCOPE=client (the default)', async () => {
    expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('MISS');
    expect((await query(gateway, DETERMINISTIC, { key: OTHER_KEY })).headers.get('x-cache')).toBe('MISS');
    expect((await query(gateway, DETERMINISTIC, { key: OTHER_KEY })).headers.get('x-cache')).toBe('HIT');
    expect(providerCalls(gateway)).toBe(2);
  });

  it('caches only deterministic requests: temperature 0, or x-cache: allow; x-cache: bypass skips it', async () => {
    const sampled = { prompt: 'Tell me a story' };
    for (let i = 0; i < 2; i += 1) {
      const response = await query(gateway, sampled);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-cache')).toBeNull();
    }
    expect(providerCalls(gateway)).toBe(2);
    // A chat request without a temperature is not deterministic either.
    const { temperature: _unset, ...noTemperature } = CHAT;
    await post(gateway, '/chat/completions', noTemperature);
    expect((await post(gateway, '/chat/completions', noTemperature)).headers.get('x-cache')).toBeNull();
    expect(providerCalls(gateway)).toBe(4);

    const allow = { headers: { 'x-cache': 'allow' } };
    expect((await query(gateway, sampled, allow)).headers.get('x-cache')).toBe('MISS');
    expect((await query(gateway, sampled, allow)).headers.get('x-cache')).toBe('HIT');
    expect(providerCalls(gateway)).toBe(5);

    await query(gateway, DETERMINISTIC);
    const bypass = await query(gateway, DETERMINISTIC, { headers: { 'x-cache': 'BYPASS' } });
    expect(bypass.status).toBe(200);
    expect(bypass.headers.get('x-cache')).toBeNull();
    expect(providerCalls(gateway)).toBe(7);

    const bad = await query(gateway, DETERMINISTIC, { headers: { 'x-cache': 'please' } });
    expect(bad.status).toBe(400);
    expect(await errorOf(bad)).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('"allow"') });
  });

  it('never keeps an error, a refusal or an answer cut by max_tokens', async () => {
    for (const fake of Object.values(gateway.fakes)) fake.setDefault({ kind: 'error', status: 500 });
    const failed = await query(gateway, DETERMINISTIC);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('x-cache')).toBe('MISS');
    gateway.resetFakes();
    const after = await query(gateway, DETERMINISTIC);
    expect(after.status).toBe(200);
    expect(after.headers.get('x-cache')).toBe('MISS');
    expect(providerCalls(gateway)).toBe(1);

    // Cut by max_tokens: finish_reason "length".
    const cut = { ...DETERMINISTIC, prompt: 'A long question for a short answer', max_tokens: 2 };
    expect((await json(query(gateway, cut))).finish_reason).toBe('length');
    expect((await query(gateway, cut)).headers.get('x-cache')).toBe('MISS');
    expect(providerCalls(gateway)).toBe(3);

    // Withheld by a content filter (OpenAI's finish_reason content_filter) on an exact model: no fallback, nothing kept.
    gateway.fakes.groq.setDefault({ kind: 'blocked' });
    const body = { ...CHAT, model: `groq/${gateway.config.providers.get('groq')!.model}` };
    const refused = await post(gateway, '/chat/completions', body);
    const again = await post(gateway, '/chat/completions', body);
    expect(refused.status).toBe(again.status);
    expect(again.headers.get('x-cache')).toBe('MISS');
    expect(gateway.fakes.groq.requests).toHaveLength(2);
  });

  it('forgets an answer after CACHE_TTL_S', async () => {
    await query(gateway, DETERMINISTIC);
    clock.advance(59_000);
    expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('HIT');
    clock.advance(2_000);
    expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('MISS');
    expect(providerCalls(gateway)).toBe(2);
    expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('HIT');
  });

  it('replays a cached answer as a stream to a streaming client (the official SDK), and a streamed one to a whole-answer client', async () => {
    const client = sdk(gateway);
    const read = async () => {
      const { data, response } = await client.chat.completions.create({ ...CHAT, stream: true, stream_options: { include_usage: true } }).withResponse();
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of data) chunks.push(chunk);
      return { chunks, text: chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), cache: response.headers.get('x-cache') };
    };
    const live = await read();
    expect(live.cache).toBe('MISS');
    const replayed = await read();
    expect(replayed.cache).toBe('HIT');
    expect(replayed.text).toBe(live.text);
    expect(replayed.text).toContain('Simulated answer');
    // The role and the whole text, the finish, then the usage chunk: a well-formed stream.
    expect(replayed.chunks.map((c) => [c.choices[0]?.delta ?? null, c.choices[0]?.finish_reason ?? null])).toEqual([
      [{ role: 'assistant', content: '' }, null],
      [{ content: live.text }, null],
      [{}, 'stop'],
      [null, null],
    ]);
    expect(replayed.chunks.at(-1)?.usage).toEqual(live.chunks.at(-1)?.usage);
    expect(new Set(replayed.chunks.map((c) => c.id)).size).toBe(1);
    expect(gateway.fakes.gemini.requests).toHaveLength(1);

    // The same request, not streamed: the answer the stream left.
    const whole = await post(gateway, '/chat/completions', CHAT);
    expect(whole.headers.get('x-cache')).toBe('HIT');
    expect((await json(whole)).choices[0]).toMatchObject({ message: { content: live.text }, finish_reason: 'stop' });
    expect(providerCalls(gateway)).toBe(1);
  });

  it('frames a replayed stream like any other: SSE headers, [DONE] last', async () => {
    await post(gateway, '/chat/completions', CHAT);
    const response = await post(gateway, '/chat/completions', { ...CHAT, stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-cache')).toBe('HIT');
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    const events = sseEvents(await response.text());
    expect(events.at(-1)).toBe('[DONE]');
    expect(events).toHaveLength(4);
  });

  it('never keeps a stream that broke off', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'stream_cut', afterChunks: 2 });
    const cut = await post(gateway, '/chat/completions', { ...CHAT, stream: true });
    expect(cut.headers.get('x-cache')).toBe('MISS');
    expect(sseEvents(await cut.text()).at(-1)).toHaveProperty('error');
    gateway.resetFakes();
    const next = await post(gateway, '/chat/completions', { ...CHAT, stream: true });
    expect(next.headers.get('x-cache')).toBe('MISS');
    await next.text();
    expect(gateway.fakes.gemini.requests).toHaveLength(1);
  });
});

describe('answer cache limits and scope', () => {
  it('shares answers across clients under CACHE_SCOPE=shared', async () => {
    const gateway = await startGateway({ CACHE_TTL_S: '60', CACHE_SCOPE: 'shared' });
    try {
      // The OpenAPI document names the header both ways on the routes the cache serves.
      const doc = await json(fetch(`${gateway.url}/docs/json`));
      for (const path of ['/query', '/v1/chat/completions']) {
        expect(doc.paths[path].post.responses['200'].headers['x-cache'].schema).toEqual({ type: 'string', enum: ['HIT', 'MISS'] });
        expect(doc.paths[path].post.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'x-cache' }));
      }
      expect(doc.paths['/v1/embeddings'].post.responses['200'].headers).not.toHaveProperty('x-cache');
      expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('MISS');
      expect((await query(gateway, DETERMINISTIC, { key: OTHER_KEY })).headers.get('x-cache')).toBe('HIT');
      expect(providerCalls(gateway)).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it('counts a hit against the client’s rate limit', async () => {
    const gateway = await startGateway({ CACHE_TTL_S: '60', RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await query(gateway, DETERMINISTIC)).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(providerCalls(gateway)).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it('keeps at most CACHE_MAX_ENTRIES answers, dropping the least recently used', async () => {
    const gateway = await startGateway({ CACHE_TTL_S: '60', CACHE_MAX_ENTRIES: '2' });
    try {
      const ask = (prompt: string) => query(gateway, { prompt, temperature: 0 }).then((r) => r.headers.get('x-cache'));
      expect([await ask('a'), await ask('b'), await ask('a'), await ask('c')]).toEqual(['MISS', 'MISS', 'HIT', 'MISS']);
      // "b" was the least recently used of the three.
      expect([await ask('a'), await ask('c'), await ask('b')]).toEqual(['HIT', 'HIT', 'MISS']);
    } finally {
      await gateway.close();
    }
  });

  it('is off by default: no x-cache header, every request asks a provider', async () => {
    const gateway = await startGateway();
    try {
      const doc = await json(fetch(`${gateway.url}/docs/json`));
      expect(doc.paths['/query'].post.responses['200'].headers).not.toHaveProperty('x-cache');
      expect(doc.components.securitySchemes).not.toHaveProperty('JwtAuth');
      for (let i = 0; i < 2; i += 1) expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBeNull();
      expect(providerCalls(gateway)).toBe(2);
      // The header is not looked at while the cache is off.
      expect((await query(gateway, DETERMINISTIC, { headers: { 'x-cache': 'please' } })).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});

describe.runIf(hasRedisServer || redisRequired)('answer cache in Redis', () => {
  let redis: RedisServer;
  let inspect: Redis;
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    redis = await startRedis();
    inspect = new Redis(redis.url);
    [a, b] = await Promise.all([startGateway({ CACHE_TTL_S: '60', REDIS_URL: redis.url }), startGateway({ CACHE_TTL_S: '60', REDIS_URL: redis.url })]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    inspect?.disconnect();
    await redis?.stop();
  });

  /** The answer is sent before its entry is written: wait until Redis holds `count` entries (beside the per-key limits' counters). */
  const entries = (count: number) => expect.poll(async () => (await inspect.keys('slr:answer:*')).length).toBe(count);

  it('is shared by two gateways: one asks the provider, the other answers from Redis', async () => {
    const first = await query(a, DETERMINISTIC);
    expect(first.headers.get('x-cache')).toBe('MISS');
    await entries(1);
    const [key] = await inspect.keys('slr:answer:*');
    expect(key).toMatch(/^slr:answer:v1:[A-Za-z0-9_-]{43}$/);
    const ttl = await inspect.pttl(key!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const hit = await query(b, DETERMINISTIC);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect((await json(hit)).response).toBe((await json(first)).response);
    expect(providerCalls(a)).toBe(1);
    expect(providerCalls(b)).toBe(0);
  });

  it('keeps the scope per client across gateways, and streams from the shared entry', async () => {
    await inspect.flushdb();
    await query(a, { ...DETERMINISTIC, prompt: 'scoped' }, { key: KEY });
    await entries(1);
    expect((await query(b, { ...DETERMINISTIC, prompt: 'scoped' }, { key: KEY })).headers.get('x-cache')).toBe('HIT');
    expect((await query(b, { ...DETERMINISTIC, prompt: 'scoped' }, { key: OTHER_KEY })).headers.get('x-cache')).toBe('MISS');
    await entries(2);

    await post(a, '/chat/completions', CHAT);
    await entries(3);
    const response = await post(b, '/chat/completions', { ...CHAT, stream: true });
    expect(response.headers.get('x-cache')).toBe('HIT');
    expect(sseEvents(await response.text()).at(-1)).toBe('[DONE]');
  });

  it('misses, and keeps answering, while Redis is down, and uses it again once it is back', async () => {
    const own = await startRedis();
    const gateway = await startGateway({ CACHE_TTL_S: '60', REDIS_URL: own.url });
    try {
      expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('MISS');
      await expect.poll(async () => (await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('HIT');
      await own.stop();
      const during = await query(gateway, DETERMINISTIC);
      expect(during.status).toBe(200);
      expect(during.headers.get('x-cache')).toBe('MISS');
      await expect.poll(() => gateway.logs.some((line) => line.msg === 'Redis is unavailable; shared state is skipped until it is back')).toBe(true);
      // Back on the same port, empty: the gateway reconnects by itself.
      const again = await startRedis(own.port);
      try {
        await expect.poll(() => gateway.logs.some((line) => line.msg === 'Redis is available again'), { timeout: 10_000 }).toBe(true);
        expect((await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('MISS');
        await expect.poll(async () => (await query(gateway, DETERMINISTIC)).headers.get('x-cache')).toBe('HIT');
      } finally {
        await again.stop();
      }
    } finally {
      await gateway.close();
    }
  });

  it('starts, and answers, when Redis is not there at all', async () => {
    const gateway = await startGateway({ CACHE_TTL_S: '60', REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      for (let i = 0; i < 2; i += 1) {
        const response = await query(gateway, DETERMINISTIC);
        expect(response.status).toBe(200);
        expect(response.headers.get('x-cache')).toBe('MISS');
      }
    } finally {
      await gateway.close();
    }
  });
});
