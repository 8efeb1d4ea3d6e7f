// Per-provider cooldown: a tiny breaker. A provider is ready, or cooling down until a time.
// It cools down when it says so (429 + Retry-After), when its key or model is wrong, or after
// several failures in a row. After the cooldown it is half-open: one request (the probe) tries it
// while the others go on to the next provider, so a provider that is still down (or hangs)
// costs one request its attempt rather than every request arriving in that moment. The probe's
// success closes the breaker; its failure counts as usual (after a breaker cooldown, one more
// failure cools it down again), and a failure that starts no cooldown leaves the probe its turn
// for its retries; a probe handed back, or one that outlives its lease, lets the next request try.
//
// A call for one exact model ("gemini/gemini-2.5-pro") keeps a breaker of its own: providers
// such as Gemini keep a quota per model, so that model's 429 must not take the provider's
// configured model out of the cascade, nor the other way round. Only a refused key (the one
// failure that is about every model) also cools the provider.
import type { ProviderName } from '../providers/types.ts';
import type { ProviderError, ProviderErrorKind } from '../providers/provider-error.ts';

/** A bad key or model will not fix itself quickly; check again after this long. */
export const MISCONFIGURED_COOLDOWN_MS = 5 * 60_000;
/** Upper bound for a provider's own Retry-After hint (daily quotas can ask for hours). */
const MAX_HINT_MS = 24 * 60 * 60_000;
/** Added to a probe's attempt time, so its own failure is recorded before the lease runs out. */
const PROBE_MARGIN_MS = 1_000;
/**
 * Exact models are named by callers, so their breakers are capped: past this many the oldest is
 * forgotten (at worst one more call reaches a model that was cooling down).
 */
export const MAX_MODEL_BREAKERS = 1_000;

/** Which breaker an attempt counts against: the provider as the cascade uses it, or one exact model on it. */
export interface BreakerKey {
  provider: ProviderName;
  /** Set for a caller's "provider/model-id". */
  model?: string | undefined;
  /**
   * Who asked (a key's or a signed-in user's id). Failures in a row open the shared breaker only
   * when more than one client saw them; one client's own run of failures cools the provider for
   * that client alone (see the comment on Entry.clients).
   */
  client?: string | undefined;
}

export interface BreakerSettings {
  breakerThreshold: number;
  breakerCooldownMs: number;
  now?: () => number;
  /** Told of each cooldown this process starts, so other replicas can learn of it (state/breaker-sync.ts). */
  onCooldown?: (key: BreakerKey, until: number, reason: NonNullable<BreakerSnapshot['reason']>) => void;
}

/** Why the start-up check parked a provider (gateway/preflight.ts): no failure of a call. */
export type ParkReason = 'key_rejected' | 'model_missing';

export interface BreakerSnapshot {
  /** probing: back from a cooldown, with one request trying it and the others skipping it. */
  state: 'ready' | 'cooling_down' | 'probing';
  cooldownUntil: number | undefined;
  reason: ProviderErrorKind | 'consecutive_failures' | ParkReason | undefined;
  consecutiveFailures: number;
}

/** Whether a request may try the provider now. */
export interface Admission {
  /** 0: go ahead. Otherwise how long until it may be tried (a cooldown, or another request's probe). */
  waitMs: number;
  /** Non-zero when this request is the probe after a cooldown: hand it back with endProbe(). */
  probe: number;
}

const GO: Readonly<Admission> = Object.freeze({ waitMs: 0, probe: 0 });

export interface ModelCooldown {
  model: string;
  cooldownUntil: number;
  reason: NonNullable<BreakerSnapshot['reason']>;
}

interface Entry {
  consecutiveFailures: number;
  /**
   * The clients whose failures make up the current run. A client can make a provider slow or fail
   * for its own prompts (a prompt it answers slowly, one it chokes on): that is evidence about
   * those prompts, not about the provider, so it must not take the provider away from everyone.
   * The run opens the shared breaker once two or more clients are in it; null until a failure
   * names a client.
   */
  clients: Set<string> | null;
  /** When the last cooldown ends; 0 once a success closed the breaker. */
  cooldownUntil: number;
  reason: BreakerSnapshot['reason'];
  /** While a probe is out: when its lease ends, and which probe it is. */
  probeUntil: number;
  probeId: number;
}

