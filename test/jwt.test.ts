// Signed-in users' tokens beside API keys: verified against a real JWKS endpoint on loopback with
// keys the test makes, every refusal the same 401 with its reason class in the log only, the key
// set fetched once per rotation and never per request, and an outage that keeps cached keys.
import { createHmac } from 'node:crypto';
import { exportSPKI } from 'jose';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JWKS_COOLDOWN_MS, JWKS_MAX_AGE_MS } from '../src/auth/jwks.ts';
import { errorOf, json, KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { AUDIENCE, ISSUER, signingKey, startJwksServer, token, type JwksServer, type SigningKey } from './helpers/jwks-server.ts';
import { movingClock, type MovingClock } from './helpers/moving-clock.ts';

const KEY_OR_TOKEN = 'A valid API key or sign-in token is required: send X-API-Key: <key>, or Authorization: Bearer <key or token>.';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const jwtEnv = (jwks: JwksServer, extra: Record<string, string> = {}) => ({
  JWT_JWKS_URL: jwks.url,
  JWT_ISSUER: ISSUER,
  JWT_AUDIENCE: `other-app, ${AUDIENCE}`,
  AUTH_FAILURES_PER_MINUTE: '1000',
  ...extra,
});

const bearer = (gateway: TestGateway, value: string, body: unknown = { prompt: 'hi' }) =>
  query(gateway, body, { key: null, headers: { authorization: `Bearer ${value}` } });

/** The summary line of the request that got `response`. */
async function lineOf(gateway: TestGateway, response: Response) {
  const id = response.headers.get('x-request-id');
  await expect.poll(() => gateway.logs.some((line) => line.request_id === id && line.msg === 'request completed')).toBe(true);
  return gateway.logs.filter((line) => line.request_id === id);
}

describe('JWT bearer tokens', () => {
  let rsa: SigningKey;
  let ec: SigningKey;
  let ed: SigningKey;
  let jwks: JwksServer;
  let gateway: TestGateway;
  beforeAll(async () => {
    [rsa, ec, ed] = await Promise.all([signingKey('rsa-1', 'RS256'), signingKey('ec-1', 'ES256'), signingKey('ed-1', 'EdDSA')]);
    jwks = await startJwksServer([rsa, ec, ed]);
    gateway = await startGateway(jwtEnv(jwks, { JWT_TIER_CLAIM: 'plan' }));
  });
  afterAll(async () => {
    await gateway.close();
    await jwks.close();
  });

  it.each([
    ['RS256', () => rsa],
    ['ES256', () => ec],
    ['EdDSA', () => ed],
  ])('accepts a valid %s token, naming its subject as the client (and its tier) in the log', async (alg, key) => {
    const response = await bearer(gateway, await token(key(), { sub: `user-${alg}`, plan: 'pro' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-ratelimit-limit')).toBe('1000');
    expect((await json(response)).response).toContain('Simulated answer');
    const [line] = await lineOf(gateway, response);
    expect(line).toMatchObject({ client: `jwt:user-${alg}`, tier: 'pro', status: 200 });
  });

  it('is what the OpenAI SDK sends as its API key', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: await token(rsa, { sub: 'sdk-user' }), maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(completion.choices[0]?.message.content).toContain('Simulated answer');
  });

  it('keeps API keys working, in both headers', async () => {
    expect((await query(gateway, { prompt: 'hi' })).status).toBe(200);
    expect((await bearer(gateway, KEY)).status).toBe(200);
  });

  it('accepts a token expired or not yet valid within the clock skew (30 s)', async () => {
    const now = Date.now();
    expect((await bearer(gateway, await token(rsa, { exp: Math.floor(now / 1000) - 20 }))).status).toBe(200);
    expect((await bearer(gateway, await token(rsa, { nbf: Math.floor(now / 1000) + 20 }))).status).toBe(200);
  });

  it('refuses every bad token with the same 401, its reason class in the log only', async () => {
    const now = Math.floor(Date.now() / 1000);
    const stranger = await signingKey('rsa-1', 'RS256');
    // Algorithm confusion: HS256 keyed with the RSA public key's PEM, which a naive verifier would accept.
    const pem = await exportSPKI(rsa.publicKey);
    const hsInput = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'attacker', exp: now + 300 })}`;
    const confused = `${hsInput}.${createHmac('sha256', pem).update(hsInput).digest('base64url')}`;
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'attacker', exp: now + 300 })}.`;
    const valid = await token(rsa);
    const tampered = `${valid.slice(0, valid.indexOf('.'))}.${b64({ iss: ISSUER, aud: AUDIENCE, sub: 'admin', exp: now + 300 })}.${valid.split('.')[2]}`;
    const cases: Array<[string, string]> = [
      ['expired', await token(rsa, { exp: now - 60 })],
      ['not_yet_valid', await token(rsa, { nbf: now + 60 })],
      ['wrong_audience', await token(rsa, { aud: 'someone-else' })],
      ['wrong_issuer', await token(rsa, { iss: 'https://evil.example.test/' })],
      ['missing_claim', await token(rsa, { exp: undefined })],
      ['missing_claim', await token(rsa, { sub: undefined })],
      ['algorithm_not_allowed', unsigned],
      ['algorithm_not_allowed', confused],
      ['bad_signature', await token(stranger)],
      ['bad_signature', tampered],
      ['unknown_key', await token(rsa, {}, { kid: 'no-such-key' })],
      ['too_large', await token(rsa, { padding: 'x'.repeat(9000) })],
      ['malformed', 'bm90IGpzb24.bm90IGpzb24.c2ln'],
    ];
    const bodies: unknown[] = [];
    for (const [reason, value] of cases) {
      const response = await bearer(gateway, value);
      expect(response.status, reason).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      const error = await errorOf(response);
      bodies.push({ ...error, request_id: '' });
      const lines = await lineOf(gateway, response);
      expect(lines.find((line) => line.msg === 'bearer token refused'), reason).toMatchObject({ auth_failure: reason });
    }
    // The same body for every failure, and for no credentials at all.
    const none = await errorOf(await query(gateway, { prompt: 'hi' }, { key: null }));
    expect(new Set([...bodies, { ...none, request_id: '' }].map((body) => JSON.stringify(body))).size).toBe(1);
    expect(none).toMatchObject({ code: 'unauthorized', message: KEY_OR_TOKEN });
    // A token is never written to the log.
    for (const [, value] of cases) expect(gateway.logText()).not.toContain(value.split('.')[2] || value);
  });

  it('is described in the OpenAPI document as a security scheme of every keyed route', async () => {
    const doc = await json(fetch(`${gateway.url}/docs/json`));
    expect(doc.components.securitySchemes.JwtAuth).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(doc.paths['/query'].post.security).toEqual([{ ApiKeyAuth: [] }, { BearerAuth: [] }, { JwtAuth: [] }]);
    expect(doc.paths['/v1/chat/completions'].post.security).toContainEqual({ JwtAuth: [] });
    expect(doc.paths['/health'].get.security).toBeUndefined();
  });

  it('takes tokens only as Authorization: Bearer', async () => {
    const response = await query(gateway, { prompt: 'hi' }, { key: await token(rsa) });
    expect(response.status).toBe(401);
  });

  it('keeps a long or unusual subject out of the log, as a digest that still tells subjects apart', async () => {
    const a = await bearer(gateway, await token(rsa, { sub: 'line\nbreak "quoted"' }));
    const b = await bearer(gateway, await token(rsa, { sub: 'x'.repeat(500) }));
    expect([a.status, b.status]).toEqual([200, 200]);
    const [lineA] = await lineOf(gateway, a);
    const [lineB] = await lineOf(gateway, b);
    expect(lineA?.client).toMatch(/^jwt:#[A-Za-z0-9_-]{32}$/);
    expect(lineB?.client).toMatch(/^jwt:#[A-Za-z0-9_-]{32}$/);
    expect(lineA?.client).not.toBe(lineB?.client);
    expect(gateway.logText()).not.toContain('x'.repeat(100));
  });
});

describe('the key set', () => {
  let jwks: JwksServer;
  let gateway: TestGateway;
  let clock: MovingClock;
  let first: SigningKey;
  afterEach(async () => {
    await gateway?.close();
    await jwks?.close();
  });

  async function start(env: Record<string, string> = {}) {
    first = await signingKey('key-a');
    jwks = await startJwksServer([first]);
    clock = movingClock();
    gateway = await startGateway(jwtEnv(jwks, env), { clock });
    // The key set is fetched as the gateway starts.
    await expect.poll(() => jwks.fetches).toBe(1);
  }

  it('is fetched once at start and not per request', async () => {
    await start();
    for (let i = 0; i < 5; i += 1) expect((await bearer(gateway, await token(first, {}, { now: clock.now() }))).status).toBe(200);
    expect(jwks.fetches).toBe(1);
  });

  it('is fetched once when a rotated key appears, by concurrent requests together, and not again within the cooldown', async () => {
    await start();
    const rotated = await signingKey('key-b', 'ES256');
    jwks.keys = [first.jwk, rotated.jwk];
    // Within the cooldown of the fetch at start, a new kid is refused without a fetch.
    expect((await bearer(gateway, await token(rotated, {}, { now: clock.now() }))).status).toBe(401);
    expect(jwks.fetches).toBe(1);

    clock.advance(JWKS_COOLDOWN_MS + 1000);
    const tokens = await Promise.all(Array.from({ length: 5 }, (_, i) => token(rotated, { sub: `user-${i}` }, { now: clock.now() })));
    const statuses = await Promise.all(tokens.map((value) => bearer(gateway, value).then((r) => r.status)));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(jwks.fetches).toBe(2);
    // Known now, and the old key still works.
    expect((await bearer(gateway, await token(rotated, {}, { now: clock.now() }))).status).toBe(200);
    expect((await bearer(gateway, await token(first, {}, { now: clock.now() }))).status).toBe(200);
    // Yet another unknown kid right after: refused, no fetch (cooldown).
    const third = await signingKey('key-c');
    expect((await bearer(gateway, await token(third, {}, { now: clock.now() }))).status).toBe(401);
    expect(jwks.fetches).toBe(2);
  });

  it('drops a key the identity provider removed, once the set is refreshed', async () => {
    await start();
    const next = await signingKey('key-b');
    jwks.keys = [next.jwk];
    clock.advance(JWKS_MAX_AGE_MS + 1000);
    // Older than its maximum age: this request still uses the set in hand and starts a refresh.
    expect((await bearer(gateway, await token(first, {}, { now: clock.now() }))).status).toBe(200);
    await expect.poll(() => jwks.fetches).toBe(2);
    const removed = await bearer(gateway, await token(first, {}, { now: clock.now() }));
    expect(removed.status).toBe(401);
    expect((await lineOf(gateway, removed)).find((line) => line.msg === 'bearer token refused')).toMatchObject({ auth_failure: 'unknown_key' });
    expect((await bearer(gateway, await token(next, {}, { now: clock.now() }))).status).toBe(200);
  });

  it.each(['down', 'hang'] as const)('when the endpoint is %s, keeps serving cached keys and refuses unknown ones without hanging', async (mode) => {
    await start();
    jwks.mode = mode;
    clock.advance(JWKS_MAX_AGE_MS + JWKS_COOLDOWN_MS);
    const newcomer = await signingKey('key-new');
    // A stale set and an unknown kid: it waits for the one refresh (at most its time limit), which fails, then 401.
    const unknown = await bearer(gateway, await token(newcomer, {}, { now: clock.now() }));
    expect(unknown.status).toBe(401);
    await expect.poll(() => jwks.fetches).toBe(2);
    // Cached keys keep working, many times over, with no further fetch within the cooldown.
    for (let i = 0; i < 3; i += 1) expect((await bearer(gateway, await token(first, {}, { now: clock.now() }))).status).toBe(200);
    expect((await bearer(gateway, await token(newcomer, {}, { now: clock.now() }))).status).toBe(401);
    expect(jwks.fetches).toBe(2);
    await expect.poll(() => gateway.logs.some((line) => line.msg === 'JWKS fetch failed; cached keys, if any, keep working'), { timeout: 5000 }).toBe(true);
  });

  it('refuses tokens, and keeps API keys working, when the set was never fetched', async () => {
    const key = await signingKey('key-a');
    jwks = await startJwksServer([key]);
    jwks.mode = 'down';
    gateway = await startGateway(jwtEnv(jwks));
    await expect.poll(() => jwks.fetches).toBe(1);
    const refused = await bearer(gateway, await token(key));
    expect(refused.status).toBe(401);
    expect((await lineOf(gateway, refused)).find((line) => line.msg === 'bearer token refused')).toMatchObject({ auth_failure: 'jwks_unavailable' });
    expect(jwks.fetches).toBe(1);
    expect((await query(gateway, { prompt: 'hi' })).status).toBe(200);
  });
});

describe('rate limits for signed-in users', () => {
  let jwks: JwksServer;
  let gateway: TestGateway;
  let key: SigningKey;
  beforeAll(async () => {
    key = await signingKey('key-a');
    jwks = await startJwksServer([key]);
    gateway = await startGateway(jwtEnv(jwks, { RATE_LIMIT_PER_MINUTE: '2' }));
  });
  afterAll(async () => {
    await gateway.close();
    await jwks.close();
  });

  it('applies the per-key limit per subject: one user over it leaves other users and keys alone', async () => {
    // Two tokens of the same user (issued at different times) share the user's limit.
    const alice = [await token(key, { sub: 'alice' }), await token(key, { sub: 'alice', iat: Math.floor(Date.now() / 1000) - 5 })];
    const statuses = await Promise.all([bearer(gateway, alice[0]!), bearer(gateway, alice[1]!), bearer(gateway, alice[0]!)].map((p) => p.then((r) => r.status)));
    expect(statuses.sort()).toEqual([200, 200, 429]);
    const limited = await bearer(gateway, alice[1]!);
    expect(limited.status).toBe(429);
    expect((await errorOf(limited)).code).toBe('rate_limited');
    expect((await bearer(gateway, await token(key, { sub: 'bob' }))).status).toBe(200);
    expect((await query(gateway, { prompt: 'hi' })).status).toBe(200);
  });
});

describe('JWT configuration', () => {
  it('requires the issuer and the audience, and https for the key set', async () => {
    const { loadConfig } = await import('../src/config.ts');
    expect(() => loadConfig({ API_KEYS: 'k', JWT_JWKS_URL: 'https://id.example.test/jwks.json' })).toThrow(/JWT_ISSUER is required when JWT_JWKS_URL is set; JWT_AUDIENCE is required/);
    expect(() => loadConfig({ API_KEYS: 'k', JWT_JWKS_URL: 'http://id.example.test/jwks.json', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE })).toThrow(/JWT_JWKS_URL must be an https URL \(plain http only on localhost\)/);
    const config = loadConfig({ API_KEYS: 'k', JWT_JWKS_URL: 'http://127.0.0.1:9/jwks', JWT_ISSUER: ISSUER, JWT_AUDIENCE: 'a, b' });
    expect(config.jwt).toMatchObject({ issuer: ISSUER, audience: ['a', 'b'], clockSkewS: 30, tierClaim: undefined });
    expect(loadConfig({ API_KEYS: 'k' }).jwt).toBeUndefined();
  });
});

describe('JWT bearer tokens and the clients file\'s tiers', () => {
  it('applies the tier a token names: its routes, its request limit; a tier the file does not define gets the default', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'slr-jwt-tiers-'));
    const file = join(dir, 'clients.yaml');
    writeFileSync(file, 'tiers:\n  free: { requests_per_minute: 2, routes: [/query] }\n');
    const rsa = await signingKey('rsa-tiers', 'RS256');
    const jwks = await startJwksServer([rsa]);
    const gateway = await startGateway(jwtEnv(jwks, { JWT_TIER_CLAIM: 'plan', KEYS_FILE: file }));
    try {
      const free = await token(rsa, { sub: 'free-user', plan: 'free' });
      const chat = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${free}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(chat.status).toBe(403);
      expect(((await chat.json()) as { error: { code: string } }).error.code).toBe('forbidden_route');
      const first = await bearer(gateway, free);
      expect(first.status).toBe(200);
      expect(first.headers.get('x-ratelimit-limit')).toBe('2');
      // A tier the file does not define: the default (RATE_LIMIT_PER_MINUTE, every route).
      const gold = await bearer(gateway, await token(rsa, { sub: 'gold-user', plan: 'gold' }));
      expect(gold.status).toBe(200);
      expect(gold.headers.get('x-ratelimit-limit')).toBe('1000');
    } finally {
      await gateway.close();
      await jwks.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
