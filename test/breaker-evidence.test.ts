// One client cannot take a provider away from everyone: a run of failures opens the shared
// breaker only when two clients or more saw it (src/cascade/breakers.ts). Reproduced as the attack
// was: one key's prompts that a provider answers slowly, sent concurrently, while another key's
// requests must keep being answered by that provider.
import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../src/simulator/fake-server.ts';
import { json, KEY, OTHER_KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';

const SLOW_PROMPT = 'a prompt this provider is slow to answer';
const asksSlowly = (request: RecordedRequest) => JSON.stringify(request.body ?? '').includes(SLOW_PROMPT);

interface Attempt {
  provider: string;
  outcome: string;
}

describe('breakers judged from evidence one client cannot manufacture alone', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway.close();
  });

  it("lets one key's slow prompts cool the provider for that key only; another key is still answered by it", async () => {
    gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '3', CIRCUIT_BREAKER_COOLDOWN_MS: '60000', MAX_RETRIES: '0' });
    gateway.fakes.gemini.setChooser((request) => (asksSlowly(request) ? { kind: 'hang' } : { kind: 'ok' }));

    // Six at once, as in the attack: each times out on Gemini and is answered by the next provider.
    const attacks = await Promise.all(Array.from({ length: 6 }, () => query(gateway, { prompt: SLOW_PROMPT }, { key: KEY })));
    for (const response of attacks) {
      expect(response.status).toBe(200);
      expect((await json(response)).provider).toBe('groq');
    }

    // Gemini is still everyone else's: the other key is answered by it, and /health says it is ready.
    const other = await query(gateway, { prompt: 'an ordinary question' }, { key: OTHER_KEY });
    expect(other.status).toBe(200);
    expect(await json(other)).toMatchObject({ provider: 'gemini', attempts: [{ provider: 'gemini', outcome: 'ok' }] });
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.providers.find((p: { name: string }) => p.name === 'gemini')).toMatchObject({ state: 'ready' });
    expect(health.status).toBe('ok');

    // The key whose prompts failed leaves Gemini alone for a while, without even asking it.
    const seenBefore = gateway.fakes.gemini.requests.length;
    const own = await json(query(gateway, { prompt: 'another question' }, { key: KEY }));
    expect(own.attempts.map((a: Attempt) => `${a.provider}:${a.outcome}`)).toEqual(['gemini:cooling_down', 'groq:ok']);
    expect(gateway.fakes.gemini.requests).toHaveLength(seenBefore);
  });

  it('still opens the breaker for everyone, as fast as before, when the provider fails for every client', async () => {
    gateway = await startGateway({ CIRCUIT_BREAKER_THRESHOLD: '3', CIRCUIT_BREAKER_COOLDOWN_MS: '60000', MAX_RETRIES: '0' });
    gateway.fakes.gemini.setDefault({ kind: 'error', status: 503 });
    // Three failures in a row, from two clients: the threshold, as before.
    for (const key of [KEY, OTHER_KEY, KEY]) {
      const body = await json(query(gateway, { prompt: 'hello' }, { key }));
      expect(body.attempts.map((a: Attempt) => `${a.provider}:${a.outcome}`)).toEqual(['gemini:unavailable', 'groq:ok']);
    }
    const health = await json(fetch(`${gateway.url}/health`));
    expect(health.providers.find((p: { name: string }) => p.name === 'gemini')).toMatchObject({ state: 'cooling_down', cooldown_reason: 'consecutive_failures', consecutive_failures: 3 });
    // Both clients now skip it.
    for (const key of [KEY, OTHER_KEY]) {
      const body = await json(query(gateway, { prompt: 'hello again' }, { key }));
      expect(body.attempts.map((a: Attempt) => `${a.provider}:${a.outcome}`)).toEqual(['gemini:cooling_down', 'groq:ok']);
    }
  });
});

describe('exact models in public and in upstream paths', () => {
  let gateway: TestGateway;
  afterEach(async () => {
    await gateway.close();
  });

  it.each(['gemini/x:countTokens', 'gemini/gemini-2.5-flash:streamGenerateContent', 'gemini/models/x'])('refuses %s before anything is sent upstream', async (model) => {
    gateway = await startGateway();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(400);
    expect(await json(response)).toMatchObject({ error: { code: 'invalid_request', param: 'model', request_id: response.headers.get('x-request-id') } });
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
  });
});
