// The one owner of a request's trip through the providers. A route validates, hands the gateway
// what to ask for, and maps the answer; the gateway makes the deadline, ties it to the caller's
// connection, runs the cascade, names the provider that answered (x-llm-provider), keeps the
// attempts for the request's summary log line, and turns a failure into the caller's error. A
// caller who left gets silence. It records the trip's metrics (attempts, fallbacks, tokens, time
// to first token, and the time spent waiting on providers that the gateway's overhead excludes)
// here, once; quota checks and usage records hook in here too.
import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { runCascade, RequestCancelledError, type AttemptCall, type AttemptRecord } from '../cascade/cascade.ts';
import type { Breakers } from '../cascade/breakers.ts';
import { systemClock, type Clock } from '../cascade/clock.ts';
import { Deadline } from '../cascade/deadline.ts';
import type { GatewayMetrics, Operation } from '../metrics/metrics.ts';
import { endRequestMetrics } from '../plugins/metrics.ts';
import type { Completion, CompletionRequest, EmbeddingRequest, Embeddings, Provider, TokenUsage } from '../providers/types.ts';
import { exactModelCall, resolveModel, routeFailure, type ModelRoute } from './model-routing.ts';
import { logRequest } from '../plugins/request-log.ts';
import { disconnectSignal } from './disconnect-signal.ts';
import { streamAnswer, type StreamSink } from './stream-answer.ts';

export interface ProviderTimeouts {
  /** A whole answer, and the longest silence allowed inside a stream. */
  attemptMs: number;
  /** A stream's first text. */
  firstTokenMs: number;
}

export interface GatewaySettings {
  maxRetries: number;
  requestTimeoutMs: number;
  /** Each provider's own limits (a local runtime loading a model is slow to its first token). */
  timeouts: (provider: Provider) => ProviderTimeouts;
  /** The longest a stream may run after its first token. */
  maxStreamMs: number;
  metrics: GatewayMetrics;
  clock?: Clock;
  random?: () => number;
}

/** What the caller gets back from a cascade that answered. */
export interface Answer<T> {
  value: T;
  provider: Provider;
  attempts: AttemptRecord[];
}

export type EmbeddingProvider = Provider & { embed: NonNullable<Provider['embed']> };

const canEmbed = (provider: Provider): provider is EmbeddingProvider => typeof provider.embed === 'function';

/** What the request's summary line and its metrics report about its trip. */
export interface Trip {
  attempts: AttemptRecord[];
  operation: Operation;
  /** The model the caller named ("provider/model-id"), when it named one. */
  exactModel: string | undefined;
  /** The provider that answered, once one has. */
  provider: Provider | undefined;
  /** Time spent waiting on providers: the cascade (backoff included) and, for a stream, its relay. */
  providerMs: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once the request reaches the gateway. */
    trip: Trip | null;
  }
}

/** The caller went away: its request's summary line and metrics say so, as nothing else will. */
export function callerLeft(request: FastifyRequest, reply: FastifyReply): void {
  logRequest(request, reply, true);
  endRequestMetrics(request, reply, true);
}

export class Gateway {
  readonly providers: readonly Provider[];
  readonly embedders: readonly EmbeddingProvider[];
  readonly breakers: Breakers;
  readonly settings: GatewaySettings;
  readonly clock: Clock;
  readonly metrics: GatewayMetrics;
  readonly #attemptMs = (p: Provider) => this.settings.timeouts(p).attemptMs;
  readonly #firstTokenMs = (p: Provider) => this.settings.timeouts(p).firstTokenMs;

  constructor(providers: readonly Provider[], breakers: Breakers, settings: GatewaySettings) {
    this.providers = providers;
    this.embedders = providers.filter(canEmbed);
    this.breakers = breakers;
    this.settings = settings;
    this.clock = settings.clock ?? systemClock;
    this.metrics = settings.metrics;
  }

  /** The providers a request may be sent to now: configured, and their breaker ready. */
  usableProviders(): Provider[] {
    return this.providers.filter((p) => this.breakers.state({ provider: p.name }) === 'ready');
  }

  /** What a request's `model` names among the chat providers. */
  chatRoute(model: string | null | undefined): ModelRoute {
    return resolveModel(model, this.providers);
  }

