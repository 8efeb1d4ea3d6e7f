// POST /v1/embeddings: OpenAI's Embeddings over the providers that can embed, falling back to the
// next such provider like the chat cascade does.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { GatewayError } from '../../errors.ts';
import { embeddingBodySchema, embeddingListSchema, openAiErrorResponses } from '../../schemas/openai.ts';
import { publicModel } from './openai-mapping.ts';

/** Little-endian float32 values, base64-encoded: what OpenAI sends for encoding_format "base64". */
export function toBase64Floats(vector: readonly number[]): string {
  const floats = new Float32Array(vector);
  const bytes = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  // Float32Array uses the platform's byte order; OpenAI's format is little-endian.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) bytes.swap32();
  return bytes.toString('base64');
}

const embeddingsRoute: FastifyPluginAsyncZod = async (app) => {
  const { gateway } = app;

  app.post(
    '/embeddings',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI-compatible embeddings, from the providers that can embed',
        security: [{ BearerAuth: [] }, { ApiKeyAuth: [] }],
        body: embeddingBodySchema,
        response: { 200: embeddingListSchema, ...openAiErrorResponses },
      },
    },
    async (request, reply) => {
      const { input, model, encoding_format } = request.body;
      const route = gateway.embeddingRoute(model);
      if (route.providers.length === 0) {
        throw new GatewayError('providers_unavailable', { message: 'No configured provider serves embeddings.' });
      }
      const inputs = typeof input === 'string' ? [input] : input;
      const embedding = { inputs, ...(route.exactModel ? { model: route.exactModel } : {}) };
      return gateway.embed(request, reply, route, embedding, ({ value, provider }) => {
        const tokens = value.usage?.promptTokens ?? 0;
        return {
          object: 'list' as const,
          data: value.vectors.map((vector, index) => ({
            object: 'embedding' as const,
            index,
            embedding: encoding_format === 'base64' ? toBase64Floats(vector) : vector,
          })),
          model: publicModel(provider.name, value.model),
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        };
      });
    },
  );
};

export default embeddingsRoute;
