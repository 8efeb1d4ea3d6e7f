// OpenAPI 3 generated from the same Zod schemas that validate requests, and Swagger UI at /docs
// where a person can press "Authorize", paste an API key and run a request.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

export interface SwaggerOptions {
  version: string;
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
          },
        },
        tags: [
          { name: 'gateway', description: 'The gateway API' },
          { name: 'openai', description: 'OpenAI-compatible API' },
          { name: 'operations', description: 'Health and status' },
        ],
      },
      transform: jsonSchemaTransform,
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      uiConfig: { persistAuthorization: true, tryItOutEnabled: true, displayRequestDuration: true },
    });
  },
  { name: 'swagger' },
);
