// STREAM_RESUME: a stream that broke after its first text (cut, or stalled past the stall limit)
// is finished by the next provider that can continue a partial answer. That provider is given the
// conversation plus the text already sent as a trailing assistant turn (prefill), and what it
// writes goes to the caller as the rest of the same answer. Only providers whose registry row has
// the 'prefill' capability are asked, and a model that refuses a trailing assistant turn fails
// before its call (Gemini 3); if none can continue, the caller gets the error event as without
// this setting, never a new answer glued onto the old one. Off by default: see README.
import type { FastifyRequest } from 'fastify';
import { RequestCancelledError } from '../cascade/cascade.ts';
import { Deadline } from '../cascade/deadline.ts';
import { continueStream, runStreamCascade } from '../cascade/stream-cascade.ts';
import { ProviderError } from '../providers/provider-error.ts';
import type { CompletionRequest, FinishReason, Provider, TokenUsage } from '../providers/types.ts';
import type { Gateway, Trip } from './gateway.ts';
import type { ModelRoute } from './model-routing.ts';
import type { StreamWriter } from './stream-answer.ts';

/** A stream broken this way may be resumed: cut off, stalled, or ended badly by its provider. */
const RESUMABLE: ReadonlySet<ProviderError['kind']> = new Set(['timeout', 'unavailable', 'bad_response', 'rate_limited']);

export const mayResume = (error: unknown): boolean => error instanceof ProviderError && RESUMABLE.has(error.kind);

export interface Resumed {
  provider: Provider;
  model: string;
  finishReason: FinishReason;
  usage: TokenUsage | undefined;
}

export interface ResumeFrom {
  gateway: Gateway;
  trip: Trip;
  request: FastifyRequest;
  route: ModelRoute;
  completion: CompletionRequest;
  /** The provider whose stream broke. */
  broken: Provider;
  /** Every text already written to the caller. */
  sent: string;
  writer: StreamWriter;
  clientGone: AbortSignal;
}

/**
 * Asks the other providers that take a prefill to continue the answer, and writes the continuation.
 * Resolves undefined when none could start one (the caller then writes the error event); rejects
 * when the continuation itself broke after it had started, or the caller left.
 */
export async function resumeStream(from: ResumeFrom): Promise<Resumed | undefined> {
  const { gateway, trip, request, route, completion, broken, sent, writer, clientGone } = from;
  // An exact model has no fallback, and a provider is never asked to continue its own broken answer.
  const candidates = route.exactModel === undefined ? route.providers.filter((p) => p !== broken && gateway.canPrefill(p)) : [];
  if (candidates.length === 0) {
    request.log.warn({ provider: broken.name }, 'stream could not be resumed: no other provider takes a partial answer to continue');
    return undefined;
  }
  const continuation: CompletionRequest = { ...completion, messages: [...completion.messages, { role: 'assistant', content: sent }] };
  // A budget of its own, as the first provider had: nothing is written until the continuation's first text.
  const deadline = new Deadline(gateway.settings.requestTimeoutMs, clientGone, gateway.clock);
  let started;
  try {
    started = await runStreamCascade(
      candidates,
      continuation,
      // No hedge for a continuation: it has one provider's place to fill, not a race to run.
      { ...gateway.cascadeSettings(gateway.firstTokenTimeout, false), firstTokenTimeoutMs: gateway.firstTokenTimeout },
      { deadline, breakers: gateway.breakers, log: request.log, attempts: trip.attempts, client: request.clientId || undefined },
    );
  } catch (error) {
    if (error instanceof RequestCancelledError) throw error;
    request.log.warn({ provider: broken.name }, 'stream could not be resumed: no provider continued the answer');
    return undefined;
  } finally {
    deadline.dispose();
  }

  const { value: opened, provider } = started;
  request.log.info({ provider: broken.name, resumed_by: provider.name, sent_chars: sent.length }, 'stream resumed by another provider');
  const model = opened.first.model ?? provider.model;
  let finishReason = opened.first.finishReason;
  let usage = opened.first.usage;
  try {
    await writer.text(opened.first.text);
    const limits = { idleMs: gateway.settings.timeouts(provider).attemptMs, totalMs: gateway.settings.maxStreamMs, cancel: clientGone, clock: gateway.clock };
    for await (const piece of continueStream(provider, opened, limits)) {
      if (piece.text !== '') await writer.text(piece.text);
      finishReason = piece.finishReason ?? finishReason;
      usage = piece.usage ?? usage;
      if (!writer.open) break;
    }
  } finally {
    if (!opened.upstream.signal.aborted) opened.upstream.abort(new DOMException('response finished', 'AbortError'));
  }
  gateway.metrics.tokens(trip, provider, request.clientId, usage);
  if (finishReason === undefined && writer.open && !clientGone.aborted) {
    throw new ProviderError(provider.name, 'bad_response', `${provider.name} stream ended without a finish reason`);
  }
  return { provider, model, finishReason: finishReason ?? 'other', usage };
}

/** Both providers' token counts, added: what the answer cost in all. */
export function addUsage(a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const add = (x: number | undefined, y: number | undefined) => (x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0));
  return { promptTokens: add(a.promptTokens, b.promptTokens), completionTokens: add(a.completionTokens, b.completionTokens), totalTokens: add(a.totalTokens, b.totalTokens) };
}
