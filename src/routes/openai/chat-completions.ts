// POST /v1/chat/completions: OpenAI's Chat Completions over the provider cascade, as one JSON
// answer or, with stream: true, as server-sent events (time limits: gateway/stream-answer.ts).
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { openAiErrorBody } from '../../errors.ts';
import type { StreamSink } from '../../gateway/stream-answer.ts';
import { chatCompletionBodySchema, chatCompletionSchema, openAiErrorResponses } from '../../schemas/openai.ts';
import { completionId, publicModel, StreamChunks, toCompletionRequest, toOpenAiFinishReason, toOpenAiUsage, unixSeconds } from './openai-mapping.ts';
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
            message: { role: 'assistant' as const, content: value.text, refusal: null },
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
    // The role chunk and the first text leave together, with the response headers.
    await sse.sendAll([chunks.role(), chunks.text(first.text)], clientGone);
    return {
      get open() {
        return sse.open;
      },
      text: (text) => sse.send(chunks.text(text), clientGone),
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
