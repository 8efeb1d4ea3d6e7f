// The start-up check, repeated every PREFLIGHT_INTERVAL_MS: each configured provider is asked,
// all at once and each within CHECK_TIMEOUT_MS, whether its key works and its configured models
// exist (each adapter's check(), over its own connection pool). It runs after the server
// listens and never delays an answer. A refused key or a chat model that is gone parks the
// provider in the breakers until the next check, so the cascade skips it instead of spending
// every request's first attempt on it; one loud line per problem names the variable to fix, and
// /health shows each provider's last result. What each outcome means: docs/operations.md.
import type { FastifyBaseLogger } from 'fastify';
import type { Breakers } from '../cascade/breakers.ts';
import { envPrefix } from '../providers/registry.ts';
import type { Provider, ProviderCheck } from '../providers/types.ts';

/** Each provider's whole check (its calls run side by side) ends within this. */
export const CHECK_TIMEOUT_MS = 3_000;

export interface PreflightResult extends ProviderCheck {
  /** When the check ended, in ms since the epoch. */
  checkedAt: number;
  /** Whether the provider is skipped until the next check. */
  parked: boolean;
}

export interface PreflightOptions {
  providers: readonly Provider[];
  breakers: Breakers;
  intervalMs: number;
  logger: FastifyBaseLogger;
  timeoutMs?: number;
}

export class Preflight {
  readonly #options: PreflightOptions;
  readonly #results = new Map<string, PreflightResult>();
  /** Fires on stop(): a check still out gives up at once. */
  readonly #stopping = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #started = false;

  constructor(options: PreflightOptions) {
    this.#options = options;
  }

  /** Checks now, then again every interval (each after the last has ended). Never throws; a second call does nothing. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#round();
  }

  #round(): void {
    if (this.#stopping.signal.aborted) return;
    this.#running = this.runOnce()
      .catch((error: unknown) => this.#options.logger.warn({ err: error }, 'provider check failed'))
      .finally(() => {
        if (this.#stopping.signal.aborted) return;
        // unref: a pending check never keeps the process alive.
        this.#timer = setTimeout(() => this.#round(), this.#options.intervalMs).unref();
      });
  }

  /** Stops the schedule and abandons a check in flight (its result is not recorded). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** The provider's last result; undefined before its first check ends, or when it has none. */
  result(name: string): PreflightResult | undefined {
    return this.#results.get(name);
  }

  /** One round: every provider that can be checked, side by side. */
  async runOnce(): Promise<void> {
    const checked = this.#options.providers.filter((p) => p.check !== undefined);
    const found = await Promise.all(checked.map(async (provider) => ({ provider, check: await this.#check(provider) })));
    if (this.#stopping.signal.aborted) return;
    const { breakers, logger, intervalMs } = this.#options;
    // Parked until the next check has had its time to answer.
    const until = breakers.now() + intervalMs + (this.#options.timeoutMs ?? CHECK_TIMEOUT_MS);
    for (const { provider, check } of found) {
      const reason = parkReason(check);
      if (reason) breakers.park({ provider: provider.name }, until, reason);
      else breakers.unpark({ provider: provider.name });
      this.#results.set(provider.name, { ...check, checkedAt: Date.now(), parked: reason !== undefined });
      report(logger, provider, check, reason !== undefined, until);
    }
    const summary = Object.fromEntries(found.map(({ provider, check }) => [provider.name, check.outcome]));
    const problems = found.filter(({ check }) => check.outcome !== 'ok').length;
    logger.info({ preflight: summary }, problems === 0 ? 'provider check: every key and model is in order' : `provider check: ${problems} of ${found.length} providers need attention`);
  }

  async #check(provider: Provider): Promise<ProviderCheck> {
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(this.#options.timeoutMs ?? CHECK_TIMEOUT_MS)]);
    try {
      return (await provider.check?.(signal)) ?? { outcome: 'unknown' };
    } catch {
      // check() never rejects; should one, it says nothing about the provider.
      return { outcome: 'unknown', detail: 'check failed' };
    }
  }
}

/** Why the provider is skipped until the next check: a refused key, or a chat model that is gone. */
function parkReason(check: ProviderCheck): 'key_rejected' | 'model_missing' | undefined {
  if (check.outcome === 'key_rejected') return 'key_rejected';
  if (check.outcome === 'model_missing' && !check.advisory && check.missing?.some((m) => m.use === 'chat')) return 'model_missing';
  return undefined;
}

/** One line per problem, naming the variable to fix (never its value). */
function report(logger: FastifyBaseLogger, provider: Provider, check: ProviderCheck, parked: boolean, until: number): void {
  const { name } = provider;
  const prefix = envPrefix(name);
  const skipped = parked ? `; ${name} is skipped until the next check (${new Date(until).toISOString()})` : '';
  const fields = { provider: name, preflight: check.outcome, ...(check.detail && { detail: check.detail }) };
  if (check.outcome === 'key_rejected') {
    logger.error({ ...fields, variable: `${prefix}_API_KEY` }, `${name} refused its key: set ${prefix}_API_KEY to a valid key${skipped}`);
  } else if (check.outcome === 'model_missing') {
    for (const missing of check.missing ?? []) {
      const variable = `${prefix}_${missing.use === 'chat' ? 'MODEL' : 'EMBEDDING_MODEL'}`;
      const nearest = missing.nearest.length > 0 ? ` (nearest it lists: ${missing.nearest.join(', ')})` : '';
      const note = check.advisory ? '; it may still answer, so it is not skipped' : missing.use === 'chat' ? skipped : '';
      logger.error(
        { ...fields, variable, model: missing.model, nearest: missing.nearest },
        `${name} does not list the model "${missing.model}": set ${variable} to one it serves${nearest}${note}`,
      );
    }
  } else if (check.outcome === 'unreachable') {
    logger.error({ ...fields, variable: `${prefix}_BASE_URL` }, `${name} did not answer its check (${check.detail ?? 'no answer'}): check ${prefix}_BASE_URL and the network`);
  } else if (check.outcome === 'unknown') {
    logger.warn(fields, `could not tell whether ${name}'s key and models work (${check.detail ?? 'no usable answer'}); it stays in the cascade`);
  }
}
