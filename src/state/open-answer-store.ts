// The answer cache's store as configured: Redis when REDIS_URL is set (loaded only then), this
// process's memory otherwise.
import type { Clock } from '../cascade/clock.ts';
import { MemoryAnswerStore, type AnswerStore, type MemoryStoreLimits } from './answer-cache.ts';
import type { RedisLog } from './redis.ts';

export async function openAnswerStore(limits: MemoryStoreLimits, redisUrl: string | undefined, clock: Clock, log: RedisLog): Promise<AnswerStore> {
  if (redisUrl === undefined) return new MemoryAnswerStore(limits, clock);
  const [{ connectRedis }, { RedisAnswerStore }] = await Promise.all([import('./redis.ts'), import('./redis-answer-store.ts')]);
  return new RedisAnswerStore(await connectRedis(redisUrl, log), clock, log);
}
