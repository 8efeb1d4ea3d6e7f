// Providers that follow a script, one step per call, for the cascade's unit tests: answer, fail
// with a given ProviderError, hang until their signal aborts, or stream chunks on the test's
// clock. Like the real adapters they honour the AbortSignal: an abort (already there, or while
// waiting) rejects with abortError(), a timeout when its reason says so.
import type { Clock } from '../../src/cascade/clock.ts';
import { abortError, ProviderError, type ProviderErrorKind, type ProviderErrorOptions } from '../../src/providers/provider-error.ts';
import type { Completion, CompletionChunk, CompletionRequest, Provider } from '../../src/providers/types.ts';

export type Step =
  /** The whole answer, after afterMs. */
  | { answer: string; afterMs?: number }
  /** Fails with a ProviderError of this kind, after afterMs. */
  | { fail: ProviderErrorKind; options?: ProviderErrorOptions; afterMs?: number }
  /** Never answers; rejects once the signal aborts. */
  | { hang: true }
  /** A stream: these texts gapMs apart (the first at once), then a finish, a hang or a failure. */
  | { chunks: string[]; gapMs?: number; then?: 'finish' | 'hang' | ProviderErrorKind };

export const answer = (text: string, afterMs = 0): Step => ({ answer: text, afterMs });
export const fail = (kind: ProviderErrorKind, options: ProviderErrorOptions = {}, afterMs = 0): Step => ({ fail: kind, options, afterMs });
export const hang: Step = { hang: true };
export const chunks = (texts: string[], gapMs = 0, then: 'finish' | 'hang' | ProviderErrorKind = 'finish'): Step => ({ chunks: texts, gapMs, then });

export interface Call {
  method: 'complete' | 'stream';
  request: CompletionRequest;
  signal: AbortSignal;
}

export interface ScriptedProvider extends Provider {
  /** Every call, in order, with the signal it was given. */
  readonly calls: Call[];
  /** Adds steps for the next calls; once they run out, every call answers. */
  script(...steps: Step[]): void;
}

export function scriptedProvider(name: string, clock: Clock, ...initial: Step[]): ScriptedProvider {
  const steps = [...initial];
  const calls: Call[] = [];
  const next = (): Step => steps.shift() ?? { answer: `answer from ${name}` };

  /** Resolves after ms on the clock; rejects as an adapter would once the signal aborts. */
  const wait = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortError(name, signal, undefined));
      const onAbort = () => {
        clock.clearTimeout(timer);
        reject(abortError(name, signal, undefined));
      };
      const timer = clock.setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  const hangUntilAborted = (signal: AbortSignal): Promise<never> =>
    new Promise((_, reject) => {
      if (signal.aborted) return reject(abortError(name, signal, undefined));
      signal.addEventListener('abort', () => reject(abortError(name, signal, undefined)), { once: true });
    });
  const failure = (kind: ProviderErrorKind, options: ProviderErrorOptions = {}) => new ProviderError(name, kind, `${name} failed (${kind})`, options);

  return {
    name,
    model: `${name}-model`,
    calls,
    script: (...more) => void steps.push(...more),
    async complete(request, signal): Promise<Completion> {
      calls.push({ method: 'complete', request, signal });
      const step = next();
      if (signal.aborted) throw abortError(name, signal, undefined);
      if ('hang' in step) return hangUntilAborted(signal);
      if ('fail' in step) {
        await wait(step.afterMs ?? 0, signal);
        throw failure(step.fail, step.options);
      }
      if ('chunks' in step) return { text: step.chunks.join(''), model: request.model ?? `${name}-model`, finishReason: 'stop' };
      await wait(step.afterMs ?? 0, signal);
      return { text: step.answer, model: request.model ?? `${name}-model`, finishReason: 'stop' };
    },
    async *stream(request, signal): AsyncGenerator<CompletionChunk> {
      calls.push({ method: 'stream', request, signal });
      const step = next();
      if (signal.aborted) throw abortError(name, signal, undefined);
      if ('hang' in step) return await hangUntilAborted(signal);
      if ('fail' in step) {
        await wait(step.afterMs ?? 0, signal);
        throw failure(step.fail, step.options);
      }
      const texts = 'chunks' in step ? step.chunks : [step.answer];
      const gapMs = 'chunks' in step ? (step.gapMs ?? 0) : 0;
      if ('answer' in step) await wait(step.afterMs ?? 0, signal);
      for (const [index, text] of texts.entries()) {
        if (index > 0 && gapMs > 0) await wait(gapMs, signal);
        yield { text, model: request.model ?? `${name}-model` };
      }
      const then = 'chunks' in step ? (step.then ?? 'finish') : 'finish';
      if (then === 'hang') await hangUntilAborted(signal);
      else if (then !== 'finish') throw failure(then);
      yield { text: '', finishReason: 'stop' };
    },
    close: async () => undefined,
  };
}
