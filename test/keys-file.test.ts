// KEYS_FILE: clients by their key's SHA-256, in tiers that set limits and permissions, through real
// HTTP against the gateway and its fake providers.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort, spawnNode, waitForOk } from './helpers/process.ts';

const FREE_KEY = 'free-client-key-000000000000001';
const PREMIUM_KEY = 'premium-client-key-0000000000001';
const sha256 = (key: string) => createHash('sha256').update(key).digest('hex');

const FILE = `
tiers:
  free:
    requests_per_minute: 20
    tokens_per_day: 100000
    routes: [/query, /v1/chat/completions]
    models: [groq]
    max_tokens: 64
  premium:
    requests_per_minute: 100
clients:
  - { name: alice, tier: free, key_sha256: ${sha256(FREE_KEY)} }
  - { name: bob, tier: premium, key_sha256: ${sha256(PREMIUM_KEY)} }
`;

const chat = (gateway: TestGateway, key: string, body: unknown) =>
  fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('clients file', () => {
  let dir: string;
  let file: string;
  let gateway: TestGateway;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slr-keys-'));
    file = join(dir, 'clients.yaml');
    writeFileSync(file, FILE);
    gateway = await startGateway({ KEYS_FILE: file, PROVIDER_ORDER: 'gemini,groq,openrouter' });
  });
  afterAll(async () => {
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a key no client has with 401, and lets API_KEYS clients in as before', async () => {
    const unknown = await query(gateway, { prompt: 'hi' }, { key: 'no-such-client-key-00000000000' });
    expect(unknown.status).toBe(401);
    expect((await errorOf(unknown)).code).toBe('unauthorized');
    const env = await query(gateway, { prompt: 'hi' }, { key: KEY });
    expect(env.status).toBe(200);
  });

  it('lets a client use only its tier\'s routes: 403 forbidden_route elsewhere', async () => {
    const refused = await fetch(`${gateway.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${FREE_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', input: 'hi' }),
    });
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { error: { code: string; message: string; request_id: string } };
    expect(body.error.code).toBe('forbidden_route');
    expect(body.error.message).toContain('/query');
    expect(body.error.request_id).toBe(refused.headers.get('x-request-id'));
    const premium = await chat(gateway, PREMIUM_KEY, { model: 'auto', messages: [{ role: 'user', content: 'hi' }] });
    expect(premium.status).toBe(200);
  });

  it('lets a client use only its tier\'s models: 403 forbidden_model for another, the cascade narrowed for auto', async () => {
    const refused = await chat(gateway, FREE_KEY, { model: 'openrouter/some-model', messages: [{ role: 'user', content: 'hi' }] });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string; param: string } }).error).toMatchObject({ code: 'forbidden_model', param: 'model' });
    // A provider name starts the cascade there; the tier's providers are what is left of it.
    const named = await chat(gateway, FREE_KEY, { model: 'gemini', messages: [{ role: 'user', content: 'hi' }] });
    expect(named.status).toBe(200);
    expect(named.headers.get('x-llm-provider')).toBe('groq');
    const allowed = await chat(gateway, FREE_KEY, { model: `groq/${gateway.config.providers.get('groq')?.model}`, messages: [{ role: 'user', content: 'hi' }] });
    expect(allowed.status).toBe(200);
    // gemini comes first in PROVIDER_ORDER, but this tier may use groq only.
    gateway.resetFakes();
    const auto = await query(gateway, { prompt: 'hi', max_tokens: 500 }, { key: FREE_KEY });
    expect(auto.status).toBe(200);
    expect(auto.headers.get('x-llm-provider')).toBe('groq');
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
    // The tier's max_tokens ceiling: a request asking for more asks the provider for the ceiling.
    expect((gateway.fakes.groq.requests[0]?.body as { max_tokens?: number; max_completion_tokens?: number }).max_completion_tokens ?? (gateway.fakes.groq.requests[0]?.body as { max_tokens?: number }).max_tokens).toBe(64);
    const line = gateway.logs.findLast((l) => l.client === 'alice');
    expect(line).toMatchObject({ client: 'alice', tier: 'free' });
    expect(gateway.logText()).not.toContain(FREE_KEY);
  });
});

describe('a tier\'s limits', () => {
  it('counts requests per minute by the tier\'s own number', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slr-keys-'));
    const file = join(dir, 'clients.json');
    writeFileSync(file, JSON.stringify({ tiers: { tiny: { requests_per_minute: 2 } }, clients: [{ name: 'carol', tier: 'tiny', key_sha256: sha256(FREE_KEY) }] }));
    const gateway = await startGateway({ KEYS_FILE: file });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await query(gateway, { prompt: `r${i}` }, { key: FREE_KEY })).status);
      expect(statuses).toEqual([200, 200, 429]);
      const refused = await query(gateway, { prompt: 'again' }, { key: FREE_KEY });
      expect((await errorOf(refused)).message).toMatch(/^Rate limit exceeded for this client: 2 requests a minute \(its tier tiny's requests_per_minute\)\. Retry in \d+ seconds?\.$/);
      // API_KEYS clients keep RATE_LIMIT_PER_MINUTE.
      expect((await query(gateway, { prompt: 'env' })).status).toBe(200);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('spends tokens per day: 50 concurrent requests never settle more than the quota, then 429 quota_exceeded until midnight UTC', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slr-keys-'));
    const file = join(dir, 'clients.yaml');
    writeFileSync(file, `tiers: { metered: { tokens_per_day: 1000, max_tokens: 50 } }\nclients: [{ name: dave, tier: metered, key_sha256: ${sha256(FREE_KEY)} }]\n`);
    const gateway = await startGateway({ KEYS_FILE: file, MAX_CONCURRENT_PER_KEY: '100' });
    try {
      const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => query(gateway, { prompt: `question ${i}`, max_tokens: 50 }, { key: FREE_KEY })));
      const ok = responses.filter((r) => r.status === 200);
      const spent = responses.filter((r) => r.status === 429);
      expect(ok.length + spent.length).toBe(50);
      expect(ok.length).toBeGreaterThan(0);
      expect(spent.length).toBeGreaterThan(0);
      const refusal = spent[0] as Response;
      const error = await errorOf(refusal);
      expect(error.code).toBe('quota_exceeded');
      const untilMidnight = Math.ceil((Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000 - Date.now()) / 1000);
      expect(Math.abs(Number(refusal.headers.get('retry-after')) - untilMidnight)).toBeLessThanOrEqual(5);
      // What the providers counted for the answers given, and what the quota holds, never pass it.
      let counted = 0;
      for (const r of ok) counted += ((await r.json()) as { usage?: { total_tokens?: number } }).usage?.total_tokens ?? 0;
      const quota = gateway.app.gateway.settings.quota;
      await new Promise((resolve) => setTimeout(resolve, 50));
      const held = await quota?.store.used('dave', Date.now());
      expect(held).toBeLessThanOrEqual(1000);
      expect(counted).toBeLessThanOrEqual(1000);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('re-reads the file on reload: a new client is let in; a broken file keeps the old clients and says why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slr-keys-'));
    const file = join(dir, 'clients.yaml');
    writeFileSync(file, `tiers: { free: {} }\nclients: [{ name: erin, tier: free, key_sha256: ${sha256(FREE_KEY)} }]\n`);
    const gateway = await startGateway({ KEYS_FILE: file });
    try {
      expect((await query(gateway, { prompt: 'a' }, { key: PREMIUM_KEY })).status).toBe(401);
      writeFileSync(file, `tiers: { free: {} }\nclients:\n  - { name: erin, tier: free, key_sha256: ${sha256(FREE_KEY)} }\n  - { name: frank, tier: free, key_sha256: ${sha256(PREMIUM_KEY)} }\n`);
      expect(await gateway.app.clients.reload()).toBe(true);
      expect((await query(gateway, { prompt: 'b' }, { key: PREMIUM_KEY })).status).toBe(200);

      writeFileSync(file, `tiers: { free: {} }\nclients: [{ name: erin, tier: gold, key_sha256: ${sha256(FREE_KEY)} }]\n`);
      expect(await gateway.app.clients.reload()).toBe(false);
      const line = gateway.logs.findLast((l) => l.msg === 'clients file not reloaded: the clients stay as they were');
      expect(String(line?.reason)).toContain('clients.0.tier names tier "gold", which the file does not define');
      expect((await query(gateway, { prompt: 'c' }, { key: PREMIUM_KEY })).status).toBe(200);
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to start on a bad file, naming the problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slr-keys-'));
    const file = join(dir, 'clients.yaml');
    writeFileSync(file, 'clients: [{ name: x, tier: free, key_sha256: nothex }]\n');
    try {
      await expect(startGateway({ KEYS_FILE: file })).rejects.toThrow(/key_sha256 must be the 64 hex digits/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start with a clients file', () => {
  it('re-reads it on SIGHUP, and keeps the clients it had when the new file is broken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slr-keys-'));
    const file = join(dir, 'clients.yaml');
    writeFileSync(file, `tiers: { free: {} }\nclients: [{ name: erin, tier: free, key_sha256: ${sha256(FREE_KEY)} }]\n`);
    const port = await freePort();
    const server = spawnNode(['src/server.ts'], { KEYS_FILE: file, PORT: String(port), HOST: '127.0.0.1', SIMULATED_PROVIDERS: 'true' });
    const url = `http://127.0.0.1:${port}`;
    const ask = (key: string) => fetch(`${url}/query`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: '{"prompt":"hi"}' });
    const reloads = (count: number) => server.output().split('\n').filter((line) => line.includes('"msg":"clients file loaded"')).length >= count;
    const until = async (check: () => boolean) => {
      for (let i = 0; i < 400 && !check(); i += 1) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(check()).toBe(true);
    };
    try {
      await waitForOk(`${url}/health/live`);
      expect((await ask(FREE_KEY)).status).toBe(200);
      expect((await ask(PREMIUM_KEY)).status).toBe(401);
      writeFileSync(file, `tiers: { free: {} }\nclients:\n  - { name: erin, tier: free, key_sha256: ${sha256(FREE_KEY)} }\n  - { name: frank, tier: free, key_sha256: ${sha256(PREMIUM_KEY)} }\n`);
      server.child.kill('SIGHUP');
      await until(() => reloads(2));
      expect((await ask(PREMIUM_KEY)).status).toBe(200);

      writeFileSync(file, 'tiers: [not, a, map]\n');
      server.child.kill('SIGHUP');
      await until(() => server.output().includes('clients file not reloaded'));
      expect((await ask(PREMIUM_KEY)).status).toBe(200);
      expect(server.child.exitCode).toBeNull();
      expect(server.output()).not.toContain(FREE_KEY);
    } finally {
      server.stop();
      await server.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npm run keys', () => {
  it('creates a key printed once with the entry whose hash matches it, and hashes a key from stdin', () => {
    const out = execFileSync(process.execPath, ['scripts/keys.ts', 'create', 'grace', '--tier', 'free'], { encoding: 'utf8' });
    const key = out.split('\n')[1] as string;
    expect(key).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(out).toContain(`- { name: grace, tier: free, key_sha256: ${sha256(key)} }`);
    expect(execFileSync(process.execPath, ['scripts/keys.ts', 'hash'], { input: `${key}\n`, encoding: 'utf8' })).toBe(`${sha256(key)}\n`);
  });
});
