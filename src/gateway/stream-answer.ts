// A streamed answer's trip. REQUEST_TIMEOUT_MS covers reaching the first token (each provider
// gets its first-token limit of it); nothing is written before then, so a stream that never
// starts still ends in a plain JSON 503/504. After the first token the budget no longer applies:
// the provider may stay silent for at most its attempt limit between chunks, and the rest of the
// stream may last at most maxStreamMs. A failure after that point counts against the provider and
// ends the stream with the sink's error event (no end-of-stream marker), never as a whole answer.
// With the answer cache on, a cached answer is replayed through the same sink (its text as the
// first chunk, then the finish) with no provider call, and a stream that finished with "stop" is
// kept whole; one that failed, was cut short or lost its caller is not.
import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { recordStreamFailure, type CascadeResult } from '../cascade/cascade.ts';
import { Deadline } from '../cascade/deadline.ts';
import { continueStream, runStreamCascade, type OpenedStream } from '../cascade/stream-cascade.ts';
import { GatewayError } from '../errors.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { CompletionChunk, CompletionRequest, FinishReason, Provider, TokenUsage, ToolCallDelta } from '../providers/types.ts';
import { callerLeft, type Answerer, type Gateway, type Trip } from './gateway.ts';
import type { CachedAnswer } from '../state/answer-cache.ts';
import { MAX_ENTRY_BYTES } from './answer-cache.ts';
import { exactModelCall, type ModelRoute } from './model-routing.ts';
import { disconnectSignal } from './disconnect-signal.ts';
import { addUsage, mayResume, resumeStream, type ResumeFrom } from './stream-resume.ts';
import { estimateTokens } from '../cascade/quotas.ts';

/** How a stream ended well. */
export interface StreamEnd {
  finishReason: FinishReason;
  usage: TokenUsage | undefined;
  /** Set when another provider finished the answer (STREAM_RESUME): its name and model. */
  continuedBy?: { provider: Answerer; model: string } | undefined;
}

/** What a route writes a stream with, once its first text is in hand. */
export interface StreamWriter {
  /** False once the client can no longer be written to. */
  readonly open: boolean;
  text(text: string): Promise<void>;
  /** Function-call pieces (only a route that sends tools gets them). */
  toolCalls?(deltas: ToolCallDelta[]): Promise<void>;
  finish(end: StreamEnd): Promise<void>;
  /** The error event that ends an answer cut short. */
  fail(error: GatewayError): Promise<void>;
  /** Ends the response (a no-op once ended). */
  end(): void;
}

/** Opens the route's writer: headers and the first text go out together. */
export type StreamSink = (opened: { provider: Answerer; first: CompletionChunk; model: string; clientGone: AbortSignal }) => Promise<StreamWriter>;

/** One shared reason: building a DOMException (it records a stack) for every stream costs. */
const RESPONSE_FINISHED = new DOMException('response finished', 'AbortError');

