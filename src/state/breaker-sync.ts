// Provider cooldowns shared between replicas: a cooldown one process starts (a provider's 429,
// a refused key, a run of failures) is written to Redis as a key that expires with it and
// announced on a channel; every replica listens and applies it to its own breakers. The request
// path never waits on Redis: breakers are read from memory as before, and what other replicas
// learned arrives in the background (within a round trip of the announcement). A replica that
// (re)connects reads the cooldowns still running. While Redis is away each replica keeps its own.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { BreakerKey, Breakers, BreakerSnapshot } from '../cascade/breakers.ts';
import type { RedisConnection, RedisLog } from './redis.ts';

const CHANNEL = 'slr:cooldowns';
const PREFIX = 'slr:cooldown:';

interface Announcement {
  origin: string;
  provider: string;
  model?: string | undefined;
  until: number;
  reason: NonNullable<BreakerSnapshot['reason']>;
}

const keyOf = (key: BreakerKey) => `${PREFIX}${key.provider}${key.model === undefined ? '' : `/${key.model}`}`;

export class BreakerSync {
  readonly #origin = randomUUID();
  readonly #redis: RedisConnection;
  readonly #breakers: Breakers;
  readonly #subscriber: Redis;
  readonly #fellBack: (reason: string) => void;

  constructor(redis: RedisConnection, breakers: Breakers, log: RedisLog, fellBack: (reason: string) => void) {
    this.#redis = redis;
    this.#breakers = breakers;
    this.#fellBack = fellBack;
    breakers.onCooldown = (key, until, reason) => this.#publish({ origin: this.#origin, provider: key.provider, model: key.model, until, reason });
    // A subscribed connection takes no other commands: a second one, reconnecting on its own.
    this.#subscriber = redis.client.duplicate({ lazyConnect: false, enableOfflineQueue: true });
    this.#subscriber.on('error', () => undefined);
    this.#subscriber.on('message', (_channel: string, message: string) => this.#apply(message));
    this.#subscriber.on('ready', () => void this.#catchUp());
    this.#subscriber.subscribe(CHANNEL).catch((error: Error) => log.warn({ reason: error.message }, 'cooldowns from other replicas not followed until Redis is back'));
  }

  #apply(message: string): void {
    let announced: Announcement;
    try {
      announced = JSON.parse(message) as Announcement;
    } catch {
      return;
    }
    if (announced.origin === this.#origin || typeof announced.until !== 'number' || typeof announced.provider !== 'string') return;
    this.#breakers.applyCooldown({ provider: announced.provider, model: announced.model }, announced.until, announced.reason);
  }

  #publish(announced: Announcement): void {
    if (!this.#redis.available) return this.#fellBack('not connected');
    const ms = Math.max(1, Math.ceil(announced.until - Date.now()));
    const message = JSON.stringify(announced);
    this.#redis.client
      .multi()
      .set(keyOf(announced), message, 'PX', ms)
      .publish(CHANNEL, message)
      .exec()
      .catch((error: Error) => this.#fellBack(error.message));
  }

  /** The cooldowns other replicas started while this one was not listening. */
  async #catchUp(): Promise<void> {
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, found] = await this.#redis.client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 200);
        cursor = next;
        keys.push(...found);
      } while (cursor !== '0' && keys.length < 10_000);
      if (keys.length === 0) return;
      for (const message of await this.#redis.client.mget(keys)) if (message !== null) this.#apply(message);
    } catch (error) {
      this.#fellBack((error as Error).message);
    }
  }

  async close(): Promise<void> {
    this.#breakers.onCooldown = undefined;
    // A subscriber still reconnecting would queue QUIT until Redis is back: cut it off instead.
    if (this.#subscriber.status !== 'ready') return this.#subscriber.disconnect();
    const timer = setTimeout(() => this.#subscriber.disconnect(), 1_000);
    await this.#subscriber.quit().catch(() => this.#subscriber.disconnect());
    clearTimeout(timer);
  }
}
