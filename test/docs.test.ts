import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../src/errors.ts';
import { startGateway, type TestGateway, json } from './helpers/gateway.ts';

describe('interactive docs and the OpenAPI document', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(() => gateway.close());

  it('serves Swagger UI at /docs', async () => {
    const response = await fetch(`${gateway.url}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(await response.text()).toMatch(/swagger/i);
  });

  it('describes /query from the Zod schemas, with its security and every documented error', async () => {
    const response = await fetch(`${gateway.url}/docs/json`);
    expect(response.status).toBe(200);
    const doc = await json(response);
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.components.securitySchemes.ApiKeyAuth).toEqual({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
    const query = doc.paths['/query'].post;
    expect(query.security).toEqual([{ ApiKeyAuth: [] }, { BearerAuth: [] }]);
    const body = query.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['prompt']);
    expect(body.additionalProperties).toBe(false);
    expect(body.properties.prompt).toMatchObject({ type: 'string', minLength: 1, maxLength: 4000 });
    expect(body.properties.max_tokens).toMatchObject({ minimum: 1, maximum: 2048, default: 256 });
    expect(body.properties.temperature).toMatchObject({ minimum: 0, maximum: 2, default: 0.7 });
    expect(Object.keys(query.responses).sort()).toEqual(['200', '400', '401', '413', '415', '429', '500', '503', '504']);
    const ok = query.responses['200'].content['application/json'].schema;
    expect(ok.required).toEqual(expect.arrayContaining(['response', 'provider', 'model', 'latency_ms', 'request_id', 'usage', 'attempts']));
    expect(doc.paths['/health'].get.security).toBeUndefined();
    // Draining answers /health with 503 shutting_down; the document says so.
    expect(Object.keys(doc.paths['/health'].get.responses).sort()).toEqual(['200', '503']);
    expect(doc.paths['/']).toBeUndefined();
    // Every code in the error table, the 405 for a method a route does not serve among them.
    expect(query.responses['401'].content['application/json'].schema.properties.error.properties.code.enum).toEqual(Object.keys(ERROR_TABLE));
    expect(Object.keys(ERROR_TABLE)).toContain('method_not_allowed');
  });

  it('names the headers the answers carry, and the stream /v1/chat/completions can answer with', async () => {
    const doc = await json(fetch(`${gateway.url}/docs/json`));
    const query = doc.paths['/query'].post.responses;
    expect(Object.keys(query['200'].headers).sort()).toEqual(['x-llm-provider', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-request-id']);
    expect(Object.keys(query['401'].headers)).toEqual(['x-request-id']);
    expect(query['429'].headers['retry-after'].schema).toEqual({ type: 'integer' });
    expect(query['503'].headers).toHaveProperty('retry-after');
    expect(doc.paths['/health'].get.responses['200'].headers).toEqual({ 'x-request-id': expect.objectContaining({ schema: { type: 'string' } }) });

    // The headers the document names are the ones an answer has.
    const answer = await fetch(`${gateway.url}/query`, { method: 'POST', headers: { 'x-api-key': gateway.config.apiKeys[0] ?? '', 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'hi' }) });
    expect(answer.status).toBe(200);
    for (const name of Object.keys(query['200'].headers)) expect(answer.headers.get(name), name).not.toBeNull();

    const chat = doc.paths['/v1/chat/completions'].post.responses['200'].content;
    expect(Object.keys(chat).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(chat['text/event-stream'].schema.type).toBe('string');
  });
});
