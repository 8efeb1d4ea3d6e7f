// POST /query: one prompt in, one answer out, through the provider cascade.
import type { FastifyError } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { GatewayError } from '../errors.ts';
import type { TokenUsage } from '../providers/types.ts';
import { protectedErrorResponses } from '../schemas/error.ts';
import { queryBodySchema, queryResponseSchema } from '../schemas/query.ts';

const PROMPT_TOO_LARGE = 'The request body is larger than 64 KiB; a prompt may hold at most 4,000 characters.';

export function usageBody(usage: TokenUsage | undefined) {
  return {
    prompt_tokens: usage?.promptTokens ?? null,
    completion_tokens: usage?.completionTokens ?? null,
    total_tokens: usage?.totalTokens ?? null,
    reasoning_tokens: usage?.reasoningTokens ?? null,
  };
}

const queryRoute: FastifyPluginAsyncZod = async (app) => {
  const { gateway } = app;

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
      return gateway.complete(request, reply, gateway.chatRoute(undefined), completion, ({ value, provider, attempts }) => ({
        response: value.text,
        provider: provider.name,
        model: value.model,
        // /query sends no tools, so no answer here calls one.
        finish_reason: value.finishReason === 'tool_calls' ? ('other' as const) : value.finishReason,
        latency_ms: Math.round(reply.elapsedTime),
        request_id: request.id,
        usage: usageBody(value.usage),
        attempts,
      }));
    },
  );
};

export default queryRoute;
