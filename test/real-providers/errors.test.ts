// Provider errors read for what they are, through the gateway over HTTP: a daily quota parks the
// provider until it resets (Gemini's at midnight Pacific, OpenRouter's at its X-RateLimit-Reset),
// a minute quota only for its RetryInfo, OpenRouter's guardrail refuses the request (not the
// provider), and Gemini's FAILED_PRECONDITION is a misconfiguration. A gateway per test: each
// leaves a provider cooling down.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, query, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { USER_HELLO, sdk } from '../openai/helpers.ts';

interface ProviderHealth {
  name: string;
  state: string;
  cooldown_until?: string;
  cooldown_reason?: string;
}

async function health(gateway: TestGateway, name: string): Promise<ProviderHealth> {
  const body = await json(fetch(`${gateway.url}/health`));
  return (body.providers as ProviderHealth[]).find((p) => p.name === name)!;
}

/** The next midnight in Los Angeles after `now`, found among the two UTC hours it can fall on (PST, PDT). */
function nextMidnightPacific(now: number): Date {
  const hourThere = (t: number) => Number(new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hour: 'numeric', hourCycle: 'h23' }).format(t));
  const day = new Date(now);
  for (let days = 0; days <= 2; days += 1) {
    for (const utcHour of [7, 8]) {
      const candidate = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate() + days, utcHour);
      if (candidate > now && hourThere(candidate) === 0) return new Date(candidate);
    }
  }
  throw new Error('no midnight found');
}

describe('provider errors read for what they are', () => {
  let gateway: TestGateway;
  beforeEach(async () => {
    gateway = await startGateway();
  });
  afterEach(() => gateway.close());

  it("parks Gemini after its per-day quota until the next midnight Pacific, when it resets", async () => {
    gateway.fakes.gemini.setDefault({ kind: 'daily_limit' });
    const before = Date.now();
    const body = await json(query(gateway, { prompt: 'Say hello' }));
    expect(body.provider).toBe('groq');
    expect(body.attempts[0]).toMatchObject({ provider: 'gemini', outcome: 'rate_limited', status: 429 });

    const gemini = await health(gateway, 'gemini');
    expect(gemini.state).toBe('cooling_down');
    const until = new Date(gemini.cooldown_until!);
    const expected = nextMidnightPacific(before);
    expect([until.getUTCHours(), until.getUTCMinutes()]).toEqual([expected.getUTCHours(), expected.getUTCMinutes()]);
    expect(Math.abs(until.getTime() - expected.getTime())).toBeLessThan(60_000);

    // Parked: the next request does not ask it.
    gateway.fakes.gemini.reset();
    const next = await json(query(gateway, { prompt: 'Say hello' }));
    expect(next.provider).toBe('groq');
    expect(next.attempts[0]).toMatchObject({ provider: 'gemini', outcome: 'cooling_down' });
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
  });

  it('leaves Gemini after its per-minute quota only for the wait its RetryInfo names', async () => {
    gateway.fakes.gemini.setDefault({ kind: 'rate_limited', retryAfterSeconds: 45 });
    const before = Date.now();
    const body = await json(query(gateway, { prompt: 'Say hello' }));
    expect(body.provider).toBe('groq');
    const gemini = await health(gateway, 'gemini');
    expect(gemini.state).toBe('cooling_down');
    const wait = new Date(gemini.cooldown_until!).getTime() - before;
    expect(wait).toBeGreaterThanOrEqual(44_000);
    expect(wait).toBeLessThan(60_000);
  });

  it("parks OpenRouter after its free models' daily limit until its X-RateLimit-Reset", async () => {
    // Two hours off: neither the usual cooldown nor 00:00 UTC.
    gateway.fakes.openrouter.setDefault({ kind: 'daily_limit', retryAfterSeconds: 7200 });
    const before = Date.now();
    const { response } = await sdk(gateway).chat.completions.create({ model: 'openrouter', messages: USER_HELLO }).withResponse();
    const after = Date.now();
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    const openrouter = await health(gateway, 'openrouter');
    expect(openrouter.state).toBe('cooling_down');
    // The reset the fake named, two hours from the moment it answered (within a second, as /health rounds).
    const until = new Date(openrouter.cooldown_until!).getTime();
    expect(until).toBeGreaterThanOrEqual(before + 7_200_000 - 1000);
    expect(until).toBeLessThanOrEqual(after + 7_200_000 + 1000);
  });

  it("takes OpenRouter's guardrail 403 as a refusal of the request, on safety grounds: the caller hears it, and OpenRouter stays in service", async () => {
    gateway.fakes.openrouter.setDefault({ kind: 'guardrail' });
    const error = await sdk(gateway).chat.completions.create({ model: 'openrouter', messages: USER_HELLO }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, code: 'content_filtered' });
    // Nobody else was asked by default (ON_CONTENT_FILTER=stop), and the refusal counts against nobody.
    expect(gateway.fakes.gemini.requests).toHaveLength(0);
    expect(await health(gateway, 'openrouter')).toMatchObject({ state: 'ready' });
    expect(gateway.logs.some((line) => line.provider === 'openrouter' && line.kind === 'rejected' && line.status === 403)).toBe(true);
  });

  it('routes around a guardrail 403 to the next provider with ON_CONTENT_FILTER=next', async () => {
    await gateway.close();
    gateway = await startGateway({ ON_CONTENT_FILTER: 'next' });
    gateway.fakes.openrouter.setDefault({ kind: 'guardrail' });
    const { data, response } = await sdk(gateway).chat.completions.create({ model: 'openrouter', messages: USER_HELLO }).withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get('x-llm-provider')).toBe('gemini');
    expect(data.choices[0]?.message.content).toMatch(/^Simulated answer from gemini /);
    expect(await health(gateway, 'openrouter')).toMatchObject({ state: 'ready' });
  });

  it("takes Gemini's FAILED_PRECONDITION as a misconfiguration: logged loudly, and Gemini cools down", async () => {
    gateway.fakes.gemini.setDefault({ kind: 'precondition' });
    const response = await query(gateway, { prompt: 'Say hello' });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.provider).toBe('groq');
    expect(body.attempts[0]).toMatchObject({ provider: 'gemini', outcome: 'misconfigured', status: 400 });
    expect(await health(gateway, 'gemini')).toMatchObject({ state: 'cooling_down' });
    const line = gateway.logs.find((l) => l.provider === 'gemini' && l.kind === 'misconfigured');
    expect(line).toMatchObject({ level: 50, status: 400 });
    expect(String(line?.msg)).toContain('FAILED_PRECONDITION');
  });
});
