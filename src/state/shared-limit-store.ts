// The store @fastify/rate-limit counts in. A limiter created with a `nameSpace` (the per-key
// limit) counts in Redis when REDIS_URL is set, with the plugin's own Lua script (RedisStore: one
// INCR and PEXPIRE, atomic on the server), so every replica shares one count per key; the others
// (wrong keys and unknown routes, per address) stay in this process. While Redis is unavailable,
// or a call to it fails or passes its command timeout, the count falls back to this process's
// memory (the plugin's LocalStore): each replica then limits on its own until Redis is back.
import { createRequire } from 'node:module';
import type { RateLimitPluginOptions } from '@fastify/rate-limit';
import type { RedisConnection } from './redis.ts';

export type LimitStore = NonNullable<RateLimitPluginOptions['store']>;

type Result = { current: number; ttl: number };
type Callback = (error: Error | null, result?: Result) => void;

interface Store {
  incr(key: string, callback: Callback, timeWindow: number, max: number): void;
  read?(key: string, callback: Callback, timeWindow: number, max: number): void;
  child(params: LimiterParams): Store;
}

interface LimiterParams {
  nameSpace?: string;
  continueExceeding?: boolean;
  exponentialBackoff?: boolean;
}

// The plugin's own stores: its package has no exports map and ships no types for them.
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => Store;
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (continueExceeding: boolean, exponentialBackoff: boolean, redis: unknown, key?: string) => Store;

/** Keys the per-client limits count under in Redis. */
export const LIMIT_PREFIX = 'slr:limit:';
const LOCAL_ENTRIES = 10_000;

class FallbackStore implements Store {
  readonly #shared: Store;
  readonly #local: Store;
  readonly #redis: RedisConnection;
  readonly #fellBack: (reason: string) => void;

  constructor(shared: Store, local: Store, redis: RedisConnection, fellBack: (reason: string) => void) {
    this.#shared = shared;
    this.#local = local;
    this.#redis = redis;
    this.#fellBack = fellBack;
  }

  incr(key: string, callback: Callback, timeWindow: number, max: number): void {
    if (!this.#redis.available) {
      this.#fellBack('not connected');
      return this.#local.incr(key, callback, timeWindow, max);
    }
    this.#shared.incr(
      key,
      (error, result) => {
        if (error === null && result !== undefined && result !== null) return callback(null, result);
        this.#fellBack(error?.message ?? 'no answer');
        this.#local.incr(key, callback, timeWindow, max);
      },
      timeWindow,
      max,
    );
  }

  child(): Store {
    return this;
  }
}

/** The `store` option for @fastify/rate-limit: shared through `redis` for namespaced limiters. */
export function sharedLimitStore(redis: RedisConnection | undefined, fellBack: (reason: string) => void): LimitStore {
  class SharedLimitStore implements Store {
    readonly #local = new LocalStore(false, false, LOCAL_ENTRIES);

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      this.#local.incr(key, callback, timeWindow, max);
    }

    child(params: LimiterParams): Store {
      const local = new LocalStore(params.continueExceeding ?? false, params.exponentialBackoff ?? false, LOCAL_ENTRIES);
      if (redis === undefined || params.nameSpace === undefined) return local;
      const shared = new RedisStore(params.continueExceeding ?? false, params.exponentialBackoff ?? false, redis.client, `${LIMIT_PREFIX}${params.nameSpace}:`);
      return new FallbackStore(shared, local, redis, fellBack);
    }
  }
  // The plugin types child()'s argument as route options; it is the limiter's merged options.
  return SharedLimitStore as unknown as LimitStore;
}
