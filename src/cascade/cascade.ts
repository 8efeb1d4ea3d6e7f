// The provider cascade: try each provider in order within one time budget, retry transient
// failures with backoff, skip providers that are cooling down, and turn the outcome into either
// a value or one GatewayError (503 or 504). It alone reads and updates the breakers. It knows
// nothing about HTTP routes or SDKs, and its time comes from the deadline's clock.
import type { FastifyBaseLogger } from 'fastify';
import type { ProviderName } from '../providers/types.ts';
import { GatewayError } from '../errors.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { Provider } from '../providers/types.ts';
import { backoffDelay } from './backoff.ts';
import type { Deadline } from './deadline.ts';
import type { BreakerKey, Breakers } from './breakers.ts';
import type { QuotaTicket, Quotas } from './quotas.ts';
import type { AttemptSignal } from './deadline.ts';
import { hedge, HedgeAbandoned, type HedgeCall, type HedgeSide } from './hedge.ts';

/** cooling_down and quota_exhausted: skipped without a call (a breaker's cooldown, a known limit reached). */
/** hedged_lost: started or raced as a hedge (HEDGE_AFTER_MS) and aborted because the other call showed life first. */
export type AttemptOutcome = 'ok' | 'cooling_down' | 'quota_exhausted' | 'hedged_lost' | ProviderError['kind'];

/** The outcomes of a provider skipped without a call. */
export const isSkip = (outcome: AttemptOutcome): boolean => outcome === 'cooling_down' || outcome === 'quota_exhausted';

export interface AttemptRecord {
  provider: ProviderName;
  outcome: AttemptOutcome;
  /** Upstream HTTP status when there was one. */
  status?: number;
  latency_ms: number;
  /** In a hedged race: first, the provider that was slow to start; second, the one started beside it. */
  hedge?: HedgeSide;
}

export interface CascadeSettings {
  maxRetries: number;
  /** Time an attempt on this provider has to show a sign of life (capped by what is left of the request's budget). */
  attemptTimeoutMs: (provider: Provider) => number;
  /** Once it has: the longest silence allowed, and how long the attempt may last in all. */
  stallTimeoutMs?: (provider: Provider) => number;
  maxAnswerMs?: number;
  /** For backoff jitter; Math.random unless a test scripts it. */
  random?: () => number;
  /** A content refusal: 'stop' answers it (the default), 'next' asks the next provider (ON_CONTENT_FILTER). */
  onContentFilter?: ContentFilterRule;
  /** The longest Retry-After of the first provider asked that is waited out once (RETRY_AFTER_WAIT_MAX_MS); 0: never. */
  retryAfterWaitMaxMs?: number;
  /** Start the next provider beside a first one that has shown nothing after this long (HEDGE_AFTER_MS); undefined: never. */
  hedgeAfterMs?: number | undefined;
}

export type ContentFilterRule = 'stop' | 'next';

export interface CascadeContext {
  deadline: Deadline;
  breakers: Breakers;
  log: FastifyBaseLogger;
  /** Filled in as the cascade goes, so a caller sees every attempt even on failure. */
  attempts: AttemptRecord[];
  /** Set when the caller named one exact model: its own breaker is kept and read, not the provider's. */
  exactModel?: string | undefined;
  /**
   * The model whose breaker an attempt on this provider counts against, when not the provider's
   * chat model (embeddings: the provider's embedding model, which has quotas of its own), when
   * the caller named no exact model.
   */
  breakerModel?: ((provider: Provider) => string | undefined) | undefined;
  /** Who asked: its failures alone never open a breaker for everyone (see breakers.ts). */
  client?: string | undefined;
  /** Quota tracking: each attempt first takes one request and this many estimated tokens. */
  quota?: { quotas: Quotas; tokens: number } | undefined;
}

