// POST /v1/responses: OpenAI's Responses API over the provider cascade, stateless: each request
// carries its whole conversation and nothing is kept. One `response` object, or with stream: true
// the Responses event sequence (time limits and failure rules: gateway/stream-answer.ts).
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { StreamSink } from '../../gateway/stream-answer.ts';
import { openAiErrorResponses } from '../../schemas/openai.ts';
import { responseBodySchema, responseObjectSchema, type ResponseBody } from '../../schemas/responses.ts';
import { refuseInexpressible } from './gemini-only.ts';
import { publicModel } from './openai-mapping.ts';
import { itemStatus, outputItems, ResponseEvents, responseIdentity, responseObject, responseStatus, toCompletionRequest } from './responses-mapping.ts';
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
      refuseInexpressible(route.providers, completion, { tool: (i) => `tools.${i}.parameters`, format: 'text.format.schema' });
      if (body.stream === true) {
        return gateway.stream(request, reply, route, completion, responseEventSink(reply, request.id, body));
      }
      return gateway.complete(request, reply, route, completion, ({ value, provider }) => {
        const identity = responseIdentity(body, publicModel(provider.name, value.model));
        const status = responseStatus(value.finishReason);
        return responseObject(identity, { ...status, output: outputItems(identity, value.text, value.toolCalls, itemStatus(status.status)), usage: value.usage });
      });
    },
  );
};

/** The answer as Responses events, ending in response.completed, or in error and response.failed when cut short. */
function responseEventSink(reply: FastifyReply, requestId: string, body: ResponseBody): StreamSink {
  return async ({ provider, first, model, clientGone }) => {
    const events = new ResponseEvents(responseIdentity(body, publicModel(provider.name, model)));
    const sse = new SseWriter(reply);
    // The opening events and the first text (or function-call piece) leave together, with the response headers.
    const calls = first.toolCalls ?? [];
    const opening = events.start(calls.length === 0 || first.text !== '');
    if (first.text !== '') opening.push(...events.delta(first.text));
    if (calls.length > 0) opening.push(...events.toolCalls(calls));
    await sse.sendNamed(opening, clientGone);
    return {
      get open() {
        return sse.open;
      },
      text: (text) => sse.sendNamed(events.delta(text), clientGone),
      toolCalls: (deltas) => sse.sendNamed(events.toolCalls(deltas), clientGone),
      finish: ({ finishReason, usage }) => sse.sendNamed(events.finish(finishReason, usage), clientGone),
      fail: (error) => sse.sendNamed(events.fail(error, requestId), clientGone),
      end: () => sse.end(),
    };
  };
}

export default responsesRoute;
