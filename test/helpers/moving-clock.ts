// Real time plus an offset the test moves forward: timers run as usual, while "now" can jump past
// a cooldown or a TTL without the test waiting for it.
import type { Clock } from '../../src/cascade/clock.ts';

export interface MovingClock extends Clock {
  advance(ms: number): void;
}

export function movingClock(): MovingClock {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    advance(ms) {
      offset += ms;
    },
  };
}
