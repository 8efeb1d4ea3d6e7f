// Where limits, quotas and provider cooldowns live: this process's memory by default; Redis with
// REDIS_URL, so that every replica sees the same (see shared-limit-store.ts, client-quota-store.ts and
// breaker-sync.ts). Each falls back to this process's own state for as long as Redis cannot be
// reached, counting it in a metric; the connection (redis.ts) logs the outage once and its end.
import type { Breakers } from '../cascade/breakers.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import { MemoryClientQuotaStore, RedisClientQuotaStore, type ClientQuotaStore } from './client-quota-store.ts';
import type { RedisConnection, RedisLog } from './redis.ts';
import { sharedLimitStore } from './shared-limit-store.ts';

export interface SharedState {
  /** Undefined without REDIS_URL. */
  redis: RedisConnection | undefined;
  limitStore: ReturnType<typeof sharedLimitStore>;
  quotaStore: ClientQuotaStore;
  close(): Promise<void>;
}

export async function openSharedState(redisUrl: string | undefined, breakers: Breakers, metrics: GatewayMetrics, log: RedisLog): Promise<SharedState> {
  if (redisUrl === undefined) {
    return { redis: undefined, limitStore: sharedLimitStore(undefined, () => undefined), quotaStore: new MemoryClientQuotaStore(), close: async () => undefined };
  }
  // Loaded only with REDIS_URL: the Redis client is no part of a single container's memory.
  const [{ connectRedis }, { BreakerSync }] = await Promise.all([import('./redis.ts'), import('./breaker-sync.ts')]);
  const redis = await connectRedis(redisUrl, log);
  metrics.watchSharedState(() => redis.available);
  const sync = new BreakerSync(redis, breakers, log, () => metrics.sharedStateFallback('breakers'));
  return {
    redis,
    limitStore: sharedLimitStore(redis, () => metrics.sharedStateFallback('rate_limit')),
    quotaStore: new RedisClientQuotaStore(redis, () => metrics.sharedStateFallback('quota')),
    async close() {
      await sync.close();
      await redis.close();
    },
  };
}
