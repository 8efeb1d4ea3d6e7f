// The one owner of a request's trip through the providers. A route validates, hands the gateway
// what to ask for, and maps the answer; the gateway makes the deadline, ties it to the caller's
// connection, runs the cascade, names the provider that answered (x-llm-provider), keeps the
// attempts for the request's summary log line, and turns a failure into the caller's error. A
// caller who left gets silence. It records the trip's metrics (attempts, fallbacks, tokens, time
// to first token, and the time spent waiting on providers that the gateway's overhead excludes)
// here, once; so does the answer cache (answer-cache.ts): looked up before the cascade, fed after
// a whole answer. Quota checks and usage records hook in here too.
import { performance } from 'node:perf_hooks';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { runCascade, RequestCancelledError, type AttemptCall, type AttemptRecord, type ContentFilterRule } from '../cascade/cascade.ts';
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
import { collectAnswer } from '../cascade/stream-cascade.ts';
import { completionOf, type AnswerCache } from './answer-cache.ts';
import { estimateTokens, type Quotas } from '../cascade/quotas.ts';
import { permittedRoute } from '../clients/permissions.ts';
import type { Policy } from '../clients/keys-file.ts';
import type { Reservation } from '../state/client-quota-store.ts';
import { tokenBound, type TokenQuota } from './token-quota.ts';

export interface ProviderTimeouts {
  /** The longest silence allowed once the provider has shown a sign of life (PROVIDER_TIMEOUT_MS). */
  attemptMs: number;
  /** How long it may take to show one: a first token, or reasoning (FIRST_TOKEN_TIMEOUT_MS). */
  firstTokenMs: number;
}

export interface GatewaySettings {
  maxRetries: number;
  /** ON_CONTENT_FILTER: answer a content refusal ('stop', the default) or ask the next provider. */
  onContentFilter?: ContentFilterRule;
  /** RETRY_AFTER_WAIT_MAX_MS: the first provider's Retry-After up to this is waited out once. */
  retryAfterWaitMaxMs?: number;
  /** STREAM_RESUME: a stream broken after its first text is continued by the next provider that takes a prefill. */
  streamResume?: boolean;
  /** Whether a provider continues a trailing partial assistant turn (its registry row's 'prefill'). */
  canPrefill?: (provider: Provider) => boolean;
  /** HEDGE_AFTER_MS: chat answers start the next provider beside a first one silent this long; undefined: off. */
  hedgeAfterMs?: number | undefined;
  requestTimeoutMs: number;
  /** Each provider's own limits (a local runtime loading a model is slow to its first token). */
  timeouts: (provider: Provider) => ProviderTimeouts;
  /** The longest an answer may run after the provider's first sign of life. */
  maxStreamMs: number;
  clock?: Clock;
  random?: () => number;
  /** Set when CACHE_TTL_S turns the answer cache on. */
  cache?: AnswerCache | undefined;
  metrics: GatewayMetrics;
  /** Each provider's quota, checked before each attempt (cascade/quotas.ts). */
  quotas?: Quotas | undefined;
  /** Tokens per day per client, for tiers that set tokens_per_day. */
  quota?: TokenQuota | undefined;
}

/** Who gave an answer: a provider, or the cache replaying one a provider gave. */
export type Answerer = Pick<Provider, 'name'>;

/** What the caller gets back from a cascade that answered, or from the cache. */
export interface Answer<T> {
  value: T;
  provider: Answerer;
  /** Empty for an answer from the cache. */
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
  /** Events of the answering provider's stream skipped because they did not parse. */
  skippedEvents?: number | undefined;
  /** The answer's token counts, as its provider gave them. */
  usage?: TokenUsage | undefined;
}

/** The request as the client's policy allows it: its model checked, its max_tokens capped. */
function withinPolicy(policy: Policy | undefined, completion: CompletionRequest): CompletionRequest {
  const ceiling = policy?.maxTokens;
  return ceiling === undefined || completion.maxTokens <= ceiling ? completion : { ...completion, maxTokens: ceiling };
}

const textsOf = (completion: CompletionRequest): string[] => completion.messages.map((m) => m.content);

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

/** One whole-answer trip: what to ask each provider, and how to read and map the answer. */
interface WholeTrip<T, R> {
  operation: Operation;
  call: AttemptCall<T>;
  usage: (value: T) => TokenUsage | undefined;
  /** Events of the answer's stream skipped as unparseable, for the summary line. */
  skipped?: (value: T) => number | undefined;
  answer: (a: Answer<T>) => R;
  /** The model whose breaker an attempt counts against, when not the provider's chat model. */
  breakerModel?: (provider: Provider) => string | undefined;
  /** How long an attempt may take to show a sign of life. */
  timeout: (provider: Provider) => number;
  /** The request's estimated tokens, for the providers' quotas. */
  tokens: number;
  /** Chat answers may be hedged (HEDGE_AFTER_MS); embeddings are not. */
  hedge: boolean;
  /** The most tokens the call can use, for the client's token quota. */
  bound: number;
}

