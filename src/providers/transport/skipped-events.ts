// Events whose data does not parse, in an otherwise healthy stream. One such event is a glitch
// (a proxy that split a write, a provider's bug): the answer goes on, and its end still has to
// carry a finish reason, so nothing cut or incomplete passes for whole. Many of them is a broken
// upstream, and the stream fails as before.
import { ProviderError } from '../provider-error.ts';
import type { ProviderName } from '../types.ts';

/** Unparseable events a stream may skip; one more fails it. */
export const MAX_SKIPPED_EVENTS = 8;

export class SkippedEvents {
  count = 0;

  /** Counts one more skipped event; throws once there are more than MAX_SKIPPED_EVENTS. */
  skip(name: ProviderName, cause: unknown): void {
    this.count += 1;
    if (this.count > MAX_SKIPPED_EVENTS) {
      throw new ProviderError(name, 'bad_response', `${name} sent more than ${MAX_SKIPPED_EVENTS} events that do not parse`, { cause });
    }
  }

  /** For the last chunk: how many were skipped, when any were. */
  get field(): { skippedEvents: number } | undefined {
    return this.count === 0 ? undefined : { skippedEvents: this.count };
  }
}
