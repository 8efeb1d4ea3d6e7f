// OpenRouter: the shared OpenAI-compatible wire (openai-compatible.ts), plus the attribution
// headers OpenRouter lists an app under, its reasoning control (dialects.ts), and its key
// endpoint, which says how many free-model requests are left today.
import type { ReasoningSetting } from '../registry.ts';
import { tokenCount, type Provider } from '../types.ts';
import type { WindowCorrection } from '../../state/quota-store.ts';
import { OPENROUTER_DIALECT } from './dialects.ts';
import { createOpenAICompatibleProvider } from './openai-compatible.ts';

export interface OpenRouterSettings {
  apiKey: string;
  model: string;
  /** Includes `/api/v1` (e.g. https://openrouter.ai/api/v1). */
  baseUrl: string;
  userAgent: string;
  /** Sent as HTTP-Referer; OpenRouter lists the app under it. */
  appUrl?: string | undefined;
  appTitle?: string | undefined;
  /** When a request names none; the least each model allows by default. */
  reasoningEffort?: ReasoningSetting;
}

export function createOpenRouterProvider(settings: OpenRouterSettings): Provider {
  const base = settings.baseUrl.replace(/\/+$/, '');
  // The key page counts free-model requests only: a paid model's quota is not in it.
  const free = settings.model.endsWith(':free') || settings.model === 'openrouter/free';
  return createOpenAICompatibleProvider({
    name: 'openrouter',
    model: settings.model,
    url: `${base}/chat/completions`,
    // The model list is public; the key page refuses a wrong key and tells the free-tier status.
    // Router ids (openrouter/free, openrouter/auto) pick a model per request and count as present.
    check: { modelsUrl: `${base}/models`, listNeedsKey: false, keyUrl: `${base}/key`, routerPrefix: 'openrouter/' },
    apiKey: settings.apiKey,
    headers: attributionHeaders(settings),
    userAgent: settings.userAgent,
    dialect: OPENROUTER_DIALECT,
    reasoningEffort: settings.reasoningEffort ?? 'minimal',
    ...(free && { readQuota: async (getJson, signal, now) => freeModelQuota(await getJson('key', signal), now) }),
  });
}

/**
 * GET /api/v1/key's `free_model_daily_requests` ({ limit, remaining, used }): the account's free-model
 * requests per UTC day and what is left of them (openrouter.ai/docs/api-reference/limits).
 */
export function freeModelQuota(body: unknown, now: number): WindowCorrection[] {
  const daily = (body as { data?: { free_model_daily_requests?: { limit?: unknown; remaining?: unknown } } } | null)?.data?.free_model_daily_requests;
  const limit = tokenCount(daily?.limit);
  if (limit === undefined) return [];
  return [{ window: 'rpd', limit, remaining: tokenCount(daily?.remaining), resetAt: (Math.floor(now / 86_400_000) + 1) * 86_400_000 }];
}

function attributionHeaders({ appUrl, appTitle }: OpenRouterSettings): Record<string, string> {
  return {
    ...(appUrl && { 'HTTP-Referer': appUrl }),
    // X-Title is the older name; OpenRouter still reads it.
    ...(appTitle && { 'X-OpenRouter-Title': appTitle, 'X-Title': appTitle }),
  };
}
