// A client's tokens per day (its tier's tokens_per_day), taken before a provider is asked and
// settled after with what the provider counted. What a call may use is bounded before it starts:
// a token is at least one byte of the text it stands for, so the prompt's UTF-8 bytes (plus a
// few tokens per message for the chat template) bound its prompt tokens, and max_tokens (which
// the policy's ceiling caps) bounds the answer. A provider that counts more than was reserved is
// charged the reservation and the excess is logged: the quota is never passed.
import type { FastifyBaseLogger } from 'fastify';
import type { Policy } from '../clients/keys-file.ts';
import type { Clock } from '../cascade/clock.ts';
import { GatewayError } from '../errors.ts';
import type { TokenUsage } from '../providers/types.ts';
import { quotaResetAt, type ClientQuotaStore, type Reservation } from '../state/client-quota-store.ts';

/** Chat templates wrap each message in a few tokens of their own. */
const TOKENS_PER_MESSAGE = 8;

/** The most tokens a call can use: its texts' bytes, a few per message, and its answer's allowance. */
export function tokenBound(texts: readonly string[], answerTokens: number): number {
  let bytes = 0;
  for (const text of texts) bytes += Buffer.byteLength(text, 'utf8') + TOKENS_PER_MESSAGE;
  return bytes + answerTokens;
}

export class TokenQuota {
  readonly #store: ClientQuotaStore;
  readonly #clock: Clock;

  constructor(store: ClientQuotaStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  get store(): ClientQuotaStore {
    return this.#store;
  }

  /** Reserves `bound` tokens for the client, or refuses with 429 quota_exceeded until the UTC day ends. */
  async reserve(client: string, policy: Policy, bound: number): Promise<Reservation | undefined> {
    const limit = policy.tokensPerDay;
    if (limit === undefined) return undefined;
    const now = this.#clock.now();
    const reservation = await this.#store.reserve(client, bound, limit, now);
    if (reservation !== undefined) return reservation;
    const retryAfterSeconds = Math.max(1, Math.ceil((quotaResetAt(now) - now) / 1000));
    throw new GatewayError('quota_exceeded', {
      retryAfterSeconds,
      message: `This client's ${limit} tokens a day (tier ${policy.tier}) are spent, or too few are left for this request (it may use up to ${bound}); they renew at 00:00 UTC, in ${retryAfterSeconds} seconds.`,
    });
  }

  /** Settles off the request's path: the answer does not wait for it. */
  settle(reservation: Reservation | undefined, usage: TokenUsage | undefined, log: FastifyBaseLogger): void {
    if (reservation === undefined) return;
    // No count from the provider: the reservation stands, as the most the call could have used.
    const used = usage === undefined ? reservation.amount : (usage.totalTokens ?? (usage.promptTokens ?? 0) + (usage.completionTokens ?? 0));
    if (used > reservation.amount) log.warn({ reserved: reservation.amount, counted: used }, 'the provider counted more tokens than the request could use; charged the reservation');
    this.#store.settle(reservation, used).catch((error: Error) => log.warn({ reason: error.message }, 'token quota not settled'));
  }

  /** A call that produced nothing gives its reservation back. */
  release(reservation: Reservation | undefined, log: FastifyBaseLogger): void {
    if (reservation !== undefined) this.#store.settle(reservation, 0).catch((error: Error) => log.warn({ reason: error.message }, 'token quota not released'));
  }
}