export async function streamAnswer(
  gateway: Gateway,
  trip: Trip,
  request: FastifyRequest,
  reply: FastifyReply,
  route: ModelRoute,
  completion: CompletionRequest,
  sink: StreamSink,
): Promise<FastifyReply> {
  const { cache } = gateway;
  const key = cache?.keyFor(request, route, completion);
  if (cache !== undefined && key !== undefined) {
    const hit = await cache.lookup(reply, key);
    if (hit !== undefined) return replay(request, reply, hit, sink);
  }
  const clientGone = disconnectSignal(reply);
  const deadline = new Deadline(gateway.settings.requestTimeoutMs, clientGone, gateway.clock);
  // The whole relay counts as waiting on the provider; the gateway's overhead is the rest.
  const waitStart = performance.now();
  const waited = () => {
    trip.providerMs = performance.now() - waitStart;
  };
  let started: CascadeResult<OpenedStream>;
  try {
    started = await runStreamCascade(
      route.providers,
      completion,
      { ...gateway.cascadeSettings(gateway.firstTokenTimeout, true), firstTokenTimeoutMs: gateway.firstTokenTimeout },
      {
        deadline,
        breakers: gateway.breakers,
        log: request.log,
        attempts: trip.attempts,
        exactModel: route.exactModel,
        client: request.clientId || undefined,
        quota: gateway.quotaFor(estimateTokens(completion.messages, completion.maxTokens)),
      },
      (call) => exactModelCall(route, call),
    );
  } catch (error) {
    waited();
    gateway.metrics.attempted(trip);
    return gateway.noAnswer(request, reply, trip, route, error);
  } finally {
    // From here on the budget no longer applies; the stream's own limits do.
    deadline.dispose();
  }

  const { value: opened, provider, ticket } = started;
  trip.provider = provider;
  gateway.metrics.attempted(trip);
  gateway.metrics.firstToken(trip, provider, reply.elapsedTime);
  // On the reply rather than only on the wire: the request's log line reads it from there.
  reply.header('x-llm-provider', provider.name);
  const model = opened.first.model ?? completion.model ?? provider.model;
  const writer = await sink({ provider, first: opened.first, model, clientGone });
  // The last chunk carries the finish reason and, when known, the usage.
  let finishReason: FinishReason | undefined = opened.first.finishReason;
  let usage: TokenUsage | undefined = opened.first.usage;
  // The whole text, for the cache; given up once it is too large to keep.
  let kept: string | undefined = key === undefined ? undefined : opened.first.text;
  // The text sent so far, kept only when a broken stream may be resumed (STREAM_RESUME).
  const resume = gateway.settings.streamResume === true;
  let sent = resume ? opened.first.text : '';
  try {
    const limits = { idleMs: gateway.settings.timeouts(provider).attemptMs, totalMs: gateway.settings.maxStreamMs, cancel: clientGone, clock: gateway.clock };
    // Leaving this loop early (the client went away) aborts the upstream call.
    for await (const piece of continueStream(provider, opened, limits)) {
      if (piece.toolCalls !== undefined && piece.toolCalls.length > 0) await writer.toolCalls?.(piece.toolCalls);
      if (piece.text !== '') await writer.text(piece.text);
      if (kept !== undefined) kept = kept.length > MAX_ENTRY_BYTES ? undefined : kept + piece.text;
      if (resume) sent += piece.text;
      finishReason = piece.finishReason ?? finishReason;
      usage = piece.usage ?? usage;
      trip.skippedEvents = piece.skippedEvents ?? trip.skippedEvents;
      if (!writer.open) break;
    }
    waited();
    trip.usage = usage;
    gateway.metrics.tokens(trip, provider, request.clientId, usage);
    if (ticket !== undefined) gateway.quotas?.settle(ticket, usage);
    if (clientGone.aborted || !writer.open) {
      callerLeft(request, reply);
      return reply;
    }
    if (finishReason === undefined) {
      throw new ProviderError(provider.name, 'bad_response', `${provider.name} stream ended without a finish reason`);
    }
    await writer.finish({ finishReason, usage });
    if (cache !== undefined && key !== undefined && kept !== undefined && writer.open && !clientGone.aborted) {
      cache.keep(key, provider.name, { text: kept, model, finishReason, ...(usage === undefined ? {} : { usage }) });
    }
  } catch (error) {
    waited();
    if (clientGone.aborted) {
      callerLeft(request, reply);
      return reply;
    }
    const gatewayError = midStreamError(gateway, request, provider, route, error);
    request.log.warn({ provider: provider.name, code: gatewayError.code }, 'stream failed after it had started');
    if (resume && mayResume(error) && (await finishElsewhere({ gateway, trip, request, route, completion, broken: provider, sent, writer, clientGone }, model, usage))) {
      if (clientGone.aborted || !writer.open) callerLeft(request, reply);
      return reply;
    }
    if (!clientGone.aborted) await writer.fail(gatewayError);
  } finally {
    writer.end();
    // Normally finished already (then this changes nothing); otherwise nothing may keep it running.
    if (!opened.upstream.signal.aborted) opened.upstream.abort(RESPONSE_FINISHED);
  }
  return reply;
}

/**
 * Has the next provider that can continue finish the answer (stream-resume.ts); true once the
 * answer ended, false when none could take it on (the caller writes the error event).
 */
async function finishElsewhere(from: ResumeFrom, model: string, usage: TokenUsage | undefined): Promise<boolean> {
  const { request, writer, clientGone } = from;
  let resumed;
  try {
    resumed = await resumeStream(from);
  } catch (error) {
    if (clientGone.aborted) return true;
    // The continuation broke too: once is enough, the answer ends with the error event.
    const provider = error instanceof ProviderError ? error.provider : 'unknown';
    request.log.warn({ provider, err: error }, 'resumed stream failed too');
    return false;
  }
  if (resumed === undefined) return false;
  if (clientGone.aborted || !writer.open) return true;
  request.log.info({ provider: from.broken.name, model, resumed_by: resumed.provider.name }, 'stream finished by another provider');
  await writer.finish({ finishReason: resumed.finishReason, usage: addUsage(usage, resumed.usage), continuedBy: { provider: resumed.provider, model: resumed.model } });
  return true;
}

/** A cached answer as a stream: its text in the first chunk, then the finish, and no provider call. */
async function replay(request: FastifyRequest, reply: FastifyReply, hit: CachedAnswer, sink: StreamSink): Promise<FastifyReply> {
  reply.header('x-llm-provider', hit.provider);
  const clientGone = disconnectSignal(reply);
  const writer = await sink({ provider: { name: hit.provider }, first: { text: hit.text, model: hit.model }, model: hit.model, clientGone });
  try {
    await writer.finish({ finishReason: 'stop', usage: hit.usage });
  } finally {
    writer.end();
  }
  if (clientGone.aborted) callerLeft(request, reply);
  return reply;
}

/** A failure after the first token: counts against the provider, and reads as a safe message. */
function midStreamError(gateway: Gateway, request: FastifyRequest, provider: Provider, route: ModelRoute, error: unknown): GatewayError {
  if (!(error instanceof ProviderError)) {
    request.log.error({ err: error, provider: provider.name }, 'stream failed with an unexpected error');
    return new GatewayError('internal_error');
  }
  recordStreamFailure(gateway.breakers, provider, route.exactModel, error, request.clientId || undefined);
  if (error.kind === 'timeout') {
    return new GatewayError('upstream_timeout', { message: 'The provider stopped sending the answer in time; the answer is incomplete.' });
  }
  return new GatewayError('providers_unavailable', { message: 'The provider failed while sending the answer; the answer is incomplete.' });
}
