// One keep-alive connection pool per provider, handed to the SDKs as their fetch dispatcher so
// sockets are reused across calls and released by Provider.close().
import { Agent, fetch } from 'undici';

export function createHttpAgent(): Agent {
  return new Agent({
    // Below the providers' own idle timeouts, so we never write to a socket they just closed.
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
    // Enough parallel calls for a small gateway, without unbounded sockets under a burst.
    connections: 64,
    // No pipelining: a slow answer must not hold up the requests queued behind it.
    pipelining: 1,
    connect: { timeout: 5_000 },
    // The caller's AbortSignal sets the real deadlines; these only stop a forgotten socket.
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
}

type NodeDispatcher = NonNullable<RequestInit['dispatcher']>;

/**
 * The SDK options that send its requests through `agent`. The fetch must be undici's own: the
 * copy bundled in Node is an older undici whose fetch is not guaranteed to drive this Agent.
 */
export function sdkTransport(agent: Agent): { fetch: typeof globalThis.fetch; fetchOptions: { dispatcher: NodeDispatcher } } {
  return {
    // The casts only bridge two copies of undici's type declarations (the package's and @types/node's).
    fetch: fetch as unknown as typeof globalThis.fetch,
    fetchOptions: { dispatcher: agent as unknown as NodeDispatcher },
  };
}
