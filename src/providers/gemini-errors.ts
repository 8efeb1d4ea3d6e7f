// Maps whatever @google/generative-ai throws into a ProviderError. SDK messages embed the request
// URL and the upstream body, so they stay in `cause` and never become our message.
import {
  GoogleGenerativeAIAbortError,
  GoogleGenerativeAIError,
  GoogleGenerativeAIFetchError,
  GoogleGenerativeAIResponseError,
  type ErrorDetails,
} from '@google/generative-ai';
import { ProviderError, kindForStatus, type ProviderErrorKind } from './provider-error.ts';

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

export function toGeminiProviderError(error: unknown, signal: AbortSignal): ProviderError {
  if (error instanceof ProviderError) return error;
  // Checked first: an abort surfaces as AbortError, "Error reading from the stream" or a bare DOMException.
  if (signal.aborted) {
    return isTimeout(signal.reason)
      ? fail('timeout', 'Gemini did not answer in time', error)
      : fail('aborted', 'Gemini call was aborted', error);
  }
  if (error instanceof GoogleGenerativeAIFetchError) return fromStatus(error);
  if (error instanceof GoogleGenerativeAIResponseError) {
    return fail('bad_response', 'Gemini blocked the response', error);
  }
  if (error instanceof GoogleGenerativeAIAbortError) return fail('aborted', 'Gemini call was aborted', error);
  // A non-JSON 200 body: the SDK calls response.json() without wrapping its SyntaxError.
  if (error instanceof SyntaxError) return fail('bad_response', 'Gemini sent a body that is not JSON', error);
  if (error instanceof GoogleGenerativeAIError) {
    const { message } = error;
    if (message.includes('Failed to parse stream') || message.includes('Error parsing JSON response')) {
      return fail('bad_response', 'Gemini sent a stream that does not parse', error);
    }
    if (message.includes('fetch failed')) return fail('unavailable', 'Could not reach Gemini', error);
    if (message.includes('Error reading from the stream')) {
      return fail('unavailable', 'The connection to Gemini broke during the stream', error);
    }
  }
  return fail('unavailable', 'Gemini call failed', error);
}

function fromStatus(error: GoogleGenerativeAIFetchError): ProviderError {
  const status = error.status ?? 0;
  const details = error.errorDetails ?? [];
  const options = { status, cause: error };
  // Gemini answers a wrong key with 400, which would otherwise read as "this request was refused".
  if (status === 400 && details.some((d) => d['@type'] === ERROR_INFO && d.reason === 'API_KEY_INVALID')) {
    return new ProviderError('gemini', 'misconfigured', 'Gemini rejected the API key', options);
  }
  const kind = status === 0 ? 'unavailable' : kindForStatus(status);
  const text = `Gemini answered HTTP ${status}${error.statusText ? ` ${error.statusText}` : ''}`;
  if (kind !== 'rate_limited') return new ProviderError('gemini', kind, text, options);
  // Gemini sends no Retry-After header; the wait is only in the RetryInfo detail.
  return new ProviderError('gemini', kind, text, { ...options, retryAfterMs: retryDelayMs(details) });
}

/** Reads RetryInfo.retryDelay, a protobuf Duration in JSON form such as "46s" or "1.5s". */
export function retryDelayMs(details: ErrorDetails[]): number | undefined {
  const delay = details.find((d) => d['@type'] === RETRY_INFO)?.retryDelay;
  if (typeof delay !== 'string') return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
  return match?.[1] === undefined ? undefined : Math.round(Number(match[1]) * 1000);
}

function isTimeout(reason: unknown): boolean {
  return (reason instanceof DOMException || reason instanceof Error) && reason.name === 'TimeoutError';
}

function fail(kind: ProviderErrorKind, message: string, cause: unknown): ProviderError {
  return new ProviderError('gemini', kind, message, { cause });
}