export interface CascadeResult<T> {
  value: T;
  provider: Provider;
  /** The answering attempt's share of the provider's quota, for the gateway to settle with the real token count. */
  ticket?: QuotaTicket | undefined;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Thrown when the caller went away; there is nobody to answer. */
export class RequestCancelledError extends Error {
  override name = 'RequestCancelledError';
}

/** What a call tells the cascade as it goes: the provider showed a sign of life (see AttemptSignal.alive). */
export interface Liveness {
  alive(): void;
}

export type AttemptCall<T> = (provider: Provider, signal: AbortSignal, liveness: Liveness) => Promise<T>;

export async function runCascade<T>(
  providers: readonly Provider[],
  call: AttemptCall<T>,
  settings: CascadeSettings,
  context: CascadeContext,
): Promise<CascadeResult<T>> {
  const { deadline, breakers, log, attempts, exactModel, breakerModel, quota } = context;
  const { clock } = deadline;
  const elapsed = (since: number) => Math.round(clock.now() - since);
  const { client } = context;
  const key = (p: Provider): BreakerKey => ({ provider: p.name, model: exactModel ?? breakerModel?.(p), client });
  /** The last provider that refused on content grounds (with ON_CONTENT_FILTER=next, every one may). */
  let filteredBy: ProviderName | undefined;
  const modelOf = (p: Provider): string => exactModel ?? breakerModel?.(p) ?? p.model;
  /** When each provider whose quota refused a request can take one again. */
  const quotaResets = new Map<string, number>();
  /** Takes the attempt's share of the provider's quota; false (and the skip recorded) when a known limit would be passed. */
  const takeQuota = async (provider: Provider, record = true): Promise<QuotaTicket | undefined | false> => {
    if (quota === undefined) return undefined;
    const taking = await quota.quotas.take(provider.name, modelOf(provider), quota.tokens);
    if (taking === undefined) return undefined;
    if (taking.taken.ok) return taking.ticket;
    quotaResets.set(provider.name, taking.taken.resetAt);
    if (record) attempts.push({ provider: provider.name, outcome: 'quota_exhausted', latency_ms: 0 });
    return false;
  };
  /** A failed attempt: recorded, counted against its breaker and quota, and logged; undefined when the caller left. */
  const recordFailure = (provider: Provider, thrown: unknown, attempt: AttemptSignal, started: number, side?: HedgeSide) => {
    attempt.release();
    if (deadline.cancelled) return undefined;
    const error = asProviderError(provider.name, thrown, attempt.timedOut || deadline.expired, log);
    attempts.push({
      provider: provider.name,
      outcome: error.kind,
      ...(error.status === undefined ? {} : { status: error.status }),
      latency_ms: elapsed(started),
      ...(side === undefined ? {} : { hedge: side }),
    });
    const cooldown = breakers.recordFailure(key(provider), error);
    quota?.quotas.fromError(provider.name, modelOf(provider), error);
    logFailure(log, error, cooldown, exactModel);
    return { error, cooldown };
  };
  const capMs = Math.min(settings.maxAnswerMs ?? MAX_TIMER_MS, MAX_TIMER_MS);
  /** Providers already tried as a hedge that failed: not tried again in this cascade. */
  const spent = new Set<string>();

  /**
   * The attempt at `provider`, hedged by `next`: resolves with the winner's result, or rejects
   * (with the first's error, or HedgeAbandoned) as the race says (see hedge.ts).
   */
  async function hedged(provider: Provider, next: Provider, attempt: AttemptSignal, started: number, ticket: QuotaTicket | undefined, live: () => void): Promise<CascadeResult<T> & { hedged: boolean }> {
    let second: { attempt: AttemptSignal; started: number; ticket: QuotaTicket | undefined } | undefined;
    const won = await hedge<T>({
      afterMs: settings.hedgeAfterMs ?? 0,
      clock,
      first: (shown) => call(provider, attempt.signal, { alive: () => (live(), shown()) }),
      second: async (): Promise<HedgeCall<T> | undefined> => {
        // Only a provider ready now, with quota headroom: a hedge never waits, nor probes.
        if (deadline.signal.aborted || breakers.state(key(next)) !== 'ready') return undefined;
        const nextTicket = await takeQuota(next, false);
        if (nextTicket === false) return undefined;
        const nextAttempt = deadline.attempt(settings.attemptTimeoutMs(next));
        second = { attempt: nextAttempt, started: clock.now(), ticket: nextTicket };
        const stall = settings.stallTimeoutMs?.(next) ?? settings.attemptTimeoutMs(next);
        return (shown) => call(next, nextAttempt.signal, { alive: () => (nextAttempt.alive(stall, capMs), shown()) });
      },
      lost(side) {
        const loser = side === 'first' ? { provider, attempt, started } : { provider: next, ...(second as NonNullable<typeof second>) };
        loser.attempt.release();
        attempts.push({ provider: loser.provider.name, outcome: 'hedged_lost', latency_ms: elapsed(loser.started), hedge: side });
      },
      secondFailed(error) {
        if (second !== undefined) recordFailure(next, error, second.attempt, second.started, 'second');
        spent.add(next.name);
      },
    });
    if (won.side === 'first') return { value: won.value, provider, ticket, hedged: second !== undefined };
    const winner = second as NonNullable<typeof second>;
    if (won.firstError !== undefined) recordFailure(provider, won.firstError, attempt, started, 'first');
    winner.attempt.disarm();
    breakers.recordSuccess(key(next));
    attempts.push({ provider: next.name, outcome: 'ok', latency_ms: elapsed(winner.started), hedge: 'second' });
    return { value: won.value, provider: next, ticket: winner.ticket, hedged: true };
  }

  for (const [index, provider] of providers.entries()) {
    if (spent.has(provider.name)) continue;
    const breaker = key(provider);
    const attemptTimeoutMs = settings.attemptTimeoutMs(provider);
    const stallMs = settings.stallTimeoutMs?.(provider) ?? attemptTimeoutMs;
    // After a cooldown one request at a time tries the provider again while the others move on;
    // an exact model has nowhere else to go, so every call for it may try.
    const admission = breakers.admit(breaker, exactModel === undefined ? attemptTimeoutMs : 0);
    if (admission.waitMs > 0) {
      attempts.push({ provider: provider.name, outcome: 'cooling_down', latency_ms: 0 });
      continue;
    }
    // A short Retry-After is waited out once, and only by the first provider asked: after that the
    // request has already paid for a failure, and the next provider is the better use of the budget.
    let mayWaitOut = !attempts.some((a) => a.outcome !== 'cooling_down');
    // Asked only after a timeout, so an answer costs nothing here.
    const laterProviderReady = () => providers.slice(index + 1).some((p) => breakers.cooldownRemaining(key(p)) === 0);

    try {
      for (let retry = 0; retry <= settings.maxRetries; retry += 1) {
        if (deadline.signal.aborted) return finish();
        // A probe retries only while the turn is still its own (see Breakers.renewProbe).
        if (retry > 0 && admission.probe !== 0 && !breakers.renewProbe(breaker, admission.probe, attemptTimeoutMs)) break;
        const ticket = await takeQuota(provider);
        if (ticket === false) break;
        const attempt = deadline.attempt(attemptTimeoutMs);
        const started = clock.now();
        const live = () => attempt.alive(stallMs, capMs);
        // A hedge only on a first try, when the caller did not name one exact model.
        const hedgeTo = settings.hedgeAfterMs !== undefined && exactModel === undefined && retry === 0 ? providers.slice(index + 1).find((p) => !spent.has(p.name)) : undefined;
        try {
          if (hedgeTo !== undefined) {
            const won = await hedged(provider, hedgeTo, attempt, started, ticket, live);
            if (won.provider !== provider) return won;
            attempt.disarm();
            breakers.recordSuccess(breaker);
            attempts.push({ provider: provider.name, outcome: 'ok', latency_ms: elapsed(started), ...(won.hedged ? { hedge: 'first' as const } : {}) });
            return won;
          }
          const value = await call(provider, attempt.signal, { alive: live });
          attempt.disarm();
          breakers.recordSuccess(breaker);
          attempts.push({ provider: provider.name, outcome: 'ok', latency_ms: elapsed(started) });
          return { value, provider, ticket };
        } catch (thrown) {
          // The hedge won and then failed: both sides are recorded, and the cascade moves on.
          if (thrown instanceof HedgeAbandoned && !deadline.cancelled) {
            if (deadline.expired) return finish();
            break;
          }
          const failed = recordFailure(provider, thrown, attempt, started);
          if (failed === undefined) throw new RequestCancelledError('the caller went away', { cause: thrown });
          const { error, cooldown } = failed;

          if (error.contentFilter) {
            filteredBy = provider.name;
            if (settings.onContentFilter !== 'next') throw contentFiltered(provider.name);
          }
          if (deadline.expired) return finish();
          const wait = mayWaitOut ? retryAfterWait(error, settings.retryAfterWaitMaxMs ?? 0, attemptTimeoutMs, deadline.remaining()) : undefined;
          mayWaitOut = false;
          if (wait !== undefined) {
            // The breaker still cools the provider for everyone else; this request alone waits
            // for it, then asks again. The wait is not one of the retries.
            log.info({ provider: provider.name, wait_ms: wait }, `waiting out ${provider.name}'s Retry-After before asking it again`);
            await deadline.sleep(wait);
            retry -= 1;
            continue;
          }
          // A provider that did not answer in time is unlikely to on a second try; the budget is
          // better spent on the next provider. The last provider standing gets its retries.
          const moveOn =
            !error.retryable || cooldown > 0 || (error.kind === 'timeout' && laterProviderReady());
          if (moveOn || retry === settings.maxRetries) break;
          const delay = backoffDelay(retry, settings.random);
          if (delay >= deadline.remaining()) break;
          await deadline.sleep(delay);
        }
      }
    } finally {
      // A probe that ended without an outcome (the caller left, the budget ran out) lets the next one go.
      if (admission.probe !== 0) breakers.endProbe(breaker, admission.probe);
    }
  }
  return finish();

  function finish(): never {
    if (deadline.cancelled) throw new RequestCancelledError('the caller went away');
    const now = clock.now();
    const waits = providers.map((p) => Math.max(breakers.cooldownRemaining(key(p)), (quotaResets.get(p.name) ?? now) - now));
    throw cascadeFailure(providers.length, waits, attempts, deadline.expired, filteredBy);
  }
}

/**
 * How long to wait before asking a rate-limited provider again, when it named a wait no longer than
 * `maxMs` and the wait still leaves the attempt its whole time within what is left of the budget;
 * otherwise undefined (move on).
 */
export function retryAfterWait(error: ProviderError, maxMs: number, attemptTimeoutMs: number, remainingMs: number): number | undefined {
  const wait = error.retryAfterMs;
  if (error.kind !== 'rate_limited' || wait === undefined || maxMs <= 0) return undefined;
  if (wait > maxMs || wait + attemptTimeoutMs > remainingMs) return undefined;
  return wait;
}

/** A refusal on content grounds, answered to the caller as it is, naming who refused. */
export function contentFiltered(provider: ProviderName): GatewayError {
  return new GatewayError('content_filtered', {
    message: `Provider ${provider} refused this request under its content policy (a blocked or flagged prompt, or an answer withheld by its filter); change the request rather than retry it.`,
  });
}

/**
 * A failure after the first token, when the stream is already the caller's: it counts against the
 * provider (or the exact model) like any failed attempt, though nobody can try another provider.
 */
export function recordStreamFailure(breakers: Breakers, provider: Provider, exactModel: string | undefined, error: ProviderError, client?: string): void {
  breakers.recordFailure({ provider: provider.name, model: exactModel, client }, error);
}

function asProviderError(
  name: ProviderName,
  thrown: unknown,
  timedOut: boolean,
  log: FastifyBaseLogger,
): ProviderError {
  if (thrown instanceof ProviderError) {
    // The adapter saw its signal abort; only the cascade knows it was our timer.
    if (timedOut && thrown.kind === 'aborted') return new ProviderError(name, 'timeout', 'attempt timed out', { cause: thrown });
    return thrown;
  }
  // An adapter let a foreign error through: a bug in the adapter, but the provider is what failed.
  log.error({ err: thrown, provider: name }, 'provider adapter threw an unmapped error');
  return new ProviderError(name, timedOut ? 'timeout' : 'unavailable', 'unexpected adapter failure', { cause: thrown });
}

function logFailure(log: FastifyBaseLogger, error: ProviderError, cooldownMs: number, exactModel: string | undefined): void {
  // With an exact model, a cooldown is that model's, not the provider's.
  const fields = { provider: error.provider, model: exactModel, kind: error.kind, status: error.status, cooldown_ms: cooldownMs || undefined };
  if (error.kind === 'misconfigured') {
    log.error(fields, `provider ${error.provider} rejected our credentials or model, or is not at its base URL (${error.message}); check its key, model and base URL`);
  } else {
    log.warn(fields, `provider ${error.provider} failed: ${error.message}`);
  }
}

/** `waits`: how long until each provider may be tried again (a cooldown, or a quota's reset; 0: now). */
function cascadeFailure(
  providerCount: number,
  waits: readonly number[],
  attempts: readonly AttemptRecord[],
  expired: boolean,
  filteredBy: ProviderName | undefined,
): GatewayError {
  const tried = attempts.filter((a) => !isSkip(a.outcome));
  if (expired || (tried.length > 0 && tried.every((a) => a.outcome === 'timeout'))) {
    return new GatewayError('upstream_timeout');
  }
  // Every provider asked said the request itself is wrong (HTTP 400, 413, 422, or an adapter's own
  // check): a 503 would only invite the same request again, as the OpenAI SDKs retry it.
  if (tried.length > 0 && tried.every((a) => a.outcome === 'rejected')) {
    // With ON_CONTENT_FILTER=next, and each refusing: the content refusal is the one to tell.
    if (filteredBy !== undefined) return contentFiltered(filteredBy);
    return new GatewayError('invalid_request', {
      message: 'Every provider that was asked refused this request as invalid; check its messages and parameters.',
    });
  }
  // When every provider is waiting out a cooldown or a spent quota, tell the caller when the first one ends.
  const retryAfterMs = waits.length > 0 && waits.every((w) => w > 0) ? Math.min(...waits) : undefined;
  const message =
    providerCount === 0
      ? 'No LLM provider is configured.'
      : 'No LLM provider could answer the request.';
  return new GatewayError('providers_unavailable', {
    message,
    ...(retryAfterMs === undefined ? {} : { retryAfterSeconds: Math.ceil(retryAfterMs / 1000) }),
  });
}
