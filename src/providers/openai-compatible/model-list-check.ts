// The start-up check of a provider that speaks Chat Completions: `GET <base>/models` (OpenAI's
// list, `{ data: [{ id }] }`) says whether the key works and the configured models exist; for
// OpenRouter, whose list is public, `GET <base>/key` says whether the key works and how many
// free-model requests are left today. Shapes and sources: docs/operations.md ("Start-up check of keys and models").
import { compareModels, getJson, statusOutcome, worst } from '../model-check.ts';
import type { UpstreamPool } from '../transport/upstream-http.ts';
import type { FreeTierInfo, MissingModel, ProviderCheck } from '../types.ts';

export interface ModelListCheck {
  /** Where the model list is, e.g. https://api.groq.com/openai/v1/models. */
  modelsUrl: string;
  /** Sent with the list request unless the list is public (OpenRouter's). */
  listNeedsKey: boolean;
  /** OpenRouter's key page, which refuses a wrong key and tells the free-tier status. */
  keyUrl?: string;
  /** Ids that route to other models and are never listed (openrouter/free, openrouter/auto): present. */
  routerPrefix?: string;
  /** A retired model's named successor, suggested first (Groq's deprecations page). */
  replacements?: Readonly<Record<string, string>>;
  /**
   * An operator's own runtime: a 404 for the list means it has none (cannot tell), and a model
   * it does not list may still answer (llama-server, and LM Studio with one model loaded, take any name).
   */
  ownRuntime?: boolean;
}

export interface ModelListTarget extends ModelListCheck {
  pool: UpstreamPool;
  /** Authorization, User-Agent and the provider's own headers. */
  headers: Record<string, string>;
  wanted: Array<Omit<MissingModel, 'nearest'>>;
}

export async function checkModelList(target: ModelListTarget, signal: AbortSignal): Promise<ProviderCheck> {
  const { pool, headers } = target;
  const { authorization, ...publicHeaders } = headers;
  const pathOf = (url: string) => {
    const parsed = new URL(url);
    return `${parsed.pathname}${parsed.search}`;
  };
  const [list, key] = await Promise.all([
    getJson(pool, pathOf(target.modelsUrl), target.listNeedsKey ? headers : publicHeaders, signal),
    target.keyUrl === undefined ? undefined : getJson(pool, pathOf(target.keyUrl), headers, signal),
  ]);

  const keyCheck: ProviderCheck | undefined = key === undefined ? undefined : 'failed' in key ? key.failed : key.status === 200 ? { outcome: 'ok', ...freeTierOf(key.body) } : statusOutcome(key.status);
  const listCheck = readList(target, list);
  const result = worst(keyCheck === undefined ? [listCheck] : [listCheck, keyCheck]);
  const freeTier = keyCheck?.freeTier;
  return { ...result, ...(freeTier !== undefined && { freeTier }), ...(target.ownRuntime && result.outcome === 'model_missing' && { advisory: true as const }) };
}

function readList(target: ModelListTarget, list: Awaited<ReturnType<typeof getJson>>): ProviderCheck {
  if ('failed' in list) return list.failed;
  if (list.status === 404 && target.ownRuntime) return { outcome: 'unknown', detail: 'no model list (HTTP 404)' };
  if (list.status !== 200) return statusOutcome(list.status);
  const data = (list.body as { data?: unknown } | undefined)?.data;
  if (!Array.isArray(data)) return { outcome: 'unknown', detail: 'model list not readable' };
  const listed = data.map((entry) => (entry as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === 'string');
  const { routerPrefix } = target;
  const wanted = routerPrefix === undefined ? target.wanted : target.wanted.filter(({ model }) => !model.startsWith(routerPrefix));
  return compareModels(wanted, listed, target.replacements);
}

/** OpenRouter's `GET /key`: `{ data: { is_free_tier, free_model_daily_requests: { limit, remaining } } }`. */
function freeTierOf(body: unknown): { freeTier?: FreeTierInfo } {
  const data = (body as { data?: Record<string, unknown> } | undefined)?.data;
  if (typeof data !== 'object' || data === null) return {};
  const daily = data.free_model_daily_requests as { limit?: unknown; remaining?: unknown } | null | undefined;
  const count = (value: unknown) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined);
  const info: FreeTierInfo = {
    ...(typeof data.is_free_tier === 'boolean' && { isFreeTier: data.is_free_tier }),
    ...(count(daily?.limit) !== undefined && { dailyRequestsLimit: count(daily?.limit) }),
    ...(count(daily?.remaining) !== undefined && { dailyRequestsRemaining: count(daily?.remaining) }),
  };
  return Object.keys(info).length === 0 ? {} : { freeTier: info };
}
