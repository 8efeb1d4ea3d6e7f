// Token counts come from the provider and are not trusted: a count that is not a whole,
// non-negative number is treated as missing, so a good answer is never turned into a 500 by the
// reply's schema. Checked through the gateway, with each wire answered by a local server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { startWatchedServer, type WatchedServer } from './helpers/watched-server.ts';

const ODD_COUNTS: Array<[string, Record<string, unknown>]> = [
  ['a string total', { prompt_tokens: 3, completion_tokens: 2, total_tokens: '5' }],
  ['a fractional total', { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5.5 }],
  ['a fractional prompt count', { prompt_tokens: 3.5, completion_tokens: 2, total_tokens: 5 }],
  ['a negative completion count', { prompt_tokens: 3, completion_tokens: -2, total_tokens: 1 }],
];

describe('odd token counts from a provider', () => {
  let upstream: WatchedServer;
  let gateway: TestGateway;
  let usage: Record<string, unknown> = {};

  beforeAll(async () => {
    upstream = await startWatchedServer();
    upstream.handler = (req, res) => {
      const gemini = req.url?.includes('generateContent') === true;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (gemini) {
        const meta = {
          promptTokenCount: usage.prompt_tokens,
          candidatesTokenCount: usage.completion_tokens,
          totalTokenCount: usage.total_tokens,
        };
        res.end(JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ text: 'Paris.' }] }, finishReason: 'STOP' }], usageMetadata: meta }));
      } else {
        res.end(JSON.stringify({ model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Paris.' }, finish_reason: 'stop' }], usage }));
      }
    };
    gateway = await startGateway({
      SIMULATED_PROVIDERS: 'false',
      OPENROUTER_API_KEY: 'sk-or-test',
      OPENROUTER_BASE_URL: `${upstream.url}/api/v1`,
      GEMINI_API_KEY: 'gemini-test-key',
      GEMINI_BASE_URL: upstream.url,
    });
  });
  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  it.each(ODD_COUNTS)('%s: /v1/chat/completions still answers 200, with only the sound counts', async (_name, counts) => {
    usage = counts;
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openrouter', messages: [{ role: 'user', content: 'Capital of France?' }] }),
    });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.choices[0].message.content).toBe('Paris.');
    for (const value of Object.values(body.usage)) expect(Number.isSafeInteger(value) && (value as number) >= 0).toBe(true);
  });

  it.each(ODD_COUNTS)('%s: /query through Gemini still answers 200, with null for what is unsound', async (_name, counts) => {
    usage = counts;
    const response = await query(gateway, { prompt: 'Capital of France?' });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toMatchObject({ response: 'Paris.', provider: 'gemini' });
    for (const value of Object.values(body.usage)) expect(value === null || (Number.isSafeInteger(value) && (value as number) >= 0)).toBe(true);
  });
});
