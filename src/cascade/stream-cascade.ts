// Streaming through the cascade, for streamed answers and whole ones alike: a provider is judged by
// whether it is alive, not by how long its answer is. Each attempt opens the provider's stream; a
// failure, or silence past the first-token limit, moves on to the next provider without the caller
// seeing anything. Reasoning is a sign of life too: from it on, silences are limited, not the wait
// for text. A streamed answer is the caller's once its first text is in hand (the request budget
// stops applying, a stall limit between chunks and a cap on the whole stream take over); a whole
// answer is read to its end inside the attempt, so a provider that breaks off halfway is still
// replaced by the next.
import { ProviderError } from '../providers/provider-error.ts';
import type { Completion, CompletionChunk, CompletionRequest, FinishReason, Provider, TokenUsage, ToolCall, ToolCallDelta } from '../providers/types.ts';
import { runCascade, type AttemptCall, type CascadeContext, type CascadeResult, type ContentFilterRule, type Liveness } from './cascade.ts';
import type { Clock } from './clock.ts';
import { timeoutReason } from './deadline.ts';

export interface OpenedStream {
  /** The first chunk with text or a function-call piece. */
  first: CompletionChunk;
  /** The chunks after it. */
  rest: AsyncIterator<CompletionChunk>;
  /** Aborts the upstream call. */
  upstream: AbortController;
}

export interface StreamCascadeSettings {
  maxRetries: number;
  /** Time an attempt on this provider has to show a sign of life (capped by what is left of the budget). */
  firstTokenTimeoutMs: (provider: Provider) => number;
  /** Then the longest silence allowed while it reasons. */
  stallTimeoutMs: (provider: Provider) => number;
  random?: () => number;
  onContentFilter?: ContentFilterRule;
  retryAfterWaitMaxMs?: number;
  /** See CascadeSettings.hedgeAfterMs. */
  hedgeAfterMs?: number | undefined;
}

/** Runs the cascade until one provider has sent text; wrap lets the caller adjust each attempt. */
export function runStreamCascade(
  providers: readonly Provider[],
  request: CompletionRequest,
  settings: StreamCascadeSettings,
  context: CascadeContext,
  wrap: (call: AttemptCall<OpenedStream>) => AttemptCall<OpenedStream> = (call) => call,
): Promise<CascadeResult<OpenedStream>> {
  return runCascade(
    providers,
    wrap((provider, signal, liveness) => openStream(provider, request, signal, liveness)),
    {
      maxRetries: settings.maxRetries,
      attemptTimeoutMs: settings.firstTokenTimeoutMs,
      stallTimeoutMs: settings.stallTimeoutMs,
      ...(settings.random ? { random: settings.random } : {}),
      ...(settings.onContentFilter ? { onContentFilter: settings.onContentFilter } : {}),
      ...(settings.retryAfterWaitMaxMs !== undefined ? { retryAfterWaitMaxMs: settings.retryAfterWaitMaxMs } : {}),
      hedgeAfterMs: settings.hedgeAfterMs,
    },
    context,
  );
}

/**
 * Opens a provider's stream and reads up to its first text. Until then the upstream call follows
 * the attempt's signal (its timer, the request budget, the caller leaving); after that it no
 * longer does, so the cascade's timers cannot cut an answer that is already flowing.
 */
export async function openStream(provider: Provider, request: CompletionRequest, signal: AbortSignal, liveness?: Liveness): Promise<OpenedStream> {
  const upstream = new AbortController();
  const follow = () => upstream.abort(signal.reason);
  if (signal.aborted) follow();
  else signal.addEventListener('abort', follow, { once: true });
  const chunks = provider.stream(request, upstream.signal)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await chunks.next();
      if (next.done) throw new ProviderError(provider.name, 'bad_response', `${provider.name} stream ended before any text`);
      if (isAnswer(next.value)) return { first: next.value, rest: chunks, upstream };
      if (next.value.thinking) liveness?.alive();
    }
  } catch (error) {
    if (!upstream.signal.aborted) upstream.abort(new DOMException('attempt failed', 'AbortError'));
    await chunks.return?.(undefined)?.catch(() => undefined);
    throw error;
  } finally {
    signal.removeEventListener('abort', follow);
  }
}

/** Text or a function-call piece: the answer itself, so the caller's once it comes. */
export const isAnswer = (chunk: CompletionChunk): boolean => chunk.text !== '' || (chunk.toolCalls !== undefined && chunk.toolCalls.length > 0);

