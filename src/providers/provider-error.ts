// The only error type that leaves an adapter. Each adapter maps its failures into it, so
// the cascade never sees a provider-specific exception.
import type { ProviderName } from './types.ts';
import type { FinishReason } from './types.ts';
import type { QuotaWindow } from '../state/quota-store.ts';

export type ProviderErrorKind =
  /** 429 or quota: cool the provider down until retryAfterMs, try the next one. */
  | 'rate_limited'
  /** The attempt's own time ran out (the cascade's signal fired). */
  | 'timeout'
  /** Connection failure, reset or 5xx: worth one more try after a backoff. */
  | 'unavailable'
  /** 200 whose body is not an answer (malformed JSON, error inside a 200, empty for no given reason). */
  | 'bad_response'
  /**
   * The provider refused this request (400, 413, 422), or would not answer it (a blocked prompt,
   * an answer withheld by a filter or cut by max_tokens before any text): another provider may.
   */
  | 'rejected'
  /**
   * Bad provider key, unknown model, no credits (401, 402, 403, 404), or an answer that is no
   * API's at all (a redirect: the base URL is wrong): an operator must act.
   */
  | 'misconfigured'
  /** The caller's signal aborted for a reason other than a timeout (client gone, shutdown). */
  | 'aborted'
  /**
   * The attempt's time ran out while the call still waited for one of the gateway's own
   * connections to the provider (every one busy): the provider was never asked, so this says
   * nothing about it. Another provider, on a pool of its own, may answer.
   */
  | 'gateway_busy';

/**
 * What the transport (upstream-http.ts) rejects with when a call is aborted while still queued
 * for one of the pool's connections (all of them busy, with long streams say): the provider was
 * never asked, so a timeout then is the gateway's, and abortError() calls it 'gateway_busy'.
 */
export class QueuedCallAbortedError extends Error {
  override name = 'QueuedCallAbortedError';
}

const RETRYABLE: ReadonlySet<ProviderErrorKind> = new Set(['timeout', 'unavailable', 'bad_response']);

export interface ProviderErrorOptions {
  status?: number;
  /** How long the provider asked us to wait, from Retry-After or RetryInfo. */
  retryAfterMs?: number;
  /** The provider said it has no such model (whatever its status: OpenRouter answers 400). */
  modelNotFound?: boolean;
  /**
   * A 'rejected' that is a refusal on content grounds (a content-policy 400, a blocked or flagged
   * prompt, an answer withheld by a filter): the caller is told, rather than asking the next provider.
   */
  contentFilter?: boolean;
  /** A 429 that named the quota window it spent (Gemini's QuotaFailure, OpenRouter's daily limit), and its limit when given. */
  quota?: { window: QuotaWindow; limit?: number | undefined };
  cause?: unknown;
}

export class ProviderError extends Error {
  override name = 'ProviderError';
  readonly provider: ProviderName;
  readonly kind: ProviderErrorKind;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly retryable: boolean;
  readonly modelNotFound: boolean;
  readonly contentFilter: boolean;
  readonly quota: ProviderErrorOptions['quota'];

  constructor(provider: ProviderName, kind: ProviderErrorKind, message: string, options: ProviderErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.provider = provider;
    this.kind = kind;
    this.status = options.status;
    this.modelNotFound = options.modelNotFound ?? false;
    this.contentFilter = kind === 'rejected' && options.contentFilter === true;
    this.retryAfterMs = options.retryAfterMs;
    this.quota = options.quota;
    this.retryable = RETRYABLE.has(kind);
  }
}

/**
 * The kind of a 200 that carries no text, from the finish reason it gave. Withheld by a filter, or
 * cut by the token limit before any text came (a thinking model can spend a small max_tokens on
 * thought alone), it is the request's doing and another provider may answer it; for any other
 * reason, or none, the provider failed.
 */
export function emptyAnswerKind(reason: FinishReason | undefined): ProviderErrorKind {
  return reason === 'content_filter' || reason === 'length' ? 'rejected' : 'bad_response';
}

/** The error for a 200 that carries no text: see emptyAnswerKind; withheld by a filter, a content refusal. */
export function emptyAnswerError(name: ProviderName, reason: FinishReason | undefined, message: string): ProviderError {
  return new ProviderError(name, emptyAnswerKind(reason), message, { contentFilter: reason === 'content_filter' });
}

/** Maps an upstream HTTP status to our kind, the same way for every provider. */
export function kindForStatus(status: number): ProviderErrorKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 402 || status === 403 || status === 404) return 'misconfigured';
  if (status === 408 || status === 409 || status === 498 || status >= 500) return 'unavailable';
  // Only a 4xx says the request itself was wrong; a 3xx (nobody follows redirects here) means the
  // base URL points somewhere other than the API, which no retry or other request will fix.
  return status >= 400 ? 'rejected' : 'misconfigured';
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds; undefined if absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Maps anything a call can throw to a ProviderError; messages never echo upstream text. */
export function toProviderError(name: ProviderName, error: unknown, signal: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  if (signal.aborted) return abortError(name, signal, error);
  // Refused, reset or timed-out connections, and answers cut off halfway.
  return new ProviderError(name, 'unavailable', `${name} connection failed`, { cause: error });
}

/** The signal fired: a timeout when its reason says so, otherwise the caller went away. */
export function abortError(name: ProviderName, signal: AbortSignal, cause: unknown): ProviderError {
  const reason = signal.reason as { name?: unknown } | undefined;
  const timedOut = typeof reason === 'object' && reason !== null && reason.name === 'TimeoutError';
  if (!timedOut) return new ProviderError(name, 'aborted', `${name} call was aborted`, { cause });
  return cause instanceof QueuedCallAbortedError
    ? new ProviderError(name, 'gateway_busy', `no connection to ${name} came free in time: the gateway's pool for it is busy`, { cause })
    : new ProviderError(name, 'timeout', `${name} did not answer in time`, { cause });
}
