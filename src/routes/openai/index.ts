// The OpenAI-compatible API, registered under /v1 inside the protected context (same API keys and
// per-key rate limit as /query). Errors under /v1/ leave in OpenAI's shape (see error-handler.ts).
import type { FastifyPluginAsync } from 'fastify';
import chatCompletionsRoute from './chat-completions.ts';
import embeddingsRoute from './embeddings.ts';
import modelsRoute from './models.ts';
import responsesRoute from './responses.ts';

const openAiRoutes: FastifyPluginAsync = async (app) => {
  await app.register(chatCompletionsRoute);
  await app.register(modelsRoute);
  await app.register(embeddingsRoute);
  await app.register(responsesRoute);
};

export default openAiRoutes;
