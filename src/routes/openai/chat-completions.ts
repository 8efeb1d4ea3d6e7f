// POST /v1/chat/completions: OpenAI's Chat Completions over the provider cascade, as one JSON
// answer or, with stream: true, as server-sent events.
//
// Time limits for a stream: REQUEST_TIMEOUT_MS covers reaching the first token (each provider
// gets FIRST_TOKEN_TIMEOUT_MS of it); no header is sent before then, so a stream that never
// starts still ends in a plain JSON 503/504. After the first token the budget no longer applies:
// the provider may stay silent for at most PROVIDER_TIMEOUT_MS between chunks, and the rest of
// the stream may last at most MAX_STREAM_MS. A failure after that point ends the stream with an
// error event and no [DONE].
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Config } from '../../config.ts';
import { runCascade, type AttemptRecord } from '../../cascade/cascade.ts';
import { Deadline } from '../../cascade/deadline.ts';
import type { Breakers } from '../../cascade/breakers.ts';
import { continueStream, runStreamCascade, type OpenedStream } from '../../cascade/stream-cascade.ts';
import { GatewayError, openAiErrorBody } from '../../errors.ts';
import { ProviderError } from '../../providers/provider-error.ts';
import type { CompletionChunk, CompletionRequest, FinishReason, Provider, TokenUsage } from '../../providers/types.ts';
import { chatCompletionBodySchema, chatCompletionSchema, openAiErrorResponses, type ChatCompletion, type ChatCompletionBody } from '../../schemas/openai.ts';
import { exactModelCall, resolveModel, routeFailure, type ModelRoute } from '../../gateway/model-routing.ts';
import { completionId, publicModel, StreamChunks, toCompletionRequest, toOpenAiFinishReason, toOpenAiUsage, unixSeconds } from './openai-mapping.ts';
import { disconnectSignal, noAnswer, requestDeadline } from '../../gateway/request-deadline.ts';
import { SseWriter } from './sse.ts';

/** The longest a stream may run after its first token. */
export const MAX_STREAM_MS = 5 * 60_000;

export interface ChatCompletionsRouteOptions {
  config: Config;
  providers: readonly Provider[];
  health: Breakers;
}

