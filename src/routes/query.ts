// POST /query: one prompt in, one answer out, through the provider cascade.
import type { FastifyError } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../config.ts';
import { GatewayError } from '../errors.ts';
import { runCascade, type AttemptRecord } from '../cascade/cascade.ts';
import type { Breakers } from '../cascade/breakers.ts';
import type { Provider, TokenUsage } from '../providers/types.ts';
import { protectedErrorResponses } from '../schemas/error.ts';
import { queryBodySchema, queryResponseSchema } from '../schemas/query.ts';
import { noAnswer, requestDeadline } from '../gateway/request-deadline.ts';

const PROMPT_TOO_LARGE = 'The request body is larger than 64 KiB; a prompt may hold at most 4,000 characters.';

export interface QueryRouteOptions {
  config: Config;
  providers: readonly Provider[];
  health: Breakers;
}

export function usageBody(usage: TokenUsage | undefined) {
  return {
    prompt_tokens: usage?.promptTokens ?? null,
    completion_tokens: usage?.completionTokens ?? null,
    total_tokens: usage?.totalTokens ?? null,
  };
}

const queryRoute: FastifyPluginAsyncZod<QueryRouteOptions> = async (app, { config, providers, health }) => {
  const cascadeSettings = { maxRetries: config.maxRetries, attemptTimeoutMs: config.providerTimeoutMs };

  app.post(
    '/query',
    {
      schema: {
        tags: ['gateway'],
        summary: 'Ask the providers, in cascade order, for one answer',
        security: [{ ApiKeyAuth: [] }, { BearerAuth: [] }],
        body: queryBodySchema,
        response: { 200: queryResponseSchema, ...protectedErrorResponses },
      },
      // A body past 64 KiB here is a prompt far past its 4,000 characters: the 413 names both.
      errorHandler(error, request, reply) {
        const tooLarge = (error as FastifyError).code === 'FST_ERR_CTP_BODY_TOO_LARGE';
        return app.errorHandler(tooLarge ? new GatewayError('payload_too_large', { message: PROMPT_TOO_LARGE, cause: error }) : error, request, reply);
      },
    },
    async (request, reply) => {
      const { prompt, max_tokens, temperature } = request.body;
      const completion = { messages: [{ role: 'user' as const, content: prompt }], maxTokens: max_tokens, temperature };
      const deadline = requestDeadline(reply, config.requestTimeoutMs);
      const attempts: AttemptRecord[] = [];
      try {
        const { value, provider } = await runCascade(
          providers,
          (p, signal) => p.complete(completion, signal),
          cascadeSettings,
          { deadline, health, log: request.log, attempts },
        );
        reply.header('x-llm-provider', provider.name);
        return {
          response: value.text,
          provider: provider.name,
          model: value.model,
          finish_reason: value.finishReason,
          latency_ms: Math.round(reply.elapsedTime),
          request_id: request.id,
          usage: usageBody(value.usage),
          attempts,
        };
      } catch (error) {
        return noAnswer(request, reply, attempts, error);
      } finally {
        deadline.dispose();
      }
    },
  );
};

export default queryRoute;
