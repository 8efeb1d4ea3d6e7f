// Calling a Provider directly in adapter tests: a live signal, a whole stream, a call that must fail.
import { expect } from 'vitest';
import { ProviderError } from '../../src/providers/provider-error.ts';
import type { CompletionChunk } from '../../src/providers/types.ts';

export const live = (): AbortSignal => new AbortController().signal;

export async function collect<T = CompletionChunk>(chunks: AsyncIterable<T>): Promise<T[]> {
  const seen: T[] = [];
  for await (const chunk of chunks) seen.push(chunk);
  return seen;
}

/** The ProviderError a call rejects with (the test fails if it resolves or throws anything else). */
export async function failure(work: Promise<unknown>): Promise<ProviderError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

/** Iterates a stream that must fail; returns what it yielded first and the error. */
export async function streamFailure<T = CompletionChunk>(chunks: AsyncIterable<T>): Promise<{ seen: T[]; error: ProviderError }> {
  const seen: T[] = [];
  const error = await failure(
    (async () => {
      for await (const chunk of chunks) seen.push(chunk);
    })(),
  );
  return { seen, error };
}
