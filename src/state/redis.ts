// The one connection to Redis (REDIS_URL) that shared state goes through. Nothing may wait on it
// for long: the first connection gets REDIS_CONNECT_TIMEOUT_MS, a command REDIS_COMMAND_TIMEOUT_MS,
// and while the connection is down commands fail at once (no offline queue) while it reconnects
// in the background. Users read `available` and treat a failed command as "no shared state this
// time" (the answer cache then misses); the log says when Redis goes away and comes back, once
// each, never with the URL (it may hold a password).
import { Redis } from 'ioredis';

export const REDIS_CONNECT_TIMEOUT_MS = 2_000;
export const REDIS_COMMAND_TIMEOUT_MS = 250;
/** The longest wait between reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 2_000;

export interface RedisLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface RedisConnection {
  readonly client: Redis;
  /** True while connected and ready; commands sent otherwise fail at once. */
  readonly available: boolean;
  close(): Promise<void>;
}

/**
 * Connects, waiting at most REDIS_CONNECT_TIMEOUT_MS for the first connection. It resolves either
 * way: a Redis that is not there yet is reported and reconnected to in the background.
 */
export async function connectRedis(url: string, log: RedisLog): Promise<RedisConnection> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, MAX_RECONNECT_DELAY_MS),
  });
  let available = false;
  let reported = false;
  client.on('ready', () => {
    available = true;
    if (reported) log.info({}, 'Redis is available again');
    reported = false;
  });
  const lost = (error?: Error) => {
    available = false;
    if (reported) return;
    reported = true;
    log.warn({ reason: error?.message ?? 'connection closed' }, 'Redis is unavailable; shared state is skipped until it is back');
  };
  // ioredis emits an error for each failed reconnection; one report per outage is enough.
  client.on('error', lost);
  client.on('end', () => {
    available = false;
  });
  client.on('close', () => {
    if (available) lost();
  });
  await client.connect().catch((error: Error) => lost(error));

  return {
    client,
    get available() {
      return available;
    },
    async close() {
      available = false;
      reported = true;
      // QUIT lets replies in flight arrive; a Redis that does not answer is cut off.
      const timer = setTimeout(() => client.disconnect(), REDIS_COMMAND_TIMEOUT_MS * 4);
      await client.quit().catch(() => client.disconnect());
      clearTimeout(timer);
    },
  };
}