const READY: Readonly<Entry> = Object.freeze({ consecutiveFailures: 0, clients: null, cooldownUntil: 0, reason: undefined, probeUntil: 0, probeId: 0 });

/** One client's own cooldown of a provider (or an exact model on it): its run of failures alone. */
interface ClientCooldown {
  consecutiveFailures: number;
  cooldownUntil: number;
}

/** Clients with a run of failures of their own are capped like exact models: past this, the oldest is forgotten. */
export const MAX_CLIENT_BREAKERS = 1_000;

export class Breakers {
  readonly #providers = new Map<string, Entry>();
  /** Exact models' breakers, by "provider/model-id", oldest first. */
  readonly #models = new Map<string, Entry>();
  /** Clients' own cooldowns, by breaker id and client, oldest first. */
  readonly #clients = new Map<string, ClientCooldown>();
  #lastProbeId = 0;
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly now: () => number;
  onCooldown: BreakerSettings['onCooldown'];

  constructor(settings: BreakerSettings) {
    this.#threshold = settings.breakerThreshold;
    this.#cooldownMs = settings.breakerCooldownMs;
    this.now = settings.now ?? Date.now;
    this.onCooldown = settings.onCooldown;
  }

  /**
   * A cooldown another replica started (a provider's 429 it saw): this one skips the provider
   * until then too. It counts no failure here; a later cooldown is never shortened.
   */
  applyCooldown(key: BreakerKey, until: number, reason: NonNullable<BreakerSnapshot['reason']>): void {
    if (until <= this.now()) return;
    const entry = this.#entry(key);
    if (entry.cooldownUntil >= until) return;
    entry.cooldownUntil = until;
    entry.reason = reason;
    entry.probeUntil = 0;
  }

  /** Where a key's breaker lives: with the providers, or with the exact models. */
  #place(key: BreakerKey): [Map<string, Entry>, string] {
    return key.model === undefined ? [this.#providers, key.provider] : [this.#models, `${key.provider}/${key.model}`];
  }

