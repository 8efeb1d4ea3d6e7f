// A fetch for an SDK that only ever calls the global one. @google/generative-ai 0.24 reads the
// global `fetch` on every request and takes no other, so its calls would go through undici's
// WHATWG fetch and Node's shared pool instead of the provider's own keep-alive pool and lean
// fetch (http-agent.ts). withFetch(fetch, call) runs one SDK call with `fetch` in scope: the
// global fetch, wrapped once, uses the fetch of the call it is made from and is the original
// everywhere else, so nothing outside those calls changes.
import { AsyncLocalStorage } from 'node:async_hooks';

type Fetch = typeof globalThis.fetch;

const scope = new AsyncLocalStorage<Fetch>();
/** Marks our wrapper, so several providers (or app instances) install it only once. */
const SCOPED = Symbol.for('secure-llm-router.scoped-fetch');

function installScopedFetch(): void {
  const current = globalThis.fetch as Fetch & { [SCOPED]?: true };
  if (current[SCOPED]) return;
  const original = current;
  function fetch(input: Parameters<Fetch>[0], init?: Parameters<Fetch>[1]): ReturnType<Fetch> {
    return (scope.getStore() ?? original)(input, init);
  }
  globalThis.fetch = Object.assign(fetch, { [SCOPED]: true as const }) as unknown as Fetch;
}

/** Runs `call`; every global fetch made from it (and from what it awaits) uses `fetch`. */
export function withFetch<T>(fetch: Fetch, call: () => T): T {
  installScopedFetch();
  return scope.run(fetch, call);
}
