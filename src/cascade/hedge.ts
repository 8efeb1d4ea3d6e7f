// Hedging a slow first token (HEDGE_AFTER_MS): when the first provider has shown nothing after a
// while, a second one is started beside it, and whichever shows a sign of life first (a token, or
// reasoning) or answers first wins; the other is aborted at once. Never more than two calls are in
// flight for one request. The race alone lives here; the cascade records each side's outcome.
import type { Clock } from './clock.ts';

export type HedgeSide = 'first' | 'second';

/** One call in the race: `live` is to be called on its every sign of life. */
export type HedgeCall<T> = (live: () => void) => Promise<T>;

export interface HedgeOptions<T> {
  afterMs: number;
  clock: Clock;
  first: HedgeCall<T>;
  /** Asked once the first has shown nothing for afterMs: the second call, or undefined when none may start (no headroom). */
  second: () => Promise<HedgeCall<T> | undefined>;
  /** A side lost the race: abort its call now (its outcome is not a failure). */
  lost(side: HedgeSide): void;
  /** The second failed on its own; the race goes on with the first, if it still runs. */
  secondFailed(error: unknown): void;
}

export interface HedgeWin<T> {
  side: HedgeSide;
  value: T;
  /** Set when the second won after the first had failed: the first's error, for the record. */
  firstError?: unknown;
}

/** The second won the race, then failed: the first was aborted, so nobody is left in this race. */
export class HedgeAbandoned extends Error {
  override name = 'HedgeAbandoned';
}

/**
 * Resolves with the winner's value. Rejects with the first's error when the first fails and no
 * second wins, or with HedgeAbandoned when the second, having won, fails.
 */
export function hedge<T>(options: HedgeOptions<T>): Promise<HedgeWin<T>> {
  const { clock } = options;
  return new Promise((resolve, reject) => {
    let winner: HedgeSide | undefined;
    let firstShown = false;
    let firstFailed: { error: unknown } | undefined;
    let secondRunning = false;

    const claim = (side: HedgeSide): boolean => {
      if (winner !== undefined) return winner === side;
      winner = side;
      clock.clearTimeout(timer);
      const other = side === 'first' ? 'second' : 'first';
      if (other === 'second' ? secondRunning : firstFailed === undefined) options.lost(other);
      return true;
    };

    const timer = clock.setTimeout(() => {
      if (firstShown || firstFailed !== undefined || winner !== undefined) return;
      void options.second().then((call) => {
        // The first may have answered or failed while the second's headroom was checked.
        if (call === undefined || winner !== undefined || firstShown) return;
        if (firstFailed !== undefined) return reject(firstFailed.error);
        secondRunning = true;
        call(() => void claim('second')).then(
          (value) => {
            if (claim('second')) resolve({ side: 'second', value, ...(firstFailed === undefined ? {} : { firstError: firstFailed.error }) });
          },
          (error: unknown) => {
            secondRunning = false;
            if (winner === 'first') return;
            options.secondFailed(error);
            if (winner === 'second') return reject(new HedgeAbandoned('the hedge won, then failed', { cause: error }));
            if (firstFailed !== undefined) reject(firstFailed.error);
          },
        );
      }, reject);
    }, options.afterMs);

    options
      .first(() => {
        firstShown = true;
        claim('first');
      })
      .then(
        (value) => {
          if (claim('first')) resolve({ side: 'first', value });
        },
        (error: unknown) => {
          clock.clearTimeout(timer);
          if (winner === 'second') return;
          firstFailed = { error };
          // With the second still running and not yet shown anything, it may yet answer.
          if (!secondRunning || winner === 'first') reject(error);
        },
      );
  });
}