export class Gateway {
  readonly providers: readonly Provider[];
  readonly embedders: readonly EmbeddingProvider[];
  readonly breakers: Breakers;
  readonly settings: GatewaySettings;
  readonly clock: Clock;
  readonly cache: AnswerCache | undefined;
  readonly metrics: GatewayMetrics;
  readonly quotas: Quotas | undefined;
  readonly #attemptMs = (p: Provider) => this.settings.timeouts(p).attemptMs;
  readonly #firstTokenMs = (p: Provider) => this.settings.timeouts(p).firstTokenMs;

  constructor(providers: readonly Provider[], breakers: Breakers, settings: GatewaySettings) {
    this.providers = providers;
    this.embedders = providers.filter(canEmbed);
    this.breakers = breakers;
    this.settings = settings;
    this.clock = settings.clock ?? systemClock;
    this.cache = settings.cache;
    this.metrics = settings.metrics;
    this.quotas = settings.quotas;
  }

  /** The cascade's quota check for a request of about this many tokens. */
  quotaFor(tokens: number): { quotas: Quotas; tokens: number } | undefined {
    return this.quotas === undefined ? undefined : { quotas: this.quotas, tokens };
  }

  /** Whether the provider may be asked to continue an answer another began (STREAM_RESUME). */
  canPrefill(provider: Provider): boolean {
    return this.settings.canPrefill?.(provider) ?? false;
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

  /**
   * One whole answer; `answer` maps it to the route's body. Asked for as a stream and put
   * together here, so that failover is decided by whether the provider is alive, not by the length
   * of its answer (see cascade/stream-cascade.ts).
   */
  complete<R>(request: FastifyRequest, reply: FastifyReply, asked: ModelRoute, wanted: CompletionRequest, answer: (a: Answer<Completion>) => R): Promise<R | FastifyReply> {
    const route = this.#permitted(request, asked);
    const completion = withinPolicy(request.policy, wanted);
    const key = this.cache?.keyFor(request, route, completion);
    if (key === undefined) return this.#whole(request, reply, route, this.#chat(completion, answer));
    return this.#cached(request, reply, route, completion, answer, this.cache as AnswerCache, key);
  }

  /** A whole chat answer, read from the provider's stream. */
  #chat<R>(completion: CompletionRequest, answer: (a: Answer<Completion>) => R): WholeTrip<Completion, R> {
    return {
      operation: 'chat',
      call: (p, signal, liveness) => collectAnswer(p, completion, signal, liveness),
      usage: (c) => c.usage,
      skipped: (c) => c.skippedEvents,
      answer,
      timeout: this.#firstTokenMs,
      tokens: estimateTokens(completion.messages, completion.maxTokens),
      hedge: true,
      bound: tokenBound(textsOf(completion), completion.maxTokens),
    };
  }

