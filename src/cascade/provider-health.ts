// Per-provider cooldown: a tiny breaker. A provider is ready, or cooling down until a time.
// It cools down when it says so (429 + Retry-After), when its key or model is wrong, or after
// several failures in a row. After the cooldown it is tried again (half-open: the requests that
// arrive then all try it; no single one is picked) and a single further failure cools it down
// again.
import type { ProviderName } from '../config.ts';
import type { ProviderError, ProviderErrorKind } from '../providers/provider-error.ts';

/** A bad key or model will not fix itself quickly; check again after this long. */
export const MISCONFIGURED_COOLDOWN_MS = 5 * 60_000;
/** Upper bound for a provider's own Retry-After hint (daily quotas can ask for hours). */
const MAX_HINT_MS = 24 * 60 * 60_000;

export interface HealthSettings {
  breakerThreshold: number;
  breakerCooldownMs: number;
  now?: () => number;
}

export interface HealthSnapshot {
  state: 'ready' | 'cooling_down';
  cooldownUntil: number | undefined;
  reason: ProviderErrorKind | 'consecutive_failures' | undefined;
  consecutiveFailures: number;
}

interface Entry {
  consecutiveFailures: number;
  cooldownUntil: number;
  reason: HealthSnapshot['reason'];
}

export class ProviderHealth {
  readonly #entries = new Map<ProviderName, Entry>();
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly now: () => number;

  constructor(settings: HealthSettings) {
    this.#threshold = settings.breakerThreshold;
    this.#cooldownMs = settings.breakerCooldownMs;
    this.now = settings.now ?? Date.now;
  }

  #entry(name: ProviderName): Entry {
    let entry = this.#entries.get(name);
    if (!entry) {
      entry = { consecutiveFailures: 0, cooldownUntil: 0, reason: undefined };
      this.#entries.set(name, entry);
    }
    return entry;
  }

  /** Milliseconds until the provider may be tried again; 0 when ready. */
  cooldownRemaining(name: ProviderName): number {
    return Math.max(0, this.#entry(name).cooldownUntil - this.now());
  }

  recordSuccess(name: ProviderName): void {
    const entry = this.#entry(name);
    entry.consecutiveFailures = 0;
    entry.cooldownUntil = 0;
    entry.reason = undefined;
  }

  /** Records a failed attempt; returns the cooldown it started in ms, or 0. */
  recordFailure(name: ProviderName, error: ProviderError): number {
    const entry = this.#entry(name);
    // The request's own fault (or the caller leaving) says nothing about the provider.
    if (error.kind === 'rejected' || error.kind === 'aborted') return 0;
    entry.consecutiveFailures += 1;

    let cooldown = 0;
    let reason: HealthSnapshot['reason'] = error.kind;
    if (error.kind === 'rate_limited') {
      cooldown = Math.min(error.retryAfterMs ?? this.#cooldownMs, MAX_HINT_MS);
    } else if (error.kind === 'misconfigured') {
      cooldown = MISCONFIGURED_COOLDOWN_MS;
    } else if (entry.consecutiveFailures >= this.#threshold) {
      cooldown = this.#cooldownMs;
      reason = 'consecutive_failures';
    }
    if (cooldown > 0) {
      entry.cooldownUntil = Math.max(entry.cooldownUntil, this.now() + cooldown);
      entry.reason = reason;
    }
    return cooldown;
  }

  snapshot(name: ProviderName): HealthSnapshot {
    const entry = this.#entry(name);
    const cooling = entry.cooldownUntil > this.now();
    return {
      state: cooling ? 'cooling_down' : 'ready',
      cooldownUntil: cooling ? entry.cooldownUntil : undefined,
      reason: cooling ? entry.reason : undefined,
      consecutiveFailures: entry.consecutiveFailures,
    };
  }
}
