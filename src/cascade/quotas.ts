// Quota-aware routing: each provider's limits per model (requests and tokens, per minute and per
// day), seeded from <NAME>_LIMITS or the provider's published free-tier figures, corrected by what
// the provider says (rate-limit headers, a 429's quota details), and checked before a request is
// sent, so the cascade can move on before the provider refuses. Counts live in a QuotaStore
// (state/quota-store.ts); a request takes its share when it starts, so requests in flight count.
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderError } from '../providers/provider-error.ts';
import { rateLimitCorrections } from '../providers/rate-limit-headers.ts';
import type { ChatMessage, Provider, ProviderName, TokenUsage } from '../providers/types.ts';
import type { DayBoundary, QuotaLimits, QuotaStore, Taken, WindowView } from '../state/quota-store.ts';
import type { Clock } from './clock.ts';

/** One provider's quota settings: its limits (null: not tracked) and when its day turns. */
export interface QuotaPlan {
  limits: QuotaLimits | null;
  day: DayBoundary;
}

/** A request's share of a provider's quota, taken before the call; settle() corrects its tokens. */
export interface QuotaTicket {
  key: string;
  tokens: number;
}

/** A rough count of a prompt's tokens: about four characters each, as the providers' guides say. */
export const estimateTokens = (messages: readonly ChatMessage[], maxTokens: number): number => {
  let characters = 0;
  for (const message of messages) characters += message.content.length;
  return Math.ceil(characters / 4) + maxTokens;
};

/** How long the start-up question to a provider about its quota may take. */
const QUOTA_READ_MS = 5000;

export class Quotas {
  readonly store: QuotaStore;
  readonly #plans: ReadonlyMap<ProviderName, QuotaPlan>;
  readonly #clock: Clock;
  /** Keys whose day boundary the store has been told. */
  readonly #defined = new Set<string>();

  constructor(store: QuotaStore, plans: ReadonlyMap<ProviderName, QuotaPlan>, clock: Clock) {
    this.store = store;
    this.#plans = plans;
    this.#clock = clock;
  }

  /** Seeds the configured limits of each provider's configured model, and watches its answers' headers. */
  async start(providers: readonly Provider[]): Promise<void> {
    for (const provider of providers) {
      const plan = this.#plans.get(provider.name);
      if (plan === undefined || plan.limits === null) continue;
      const key = quotaKey(provider.name, provider.model);
      await this.store.define(key, plan.limits, plan.day);
      this.#defined.add(key);
      provider.watchHeaders?.((headers, _status, model) => this.#fromHeaders(provider.name, model ?? provider.model, headers));
      // Asked once, in the background: a start never waits on a provider.
      if (provider.readQuota !== undefined) {
        void provider
          .readQuota(AbortSignal.timeout(QUOTA_READ_MS), this.#clock.now())
          .then((corrections) => this.store.correct(key, corrections, this.#clock.now()))
          .catch(() => undefined);
      }
    }
  }

  tracked(provider: ProviderName): boolean {
    const plan = this.#plans.get(provider);
    return plan !== undefined && plan.limits !== null;
  }

  /** Takes one request and its estimated tokens; undefined when the provider's quota is not tracked. */
  async take(provider: ProviderName, model: string, tokens: number): Promise<{ taken: Taken; ticket: QuotaTicket } | undefined> {
    if (!this.tracked(provider)) return undefined;
    const key = await this.#key(provider, model);
    const taken = await this.store.take(key, { requests: 1, tokens }, this.#clock.now());
    return { taken, ticket: { key, tokens } };
  }

  /** The answer's real token count replaces the estimate (a failed call keeps it: the provider may have counted it). */
  settle(ticket: QuotaTicket, usage: TokenUsage | undefined): void {
    const used = usage?.totalTokens ?? (usage?.promptTokens !== undefined && usage.completionTokens !== undefined ? usage.promptTokens + usage.completionTokens : undefined);
    if (used === undefined || used === ticket.tokens) return;
    void Promise.resolve(this.store.addTokens(ticket.key, used - ticket.tokens, this.#clock.now())).catch(() => undefined);
  }

  /** A 429 that named its window: that window is spent until the provider's reset. */
  fromError(provider: ProviderName, model: string, error: ProviderError): void {
    if (!this.tracked(provider) || error.kind !== 'rate_limited' || error.quota === undefined) return;
    const now = this.#clock.now();
    const correction = { window: error.quota.window, limit: error.quota.limit, remaining: 0, resetAt: error.retryAfterMs === undefined ? undefined : now + error.retryAfterMs };
    void this.#key(provider, model)
      .then((key) => this.store.correct(key, [correction], now))
      .catch(() => undefined);
  }

  /** Every window of the provider's configured model with a known limit. */
  async view(provider: Provider): Promise<WindowView[]> {
    if (!this.tracked(provider.name)) return [];
    return this.store.view(quotaKey(provider.name, provider.model), this.#clock.now());
  }

  #fromHeaders(provider: ProviderName, model: string, headers: IncomingHttpHeaders): void {
    const now = this.#clock.now();
    const corrections = rateLimitCorrections(headers, now);
    if (corrections.length === 0) return;
    void this.#key(provider, model)
      .then((key) => this.store.correct(key, corrections, now))
      .catch(() => undefined);
  }

  /** A model the configuration did not name (a caller's exact one) starts with no known limits. */
  async #key(provider: ProviderName, model: string): Promise<string> {
    const key = quotaKey(provider, model);
    if (!this.#defined.has(key)) {
      this.#defined.add(key);
      await this.store.define(key, {}, this.#plans.get(provider)?.day ?? 'utc');
    }
    return key;
  }
}

export const quotaKey = (provider: ProviderName, model: string): string => `${provider}/${model}`;