const chatCompletionsRoute: FastifyPluginAsyncZod<ChatCompletionsRouteOptions> = async (app, { config, providers, health }) => {
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
      const route = resolveModel(body.model, providers);
      const completion = toCompletionRequest(body, route.exactModel);
      if (body.stream === true) return streamAnswer(request, reply, body, route, completion);
      return wholeAnswer(request, reply, route, completion);
    },
  );

  async function wholeAnswer(request: FastifyRequest, reply: FastifyReply, route: ModelRoute, completion: CompletionRequest): Promise<ChatCompletion | FastifyReply> {
    const deadline = requestDeadline(reply, config.requestTimeoutMs);
    const attempts: AttemptRecord[] = [];
    try {
      const { value, provider } = await runCascade(
        route.providers,
        exactModelCall(route, (p, signal) => p.complete(completion, signal)),
        { maxRetries: config.maxRetries, attemptTimeoutMs: config.providerTimeoutMs },
        { deadline, health, log: request.log, attempts, exactModel: route.exactModel },
      );
      reply.header('x-llm-provider', provider.name);
      return {
        id: completionId(),
        object: 'chat.completion',
        created: unixSeconds(),
        model: publicModel(provider.name, value.model),
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: value.text, refusal: null },
            logprobs: null,
            finish_reason: toOpenAiFinishReason(value.finishReason),
          },
        ],
        usage: toOpenAiUsage(value.usage),
      };
    } catch (error) {
      return failed(request, reply, route, attempts, error);
    } finally {
      deadline.dispose();
    }
  }

  async function streamAnswer(
    request: FastifyRequest,
    reply: FastifyReply,
    body: ChatCompletionBody,
    route: ModelRoute,
    completion: CompletionRequest,
  ): Promise<FastifyReply> {
    const clientGone = disconnectSignal(reply);
    const deadline = new Deadline(config.requestTimeoutMs, clientGone);
    const attempts: AttemptRecord[] = [];
    let started: { value: OpenedStream; provider: Provider };
    try {
      started = await runStreamCascade(
        route.providers,
        completion,
        { maxRetries: config.maxRetries, firstTokenTimeoutMs: config.firstTokenTimeoutMs },
        { deadline, health, log: request.log, attempts, exactModel: route.exactModel },
        (call) => exactModelCall(route, call),
      );
    } catch (error) {
      return failed(request, reply, route, attempts, error);
    } finally {
      // From here on the budget no longer applies; the stream's own limits do.
      deadline.dispose();
    }

    const { value: opened, provider } = started;
    const includeUsage = body.stream_options?.include_usage === true;
    const chunks = new StreamChunks({
      id: completionId(),
      created: unixSeconds(),
      model: publicModel(provider.name, opened.first.model ?? completion.model ?? provider.model),
      includeUsage,
    });
    // On the reply rather than only on the wire: the request's log line reads it from there.
    reply.header('x-llm-provider', provider.name);
    const sse = new SseWriter(reply);

    // The last chunk carries the finish reason and, when known, the usage.
    const end: { finishReason?: FinishReason; usage?: TokenUsage } = {};
    const note = (piece: CompletionChunk) => {
      end.finishReason = piece.finishReason ?? end.finishReason;
      end.usage = piece.usage ?? end.usage;
    };
    try {
      // The role chunk and the first text leave together, with the response headers.
      await sse.sendAll([chunks.role(), chunks.text(opened.first.text)], clientGone);
      note(opened.first);
      // Leaving this loop early (the client went away) aborts the upstream call.
      for await (const piece of continueStream(provider, opened, { idleMs: config.providerTimeoutMs, totalMs: MAX_STREAM_MS, cancel: clientGone })) {
        if (piece.text !== '') await sse.send(chunks.text(piece.text), clientGone);
        note(piece);
        if (!sse.open) break;
      }
      if (clientGone.aborted || !sse.open) {
        logCancelled(request, provider, attempts);
        return reply;
      }
      if (end.finishReason === undefined) {
        throw new ProviderError(provider.name, 'bad_response', `${provider.name} stream ended without a finish reason`);
      }
      const finish = chunks.finish(toOpenAiFinishReason(end.finishReason));
      await sse.sendAll(includeUsage ? [finish, chunks.usage(end.usage), '[DONE]'] : [finish, '[DONE]'], clientGone);
    } catch (error) {
      if (clientGone.aborted) {
        logCancelled(request, provider, attempts);
        return reply;
      }
      const gatewayError = midStreamError(request.log, provider, route, error);
      request.log.warn({ attempts, provider: provider.name, code: gatewayError.code }, 'stream failed after it had started');
      // The error event ends the stream; without [DONE] no client mistakes it for a whole answer.
      await sse.send(openAiErrorBody(gatewayError, request.id), clientGone);
    } finally {
      sse.end();
      // Normally finished already (then this changes nothing); otherwise nothing may keep it running.
      if (!opened.upstream.signal.aborted) opened.upstream.abort(RESPONSE_FINISHED);
    }
    return reply;
  }

  /** Answers for a cascade that produced nothing: an error, or silence for a caller who left. */
  function failed(request: FastifyRequest, reply: FastifyReply, route: ModelRoute, attempts: AttemptRecord[], error: unknown): FastifyReply {
    return noAnswer(request, reply, attempts, error, (cause) => routeFailure(route, attempts, cause));
  }

  /** A failure after the first token: counts against the provider, and reads as a safe message. */
  function midStreamError(log: FastifyBaseLogger, provider: Provider, route: ModelRoute, error: unknown): GatewayError {
    if (!(error instanceof ProviderError)) {
      log.error({ err: error, provider: provider.name }, 'stream failed with an unexpected error');
      return new GatewayError('internal_error');
    }
    health.recordFailure({ provider: provider.name, model: route.exactModel }, error);
    if (error.kind === 'timeout') {
      return new GatewayError('upstream_timeout', { message: 'The provider stopped sending the answer in time; the answer is incomplete.' });
    }
    return new GatewayError('providers_unavailable', { message: 'The provider failed while sending the answer; the answer is incomplete.' });
  }
};

/** One shared reason: building a DOMException (it records a stack) for every stream costs. */
const RESPONSE_FINISHED = new DOMException('response finished', 'AbortError');

/** The request's last line, as 'request completed' would have been: it names the client (never the key). */
function logCancelled(request: FastifyRequest, provider: Provider, attempts: AttemptRecord[]): void {
  request.log.info({ attempts, provider: provider.name, status: 499, client: request.clientId }, 'client disconnected during the stream');
}

export default chatCompletionsRoute;
