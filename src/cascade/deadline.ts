// A request's time budget. Its signal aborts when the budget runs out or the caller goes away,
// and every attempt's signal is linked to it, so nothing outlives the request.
import { systemClock, type Clock, type TimerHandle } from './clock.ts';

/** The reason a signal carries when time ran out; adapters map it to a 'timeout' error. */
export function timeoutReason(message: string): DOMException {
  return new DOMException(message, 'TimeoutError');
}

export function isTimeoutReason(reason: unknown): boolean {
  return reason instanceof Error || reason instanceof DOMException ? reason.name === 'TimeoutError' : false;
}

export class Deadline {
  readonly expiresAt: number;
  readonly signal: AbortSignal;
  readonly clock: Clock;
  readonly #controller = new AbortController();
  readonly #timer: TimerHandle;
  readonly #parent: AbortSignal | undefined;
  readonly #onParentAbort = () => this.#controller.abort(this.#parent?.reason);

  constructor(budgetMs: number, parent?: AbortSignal, clock: Clock = systemClock) {
    this.clock = clock;
    this.expiresAt = clock.now() + budgetMs;
    this.signal = this.#controller.signal;
    this.#timer = clock.setTimeout(() => this.#controller.abort(timeoutReason('request budget exhausted')), budgetMs);
    this.#parent = parent;
    if (parent?.aborted) this.#onParentAbort();
    else parent?.addEventListener('abort', this.#onParentAbort, { once: true });
  }

  remaining(): number {
    return Math.max(0, this.expiresAt - this.clock.now());
  }

  /** True once the budget itself ran out (not the caller going away). */
  get expired(): boolean {
    return this.signal.aborted && isTimeoutReason(this.signal.reason);
  }

  /** True once the caller went away (client disconnect, shutdown). */
  get cancelled(): boolean {
    return this.signal.aborted && !isTimeoutReason(this.signal.reason);
  }

  /** A signal for one attempt: aborts after timeoutMs, or with the request. */
  attempt(timeoutMs: number): AttemptSignal {
    return new AttemptSignal(this.signal, Math.min(timeoutMs, this.remaining()), this.clock);
  }

  /** Waits ms, or less if the request ends first. */
  sleep(ms: number): Promise<void> {
    if (this.signal.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = this.clock.setTimeout(done, ms);
      this.signal.addEventListener('abort', done, { once: true });
    });
  }

  dispose(): void {
    this.clock.clearTimeout(this.#timer);
    this.#parent?.removeEventListener('abort', this.#onParentAbort);
  }
}

/**
 * One attempt's signal. disarm() stops its timer but keeps the link to the request. alive() says
 * the provider has shown it is working on the answer (a first token, or reasoning): from then on
 * the attempt is judged by its silences and a cap on its whole length, not by the request's budget,
 * which is for finding a provider that answers.
 */
export class AttemptSignal {
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal;
  readonly #clock: Clock;
  #timer: TimerHandle;
  #capTimer: TimerHandle;
  #alive = false;
  #timedOut = false;
  readonly #onParentAbort = () => {
    // Once the provider is answering, running out of budget no longer cuts it; the caller leaving does.
    if (this.#alive && isTimeoutReason(this.#parent.reason)) return;
    this.#controller.abort(this.#parent.reason);
  };

  constructor(parent: AbortSignal, timeoutMs: number, clock: Clock = systemClock) {
    this.signal = this.#controller.signal;
    this.#parent = parent;
    this.#clock = clock;
    if (parent.aborted) {
      this.#onParentAbort();
      return;
    }
    parent.addEventListener('abort', this.#onParentAbort, { once: true });
    this.#timer = clock.setTimeout(this.#expire, timeoutMs);
  }

  readonly #expire = () => {
    this.#timedOut = true;
    this.#controller.abort(timeoutReason('provider attempt timed out'));
  };

  /** The provider showed a sign of life: allow it `idleMs` of silence from now, and `capMs` in all from its first sign. */
  alive(idleMs: number, capMs: number): void {
    if (this.signal.aborted) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(this.#expire, idleMs);
    if (!this.#alive) {
      this.#alive = true;
      this.#capTimer = this.#clock.setTimeout(this.#expire, capMs);
    }
  }

  /** True when this attempt's own timer fired. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Success: stop the timer; the signal still follows the request (client disconnect). */
  disarm(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#clock.clearTimeout(this.#capTimer);
  }

  /** Failure: abort whatever is still running and detach from the request. */
  release(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#clock.clearTimeout(this.#capTimer);
    this.#parent.removeEventListener('abort', this.#onParentAbort);
    if (!this.signal.aborted) this.#controller.abort(new DOMException('attempt finished', 'AbortError'));
  }
}
