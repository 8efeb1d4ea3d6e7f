// Where cached answers live, behind one small interface: this process's memory (an LRU bounded by
// entries and bytes) by default, Redis (redis-answer-store.ts) when REDIS_URL is set, so replicas
// share one. What to cache, under which key, is decided in gateway/answer-cache.ts.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../cascade/clock.ts';
import type { TokenUsage } from '../providers/types.ts';

/** One whole answer that finished with "stop", as the routes need it to answer again. */
export interface CachedAnswer {
  provider: string;
  model: string;
  text: string;
  usage?: TokenUsage | undefined;
  /** Milliseconds since the epoch (the gateway's clock) after which the entry is gone. */
  expiresAt: number;
}

export interface AnswerStore {
  /** The entry, or undefined when there is none, it expired, or the store cannot answer. Never rejects. */
  get(key: string): Promise<CachedAnswer | undefined>;
  /** Stores the entry until its expiresAt; a failure is logged, never thrown. */
  set(key: string, answer: CachedAnswer): Promise<void>;
  /** What this process's store holds (entries and their bytes); undefined for a shared one. */
  size(): { entries: number; bytes: number } | undefined;
  close(): Promise<void>;
}

/** The bytes an entry is counted as: its JSON, as Redis would hold it. */
export const entryBytes = (answer: CachedAnswer): number => Buffer.byteLength(JSON.stringify(answer));

export interface MemoryStoreLimits {
  maxEntries: number;
  maxBytes: number;
}

/**
 * This process's cache. Expiry is read from the gateway's clock on every get (lru-cache's own TTL
 * would use its own clock), and an expired entry is dropped as it is found.
 */
export class MemoryAnswerStore implements AnswerStore {
  readonly #lru: LRUCache<string, CachedAnswer>;
  readonly #clock: Clock;

  constructor(limits: MemoryStoreLimits, clock: Clock) {
    this.#clock = clock;
    this.#lru = new LRUCache<string, CachedAnswer>({
      max: limits.maxEntries,
      maxSize: limits.maxBytes,
      sizeCalculation: entryBytes,
    });
  }

  get(key: string): Promise<CachedAnswer | undefined> {
    const answer = this.#lru.get(key);
    if (answer !== undefined && answer.expiresAt <= this.#clock.now()) {
      this.#lru.delete(key);
      return Promise.resolve(undefined);
    }
    return Promise.resolve(answer);
  }

  set(key: string, answer: CachedAnswer): Promise<void> {
    // An entry larger than the whole budget is not stored (lru-cache refuses it).
    this.#lru.set(key, answer);
    return Promise.resolve();
  }

  size() {
    return { entries: this.#lru.size, bytes: this.#lru.calculatedSize };
  }

  close(): Promise<void> {
    this.#lru.clear();
    return Promise.resolve();
  }
}
