// POST /v1/responses: OpenAI's Responses API over the provider cascade, stateless: each request
// carries its whole conversation and nothing is kept. One `response` object, or with stream: true
// the Responses event sequence (time limits and failure rules: gateway/stream-answer.ts).
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { StreamSink } from '../../gateway/stream-answer.ts';
import { openAiErrorResponses } from '../../schemas/openai.ts';
import { responseBodySchema, responseObjectSchema, type ResponseBody } from '../../schemas/responses.ts';
import { publicModel } from './openai-mapping.ts';
import { ResponseEvents, responseIdentity, responseObject, responseStatus, toCompletionRequest } from './responses-mapping.ts';
import { SseWriter } from './sse.ts';

const responsesRoute: FastifyPluginAsyncZod = async (app) => {
  const { gateway } = app;

  app.post(
    '/responses',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI-compatible Responses API (stateless), streamed or not, through the provider cascade',
        security: [{ BearerAuth: [] }, { ApiKeyAuth: [] }],
        body: responseBodySchema,
        response: { 200: responseObjectSchema, ...openAiErrorResponses },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const route = gateway.chatRoute(body.model);
      const completion = toCompletionRequest(body, route.exactModel);
      if (body.stream === true) {
        return gateway.stream(request, reply, route, completion, responseEventSink(reply, request.id, body));
      }
      return gateway.complete(request, reply, route, completion, ({ value, provider }) =>
        responseObject(responseIdentity(body, publicModel(provider.name, value.model)), {
          ...responseStatus(value.finishReason),
          text: value.text,
          usage: value.usage,
        }),
      );
    },
  );
};

/** The answer as Responses events, ending in response.completed, or in error and response.failed when cut short. */
function responseEventSink(reply: FastifyReply, requestId: string, body: ResponseBody): StreamSink {
  return async ({ provider, first, model, clientGone }) => {
    const events = new ResponseEvents(responseIdentity(body, publicModel(provider.name, model)));
    const sse = new SseWriter(reply);
    // The opening events and the first text leave together, with the response headers.
    await sse.sendNamed(first.text === '' ? events.start() : [...events.start(), events.delta(first.text)], clientGone);
    return {
      get open() {
        return sse.open;
      },
      text: (text) => sse.sendNamed([events.delta(text)], clientGone),
      finish: ({ finishReason, usage }) => sse.sendNamed(events.finish(finishReason, usage), clientGone),
      fail: (error) => sse.sendNamed(events.fail(error, requestId), clientGone),
      end: () => sse.end(),
    };
  };
}

export default responsesRoute;
