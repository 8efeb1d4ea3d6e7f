// The gateway's metrics in Prometheus' text format (prom-client), served at GET /metrics.
// Names follow OpenTelemetry's semantic conventions where one exists, as an OTLP-to-Prometheus
// exporter would write them (dots become underscores, a unit of seconds becomes a `_seconds`
// suffix, `{token}` is dropped): the HTTP server's duration and active requests, and the GenAI
// client's token usage and operation duration and the GenAI server's request duration and time to
// first token. What the gateway alone knows is `llm_router_*`. Label values come from
// labels.ts only, so no request adds a series. The request path records into children made once
// (children.ts); breaker state is read when Prometheus scrapes, not kept up to date per request.
//
// Later instruments are one declaration each, next to the others. Quotas are scrape-time gauges
// like the breakers' (`llm_router_quota_remaining{gen_ai_provider_name, gen_ai_request_model, window}`).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isSkip, type AttemptOutcome } from '../cascade/cascade.ts';
import type { Quotas } from '../cascade/quotas.ts';
import type { BreakerKey, BreakerSnapshot, Breakers } from '../cascade/breakers.ts';
import type { ErrorCode } from '../errors.ts';
import type { Provider, TokenUsage } from '../providers/types.ts';
import { Children } from './children.ts';
import { methodLabel, modelLabel, providerLabel, routeLabel } from './labels.ts';

/** `gen_ai.operation.name`: the two the gateway performs. */
export type Operation = 'chat' | 'embeddings';

/** What the metrics read from a request's trip (gateway.ts keeps it on the request). */
export interface TripView {
  readonly attempts: ReadonlyArray<{ provider: string; outcome: AttemptOutcome; latency_ms: number; hedge?: 'first' | 'second' }>;
  readonly operation: Operation;
  readonly exactModel: string | undefined;
  readonly provider: Provider | undefined;
  readonly providerMs: number;
}

const PROVIDER = 'gen_ai_provider_name';
const MODEL = 'gen_ai_request_model';
const OPERATION = 'gen_ai_operation_name';
const ERROR_TYPE = 'error_type';
const TOKEN_TYPE = 'gen_ai_token_type';

// Few buckets where the conventions leave the choice to us; OpenTelemetry's advised boundaries for
// its GenAI instruments, so dashboards made for them read ours.
const HTTP_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OVERHEAD_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const GENAI_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

const BREAKER_STATES: ReadonlyArray<BreakerSnapshot['state']> = ['ready', 'probing', 'cooling_down'];

/** A provider with no attempt to name (none is configured). */
const NO_PROVIDER = 'none';

// The process's own metrics (CPU, memory, event loop, GC) are the process's, not one app's: one
// registry for them however many apps a process builds (the tests build many).
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export interface MetricsSources {
  /** The configured providers, as the gateway tries them. */
  providers: readonly Provider[];
  breakers: Breakers;
  /** Each provider's quota windows (cascade/quotas.ts). */
  quotas?: Quotas | undefined;
}

