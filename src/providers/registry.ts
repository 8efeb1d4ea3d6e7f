// Builds the configured providers once, in cascade order. A provider without a key is left out
// (and shown as not configured by /health).
import type { Config, ProviderName } from '../config.ts';
import { createGeminiProvider } from './gemini.ts';
import { createGroqProvider } from './groq.ts';
import { createOpenRouterProvider } from './openrouter.ts';
import type { Provider } from './types.ts';

type Factory = (apiKey: string, config: Config) => Provider;

const FACTORIES: Record<ProviderName, Factory> = {
  gemini: (apiKey, config) =>
    createGeminiProvider({
      apiKey,
      model: config.providers.gemini.model,
      baseUrl: config.providers.gemini.baseUrl,
      embeddingModel: config.geminiEmbeddingModel,
    }),
  groq: (apiKey, config) =>
    createGroqProvider({ apiKey, model: config.providers.groq.model, baseUrl: config.providers.groq.baseUrl }),
  openrouter: (apiKey, config) =>
    createOpenRouterProvider({
      apiKey,
      model: config.providers.openrouter.model,
      baseUrl: config.providers.openrouter.baseUrl,
      ...(config.openrouterAppUrl ? { appUrl: config.openrouterAppUrl } : {}),
      appTitle: config.openrouterAppTitle,
    }),
};

export function createProviders(config: Config): Provider[] {
  const providers: Provider[] = [];
  for (const name of config.providerOrder) {
    const apiKey = config.providers[name].apiKey;
    if (apiKey) providers.push(FACTORIES[name](apiKey, config));
  }
  return providers;
}
