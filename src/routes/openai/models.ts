// GET /v1/models: what `model` may name on this gateway, in OpenAI's list shape: "auto", each
// configured provider (in PROVIDER_ORDER), and each one's configured chat and embedding models.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { modelListSchema, openAiReadErrorResponses } from '../../schemas/openai.ts';
import { AUTO_MODEL } from '../../gateway/model-routing.ts';
import { publicModel } from './openai-mapping.ts';

const GATEWAY_OWNER = 'secure-llm-router';

const modelsRoute: FastifyPluginAsyncZod = async (app) => {
  const { providers } = app.gateway;
  const created = Math.floor(Date.now() / 1000);
  const entry = (id: string, owner: string) => ({ id, object: 'model' as const, created, owned_by: owner });
  const data = [
    entry(AUTO_MODEL, GATEWAY_OWNER),
    ...providers.map((p) => entry(p.name, GATEWAY_OWNER)),
    ...providers.flatMap((p) => [
      entry(publicModel(p.name, p.model), p.name),
      ...(p.embed && p.embeddingModel && p.embeddingModel !== p.model ? [entry(publicModel(p.name, p.embeddingModel), p.name)] : []),
    ]),
  ];

  app.get(
    '/models',
    {
      schema: {
        tags: ['openai'],
        summary: 'The models this gateway serves, in OpenAI list shape',
        security: [{ BearerAuth: [] }, { ApiKeyAuth: [] }],
        response: { 200: modelListSchema, ...openAiReadErrorResponses },
      },
    },
    async () => ({ object: 'list' as const, data }),
  );
};

export default modelsRoute;
