// Cached answers in Redis, shared by every gateway process pointed at it. An entry is its JSON
// under a versioned key, set with the time it has left (PX), so Redis drops it when it expires;
// the gateway's clock is read on every get as well. Redis bounds the whole by its own memory
// limit (maxmemory with an LRU policy: see docs/operations.md). Any Redis failure is a miss.
import type { Clock } from '../cascade/clock.ts';
import type { AnswerStore, CachedAnswer } from './answer-cache.ts';
import type { RedisConnection, RedisLog } from './redis.ts';

/** Bump when CachedAnswer changes shape, so old entries are never read as new ones. */
const PREFIX = 'slr:answer:v1:';

const isCachedAnswer = (value: unknown): value is CachedAnswer => {
  const entry = value as Partial<CachedAnswer> | null;
  return (
    typeof entry === 'object' &&
    entry !== null &&
    typeof entry.provider === 'string' &&
    typeof entry.model === 'string' &&
    typeof entry.text === 'string' &&
    typeof entry.expiresAt === 'number' &&
    (entry.usage === undefined || (typeof entry.usage === 'object' && entry.usage !== null))
  );
};

export class RedisAnswerStore implements AnswerStore {
  readonly #redis: RedisConnection;
  readonly #clock: Clock;
  readonly #log: RedisLog;

  constructor(redis: RedisConnection, clock: Clock, log: RedisLog) {
    this.#redis = redis;
    this.#clock = clock;
    this.#log = log;
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    if (!this.#redis.available) return undefined;
    try {
      const text = await this.#redis.client.get(PREFIX + key);
      if (text === null) return undefined;
      const entry: unknown = JSON.parse(text);
      return isCachedAnswer(entry) && entry.expiresAt > this.#clock.now() ? entry : undefined;
    } catch (error) {
      this.#log.warn({ reason: (error as Error).message }, 'answer cache read failed; answering without it');
      return undefined;
    }
  }

  async set(key: string, answer: CachedAnswer): Promise<void> {
    const ttlMs = Math.ceil(answer.expiresAt - this.#clock.now());
    if (!this.#redis.available || ttlMs <= 0) return;
    try {
      await this.#redis.client.set(PREFIX + key, JSON.stringify(answer), 'PX', ttlMs);
    } catch (error) {
      this.#log.warn({ reason: (error as Error).message }, 'answer cache write failed');
    }
  }

  /** Redis knows its own size; this process does not count it. */
  size(): undefined {
    return undefined;
  }

  close(): Promise<void> {
    return this.#redis.close();
  }
}
