import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compiled } from '../src/schemas/compiled.ts';
import { errorOf, KEY, query, startGateway, type TestGateway } from './helpers/gateway.ts';

describe('request validation', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  const invalid: Array<[string, unknown, string]> = [
    ['missing prompt', {}, 'prompt'],
    ['empty prompt', { prompt: '' }, 'prompt'],
    ['prompt over 4000 characters', { prompt: 'x'.repeat(4001) }, 'prompt'],
    ['prompt of the wrong type', { prompt: 42 }, 'prompt'],
    ['prompt null', { prompt: null }, 'prompt'],
    ['max_tokens zero', { prompt: 'hi', max_tokens: 0 }, 'max_tokens'],
    ['max_tokens over 2048', { prompt: 'hi', max_tokens: 2049 }, 'max_tokens'],
    ['max_tokens not an integer', { prompt: 'hi', max_tokens: 1.5 }, 'max_tokens'],
    ['max_tokens as a string', { prompt: 'hi', max_tokens: '10' }, 'max_tokens'],
    ['temperature below 0', { prompt: 'hi', temperature: -0.1 }, 'temperature'],
    ['temperature above 2', { prompt: 'hi', temperature: 2.01 }, 'temperature'],
    ['temperature as a string', { prompt: 'hi', temperature: 'warm' }, 'temperature'],
    ['an unknown field', { prompt: 'hi', model: 'gpt' }, 'model'],
    ['an array body', [{ prompt: 'hi' }], '(body)'],
    ['a string body', 'just text', '(body)'],
  ];

  it.each(invalid)('rejects %s with 400 naming the field', async (_name, body, field) => {
    const response = await query(gateway, typeof body === 'string' ? JSON.stringify(body) : body);
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('invalid_request');
    expect(error.details?.map((d) => d.field)).toContain(field);
    expect(error.details?.every((d) => d.message.length > 0)).toBe(true);
  });

  it('lists at most 20 problems, and says how many there were, so a body of unknown fields earns a small answer', async () => {
    // About 58 KB of unknown fields, as in an attack that once earned a 367 KB answer.
    const body: Record<string, unknown> = { prompt: 'hi' };
    for (let i = 0; i < 5800; i += 1) body[`f${i}`] = 1;
    const sent = JSON.stringify(body);
    expect(sent.length).toBeGreaterThan(50_000);
    const response = await query(gateway, sent);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const text = await response.clone().text();
    expect(text.length).toBeLessThan(2_000);
    const error = await errorOf(response);
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('The request body is invalid: 5800 problems, the first 20 listed in details.');
    expect(error.details).toHaveLength(20);
    expect(error.details?.[0]).toEqual({ field: 'f0', message: 'is not an allowed field' });
    expect(error.details?.[19]?.field).toBe('f19');
  });

  it('cuts a long field name it names, and leaves the message alone when every problem is listed', async () => {
    const name = 'k'.repeat(20_000);
    const response = await query(gateway, { prompt: 'hi', [name]: 1 });
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.message).toBe('The request body is invalid.');
    expect(error.details).toEqual([{ field: `${'k'.repeat(100)}…`, message: 'is not an allowed field' }]);
  });

  it('accepts the edges of every field', async () => {
    for (const body of [
      { prompt: 'x' },
      { prompt: 'y'.repeat(4000), max_tokens: 1, temperature: 0 },
      { prompt: 'z', max_tokens: 2048, temperature: 2 },
      { prompt: 'unicode ✓ 漢字 🙂' },
    ]) {
      const response = await query(gateway, body);
      expect(response.status, JSON.stringify(body).slice(0, 40)).toBe(200);
    }
  });

  it('rejects malformed JSON with 400, saying where the parser stopped when it knows', async () => {
    for (const [body, message] of [
      ['{"prompt": tr', 'The request body is not valid JSON: it ends (line 1, column 14) before the JSON is complete.'],
      ['{\n  "prompt": "hi"\n  "max_tokens": 9\n}', "The request body is not valid JSON: expected ',' or '}' after property value at line 3, column 3."],
      ['{"prompt": "hi",}', 'The request body is not valid JSON: expected double-quoted property name at line 1, column 17.'],
      ['{"prompt": hi}', "The request body is not valid JSON: unexpected token 'h'."],
      ['{"prompt": "hi", "__proto__": {"admin": true}}', 'The request body may not hold a "__proto__" or "constructor" key.'],
    ]) {
      const response = await query(gateway, body);
      expect(response.status, body).toBe(400);
      expect(await errorOf(response)).toEqual({ code: 'invalid_request', message, request_id: response.headers.get('x-request-id') });
    }
  });

  it('rejects an empty body with 400', async () => {
    const response = await query(gateway, '');
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe('invalid_request');
  });

  it('rejects a body over 64 KiB with 413, naming the prompt limit as well', async () => {
    const response = await query(gateway, JSON.stringify({ prompt: 'x'.repeat(70_000) }));
    expect(response.status).toBe(413);
    expect(await errorOf(response)).toEqual({
      code: 'payload_too_large',
      message: 'The request body is larger than 64 KiB; a prompt may hold at most 4,000 characters.',
      request_id: response.headers.get('x-request-id'),
    });
  });

  it('rejects a body that is not application/json with 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await fetch(`${gateway.url}/query`, {
        method: 'POST',
        headers: { 'x-api-key': KEY, 'content-type': type },
        body: 'prompt=hi',
      });
      expect(response.status, type).toBe(415);
      expect((await errorOf(response)).code).toBe('unsupported_media_type');
    }
  });

  it('accepts application/json with a charset', async () => {
    const response = await query(gateway, { prompt: 'hi' }, { headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(response.status).toBe(200);
  });
});

describe('compiled body schemas', () => {
  const schema = z
    .strictObject({ text: z.string().min(1).max(5), n: z.int().min(0).default(1), tags: z.array(z.enum(['a', 'b'])).nullish() })
    .superRefine((body, ctx) => {
      if (body.tags?.length === 2) ctx.addIssue({ code: 'custom', path: ['tags'], message: 'one tag at most' });
    });
  const fast = compiled(schema);

  it('gives the same output and the same issues as the regular parser', () => {
    const inputs: unknown[] = [
      { text: 'hi' },
      { text: 'hi', n: 3, tags: ['a'] },
      { text: 'hi', tags: null },
      { text: '' },
      { text: 'toolong', n: -1 },
      { text: 'hi', tags: ['a', 'b'] },
      { text: 'hi', other: true },
      { n: 1.5 },
      [],
      'text',
      null,
    ];
    for (const input of inputs) {
      const expected = schema.safeParse(input);
      const actual = fast.safeParse(input);
      expect(actual.success, JSON.stringify(input)).toBe(expected.success);
      expect(actual.data).toEqual(expected.data);
      expect(actual.error?.issues).toEqual(expected.error?.issues);
    }
  });

  it('refuses at load a schema the compiler cannot model, instead of running it slowly', () => {
    const asynchronous = z.object({ text: z.string() }).refine(async () => true);
    expect(() => compiled(asynchronous)).toThrow();
  });
});
