// One usage record per request that reached the gateway (its trip), when DATABASE_URL is set:
// taken from the trip the gateway kept (provider, model, tokens) once the response has ended,
// and handed to the recorder, which writes it later in a batch.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { UsageRecorder } from '../usage/usage-recorder.ts';

export default fp<{ recorder: UsageRecorder }>(
  async function usage(app: FastifyInstance, { recorder }) {
    app.addHook('onResponse', (request, reply, done) => {
      const { trip } = request;
      if (trip !== null && trip !== undefined) {
        const { provider, usage: tokens } = trip;
        const answeredBy = provider?.name ?? (reply.getHeader('x-llm-provider') as string | undefined) ?? null;
        const model = trip.exactModel ?? (provider === undefined ? null : trip.operation === 'embeddings' ? (provider.embeddingModel ?? provider.model) : provider.model);
        recorder.record({
          at: new Date(),
          client: request.clientId,
          route: request.routeOptions.url ?? request.url,
          provider: answeredBy,
          model,
          promptTokens: tokens?.promptTokens ?? null,
          completionTokens: tokens?.completionTokens ?? null,
          reasoningTokens: tokens?.reasoningTokens ?? null,
          latencyMs: Math.round(reply.elapsedTime),
          status: reply.statusCode,
          requestId: request.id,
        });
      }
      done();
    });
  },
  { name: 'usage-records' },
);
