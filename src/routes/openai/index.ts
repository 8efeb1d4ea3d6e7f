// The OpenAI-compatible API, registered under /v1 inside the protected context (same API keys and
// per-key rate limit as /query). Errors under /v1/ leave in OpenAI's shape (see error-handler.ts).
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../../config.ts';
import type { Breakers } from '../../cascade/breakers.ts';
import type { Provider } from '../../providers/types.ts';
import chatCompletionsRoute from './chat-completions.ts';
import embeddingsRoute from './embeddings.ts';
import modelsRoute from './models.ts';

export interface OpenAiRoutesOptions {
  config: Config;
  providers: readonly Provider[];
  health: Breakers;
}

const openAiRoutes: FastifyPluginAsync<OpenAiRoutesOptions> = async (app, { config, providers, health }) => {
  await app.register(chatCompletionsRoute, { config, providers, health });
  await app.register(modelsRoute, { providers });
  await app.register(embeddingsRoute, { config, providers, health });
};

export default openAiRoutes;