export interface StreamLimits {
  /** Longest silence allowed between two chunks. */
  idleMs: number;
  /** Longest the rest of the stream may take. */
  totalMs: number;
  /** Aborts when the caller goes away. */
  cancel: AbortSignal;
  clock: Clock;
}

/**
 * The rest of an opened stream. Throws ProviderError: 'timeout' when the provider stalls or the
 * stream outlives its cap, 'aborted' when the caller left, or whatever the provider failed with.
 * Stopping early (return) aborts the upstream call.
 */
export async function* continueStream(provider: Provider, opened: OpenedStream, limits: StreamLimits): AsyncGenerator<CompletionChunk> {
  const { rest, upstream } = opened;
  const onCancel = () => upstream.abort(limits.cancel.reason);
  if (limits.cancel.aborted) onCancel();
  else limits.cancel.addEventListener('abort', onCancel, { once: true });
  const { clock } = limits;
  const endsAt = clock.now() + limits.totalMs;
  let finished = false;
  try {
    for (;;) {
      const left = endsAt - clock.now();
      const stalled = left > limits.idleMs;
      const timer = clock.setTimeout(
        () => upstream.abort(timeoutReason(stalled ? 'provider stalled mid-stream' : 'stream time limit reached')),
        Math.max(0, Math.min(limits.idleMs, left)),
      );
      let next: IteratorResult<CompletionChunk>;
      try {
        next = await rest.next();
      } catch (error) {
        if (error instanceof ProviderError && error.kind === 'timeout') {
          const why = stalled ? `sent nothing for ${limits.idleMs} ms` : 'ran past the stream time limit';
          throw new ProviderError(provider.name, 'timeout', `${provider.name} ${why} mid-stream`, { cause: error });
        }
        throw error;
      } finally {
        clock.clearTimeout(timer);
      }
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    limits.cancel.removeEventListener('abort', onCancel);
    if (!finished) {
      upstream.abort(new DOMException('stream abandoned', 'AbortError'));
      await rest.return?.(undefined)?.catch(() => undefined);
    }
  }
}

/**
 * A whole answer, read from the provider's stream: every chunk (text or reasoning) is a sign of
 * life, so a long answer written steadily is never cut, while a provider that goes silent is.
 */
export async function collectAnswer(provider: Provider, request: CompletionRequest, signal: AbortSignal, liveness: Liveness): Promise<Completion> {
  let text = '';
  let model: string | undefined;
  let finishReason: FinishReason | undefined;
  let usage: TokenUsage | undefined;
  let skippedEvents: number | undefined;
  const calls = new ToolCallAssembler();
  for await (const chunk of provider.stream(request, signal)) {
    liveness.alive();
    text += chunk.text;
    if (chunk.toolCalls) calls.add(chunk.toolCalls);
    model ??= chunk.model;
    finishReason = chunk.finishReason ?? finishReason;
    usage = chunk.usage ?? usage;
    skippedEvents = chunk.skippedEvents ?? skippedEvents;
  }
  // The readers end a stream only with a finish reason and some text; anything else threw.
  const toolCalls = calls.calls();
  if (finishReason === undefined || (text === '' && toolCalls.length === 0)) {
    throw new ProviderError(provider.name, 'bad_response', `${provider.name} stream ended without a whole answer`);
  }
  return {
    text,
    model: model ?? request.model ?? provider.model,
    finishReason,
    ...(usage === undefined ? {} : { usage }),
    ...(skippedEvents === undefined ? {} : { skippedEvents }),
    ...(toolCalls.length > 0 && { toolCalls }),
  };
}

/** Puts streamed function calls back together: id and name from a call's first piece, its arguments in order. */
export class ToolCallAssembler {
  readonly #calls: Array<{ id: string; name: string; arguments: string }> = [];

  add(deltas: readonly ToolCallDelta[]): void {
    for (const delta of deltas) {
      const call = (this.#calls[delta.index] ??= { id: '', name: '', arguments: '' });
      if (delta.id) call.id = delta.id;
      if (delta.name) call.name += delta.name;
      if (delta.arguments) call.arguments += delta.arguments;
    }
  }

  /** The calls in index order, skipping any index no piece named. */
  calls(): ToolCall[] {
    return this.#calls.filter((call) => call !== undefined);
  }
}
