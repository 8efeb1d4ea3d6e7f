// OpenAPI 3 generated from the same Zod schemas that validate requests, and Swagger UI at /docs
// where a person can press "Authorize", paste an API key and run a request.
import compress from '@fastify/compress';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { addFeatures, type DocumentedFeatures } from '../schemas/openapi-features.ts';
import { addResponseHeaders } from '../schemas/openapi-headers.ts';

/** For the UI's static files under /docs/static/. */
export const STATIC_CACHE_CONTROL = 'public, max-age=86400';

export interface SwaggerOptions {
  version: string;
  /** What the operator turned on, which the document then describes. */
  features: DocumentedFeatures;
}

export default fp<SwaggerOptions>(
  async function docs(app: FastifyInstance, options: SwaggerOptions) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'secure-llm-router',
          version: options.version,
          description:
            'One authenticated, rate-limited API over several free-tier LLM providers. Each request runs a cascade ' +
            '(Gemini, then Groq, then OpenRouter by default) with timeouts, retries and cooldowns. ' +
            'Press "Authorize" and paste an API key to try the protected routes.',
        },
        components: {
          securitySchemes: {
            ApiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
            BearerAuth: { type: 'http', scheme: 'bearer', description: 'The same API key, as the OpenAI SDKs send it.' },
            MetricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, for GET /metrics only (not an API key).' },
          },
        },
        tags: [
          { name: 'gateway', description: 'The gateway API' },
          { name: 'openai', description: 'OpenAI-compatible API' },
          { name: 'operations', description: 'Health and status' },
        ],
      },
      transform: jsonSchemaTransform,
      // This document is OpenAPI (never Swagger 2), so the object handed over is `openapiObject`.
      transformObject: (document) => addFeatures(addResponseHeaders('openapiObject' in document ? document.openapiObject : document.swaggerObject), options.features),
    });
    // In a context of its own, so these headers reach the UI's static files too: the page keeps
    // the key a user authorizes with (persistAuthorization), so no other site may frame it.
    await app.register(async function docsPage(docs) {
      docs.addHook('onRequest', (_request, reply, done) => {
        reply.headers({
          'x-frame-options': 'DENY',
          'content-security-policy': "frame-ancestors 'none'",
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        });
        done();
      });
      // The page's assets are public and large (Swagger UI's bundle alone is 1.7 MB): compressed
      // (about a quarter of the bytes) and kept by browsers, so a few clients cannot use up a
      // free Space's bandwidth. Scoped to this context: the API's answers are left alone.
      await docs.register(compress, { encodings: ['br', 'gzip'] });
      docs.addHook('onSend', (request, reply, payload, done) => {
        // Their URLs carry no version, so a day bounds how long a browser keeps an old copy after
        // an upgrade; after it, a revalidation by ETag is answered 304 without the file.
        const status = reply.statusCode;
        if ((status === 200 || status === 304) && request.routeOptions.url?.startsWith('/docs/static/') === true) {
          reply.header('cache-control', STATIC_CACHE_CONTROL);
        }
        done(null, payload);
      });
      await docs.register(swaggerUi, {
        routePrefix: '/docs',
        uiConfig: { persistAuthorization: true, tryItOutEnabled: true, displayRequestDuration: true },
      });
    });
  },
  { name: 'swagger' },
);
