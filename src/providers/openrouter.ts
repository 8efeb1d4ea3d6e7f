// OpenRouter through the openai SDK pointed at OpenRouter's base URL. The wire protocol is the
// shared OpenAI-compatible one; this file only builds the client and its attribution headers.
import OpenAI from 'openai';
import type { Provider } from './types.ts';
import { createHttpAgent, sdkTransport } from './http-agent.ts';
import { SDK_TIMEOUT_MS, createOpenAICompatibleProvider } from './openai-compatible.ts';

export interface OpenRouterSettings {
  apiKey: string;
  model: string;
  /** Includes `/api/v1` (e.g. https://openrouter.ai/api/v1). */
  baseUrl: string;
  /** Sent as HTTP-Referer; OpenRouter lists the app under it. */
  appUrl?: string;
  appTitle?: string;
}

export function createOpenRouterProvider(settings: OpenRouterSettings): Provider {
  const agent = createHttpAgent();
  const client = new OpenAI({
    apiKey: settings.apiKey,
    baseURL: settings.baseUrl,
    // Never pick up OpenAI credentials or ids from the environment and send them to OpenRouter.
    adminAPIKey: null,
    organization: null,
    project: null,
    // The cascade retries and fails over; an SDK retry would spend the attempt's deadline twice.
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    // Failures reach our logs as ProviderError; the SDK's console output would bypass redaction.
    logLevel: 'off',
    defaultHeaders: attributionHeaders(settings),
    ...sdkTransport(agent),
  });
  return createOpenAICompatibleProvider({
    name: 'openrouter',
    model: settings.model,
    send: (body, signal) => client.chat.completions.create(body, { signal }),
    errors: OpenAI,
    close: () => agent.close(),
  });
}

function attributionHeaders({ appUrl, appTitle }: OpenRouterSettings): Record<string, string> {
  return {
    ...(appUrl && { 'HTTP-Referer': appUrl }),
    // X-Title is the older name; OpenRouter still reads it.
    ...(appTitle && { 'X-OpenRouter-Title': appTitle, 'X-Title': appTitle }),
  };
}