  /** What a request's `model` names among the providers that embed. */
  embeddingRoute(model: string | null | undefined): ModelRoute<EmbeddingProvider> {
    return resolveModel(model, this.embedders, 'embeddings');
  }

  /** One whole answer; `answer` maps it to the route's body. */
  complete<R>(request: FastifyRequest, reply: FastifyReply, route: ModelRoute, completion: CompletionRequest, answer: (a: Answer<Completion>) => R): Promise<R | FastifyReply> {
    return this.#whole(request, reply, route, 'chat', (p, signal) => p.complete(completion, signal), (c) => c.usage, answer);
  }

  /** Embeddings; an embedding model's breaker is its own, apart from the provider's chat model. */
  embed<R>(request: FastifyRequest, reply: FastifyReply, route: ModelRoute<EmbeddingProvider>, embedding: EmbeddingRequest, answer: (a: Answer<Embeddings>) => R): Promise<R | FastifyReply> {
    return this.#whole(
      request,
      reply,
      route,
      'embeddings',
      (p, signal) => (p as EmbeddingProvider).embed(embedding, signal),
      (e) => e.usage,
      answer,
      (p) => (p as EmbeddingProvider).embeddingModel,
    );
  }

  /** A streamed answer written to `sink`; see stream-answer.ts for its time limits. */
  stream(request: FastifyRequest, reply: FastifyReply, route: ModelRoute, completion: CompletionRequest, sink: StreamSink): Promise<FastifyReply> {
    return streamAnswer(this, this.#trip(request, route, 'chat'), request, reply, route, completion, sink);
  }

  async #whole<T, R>(
    request: FastifyRequest,
    reply: FastifyReply,
    route: ModelRoute,
    operation: Operation,
    call: AttemptCall<T>,
    usage: (value: T) => TokenUsage | undefined,
    answer: (a: Answer<T>) => R,
    breakerModel?: (provider: Provider) => string | undefined,
  ): Promise<R | FastifyReply> {
    const trip = this.#trip(request, route, operation);
    const deadline = new Deadline(this.settings.requestTimeoutMs, disconnectSignal(reply), this.clock);
    const waitStart = performance.now();
    try {
      const { value, provider } = await runCascade(route.providers, exactModelCall(route, call), this.cascadeSettings(this.#attemptMs), {
        deadline,
        breakers: this.breakers,
        log: request.log,
        attempts: trip.attempts,
        exactModel: route.exactModel,
        breakerModel,
      });
      trip.providerMs = performance.now() - waitStart;
      trip.provider = provider;
      this.metrics.attempted(trip);
      this.metrics.tokens(trip, provider, request.clientId, usage(value));
      reply.header('x-llm-provider', provider.name);
      return answer({ value, provider, attempts: trip.attempts });
    } catch (error) {
      if (trip.provider === undefined) {
        trip.providerMs = performance.now() - waitStart;
        this.metrics.attempted(trip);
      }
      return this.noAnswer(request, reply, trip, route, error);
    } finally {
      deadline.dispose();
    }
  }

  cascadeSettings(timeout: (provider: Provider) => number) {
    return { maxRetries: this.settings.maxRetries, attemptTimeoutMs: timeout, ...(this.settings.random ? { random: this.settings.random } : {}) };
  }

  get firstTokenTimeout() {
    return this.#firstTokenMs;
  }

  /**
   * For a cascade that produced nothing: a caller who left gets silence (the socket is dropped
   * without writing); anyone else gets the error, worded for the route.
   */
  noAnswer(request: FastifyRequest, reply: FastifyReply, trip: Trip, route: ModelRoute, error: unknown): FastifyReply {
    if (error instanceof RequestCancelledError) {
      callerLeft(request, reply);
      reply.hijack();
      reply.raw.destroy();
      return reply;
    }
    throw routeFailure(route, trip.attempts, error);
  }

  #trip(request: FastifyRequest, route: ModelRoute, operation: Operation): Trip {
    const trip: Trip = { attempts: [], operation, exactModel: route.exactModel, provider: undefined, providerMs: 0 };
    request.trip = trip;
    return trip;
  }
}
