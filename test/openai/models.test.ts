// GET /v1/models: what `model` may name, in OpenAI's list shape.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { sdk } from './helpers.ts';

describe('GET /v1/models', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'groq,gemini,openrouter' });
  });
  afterAll(() => gateway.close());

  it('lists auto, each configured provider in order, and each one\'s models as provider/model-id', async () => {
    const page = await sdk(gateway).models.list();
    expect(page.data.map((m) => m.id)).toEqual([
      'auto',
      'groq',
      'gemini',
      'openrouter',
      'groq/openai/gpt-oss-20b',
      'gemini/gemini-flash-lite-latest',
      'gemini/gemini-embedding-001',
      'openrouter/openrouter/free',
    ]);
    for (const model of page.data) {
      expect(model.object).toBe('model');
      expect(Number.isInteger(model.created)).toBe(true);
      expect(Math.abs(model.created - Date.now() / 1000)).toBeLessThan(60);
    }
    expect(page.data.find((m) => m.id === 'groq/openai/gpt-oss-20b')?.owned_by).toBe('groq');
    expect(page.data.find((m) => m.id === 'auto')?.owned_by).toBe('secure-llm-router');
  });

  it('lists only what can answer: every listed id works as a chat model', async () => {
    const client = sdk(gateway);
    const ids = (await client.models.list()).data.map((m) => m.id).filter((id) => !id.includes('embedding'));
    for (const model of ids) {
      const { response } = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
      expect(response.status, model).toBe(200);
    }
  });

  it('needs an API key', async () => {
    const error = await sdk(gateway, 'wrong-key').models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});

describe('GET /v1/models with only some providers configured', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway({ PROVIDER_ORDER: 'openrouter' });
  });
  afterAll(() => gateway.close());

  it('leaves the others out', async () => {
    const page = await sdk(gateway).models.list();
    expect(page.data.map((m) => m.id)).toEqual(['auto', 'openrouter', 'openrouter/openrouter/free']);
  });
});
