// The exact-match answer cache's rules (the store is in state/): which requests it may answer,
// under which key, and which answers it keeps.
//   - Only deterministic requests: temperature 0, or the caller's `x-cache: allow`. `x-cache:
//     bypass` neither reads nor writes it. Never a request with tools, tool turns or a
//     response_format.
//   - The key is a SHA-256 of the normalised request: the route, the providers the model names
//     (and the exact model), the messages and every parameter that changes the answer; with
//     CACHE_SCOPE=client (the default) the caller's client id too, so no caller reads another's.
//   - Only whole answers that finished with "stop" and have text: never an error, a refusal
//     (content_filter), an answer cut by max_tokens, or a stream that did not finish.
// A hit answers with `x-cache: HIT` and no provider call; a lookup that found nothing answers
// `x-cache: MISS`. Requests the cache may not answer carry no x-cache header.
import { hash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../cascade/clock.ts';
import { GatewayError } from '../errors.ts';
import type { Completion, CompletionRequest } from '../providers/types.ts';
import type { AnswerStore, CachedAnswer } from '../state/answer-cache.ts';
import type { ModelRoute } from './model-routing.ts';

export const CACHE_HEADER = 'x-cache';
/** An answer larger than this is not kept (it would crowd out many smaller ones). */
export const MAX_ENTRY_BYTES = 256 * 1024;

export interface AnswerCacheSettings {
  ttlS: number;
  scope: 'client' | 'shared';
}

export interface CacheCounts {
  hits: number;
  misses: number;
  stores: number;
}

/** What the caller asked for in its x-cache header. */
function callerChoice(request: FastifyRequest): 'allow' | 'bypass' | undefined {
  const value = request.headers[CACHE_HEADER];
  if (value === undefined) return undefined;
  const word = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (word === 'allow' || word === 'bypass') return word;
  throw new GatewayError('invalid_request', { message: 'The x-cache header may be "allow" (cache this answer even though temperature is not 0) or "bypass" (do not use the cache).' });
}

export class AnswerCache {
  readonly store: AnswerStore;
  readonly counts: CacheCounts = { hits: 0, misses: 0, stores: 0 };
  readonly #settings: AnswerCacheSettings;
  readonly #clock: Clock;

  constructor(store: AnswerStore, settings: AnswerCacheSettings, clock: Clock) {
    this.store = store;
    this.#settings = settings;
    this.#clock = clock;
  }

  /** The key for a request the cache may answer; undefined when it may not. Throws on a bad x-cache header. */
  keyFor(request: FastifyRequest, route: ModelRoute, completion: CompletionRequest): string | undefined {
    const choice = callerChoice(request);
    if (choice === 'bypass' || (choice !== 'allow' && completion.temperature !== 0)) return undefined;
    // A tool loop or a structured answer is the client's program talking: never answered from the cache.
    if (completion.tools !== undefined || completion.responseFormat !== undefined || completion.messages.some((m) => m.role === 'tool' || m.toolCalls !== undefined)) {
      return undefined;
    }
    const normalised = [
      1,
      request.routeOptions.url ?? request.url,
      this.#settings.scope === 'client' ? request.clientId : '',
      route.providers.map((provider) => provider.name),
      route.exactModel ?? null,
      completion.messages.map((message) => [message.role, message.content]),
      completion.maxTokens,
      completion.temperature ?? null,
      completion.topP ?? null,
      completion.stop ?? [],
      completion.reasoningEffort ?? null,
    ];
    return hash('sha256', JSON.stringify(normalised), 'base64url');
  }

  /** The cached answer, saying HIT or MISS in the x-cache header. */
  async lookup(reply: FastifyReply, key: string): Promise<CachedAnswer | undefined> {
    const answer = await this.store.get(key);
    if (answer === undefined) this.counts.misses += 1;
    else this.counts.hits += 1;
    reply.header(CACHE_HEADER, answer === undefined ? 'MISS' : 'HIT');
    return answer;
  }

  /** Keeps a whole answer that finished with "stop"; anything else is left out. Never throws. */
  keep(key: string, provider: string, completion: Completion): void {
    if (completion.finishReason !== 'stop' || completion.text === '') return;
    const answer: CachedAnswer = {
      provider,
      model: completion.model,
      text: completion.text,
      usage: completion.usage,
      expiresAt: this.#clock.now() + this.#settings.ttlS * 1000,
    };
    // Text is at most 4 bytes a character in UTF-8: a cheap upper bound before the exact count.
    if (answer.text.length * 4 > MAX_ENTRY_BYTES && Buffer.byteLength(answer.text) > MAX_ENTRY_BYTES) return;
    this.counts.stores += 1;
    void this.store.set(key, answer);
  }
}

/** A cached answer as the Completion the routes map. */
export const completionOf = (answer: CachedAnswer): Completion => ({
  text: answer.text,
  model: answer.model,
  finishReason: 'stop',
  ...(answer.usage === undefined ? {} : { usage: answer.usage }),
});