  /** The breaker if there is one; nothing is created. */
  #existing(key: BreakerKey): Entry | undefined {
    const [map, id] = this.#place(key);
    return map.get(id);
  }

  /** The breaker, or READY for none: reading never grows the map. */
  #peek(key: BreakerKey): Readonly<Entry> {
    return this.#existing(key) ?? READY;
  }

  #entry(key: BreakerKey): Entry {
    const [map, id] = this.#place(key);
    let entry = map.get(id);
    if (!entry) {
      if (map === this.#models && map.size >= MAX_MODEL_BREAKERS) {
        const oldest = map.keys().next().value;
        if (oldest !== undefined) map.delete(oldest);
      }
      entry = { ...READY };
      map.set(id, entry);
    }
    return entry;
  }

  /** Milliseconds until the provider (or the exact model) may be tried again; 0 when ready. */
  cooldownRemaining(key: BreakerKey): number {
    const entry = this.#peek(key);
    return Math.max(0, entry.cooldownUntil - this.now(), entry.probeUntil - this.now(), this.#clientWait(key));
  }

  #clientId(key: BreakerKey): string {
    const [, id] = this.#place(key);
    return `${id}\u0000${key.client ?? ''}`;
  }

  /** How long this client itself must still leave the provider alone; 0 without a run of its own. */
  #clientWait(key: BreakerKey): number {
    if (key.client === undefined || this.#clients.size === 0) return 0;
    const own = this.#clients.get(this.#clientId(key));
    return own === undefined ? 0 : Math.max(0, own.cooldownUntil - this.now());
  }

  /**
   * Asks to try the provider now. Right after a cooldown the first caller becomes the probe for at
   * most `probeLeaseMs` (plus a margin) and the others are told to wait; with `probeLeaseMs` 0
   * every caller may try.
   */
  admit(key: BreakerKey, probeLeaseMs: number): Readonly<Admission> {
    const own = this.#clientWait(key);
    if (own > 0) return { waitMs: own, probe: 0 };
    const entry = this.#existing(key);
    // Never cooled down, or closed by a success since: the common case, no bookkeeping.
    if (entry === undefined || entry.cooldownUntil === 0) return GO;
    const now = this.now();
    const waitMs = Math.max(entry.cooldownUntil - now, entry.probeUntil - now);
    if (waitMs > 0) return { waitMs, probe: 0 };
    if (probeLeaseMs <= 0) return GO;
    this.#lastProbeId += 1;
    entry.probeId = this.#lastProbeId;
    entry.probeUntil = now + probeLeaseMs + PROBE_MARGIN_MS;
    return { waitMs: 0, probe: entry.probeId };
  }

  /**
   * A probe about to retry after a failure that started no cooldown: keeps its turn for another
   * lease. False when the turn has passed to another request (this one outlived its lease).
   */
  renewProbe(key: BreakerKey, probe: number, probeLeaseMs: number): boolean {
    const entry = this.#existing(key);
    if (entry === undefined || entry.probeId !== probe || entry.probeUntil === 0) return false;
    entry.probeUntil = this.now() + probeLeaseMs + PROBE_MARGIN_MS;
    return true;
  }

  /** Hands a probe back without an outcome, so the next request may try; a later probe is left alone. */
  endProbe(key: BreakerKey, probe: number): void {
    const entry = this.#existing(key);
    if (entry?.probeId === probe) entry.probeUntil = 0;
  }

  recordSuccess(key: BreakerKey): void {
    // A client's own run ends with any answer it gets from the provider.
    if (key.client !== undefined && this.#clients.size > 0) this.#clients.delete(this.#clientId(key));
    const [map, id] = this.#place(key);
    // A model that answers needs no breaker kept.
    if (map === this.#models) {
      map.delete(id);
      return;
    }
    const entry = map.get(id);
    if (!entry) return;
    entry.consecutiveFailures = 0;
    entry.clients = null;
    entry.cooldownUntil = 0;
    entry.reason = undefined;
    entry.probeUntil = 0;
  }

  /** Records a failed attempt; returns the cooldown it started in ms, or 0. */
  recordFailure(key: BreakerKey, error: ProviderError): number {
    // The request's own fault (or the caller leaving, or a wait for one of the gateway's own
    // connections) says nothing about the provider.
    if (error.kind === 'rejected' || error.kind === 'aborted' || error.kind === 'gateway_busy') return 0;
    // A refused key is wrong for every model, so the provider cools down too; a model the
    // provider does not have is that model's problem alone.
    if (key.model !== undefined && error.kind === 'misconfigured' && !error.modelNotFound && error.status !== 404) {
      this.recordFailure({ provider: key.provider }, error);
    }
    const entry = this.#entry(key);
    entry.consecutiveFailures += 1;
    if (key.client !== undefined) (entry.clients ??= new Set()).add(key.client);

    let cooldown = 0;
    let reason: BreakerSnapshot['reason'] = error.kind;
    if (error.kind === 'rate_limited') {
      cooldown = Math.min(error.retryAfterMs ?? this.#cooldownMs, MAX_HINT_MS);
    } else if (error.kind === 'misconfigured') {
      cooldown = MISCONFIGURED_COOLDOWN_MS;
    } else {
      // A 503 may say when the provider expects to be back (Retry-After): asking sooner is wasted.
      const hinted = Math.min(error.retryAfterMs ?? 0, MAX_HINT_MS);
      // Evidence one client cannot manufacture alone: a run of failures seen by two clients or more
      // (or by one, when the operator set the threshold to a single failure).
      const shared = key.client === undefined || (entry.clients?.size ?? 0) >= Math.min(2, this.#threshold);
      const tripped = entry.consecutiveFailures >= this.#threshold && shared ? this.#cooldownMs : 0;
      cooldown = Math.max(hinted, tripped);
      if (tripped > 0 && tripped >= hinted) reason = 'consecutive_failures';
      // The client's own run: past the threshold, its own requests leave the provider alone.
      if (key.client !== undefined && cooldown === 0) return this.#recordClientFailure(key);
    }
    if (cooldown > 0) {
      entry.cooldownUntil = Math.max(entry.cooldownUntil, this.now() + cooldown);
      entry.reason = reason;
      // The probe, if one was out, has its answer. Without a cooldown it keeps its turn: the
      // request may retry, and hands the turn back (endProbe) when it moves on.
      entry.probeUntil = 0;
      if (reason !== undefined) this.onCooldown?.(key, entry.cooldownUntil, reason);
    }
    return cooldown;
  }

  /** Counts a failure against this client alone; returns the cooldown it started for it, or 0. */
  #recordClientFailure(key: BreakerKey): number {
    const id = this.#clientId(key);
    let own = this.#clients.get(id);
    if (own === undefined) {
      if (this.#clients.size >= MAX_CLIENT_BREAKERS) {
        const oldest = this.#clients.keys().next().value;
        if (oldest !== undefined) this.#clients.delete(oldest);
      }
      own = { consecutiveFailures: 0, cooldownUntil: 0 };
      this.#clients.set(id, own);
    }
    own.consecutiveFailures += 1;
    if (own.consecutiveFailures < this.#threshold) return 0;
    own.cooldownUntil = this.now() + this.#cooldownMs;
    own.consecutiveFailures = 0;
    return this.#cooldownMs;
  }

  /**
   * Takes a provider out of the cascade until `untilMs` (a time on this clock), for a reason the
   * start-up check found (a refused key, a retired model) rather than a failed call. The
   * failure count is left alone; a later unpark() or success ends it early.
   */
  park(key: BreakerKey, untilMs: number, reason: ParkReason): void {
    const entry = this.#entry(key);
    entry.cooldownUntil = untilMs;
    entry.reason = reason;
    entry.probeUntil = 0;
  }

  /** Ends a park() early (a later check found the provider well); a cooldown for any other reason stays. */
  unpark(key: BreakerKey): void {
    const entry = this.#existing(key);
    if (entry === undefined || (entry.reason !== 'key_rejected' && entry.reason !== 'model_missing')) return;
    entry.cooldownUntil = 0;
    entry.reason = undefined;
    entry.probeUntil = 0;
  }

  /** One breaker's state (a provider's, or one model's on it), as snapshot() reads a provider's. */
  state(key: BreakerKey): BreakerSnapshot['state'] {
    const entry = this.#peek(key);
    const now = this.now();
    return entry.cooldownUntil > now ? 'cooling_down' : entry.probeUntil > now ? 'probing' : 'ready';
  }

  snapshot(name: ProviderName): BreakerSnapshot {
    const entry = this.#peek({ provider: name });
    const now = this.now();
    const cooling = entry.cooldownUntil > now;
    return {
      state: this.state({ provider: name }),
      cooldownUntil: cooling ? entry.cooldownUntil : undefined,
      reason: cooling ? entry.reason : undefined,
      consecutiveFailures: entry.consecutiveFailures,
    };
  }

  /** The provider's exact models that are cooling down now, soonest back first. */
  coolingModels(name: ProviderName): ModelCooldown[] {
    const now = this.now();
    const prefix = `${name}/`;
    const cooling: ModelCooldown[] = [];
    for (const [id, entry] of this.#models) {
      if (id.startsWith(prefix) && entry.cooldownUntil > now && entry.reason !== undefined) {
        cooling.push({ model: id.slice(prefix.length), cooldownUntil: entry.cooldownUntil, reason: entry.reason });
      }
    }
    return cooling.sort((a, b) => a.cooldownUntil - b.cooldownUntil);
  }
}
