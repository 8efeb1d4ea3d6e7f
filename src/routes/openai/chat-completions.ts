// POST /v1/chat/completions: OpenAI's Chat Completions over the provider cascade, as one JSON
// answer or, with stream: true, as server-sent events (time limits: gateway/stream-answer.ts).
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { openAiErrorBody } from '../../errors.ts';
import type { StreamSink } from '../../gateway/stream-answer.ts';
import { chatCompletionBodySchema, chatCompletionSchema, openAiErrorResponses } from '../../schemas/openai.ts';
import { completionId, publicModel, StreamChunks, toCompletionRequest, toOpenAiFinishReason, toOpenAiToolCalls, toOpenAiUsage, unixSeconds } from './openai-mapping.ts';
import { refuseInexpressible } from './gemini-only.ts';
import { SseWriter } from './sse.ts';

const chatCompletionsRoute: FastifyPluginAsyncZod = async (app) => {
  const { gateway } = app;

  app.post(
    '/chat/completions',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI-compatible chat completion, streamed or not, through the provider cascade',
        security: [{ BearerAuth: [] }, { ApiKeyAuth: [] }],
        body: chatCompletionBodySchema,
        response: { 200: chatCompletionSchema, ...openAiErrorResponses },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const route = gateway.chatRoute(body.model);
      const completion = toCompletionRequest(body, route.exactModel);
      refuseInexpressible(route.providers, completion, { tool: (i) => `tools.${i}.function.parameters`, format: 'response_format.json_schema.schema' });
      if (body.stream === true) {
        return gateway.stream(request, reply, route, completion, chatChunkSink(reply, request.id, body.stream_options?.include_usage === true));
      }
      return gateway.complete(request, reply, route, completion, ({ value, provider }) => ({
        id: completionId(),
        object: 'chat.completion' as const,
        created: unixSeconds(),
        model: publicModel(provider.name, value.model),
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant' as const,
              // OpenAI's answer that only calls functions has null content.
              content: value.text === '' && value.toolCalls ? null : value.text,
              refusal: null,
              ...(value.toolCalls && { tool_calls: toOpenAiToolCalls(value.toolCalls) }),
            },
            logprobs: null,
            finish_reason: toOpenAiFinishReason(value.finishReason),
          },
        ],
        usage: toOpenAiUsage(value.usage),
      }));
    },
  );
};

/** The answer as `chat.completion.chunk` events, ending in [DONE], or in an error event when cut short. */
function chatChunkSink(reply: FastifyReply, requestId: string, includeUsage: boolean): StreamSink {
  return async ({ provider, first, model, clientGone }) => {
    const identity = { id: completionId(), created: unixSeconds(), model: publicModel(provider.name, model), includeUsage };
    const chunks = new StreamChunks(identity);
    const sse = new SseWriter(reply);
    // The role chunk and the first text (or function-call piece) leave together, with the response headers.
    const opening = [chunks.role()];
    if (first.toolCalls !== undefined && first.toolCalls.length > 0) opening.push(chunks.toolCalls(first.toolCalls));
    if (first.text !== '') opening.push(chunks.text(first.text));
    await sse.sendAll(opening, clientGone);
    return {
      get open() {
        return sse.open;
      },
      text: (text) => sse.send(chunks.text(text), clientGone),
      toolCalls: (deltas) => sse.send(chunks.toolCalls(deltas), clientGone),
      finish: ({ finishReason, usage, continuedBy }) => {
        // An answer another provider finished (STREAM_RESUME): the last chunks name both models.
        const last = continuedBy === undefined ? chunks : new StreamChunks({ ...identity, model: `${identity.model},${publicModel(continuedBy.provider.name, continuedBy.model)}` });
        const finish = last.finish(toOpenAiFinishReason(finishReason));
        return sse.sendAll(includeUsage ? [finish, last.usage(usage), '[DONE]'] : [finish, '[DONE]'], clientGone);
      },
      // The error event ends the stream; without [DONE] no client mistakes it for a whole answer.
      fail: (error) => sse.send(openAiErrorBody(error, requestId), clientGone),
      end: () => sse.end(),
    };
  };
}

export default chatCompletionsRoute;
