// Where quota counts live: how much of each provider's windows (requests and tokens, per minute
// and per day) has been used, what the limit is, and when each window resets. One small interface,
// so that replicas can later share their counts (a Redis store answers the same four questions);
// the in-memory store below is the default, one per process. Its methods may return promises, so
// a networked store fits behind the same calls.
import { untilMidnightPacific } from '../providers/gemini/gemini-errors.ts';

/** rpm, rpd: requests per minute, per day; tpm, tpd: tokens per minute, per day. */
export type QuotaWindow = 'rpm' | 'rpd' | 'tpm' | 'tpd';
export const QUOTA_WINDOWS: readonly QuotaWindow[] = ['rpm', 'rpd', 'tpm', 'tpd'];

/** Limits per window; a window left out has no known limit (yet). */
export type QuotaLimits = Partial<Record<QuotaWindow, number>>;

/** When a provider's day turns: Gemini's at midnight Pacific time, OpenRouter's at 00:00 UTC. */
export type DayBoundary = 'utc' | 'pacific';

/** What a request costs: one request, and its estimated tokens. */
export interface QuotaCost {
  requests: number;
  tokens: number;
}

export interface WindowView {
  window: QuotaWindow;
  limit: number;
  remaining: number;
  /** Epoch ms when the window's count starts again. */
  resetAt: number;
}

/** What a provider said about one window; any field may be missing. */
export interface WindowCorrection {
  window: QuotaWindow;
  limit?: number | undefined;
  remaining?: number | undefined;
  resetAt?: number | undefined;
}

export type Taken = { ok: true } | { ok: false; window: QuotaWindow; resetAt: number };

type MaybePromise<T> = T | Promise<T>;

export interface QuotaStore {
  /** Seeds a key's limits and when its day turns (a second call replaces the limits). */
  define(key: string, limits: QuotaLimits, day: DayBoundary): MaybePromise<void>;
  /**
   * Takes `cost` from every window of `key` when each has room for it; otherwise takes nothing
   * and names the window that refused and when it resets. Counts taken stay taken (a request in
   * flight counts), so concurrent callers cannot overrun a limit together.
   */
  take(key: string, cost: QuotaCost, now: number): MaybePromise<Taken>;
  /** Adds (or with a negative count, gives back) tokens, once the real count is known. */
  addTokens(key: string, tokens: number, now: number): MaybePromise<void>;
  /** A provider's own figures win over ours: its limit, what it says is left, its reset time. */
  correct(key: string, corrections: readonly WindowCorrection[], now: number): MaybePromise<void>;
  /** Every window with a known limit, as of now. */
  view(key: string, now: number): MaybePromise<WindowView[]>;
}

interface Counter {
  limit: number | undefined;
  used: number;
  resetAt: number;
  /** The limit is only what was used when the provider said the window was spent. */
  guessed: boolean;
}

type Entry = { day: DayBoundary; windows: Record<QuotaWindow, Counter> };

const MINUTE_MS = 60_000;

/** The next time a window of this kind starts again: the turn of the minute, or of the provider's day. */
export function nextReset(window: QuotaWindow, day: DayBoundary, now: number): number {
  if (window === 'rpm' || window === 'tpm') return (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS;
  return day === 'pacific' ? now + untilMidnightPacific(now) : (Math.floor(now / 86_400_000) + 1) * 86_400_000;
}

export class MemoryQuotaStore implements QuotaStore {
  readonly #entries = new Map<string, Entry>();

  define(key: string, limits: QuotaLimits, day: DayBoundary): void {
    const entry = this.#entry(key, 0, day);
    entry.day = day;
    for (const window of QUOTA_WINDOWS) entry.windows[window].limit = limits[window];
  }

  take(key: string, cost: QuotaCost, now: number): Taken {
    const entry = this.#entry(key, now);
    let refused: Taken | undefined;
    for (const window of QUOTA_WINDOWS) {
      const counter = this.#current(entry, window, now);
      const amount = window === 'rpm' || window === 'rpd' ? cost.requests : cost.tokens;
      if (counter.limit !== undefined && amount > 0 && counter.used + amount > counter.limit) {
        // The latest reset among the refusing windows: the request fits only once all have turned.
        if (refused === undefined || (!refused.ok && counter.resetAt > refused.resetAt)) refused = { ok: false, window, resetAt: counter.resetAt };
      }
    }
    if (refused !== undefined) return refused;
    for (const window of QUOTA_WINDOWS) entry.windows[window].used += window === 'rpm' || window === 'rpd' ? cost.requests : cost.tokens;
    return TAKEN;
  }

  addTokens(key: string, tokens: number, now: number): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    for (const window of ['tpm', 'tpd'] as const) {
      const counter = this.#current(entry, window, now);
      counter.used = Math.max(0, counter.used + tokens);
    }
  }

  correct(key: string, corrections: readonly WindowCorrection[], now: number): void {
    const entry = this.#entry(key, now);
    for (const { window, limit, remaining, resetAt } of corrections) {
      const counter = this.#current(entry, window, now);
      if (limit !== undefined) {
        counter.limit = limit;
        counter.guessed = false;
      }
      if (resetAt !== undefined && resetAt > now) counter.resetAt = resetAt;
      // The provider's count leaves out our requests still in flight, so ours is kept when higher.
      const known = limit ?? counter.limit;
      if (remaining !== undefined && known !== undefined) counter.used = Math.max(counter.used, known - remaining);
      // A window said to be spent with no limit known: treat what was used as the limit until it resets.
      if (remaining === 0 && counter.limit === undefined) {
        counter.limit = counter.used;
        counter.guessed = true;
      }
    }
  }

  view(key: string, now: number): WindowView[] {
    const entry = this.#entries.get(key);
    if (entry === undefined) return [];
    const views: WindowView[] = [];
    for (const window of QUOTA_WINDOWS) {
      const counter = this.#current(entry, window, now);
      if (counter.limit !== undefined) views.push({ window, limit: counter.limit, remaining: Math.max(0, counter.limit - counter.used), resetAt: counter.resetAt });
    }
    return views;
  }

  #entry(key: string, now: number, day: DayBoundary = 'utc'): Entry {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      const counter = (window: QuotaWindow): Counter => ({ limit: undefined, used: 0, resetAt: now === 0 ? 0 : nextReset(window, day, now), guessed: false });
      entry = { day, windows: { rpm: counter('rpm'), rpd: counter('rpd'), tpm: counter('tpm'), tpd: counter('tpd') } };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** The window's counter, started again when its reset time has passed. */
  #current(entry: Entry, window: QuotaWindow, now: number): Counter {
    const counter = entry.windows[window];
    if (now >= counter.resetAt) {
      counter.used = 0;
      counter.resetAt = nextReset(window, entry.day, now);
      // A limit learned only from a refusal was a guess for that window alone.
      if (counter.guessed) {
        counter.limit = undefined;
        counter.guessed = false;
      }
    }
    return counter;
  }
}

const TAKEN: Taken = Object.freeze({ ok: true });
