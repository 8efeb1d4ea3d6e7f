// Token quotas per client and UTC day: a request reserves the most it could use before the call,
// and settles with what the provider counted after it, so concurrent requests can never spend
// more than the quota between them. In memory by default; in Redis with REDIS_URL, where each
// operation is one Lua script (atomic on the server), so every replica draws on the same count.
// While Redis is unavailable the reservation is made in this process's memory instead (and
// settled there): the quota then holds per replica, not across them, until Redis is back.
import type { RedisConnection } from './redis.ts';

export interface Reservation {
  /** The counter the reservation was taken from, so the settlement goes to the same one. */
  key: string;
  amount: number;
  shared: boolean;
}

export interface ClientQuotaStore {
  /** Reserves `amount` tokens, or answers undefined when `limit` would be passed. */
  reserve(client: string, amount: number, limit: number, now: number): Promise<Reservation | undefined>;
  /** Replaces the reservation with `used` tokens (at most the amount reserved). */
  settle(reservation: Reservation, used: number): Promise<void>;
  /** Tokens counted today so far (for tests and operators). */
  used(client: string, now: number): Promise<number>;
}

const DAY_MS = 86_400_000;
/** The UTC day a moment falls in, and the counter's key for it. */
export const quotaKey = (client: string, now: number): string => `slr:quota:${new Date(now).toISOString().slice(0, 10)}:${client}`;
/** When today's quota starts again: the next UTC midnight. */
export const quotaResetAt = (now: number): number => (Math.floor(now / DAY_MS) + 1) * DAY_MS;

export class MemoryClientQuotaStore implements ClientQuotaStore {
  readonly #used = new Map<string, number>();

  async reserve(client: string, amount: number, limit: number, now: number): Promise<Reservation | undefined> {
    return this.reserveNow(client, amount, limit, now);
  }

  reserveNow(client: string, amount: number, limit: number, now: number): Reservation | undefined {
    const key = quotaKey(client, now);
    const used = this.#used.get(key) ?? 0;
    if (used + amount > limit) return undefined;
    // Yesterday's counters are of no further use.
    if (!this.#used.has(key)) for (const old of this.#used.keys()) if (old.endsWith(`:${client}`)) this.#used.delete(old);
    this.#used.set(key, used + amount);
    return { key, amount, shared: false };
  }

  async settle(reservation: Reservation, used: number): Promise<void> {
    const left = (this.#used.get(reservation.key) ?? 0) - reservation.amount + Math.min(used, reservation.amount);
    if (this.#used.has(reservation.key)) this.#used.set(reservation.key, Math.max(0, left));
  }

  async used(client: string, now: number): Promise<number> {
    return this.#used.get(quotaKey(client, now)) ?? 0;
  }
}

/** Reserves only while the whole quota fits; the counter expires a day after its day ends. */
const RESERVE = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then return -1 end
local total = redis.call('INCRBY', KEYS[1], amount)
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return total
`;
/** Gives back what was reserved and not used; never below zero. */
const SETTLE = `
local total = redis.call('DECRBY', KEYS[1], ARGV[1])
if total < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
return total
`;

type ScriptClient = RedisConnection['client'] & {
  quotaReserve(key: string, amount: number, limit: number, expireAt: number): Promise<number>;
  quotaSettle(key: string, giveBack: number): Promise<number>;
};

export interface QuotaFallbackLog {
  warn(object: object, message: string): void;
}

export class RedisClientQuotaStore implements ClientQuotaStore {
  readonly #redis: RedisConnection;
  readonly #local = new MemoryClientQuotaStore();
  readonly #client: ScriptClient;
  readonly #fellBack: (reason: string) => void;

  constructor(redis: RedisConnection, fellBack: (reason: string) => void) {
    this.#redis = redis;
    this.#client = redis.client as ScriptClient;
    this.#fellBack = fellBack;
    if (typeof this.#client.quotaReserve !== 'function') {
      redis.client.defineCommand('quotaReserve', { numberOfKeys: 1, lua: RESERVE });
      redis.client.defineCommand('quotaSettle', { numberOfKeys: 1, lua: SETTLE });
    }
  }

  async reserve(client: string, amount: number, limit: number, now: number): Promise<Reservation | undefined> {
    if (this.#redis.available) {
      const key = quotaKey(client, now);
      try {
        const total = await this.#client.quotaReserve(key, amount, limit, quotaResetAt(now) + DAY_MS);
        return total < 0 ? undefined : { key, amount, shared: true };
      } catch (error) {
        this.#fellBack((error as Error).message);
      }
    } else {
      this.#fellBack('not connected');
    }
    return this.#local.reserveNow(client, amount, limit, now);
  }

  async settle(reservation: Reservation, used: number): Promise<void> {
    if (!reservation.shared) return this.#local.settle(reservation, used);
    const giveBack = reservation.amount - Math.min(used, reservation.amount);
    if (giveBack === 0) return;
    // A settlement that cannot reach Redis leaves the whole reservation spent: the quota errs on
    // the side of the limit, never past it.
    await this.#client.quotaSettle(reservation.key, giveBack).catch((error: Error) => this.#fellBack(error.message));
  }

  async used(client: string, now: number): Promise<number> {
    return Number((await this.#redis.client.get(quotaKey(client, now))) ?? 0);
  }
}