type CounterChild = { inc(value?: number): void };
type HistogramChild = { observe(value: number): void };

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #providers: ReadonlyMap<string, Provider>;

  readonly #active = this.#gauge('http_server_active_requests', 'HTTP requests in flight.', []);
  readonly #http = this.#histogramChildren(
    'http_server_request_duration_seconds',
    'Duration of HTTP requests, by route template, method and status (499: the client left first).',
    ['http_route', 'http_request_method', 'http_response_status_code'],
    HTTP_BUCKETS,
  );
  readonly #errors = this.#counterChildren('llm_router_error_responses_total', 'Error answers by their stable code (rate_limited, unauthorized, too_many_auth_failures: refusals).', ['code']);
  readonly #attempts = this.#counterChildren('llm_router_provider_attempts_total', 'Provider attempts by outcome (cooling_down, quota_exhausted: skipped without a call).', [PROVIDER, MODEL, 'outcome']);
  readonly #hedges = this.#counterChildren('llm_router_hedges_total', 'Hedges started (HEDGE_AFTER_MS), by the provider started beside a slow one and how it ended: won, lost (aborted), failed.', [PROVIDER, 'outcome']);
  readonly #fallbacks = this.#counterChildren('llm_router_fallbacks_total', 'Times the cascade moved on from a provider to the next, by the provider left and its last outcome.', [PROVIDER, 'outcome']);
  readonly #attemptDuration = this.#histogramChildren(
    'gen_ai_client_operation_duration_seconds',
    'Duration of each call to a provider (for a stream, until its first text).',
    [OPERATION, PROVIDER, MODEL, ERROR_TYPE],
    GENAI_DURATION_BUCKETS,
  );
  readonly #requestDuration = this.#histogramChildren(
    'gen_ai_server_request_duration_seconds',
    'Duration of GenAI requests served, by the provider that answered (or the last one asked) and the HTTP status when it failed.',
    [OPERATION, PROVIDER, MODEL, ERROR_TYPE],
    GENAI_DURATION_BUCKETS,
  );
  readonly #firstToken = this.#histogramChildren('gen_ai_server_time_to_first_token_seconds', 'Time from a streamed request\'s arrival to its first text.', [OPERATION, PROVIDER, MODEL], TTFT_BUCKETS);
  readonly #tokenUsage = this.#histogramChildren('gen_ai_client_token_usage', 'Tokens per answer, as the provider counted them.', [OPERATION, PROVIDER, MODEL, TOKEN_TYPE], TOKEN_BUCKETS);
  readonly #clientTokens = this.#counterChildren('llm_router_client_tokens_total', 'Tokens by client key name (key-1 is the first in API_KEYS; never the key) and provider.', ['client', PROVIDER, TOKEN_TYPE]);
  readonly #overhead = this.#histogramChildren(
    'llm_router_gateway_overhead_seconds',
    'Time a GenAI request spent in the gateway itself: its whole time less the time waiting on providers.',
    [OPERATION],
    OVERHEAD_BUCKETS,
  );

  readonly #sharedFallbacks = this.#counterChildren(
    'llm_router_shared_state_fallbacks_total',
    'Times shared state (REDIS_URL) could not be reached and this process counted on its own instead, by what: rate_limit, quota, breakers.',
    ['state'],
  );

  readonly #usageDropped = new Counter({
    name: 'llm_router_usage_records_dropped_total',
    help: 'Usage records dropped, oldest first, because the database (DATABASE_URL) was away longer than the buffer lasts.',
    registers: [this.registry],
  });

  constructor({ providers, breakers, quotas }: MetricsSources) {
    this.#providers = new Map(providers.map((p) => [p.name, p]));
    this.#breakerGauges(providers, breakers);
    if (quotas !== undefined) this.#quotaGauges(providers, quotas);
  }

  /** Read when Prometheus scrapes: each known quota window of the configured models. */
  #quotaGauges(providers: readonly Provider[], quotas: Quotas): void {
    const labels = { limit: 'llm_router_quota_limit', remaining: 'llm_router_quota_remaining' };
    const read = async (field: 'limit' | 'remaining', gauge: Gauge<string>) => {
      gauge.reset();
      for (const p of providers) {
        for (const view of await quotas.view(p)) gauge.set({ [PROVIDER]: providerLabel(p.name), [MODEL]: p.model, window: view.window }, view[field]);
      }
    };
    this.#gauge(labels.remaining, 'What is left of each known quota window (rpm, rpd, tpm, tpd) of a configured model, as the gateway counts it.', [PROVIDER, MODEL, 'window'], function collect() {
      return read('remaining', this);
    });
    this.#gauge(labels.limit, 'Each known quota window\'s limit, configured or as the provider said.', [PROVIDER, MODEL, 'window'], function collect() {
      return read('limit', this);
    });
  }

  /** The text a scrape gets: the process's metrics, then the gateway's. */
  async scrape(): Promise<string> {
    const [process, own] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return process + own;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Shared state in Redis could not be used for one operation; this process's own was used instead. */
  sharedStateFallback(state: 'rate_limit' | 'quota' | 'breakers'): void {
    this.#sharedFallbacks.get(state).inc();
  }

  usageRecordsDropped(count: number): void {
    this.#usageDropped.inc(count);
  }

  /** With REDIS_URL set: 1 while Redis is reachable, 0 while the gateway counts per process. */
  watchSharedState(available: () => boolean): void {
    this.#gauge('llm_router_shared_state_available', 'With REDIS_URL: 1 while Redis is reachable and limits, quotas and cooldowns are shared; 0 while each process keeps its own.', [], function collect() {
      this.set(available() ? 1 : 0);
    });
  }

  requestStarted(): void {
    this.#active.inc();
  }

  /** Once per request that requestStarted counted: when its answer ended, or when its caller left. */
  requestEnded(request: FastifyRequest, reply: FastifyReply, status: number, trip: TripView | null): void {
    this.#active.dec();
    const seconds = reply.elapsedTime / 1000;
    this.#http.get(routeLabel(request), methodLabel(request.method), String(status)).observe(seconds);
    if (trip === null) return;
    const provider = trip.provider ?? this.#providers.get(trip.attempts.at(-1)?.provider ?? '');
    const errorType = status >= 400 ? String(status) : '';
    if (provider === undefined) {
      this.#requestDuration.get(trip.operation, NO_PROVIDER, NO_PROVIDER, errorType).observe(seconds);
    } else {
      this.#requestDuration.get(trip.operation, providerLabel(provider.name), this.#model(provider, trip), errorType).observe(seconds);
    }
    this.#overhead.get(trip.operation).observe(Math.max(0, seconds - trip.providerMs / 1000));
  }

  errorAnswered(code: ErrorCode): void {
    this.#errors.get(code).inc();
  }

  /** A trip's attempts, once its cascade has ended (whatever the outcome). */
  attempted(trip: TripView): void {
    let previous: TripView['attempts'][number] | undefined;
    for (const attempt of trip.attempts) {
      const provider = this.#providers.get(attempt.provider);
      if (provider === undefined) continue;
      const name = providerLabel(provider.name);
      const model = this.#model(provider, trip);
      this.#attempts.get(name, model, attempt.outcome).inc();
      if (attempt.hedge === 'second') this.#hedges.get(name, attempt.outcome === 'ok' ? 'won' : attempt.outcome === 'hedged_lost' ? 'lost' : 'failed').inc();
      if (!isSkip(attempt.outcome)) {
        this.#attemptDuration.get(trip.operation, name, model, attempt.outcome === 'ok' ? '' : attempt.outcome).observe(attempt.latency_ms / 1000);
      }
      if (previous !== undefined && previous.provider !== attempt.provider) this.#fallbacks.get(providerLabel(previous.provider), previous.outcome).inc();
      previous = attempt;
    }
  }

  /** A stream's first text reached the gateway, `ms` after its request arrived. */
  firstToken(trip: TripView, provider: Provider, ms: number): void {
    this.#firstToken.get(trip.operation, providerLabel(provider.name), this.#model(provider, trip)).observe(ms / 1000);
  }

  /** The tokens an answer used, as its provider counted them; `client` is the key's name. */
  tokens(trip: TripView, provider: Provider, client: string, usage: TokenUsage | undefined): void {
    if (usage === undefined) return;
    const name = providerLabel(provider.name);
    const model = this.#model(provider, trip);
    if (usage.promptTokens !== undefined) {
      this.#tokenUsage.get(trip.operation, name, model, 'input').observe(usage.promptTokens);
      this.#clientTokens.get(client, name, 'input').inc(usage.promptTokens);
    }
    if (usage.completionTokens !== undefined) {
      this.#tokenUsage.get(trip.operation, name, model, 'output').observe(usage.completionTokens);
      this.#clientTokens.get(client, name, 'output').inc(usage.completionTokens);
    }
  }

  /** The model asked of the provider: the caller's exact one, or the one configured for the operation. */
  #model(provider: Provider, trip: TripView): string {
    return modelLabel(provider, trip.exactModel ?? (trip.operation === 'embeddings' ? provider.embeddingModel : provider.model));
  }

  /** Read when Prometheus scrapes: the breakers the cascade keeps for the configured models. */
  #breakerGauges(providers: readonly Provider[], breakers: Breakers): void {
    const breakerKeys = providers.flatMap((p) => {
      const keys: Array<{ key: BreakerKey; labels: Record<string, string> }> = [{ key: { provider: p.name }, labels: { [PROVIDER]: providerLabel(p.name), [MODEL]: p.model } }];
      if (p.embeddingModel !== undefined && p.embeddingModel !== p.model) {
        keys.push({ key: { provider: p.name, model: p.embeddingModel }, labels: { [PROVIDER]: providerLabel(p.name), [MODEL]: p.embeddingModel } });
      }
      return keys;
    });
    this.#gauge('llm_router_breaker_state', 'Breaker state per provider and configured model: 1 for the state it is in, 0 for the others.', [PROVIDER, MODEL, 'state'], function collect() {
      for (const { key, labels } of breakerKeys) {
        const now = breakers.state(key);
        for (const state of BREAKER_STATES) this.set({ ...labels, state }, state === now ? 1 : 0);
      }
    });
    this.#gauge('llm_router_breaker_cooldown_remaining_seconds', 'Seconds until a cooling provider or model may be tried again (0: ready).', [PROVIDER, MODEL], function collect() {
      for (const { key, labels } of breakerKeys) this.set(labels, breakers.cooldownRemaining(key) / 1000);
    });
    this.#gauge('llm_router_exact_model_cooldowns', 'Exact models ("provider/model-id" calls) cooling down on their own.', [PROVIDER], function collect() {
      for (const p of providers) this.set({ [PROVIDER]: providerLabel(p.name) }, breakers.coolingModels(p.name).length);
    });
    this.#gauge('llm_router_providers_usable', 'Configured providers whose breaker is ready now (0: every request gets 503).', [], function collect() {
      this.set(providers.filter((p) => breakers.state({ provider: p.name }) === 'ready').length);
    });
  }

  #gauge<L extends string>(name: string, help: string, labelNames: L[], collect?: (this: Gauge<L>) => void | Promise<void>): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry], ...(collect ? { collect } : {}) });
  }

  #counterChildren(name: string, help: string, labelNames: string[]): Children<CounterChild> {
    const counter = new Counter({ name, help, labelNames, registers: [this.registry] });
    return new Children((...values) => counter.labels(labelsOf(labelNames, values)));
  }

  #histogramChildren(name: string, help: string, labelNames: string[], buckets: number[]): Children<HistogramChild> {
    const histogram = new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
    return new Children((...values) => histogram.labels(labelsOf(labelNames, values)));
  }
}

/** Label names to their values; an empty value (an error_type on success) leaves the label out. */
function labelsOf(names: readonly string[], values: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  names.forEach((name, index) => {
    const value = values[index];
    if (value !== undefined && value !== '') labels[name] = value;
  });
  return labels;
}
