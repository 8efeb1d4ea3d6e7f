import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  });
});
