// Time as the cascade sees it: what time it is, and timers. The system clock in production; a
// fake one in the cascade's unit tests, so its rules (retry, move on, cooldown, probe) run
// without real waiting.

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch (cooldowns are shown as dates). */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: Date.now,
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
