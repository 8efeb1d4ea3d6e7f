// The answer cache's store as configured: Redis when REDIS_URL is set, this process's memory
// otherwise. Each is loaded only when it is used, so a gateway without the cache carries neither
// lru-cache nor the Redis client.
import type { Clock } from '../cascade/clock.ts';
import type { AnswerStore, MemoryStoreLimits } from './answer-cache.ts';
import type { RedisLog } from './redis.ts';

export async function openAnswerStore(limits: MemoryStoreLimits, redisUrl: string | undefined, clock: Clock, log: RedisLog): Promise<AnswerStore> {
  if (redisUrl === undefined) return new (await import('./answer-cache.ts')).MemoryAnswerStore(limits, clock);
  const [{ connectRedis }, { RedisAnswerStore }] = await Promise.all([import('./redis.ts'), import('./redis-answer-store.ts')]);
  return new RedisAnswerStore(await connectRedis(redisUrl, log), clock, log);
}
