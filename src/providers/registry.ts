// Builds the configured providers once, in cascade order. A provider without a key is left out
// (and shown as not configured by /health). Each adapter is loaded only when its provider is
// configured: what is never called should cost no memory or start-up time.
import type { Config, ProviderName } from '../config.ts';
import { USER_AGENT } from '../version.ts';
import type { Provider } from './types.ts';

type Factory = (apiKey: string, config: Config) => Promise<Provider>;

/** What every adapter is given: its key, and the model and base URL configured for it. */
const endpoint = (name: ProviderName, apiKey: string, config: Config) => ({
  apiKey,
  model: config.providers[name].model,
  baseUrl: config.providers[name].baseUrl,
});

const FACTORIES: Record<ProviderName, Factory> = {
  gemini: async (apiKey, config) =>
    (await import('./gemini/gemini.ts')).createGeminiProvider({
      ...endpoint('gemini', apiKey, config),
      embeddingModel: config.geminiEmbeddingModel,
      userAgent: USER_AGENT,
    }),
  groq: async (apiKey, config) => (await import('./openai-compatible/groq.ts')).createGroqProvider({ ...endpoint('groq', apiKey, config), userAgent: USER_AGENT }),
  openrouter: async (apiKey, config) =>
    (await import('./openai-compatible/openrouter.ts')).createOpenRouterProvider({
      ...endpoint('openrouter', apiKey, config),
      userAgent: USER_AGENT,
      ...(config.openrouterAppUrl ? { appUrl: config.openrouterAppUrl } : {}),
      appTitle: config.openrouterAppTitle,
    }),
};

export async function createProviders(config: Config): Promise<Provider[]> {
  const providers: Provider[] = [];
  for (const name of config.providerOrder) {
    const apiKey = config.providers[name].apiKey;
    if (apiKey) providers.push(await FACTORIES[name](apiKey, config));
  }
  return providers;
}
