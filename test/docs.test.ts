import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../src/errors.ts';
import { KEY, startGateway, type TestGateway, json } from './helpers/gateway.ts';
import { rawClient } from './helpers/raw-http.ts';

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

  it('sends the page\'s static files compressed and cacheable, and answers a revalidation with 304', async () => {
    const raw = rawClient(gateway.url);
    try {
      const bundle = '/docs/static/swagger-ui-bundle.js';
      const plain = await raw.send({ method: 'GET', path: bundle, headers: { 'accept-encoding': 'identity' } });
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body.length).toBeGreaterThan(1_500_000);
      for (const [encoding, decode] of [
        ['br', brotliDecompressSync],
        ['gzip', gunzipSync],
      ] as const) {
        const packed = await raw.send({ method: 'GET', path: bundle, headers: { 'accept-encoding': `${encoding}, deflate` } });
        expect(packed.status, encoding).toBe(200);
        expect(packed.headers['content-encoding'], encoding).toBe(encoding);
        expect(packed.headers.vary, encoding).toMatch(/accept-encoding/i);
        expect(packed.headers['cache-control'], encoding).toBe('public, max-age=86400');
        expect(packed.headers['x-frame-options'], encoding).toBe('DENY');
        expect(packed.body.length, encoding).toBeLessThan(plain.body.length / 3);
        expect(decode(packed.body).equals(plain.body), encoding).toBe(true);
      }
      // A browser that kept it asks again after a day: no body is sent.
      const again = await raw.send({ method: 'GET', path: bundle, headers: { 'accept-encoding': 'br', 'if-none-match': String(plain.headers.etag) } });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      expect(again.headers['cache-control']).toBe('public, max-age=86400');
      // The OpenAPI document is compressed too, but not kept: it changes with the gateway.
      const document = await raw.send({ method: 'GET', path: '/docs/json', headers: { 'accept-encoding': 'br' } });
      expect(document.headers['content-encoding']).toBe('br');
      expect(JSON.parse(brotliDecompressSync(document.body).toString()).openapi).toMatch(/^3\./);
      expect(document.headers['cache-control']).toBeUndefined();
      // A file that is not there is the usual error, kept by nobody.
      const missing = await raw.send({ method: 'GET', path: '/docs/static/no-such-file.js', headers: { 'accept-encoding': 'br' } });
      expect(missing.status).toBe(404);
      expect(missing.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(missing.text).error).toMatchObject({ code: 'not_found', request_id: missing.headers['x-request-id'] });
      // The API's answers are left as they were.
      const api = await raw.send({ method: 'GET', path: '/v1/models', headers: { 'accept-encoding': 'br, gzip', 'x-api-key': KEY } });
      expect(api.status).toBe(200);
      expect(api.headers['content-encoding']).toBeUndefined();
      expect(api.headers['cache-control']).toBe('no-store');
    } finally {
      raw.close();
    }
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
    expect(Object.keys(query.responses).sort()).toEqual(['200', '400', '401', '403', '413', '415', '429', '500', '503', '504']);
    const ok = query.responses['200'].content['application/json'].schema;
    expect(ok.required).toEqual(expect.arrayContaining(['response', 'provider', 'model', 'latency_ms', 'request_id', 'usage', 'attempts']));
    expect(doc.paths['/health'].get.security).toBeUndefined();
    // Draining answers /health with 503 shutting_down; the document says so.
    expect(Object.keys(doc.paths['/health'].get.responses).sort()).toEqual(['200', '503']);
    expect(doc.paths['/']).toBeUndefined();
    // A validation error lists at most 20 problems, and the document says so.
    const details = query.responses['400'].content['application/json'].schema.properties.error.properties.details;
    expect(details).toMatchObject({ type: 'array', maxItems: 20 });
    expect(details.description).toMatch(/at most the first 20 problems .* the message says how many in all/);
    // Every code in the error table, the 405 for a method a route does not serve among them.
    expect(query.responses['401'].content['application/json'].schema.properties.error.properties.code.enum).toEqual(Object.keys(ERROR_TABLE));
    expect(Object.keys(ERROR_TABLE)).toContain('method_not_allowed');
  });

  it('names the headers the answers carry, and the streams /v1/chat/completions and /v1/responses can answer with', async () => {
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

    const responses = doc.paths['/v1/responses'].post;
    expect(Object.keys(responses.responses['200'].content).sort()).toEqual(['application/json', 'text/event-stream']);
    expect(responses.responses['200'].content['text/event-stream'].schema.description).toMatch(/response\.failed/);
    expect(Object.keys(responses.responses['200'].headers)).toContain('x-llm-provider');
    expect(responses.requestBody.content['application/json'].schema.required).toEqual(['input']);
    expect(responses.requestBody.content['application/json'].schema.additionalProperties).toBe(false);
  });
});
