// The start-up check of every provider's key and models, through real HTTP: the gateway asks the
// fakes' model lists (and OpenRouter's key page) once it listens, shows each outcome in /health,
// logs one line per problem naming the variable to fix, parks a provider whose key is refused or
// whose chat model is gone, and un-parks it when a later check finds it well again.
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLocalRuntime } from '../src/simulator/fake-local-runtime.ts';
import type { FakeProviderServer } from '../src/simulator/fake-server.ts';
import { json, query, startGateway, type TestGateway } from './helpers/gateway.ts';

const HOUR = String(3_600_000);

let gateway: TestGateway | undefined;
const cleanups: Array<() => Promise<void>> = [];
// No answer a check gets, nor a check cut short by close(), may surface as an unhandled rejection.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
  expect(unhandled).toEqual([]);
});

async function health(g: TestGateway) {
  const response = await fetch(`${g.url}/health`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return json(response);
}

/** One provider's entry in /health. */
async function entry(g: TestGateway, name: string) {
  const body = await health(g);
  return body.providers.find((p: { name: string }) => p.name === name);
}

/** The /health entry once the provider's check has an outcome other than `not`. */
async function checked(g: TestGateway, name: string, outcome: string) {
  await expect.poll(async () => (await entry(g, name))?.preflight?.outcome, { timeout: 10_000 }).toBe(outcome);
  return entry(g, name);
}

const chatCalls = (fake: FakeProviderServer) => fake.requests.filter((r) => r.method === 'POST');
const errorLines = (g: TestGateway, provider: string) => g.logs.filter((line) => line.level === 50 && line.provider === provider && line.preflight !== undefined);

describe('preflight against working providers', () => {
  it('shows ok for every provider, having asked each model list with its own key and user agent', async () => {
    gateway = await startGateway({ PREFLIGHT_INTERVAL_MS: HOUR });
    const g = gateway;
    for (const name of ['gemini', 'groq', 'openrouter']) {
      const provider = await checked(g, name, 'ok');
      expect(provider).toMatchObject({ configured: true, state: 'ready', preflight: { outcome: 'ok', skipped_until_next_check: false } });
      expect(Date.parse(provider.preflight.checked_at)).not.toBeNaN();
      expect(provider.preflight).not.toHaveProperty('missing_models');
    }
    // OpenRouter's key page tells the free tier and the requests left today.
    expect((await entry(g, 'openrouter')).preflight.free_tier).toEqual({ is_free_tier: true, daily_requests_limit: 50, daily_requests_remaining: 50 });

    const gemini = g.fakes.gemini.requests;
    const geminiKey = g.config.providers.get('gemini')!.apiKey;
    expect(gemini.map((r) => `${r.method} ${r.path}${r.query.size > 0 ? `?${r.query}` : ''}`).sort()).toEqual([
      'GET /v1beta/models/gemini-flash-lite-latest',
      'GET /v1beta/models?pageSize=1000',
    ]);
    for (const r of gemini) {
      expect(r.headers['x-goog-api-key']).toBe(geminiKey);
      expect(r.headers['user-agent']).toMatch(/^secure-llm-router\//);
    }
    expect(g.fakes.groq.requests).toMatchObject([{ method: 'GET', path: '/openai/v1/models', headers: { authorization: `Bearer ${g.config.providers.get('groq')!.apiKey}` } }]);
    const openrouter = g.fakes.openrouter.requests;
    expect(openrouter.map((r) => `${r.method} ${r.path}`).sort()).toEqual(['GET /api/v1/key', 'GET /api/v1/models']);
    // The model list is public: the key goes to the key page only.
    expect(openrouter.find((r) => r.path === '/api/v1/models')?.headers).not.toHaveProperty('authorization');

    const summary = g.logs.find((line) => line.msg === 'provider check: every key and model is in order');
    expect(summary).toMatchObject({ level: 30, preflight: { gemini: 'ok', groq: 'ok', openrouter: 'ok' } });
  });

  it('is off with PREFLIGHT_INTERVAL_MS=0: no request reaches a provider and /health has no preflight', async () => {
    gateway = await startGateway({ PREFLIGHT_INTERVAL_MS: '0' });
    expect((await health(gateway)).providers.every((p: object) => !('preflight' in p))).toBe(true);
    expect(gateway.fakes.groq.requests).toHaveLength(0);
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
  });
});

describe('shutting down during a check', () => {
  it('abandons the check still waiting on a provider, and records nothing of that round', async () => {
    const g = await startGateway({ PREFLIGHT_INTERVAL_MS: HOUR, SIMULATED_FAULTS: 'groq=hang' });
    await expect.poll(() => g.fakes.groq.requests.length).toBe(1);
    await g.close();
    // Had close() waited the check out, its round would have ended and been logged (groq unreachable).
    expect(g.logs.filter((line) => line.preflight !== undefined)).toEqual([]);
    expect(g.logs.at(-1)).not.toMatchObject({ msg: expect.stringMatching(/^provider check/) });
  });
});

describe('a refused key', () => {
  it('is reported, parks the provider until a later check finds the key working, and never shows the key', async () => {
    gateway = await startGateway({ PREFLIGHT_INTERVAL_MS: '300', PROVIDER_ORDER: 'groq,gemini', SIMULATED_FAULTS: 'groq=unauthorized' });
    const g = gateway;
    const key = g.config.providers.get('groq')!.apiKey!;
    const groq = await checked(g, 'groq', 'key_rejected');
    expect(groq).toMatchObject({ state: 'cooling_down', cooldown_reason: 'key_rejected', preflight: { skipped_until_next_check: true, detail: 'HTTP 401' } });
    expect(Date.parse(groq.cooldown_until)).toBeGreaterThan(Date.now());
    expect((await health(g)).status).toBe('degraded');

    const [line] = errorLines(g, 'groq');
    expect(line).toMatchObject({ preflight: 'key_rejected', variable: 'GROQ_API_KEY' });
    expect(line?.msg).toMatch(/^groq refused its key: set GROQ_API_KEY to a valid key; groq is skipped until the next check/);

    // The cascade skips it: the answer comes from Gemini, and Groq sees no chat call.
    const response = await query(g, { prompt: 'Hello' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect((await json(response)).attempts).toMatchObject([{ provider: 'groq', outcome: 'cooling_down' }, { provider: 'gemini', outcome: 'ok' }]);
    expect(chatCalls(g.fakes.groq)).toHaveLength(0);

    // The key is fixed (the fake accepts it again): a later check un-parks Groq.
    g.fakes.groq.reset();
    const fixed = await checked(g, 'groq', 'ok');
    expect(fixed).toMatchObject({ state: 'ready', preflight: { skipped_until_next_check: false } });
    expect(fixed).not.toHaveProperty('cooldown_reason');
    const again = await query(g, { prompt: 'Hello' });
    expect(again.status).toBe(200);
    expect(again.headers.get('x-llm-provider')).toBe('groq');

    expect(g.logText()).not.toContain(key);
    expect(JSON.stringify(await health(g))).not.toContain(key);
  });

  it('reads Gemini\'s 400 API_KEY_INVALID as a refused key', async () => {
    gateway = await startGateway({ PREFLIGHT_INTERVAL_MS: HOUR, SIMULATED_FAULTS: 'gemini=unauthorized' });
    const gemini = await checked(gateway, 'gemini', 'key_rejected');
    expect(gemini).toMatchObject({ state: 'cooling_down', preflight: { detail: 'HTTP 400 (API_KEY_INVALID)' } });
    expect(errorLines(gateway, 'gemini')[0]).toMatchObject({ variable: 'GEMINI_API_KEY' });
  });
});

describe('a configured model the provider no longer serves', () => {
  it('is model_missing with the nearest listed names, and the provider is skipped', async () => {
    gateway = await startGateway({ PREFLIGHT_INTERVAL_MS: HOUR, PROVIDER_ORDER: 'groq,gemini', GROQ_MODEL: 'llama-3.1-8b-instant' });
    const g = gateway;
    const groq = await checked(g, 'groq', 'model_missing');
    expect(groq).toMatchObject({ state: 'cooling_down', cooldown_reason: 'model_missing', model: 'llama-3.1-8b-instant' });
    expect(groq.preflight.missing_models).toHaveLength(1);
    const [missing] = groq.preflight.missing_models;
    expect(missing).toMatchObject({ model: 'llama-3.1-8b-instant', use: 'chat' });
    // Groq's named successor comes first, then the nearest of the others.
    expect(missing.nearest[0]).toBe('openai/gpt-oss-20b');
    expect(missing.nearest.length).toBeLessThanOrEqual(3);

    const [line] = errorLines(g, 'groq');
    expect(line).toMatchObject({ preflight: 'model_missing', variable: 'GROQ_MODEL', model: 'llama-3.1-8b-instant' });
    expect(line?.msg).toContain('set GROQ_MODEL to one it serves (nearest it lists: openai/gpt-oss-20b');

    const response = await query(g, { prompt: 'Hello' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(chatCalls(g.fakes.groq)).toHaveLength(0);
  });

  it('asks Gemini for a "-latest" alias by its own name', async () => {
    gateway = await startGateway({ PREFLIGHT_INTERVAL_MS: HOUR, GEMINI_MODEL: 'gemini-2.0-flash-latest' });
    const gemini = await checked(gateway, 'gemini', 'ok');
    expect(gemini.preflight.outcome).toBe('ok');
    expect(gateway.fakes.gemini.requests.map((r) => r.path)).toContain('/v1beta/models/gemini-2.0-flash-latest');
  });
});

/** A TCP server that accepts connections and never answers: a host that hangs. */
async function silentServer(): Promise<{ url: string; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => count,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('an unreachable provider', () => {
  it('is reported as unreachable without delaying readiness or the first answer, and stays in the cascade', async () => {
    const runtime = await startFakeLocalRuntime({ name: 'local', models: ['llama3.2'] });
    const silent = await silentServer();
    cleanups.push(() => runtime.close(), () => silent.close());
    gateway = await startGateway({
      SIMULATED_PROVIDERS: 'false',
      PREFLIGHT_INTERVAL_MS: HOUR,
      EXTRA_PROVIDERS: 'local',
      LOCAL_BASE_URL: `${runtime.url}/v1`,
      LOCAL_MODEL: 'llama3.2',
      PROVIDER_ORDER: 'local,groq,openrouter',
      GROQ_API_KEY: 'gsk_test_key_never_shown_0001',
      GROQ_BASE_URL: silent.url,
      OPENROUTER_API_KEY: 'sk-or-test-key-never-shown-0002',
      OPENROUTER_BASE_URL: `http://127.0.0.1:${await closedPort()}/api/v1`,
    });
    const g = gateway;
    // Groq's check is still waiting on a host that never answers: the gateway is ready and answers.
    await expect.poll(() => silent.connections()).toBeGreaterThan(0);
    const ready = await fetch(`${g.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', usable_providers: ['local', 'groq', 'openrouter'] });
    expect((await entry(g, 'groq')).preflight).toBeUndefined();
    const answer = await query(g, { prompt: 'Hello' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-llm-provider')).toBe('local');

    const openrouter = await checked(g, 'openrouter', 'unreachable');
    expect(openrouter).toMatchObject({ state: 'ready', preflight: { detail: 'connection failed', skipped_until_next_check: false } });
    const groq = await checked(g, 'groq', 'unreachable');
    expect(groq).toMatchObject({ state: 'ready', preflight: { detail: 'no answer in time', skipped_until_next_check: false } });
    expect(await entry(g, 'local')).toMatchObject({ preflight: { outcome: 'ok' } });
    expect(errorLines(g, 'groq')[0]).toMatchObject({ preflight: 'unreachable', variable: 'GROQ_BASE_URL' });
    expect(g.logText()).not.toContain('gsk_test_key_never_shown_0001');
    expect(g.logText()).not.toContain('sk-or-test-key-never-shown-0002');
  });

  it('an operator\'s runtime without a model list is unknown, and one not listing the model is reported but not skipped', async () => {
    const runtime = await startFakeLocalRuntime({ name: 'local', models: ['other-model'] });
    cleanups.push(() => runtime.close());
    gateway = await startGateway({
      SIMULATED_PROVIDERS: 'false',
      PREFLIGHT_INTERVAL_MS: HOUR,
      EXTRA_PROVIDERS: 'local,bare',
      LOCAL_BASE_URL: `${runtime.url}/v1`,
      LOCAL_MODEL: 'llama3.2',
      // A server with no /models at all (the fake answers 404 there).
      BARE_BASE_URL: `${runtime.url}/nothing`,
      BARE_MODEL: 'llama3.2',
    });
    const local = await checked(gateway, 'local', 'model_missing');
    expect(local).toMatchObject({ state: 'ready', preflight: { skipped_until_next_check: false, missing_models: [{ model: 'llama3.2', use: 'chat', nearest: ['other-model'] }] } });
    const bare = await checked(gateway, 'bare', 'unknown');
    expect(bare).toMatchObject({ state: 'ready', preflight: { detail: 'no model list (HTTP 404)' } });
  });
});