  /** A whole answer the cache may give: from it (no provider call), or from the cascade and then kept. */
  async #cached<R>(request: FastifyRequest, reply: FastifyReply, route: ModelRoute, completion: CompletionRequest, answer: (a: Answer<Completion>) => R, cache: AnswerCache, key: string): Promise<R | FastifyReply> {
    const hit = await cache.lookup(reply, key);
    if (hit !== undefined) {
      this.#trip(request, route, 'chat');
      reply.header('x-llm-provider', hit.provider);
      return answer({ value: completionOf(hit), provider: { name: hit.provider }, attempts: [] });
    }
    return this.#whole(
      request,
      reply,
      route,
      this.#chat(completion, (whole) => {
        cache.keep(key, whole.provider.name, whole.value);
        return answer(whole);
      }),
    );
  }

  /** Embeddings; an embedding model's breaker is its own, apart from the provider's chat model. */
  embed<R>(request: FastifyRequest, reply: FastifyReply, asked: ModelRoute<EmbeddingProvider>, embedding: EmbeddingRequest, answer: (a: Answer<Embeddings>) => R): Promise<R | FastifyReply> {
    const route = request.policy === undefined ? asked : permittedRoute(request.policy, asked, (p) => p.embeddingModel ?? p.model);
    return this.#whole(request, reply, route, {
      operation: 'embeddings',
      call: (p, signal) => (p as EmbeddingProvider).embed(embedding, signal),
      usage: (e) => e.usage,
      answer,
      breakerModel: (p) => (p as EmbeddingProvider).embeddingModel,
      timeout: this.#attemptMs,
      tokens: estimateTokens(embedding.inputs.map((content) => ({ role: 'user', content })), 0),
      hedge: false,
      bound: tokenBound(embedding.inputs, 0),
    });
  }

  /** A streamed answer written to `sink`; see stream-answer.ts for its time limits. */
  stream(request: FastifyRequest, reply: FastifyReply, asked: ModelRoute, wanted: CompletionRequest, sink: StreamSink): Promise<FastifyReply> {
    const route = this.#permitted(request, asked);
    const completion = withinPolicy(request.policy, wanted);
    const reserving = this.#reserve(request, tokenBound(textsOf(completion), completion.maxTokens));
    // Without a quota to take from, nothing to wait for: the trip starts in this same turn.
    if (reserving === undefined) return streamAnswer(this, this.#trip(request, route, 'chat'), request, reply, route, completion, sink);
    return this.#meteredStream(request, reply, route, completion, sink, reserving);
  }

  async #meteredStream(request: FastifyRequest, reply: FastifyReply, route: ModelRoute, completion: CompletionRequest, sink: StreamSink, reserving: Promise<Reservation | undefined>): Promise<FastifyReply> {
    const reservation = await reserving;
    const trip = this.#trip(request, route, 'chat');
    try {
      return await streamAnswer(this, trip, request, reply, route, completion, sink);
    } finally {
      this.#settle(request, trip, reservation);
    }
  }

  #permitted<P extends Provider>(request: FastifyRequest, route: ModelRoute<P>): ModelRoute<P> {
    return request.policy === undefined ? route : permittedRoute(request.policy, route);
  }

  /** Takes the call's tokens from the client's quota first; refuses with 429 quota_exceeded when they are spent. */
  #reserve(request: FastifyRequest, bound: number): Promise<Reservation | undefined> | undefined {
    const { quota } = this.settings;
    if (quota === undefined || request.policy?.tokensPerDay === undefined) return undefined;
    return quota.reserve(request.clientId, request.policy, bound);
  }

  /** Settles the reservation with the provider's count; a trip no provider answered gives it back. */
  #settle(request: FastifyRequest, trip: Trip, reservation: Reservation | undefined): void {
    const { quota } = this.settings;
    if (quota === undefined || reservation === undefined) return;
    if (trip.provider === undefined) quota.release(reservation, request.log);
    else quota.settle(reservation, trip.usage, request.log);
  }

  async #whole<T, R>(request: FastifyRequest, reply: FastifyReply, route: ModelRoute, whole: WholeTrip<T, R>): Promise<R | FastifyReply> {
    const reserving = this.#reserve(request, whole.bound);
    const reservation = reserving === undefined ? undefined : await reserving;
    const trip = this.#trip(request, route, whole.operation);
    const deadline = new Deadline(this.settings.requestTimeoutMs, disconnectSignal(reply), this.clock);
    const waitStart = performance.now();
    try {
      const { value, provider, ticket } = await runCascade(route.providers, exactModelCall(route, whole.call), this.cascadeSettings(whole.timeout, whole.hedge), {
        deadline,
        breakers: this.breakers,
        log: request.log,
        attempts: trip.attempts,
        exactModel: route.exactModel,
        breakerModel: whole.breakerModel,
        client: request.clientId || undefined,
        quota: this.quotaFor(whole.tokens),
      });
      trip.providerMs = performance.now() - waitStart;
      trip.provider = provider;
      trip.skippedEvents = whole.skipped?.(value);
      this.metrics.attempted(trip);
      trip.usage = whole.usage(value);
      this.metrics.tokens(trip, provider, request.clientId, trip.usage);
      if (ticket !== undefined) this.quotas?.settle(ticket, trip.usage);
      reply.header('x-llm-provider', provider.name);
      return whole.answer({ value, provider, attempts: trip.attempts });
    } catch (error) {
      if (trip.provider === undefined) {
        trip.providerMs = performance.now() - waitStart;
        this.metrics.attempted(trip);
      }
      return this.noAnswer(request, reply, trip, route, error);
    } finally {
      deadline.dispose();
      this.#settle(request, trip, reservation);
    }
  }

  cascadeSettings(timeout: (provider: Provider) => number, hedge: boolean) {
    return {
      maxRetries: this.settings.maxRetries,
      ...(hedge && this.settings.hedgeAfterMs !== undefined ? { hedgeAfterMs: this.settings.hedgeAfterMs } : {}),
      attemptTimeoutMs: timeout,
      stallTimeoutMs: this.#attemptMs,
      maxAnswerMs: this.settings.maxStreamMs,
      onContentFilter: this.settings.onContentFilter ?? 'stop',
      retryAfterWaitMaxMs: this.settings.retryAfterWaitMaxMs ?? 0,
      ...(this.settings.random ? { random: this.settings.random } : {}),
    };
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
