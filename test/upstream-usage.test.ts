// Token counts come from the provider and are not trusted: a count that is not a whole,
// non-negative number is treated as missing (the sound ones are kept), so a good answer is never
// turned into a 500 by the reply's schema. Checked through the gateway, with each wire answered by a local server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';
import { startWatchedServer, type WatchedServer } from './helpers/watched-server.ts';

/** What the provider sent, and the counts the gateway keeps (null: unsound, so unknown). */
const ODD_COUNTS: Array<[string, Record<string, unknown>, [number | null, number | null, number | null]]> = [
  // An unsound total is the sum of the two sound counts.
  ['a string total', { prompt_tokens: 3, completion_tokens: 2, total_tokens: '5' }, [3, 2, 5]],
  ['a fractional total', { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5.5 }, [3, 2, 5]],
  ['a fractional prompt count', { prompt_tokens: 3.5, completion_tokens: 2, total_tokens: 5 }, [null, 2, 5]],
  ['a negative completion count', { prompt_tokens: 3, completion_tokens: -2, total_tokens: 1 }, [3, null, 1]],
];
const asUsage = ([prompt_tokens, completion_tokens, total_tokens]: [number | null, number | null, number | null]) => ({ prompt_tokens, completion_tokens, total_tokens });

describe('odd token counts from a provider', () => {
  let upstream: WatchedServer;
  let gateway: TestGateway;
  let usage: Record<string, unknown> = {};

  beforeAll(async () => {
    upstream = await startWatchedServer();
    upstream.handler = (req, res) => {
      const gemini = /generateContent/i.test(req.url ?? '');
      // Whole answers are asked for as streams too (the gateway judges a provider by its liveness).
      const stream = req.headers.accept === 'text/event-stream';
      res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' });
      const send = (body: unknown) => res.end(stream ? `data: ${JSON.stringify(body)}\n\n${gemini ? '' : 'data: [DONE]\n\n'}` : JSON.stringify(body));
      if (gemini) {
        const meta = {
          promptTokenCount: usage.prompt_tokens,
          candidatesTokenCount: usage.completion_tokens,
          totalTokenCount: usage.total_tokens,
        };
        send({ candidates: [{ content: { role: 'model', parts: [{ text: 'Paris.' }] }, finishReason: 'STOP' }], usageMetadata: meta });
      } else if (stream) {
        send({ model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Paris.' }, finish_reason: 'stop' }], usage });
      } else {
        send({ model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Paris.' }, finish_reason: 'stop' }], usage });
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

  it.each(ODD_COUNTS)('%s: /v1/chat/completions still answers 200, with the sound counts (0 for the others)', async (_name, counts, kept) => {
    usage = counts;
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openrouter', messages: [{ role: 'user', content: 'Capital of France?' }] }),
    });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body.choices[0].message.content).toBe('Paris.');
    // OpenAI clients expect numbers: an unknown count reads 0 there.
    expect(body.usage).toEqual({ ...asUsage(kept.map((count) => count ?? 0) as typeof kept), completion_tokens_details: { reasoning_tokens: 0 } });
  });

  it.each(ODD_COUNTS)('%s: /query through Gemini still answers 200, with null for what is unsound', async (_name, counts, kept) => {
    usage = counts;
    const response = await query(gateway, { prompt: 'Capital of France?' });
    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toMatchObject({ response: 'Paris.', provider: 'gemini' });
    expect(body.usage).toEqual({ ...asUsage(kept), reasoning_tokens: null });
  });
});
