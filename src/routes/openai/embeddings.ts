// POST /v1/embeddings: OpenAI's Embeddings over the providers that can embed (today Gemini),
// falling back to the next such provider like the chat cascade does.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../../config.ts';
import { runCascade, type AttemptRecord } from '../../cascade/cascade.ts';
import type { Breakers } from '../../cascade/breakers.ts';
import { GatewayError } from '../../errors.ts';
import type { Provider } from '../../providers/types.ts';
import { embeddingBodySchema, embeddingListSchema, openAiErrorResponses } from '../../schemas/openai.ts';
import { exactModelCall, resolveModel, routeFailure } from '../../gateway/model-routing.ts';
import { publicModel } from './openai-mapping.ts';
import { noAnswer, requestDeadline } from '../../gateway/request-deadline.ts';

export interface EmbeddingsRouteOptions {
  config: Config;
  providers: readonly Provider[];
  health: Breakers;
}

type EmbeddingProvider = Provider & { embed: NonNullable<Provider['embed']> };

const canEmbed = (provider: Provider): provider is EmbeddingProvider => typeof provider.embed === 'function';

/** Little-endian float32 values, base64-encoded: what OpenAI sends for encoding_format "base64". */
export function toBase64Floats(vector: readonly number[]): string {
  const floats = new Float32Array(vector);
  const bytes = Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength);
  // Float32Array uses the platform's byte order; OpenAI's format is little-endian.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) bytes.swap32();
  return bytes.toString('base64');
}

const embeddingsRoute: FastifyPluginAsyncZod<EmbeddingsRouteOptions> = async (app, { config, providers, health }) => {
  const embedders = providers.filter(canEmbed);

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
      const route = resolveModel(model, embedders, 'embeddings');
      if (route.providers.length === 0) {
        throw new GatewayError('providers_unavailable', { message: 'No configured provider serves embeddings.' });
      }
      const inputs = typeof input === 'string' ? [input] : input;
      const deadline = requestDeadline(reply, config.requestTimeoutMs);
      const attempts: AttemptRecord[] = [];
      try {
        const { value, provider } = await runCascade(
          route.providers,
          exactModelCall(route, (p, signal) => (p as EmbeddingProvider).embed({ inputs, ...(route.exactModel ? { model: route.exactModel } : {}) }, signal)),
          { maxRetries: config.maxRetries, attemptTimeoutMs: config.providerTimeoutMs },
          // An embedding model's quota and failures are its own: chat's cooldowns do not stop it,
          // nor its cooldowns chat.
          { deadline, health, log: request.log, attempts, exactModel: route.exactModel, healthModel: (p) => (p as EmbeddingProvider).embeddingModel },
        );
        reply.header('x-llm-provider', provider.name);
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
      } catch (error) {
        return noAnswer(request, reply, attempts, error, (cause) => routeFailure(route, attempts, cause));
      } finally {
        deadline.dispose();
      }
    },
  );
};

export default embeddingsRoute;
