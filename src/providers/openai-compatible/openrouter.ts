// OpenRouter: the shared OpenAI-compatible wire (openai-compatible.ts), plus the attribution
// headers OpenRouter lists an app under, and its reasoning control (dialects.ts).
import type { ReasoningSetting } from '../registry.ts';
import type { Provider } from '../types.ts';
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
  });
}

function attributionHeaders({ appUrl, appTitle }: OpenRouterSettings): Record<string, string> {
  return {
    ...(appUrl && { 'HTTP-Referer': appUrl }),
    // X-Title is the older name; OpenRouter still reads it.
    ...(appTitle && { 'X-OpenRouter-Title': appTitle, 'X-Title': appTitle }),
  };
}
