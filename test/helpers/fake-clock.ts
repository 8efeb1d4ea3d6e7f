// A Clock the test moves by hand: timers fire in order of their time (then of their setting) as
// advance() reaches them, with promises allowed to settle between two timers, so the cascade's
// rules run on logical time without any real waiting.
import type { Clock, TimerHandle } from '../../src/cascade/clock.ts';

interface Timer {
  id: number;
  at: number;
  callback: () => void;
}

/** Lets every promise chain that can move on do so (a macrotask turn drains the microtasks). */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time on by ms, firing each timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let next = this.#due(target); next !== undefined; next = this.#due(target)) {
      this.#fire(next);
      await settle();
    }
    this.#now = target;
    await settle();
  }

  /**
   * Runs time forward, timer by timer, until the work settles, and returns its outcome (a
   * rejection is returned too, as { error }). Fails when the work waits on nothing this clock runs.
   */
  async run<T>(work: Promise<T>): Promise<{ value: T } | { error: unknown }> {
    let outcome: { value: T } | { error: unknown } | undefined;
    work.then(
      (value) => (outcome = { value }),
      (error: unknown) => (outcome = { error }),
    );
    await settle();
    while (outcome === undefined) {
      const next = this.#due(Number.POSITIVE_INFINITY);
      if (next === undefined) throw new Error('the work is waiting on something other than this clock');
      this.#fire(next);
      await settle();
    }
    return outcome;
  }

  #due(until: number): Timer | undefined {
    let first: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at <= until && (first === undefined || timer.at < first.at || (timer.at === first.at && timer.id < first.id))) first = timer;
    }
    return first;
  }

  #fire(timer: Timer): void {
    this.#timers.delete(timer.id);
    this.#now = Math.max(this.#now, timer.at);
    timer.callback();
  }
}
