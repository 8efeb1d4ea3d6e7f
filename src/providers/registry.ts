// Every kind of provider the gateway knows, one row each: its name, defaults, whether it needs a
// key, what it can do, settings of its own, and how to build it. The configuration variables
// (GROQ_API_KEY, GROQ_MODEL, ...) are derived from these rows (config.ts), and so are the
// simulator's fakes and /health's list. An adapter is loaded only when its provider is
// configured: what is never called costs no memory or start-up time.
//
// Adding a hosted OpenAI-compatible provider is one more row built by openAiCompatibleRow(); a
// provider the operator runs (Ollama, llama-server, vLLM) needs no row at all: EXTRA_PROVIDERS
// names it and its variables describe it.
import type { z } from 'zod';
import type { Config, ProviderSettings, REASONING_SETTINGS } from '../config.ts';
import { headerValue } from '../config-fields.ts';
import { USER_AGENT } from '../version.ts';
import type { Provider } from './types.ts';
import type { DayBoundary, QuotaLimits } from '../state/quota-store.ts';

// Free-tier figures as published, read 2026-12-07:
// Groq (console.groq.com/docs/rate-limits): openai/gpt-oss-20b and -120b, 30 RPM, 1K RPD, 8K TPM, 200K TPD.
const GROQ_FREE: Readonly<Record<string, QuotaLimits>> = {
  'openai/gpt-oss-20b': { rpm: 30, rpd: 1000, tpm: 8000, tpd: 200_000 },
  'openai/gpt-oss-120b': { rpm: 30, rpd: 1000, tpm: 8000, tpd: 200_000 },
};
// OpenRouter (openrouter.ai/docs/api-reference/limits): free models (":free", and the openrouter/free
// router) 20 requests a minute and 50 a UTC day per account (1000 once 10 credits were bought).
const OPENROUTER_FREE: QuotaLimits = { rpm: 20, rpd: 50 };
const isOpenRouterFree = (model: string): boolean => model.endsWith(':free') || model === 'openrouter/free';

/**
 * 'prefill': given a conversation that ends with a partial assistant turn, the provider continues
 * that turn rather than starting a new answer, so it may finish a stream another provider began
 * (STREAM_RESUME). A model of the provider that refuses such a turn must fail before the call
 * (Gemini 3: gemini-models.ts), never restart the answer.
 */
export type Capability = 'chat' | 'embeddings' | 'prefill';
export type ReasoningSetting = (typeof REASONING_SETTINGS)[number];

export interface ProviderRow {
  name: string;
  /** The wire it speaks; the simulator starts a fake of this kind for it. */
  wire: 'gemini' | 'groq' | 'openrouter' | 'openai-compatible';
  /** Undefined: the operator must name one (<NAME>_MODEL). */
  defaultModel: string | undefined;
  /** Undefined: the operator must name one (<NAME>_BASE_URL). */
  defaultBaseUrl: string | undefined;
  /** A hosted API needs a key; a local runtime usually does not, and then no Authorization header is sent. */
  keyRequired: boolean;
  capabilities: readonly Capability[];
  /** The reasoning control sent when a caller names none (<NAME>_REASONING_EFFORT overrides it). */
  defaultReasoningEffort: ReasoningSetting;
  /** The embedding model when the row serves embeddings by default. */
  defaultEmbeddingModel?: string;
  /** Settings of its own, read from <NAME>_<OPTION>. */
  options?: Record<string, z.ZodType<string | undefined>>;
  /**
   * Its quotas: the published free-tier limits of a model (undefined: none published, learned from
   * the provider's answers), and when its day turns (UTC when not set).
   */
  quota?: { defaults(model: string): QuotaLimits | undefined; day: DayBoundary };
  create(settings: ProviderSettings): Promise<Provider>;
}

/** Any OpenAI-compatible server: chat at `<base URL>/chat/completions`, embeddings beside it. */
const openAiCompatible = async (settings: ProviderSettings): Promise<Provider> =>
  (await import('./openai-compatible/openai-compatible.ts')).createOpenAICompatibleProvider({
    name: settings.name,
    model: settings.model,
    url: `${settings.baseUrl.replace(/\/+$/, '')}/chat/completions`,
    check: { modelsUrl: `${settings.baseUrl.replace(/\/+$/, '')}/models`, listNeedsKey: true, ownRuntime: true },
    apiKey: settings.apiKey,
    userAgent: USER_AGENT,
    reasoningEffort: settings.reasoningEffort,
    ...(settings.embeddingModel !== undefined && { embeddingModel: settings.embeddingModel }),
  });

/**
 * A provider that speaks OpenAI's Chat Completions at `<base URL>/chat/completions` (and, with an
 * embedding model, `/embeddings`): a hosted one with a default model and URL, or an operator's own.
 */
export function openAiCompatibleRow(name: string, defaults: Partial<Pick<ProviderRow, 'defaultModel' | 'defaultBaseUrl' | 'keyRequired'>> = {}): ProviderRow {
  return {
    name,
    wire: 'openai-compatible',
    defaultModel: defaults.defaultModel,
    defaultBaseUrl: defaults.defaultBaseUrl,
    keyRequired: defaults.keyRequired ?? false,
    capabilities: ['chat', 'embeddings'],
    // A server of the operator's own: its model's defaults, unless its variable names an effort.
    defaultReasoningEffort: 'default',
    create: openAiCompatible,
  };
}

/** The built-in providers, in their default cascade order. */
export const BUILT_IN_PROVIDERS: readonly ProviderRow[] = [
  {
    name: 'gemini',
    wire: 'gemini',
    defaultModel: 'gemini-flash-lite-latest',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com',
    keyRequired: true,
    // Gemini 2.x continues a trailing model turn; Gemini 3 refuses one, and the adapter says so before calling.
    capabilities: ['chat', 'embeddings', 'prefill'],
    defaultEmbeddingModel: 'gemini-embedding-001',
    // Callers want answers: the least thinking each model allows (docs/providers.md).
    defaultReasoningEffort: 'minimal',
    // Google publishes no fixed free-tier figures (AI Studio shows a project's own); its daily quotas reset at midnight Pacific.
    quota: { defaults: () => undefined, day: 'pacific' },
    create: async (settings) =>
      (await import('./gemini/gemini.ts')).createGeminiProvider({
        apiKey: settings.apiKey ?? '',
        model: settings.model,
        baseUrl: settings.baseUrl,
        embeddingModel: settings.embeddingModel ?? 'gemini-embedding-001',
        userAgent: USER_AGENT,
        reasoningEffort: settings.reasoningEffort,
      }),
  },
  {
    name: 'groq',
    wire: 'groq',
    // Groq retired the Llama 3.1/3.3 models for free accounts on 2026-08-16; this is their named replacement.
    defaultModel: 'openai/gpt-oss-20b',
    // Without `/openai/v1`, as Groq's own SDK takes it.
    defaultBaseUrl: 'https://api.groq.com',
    keyRequired: true,
    // Groq documents assistant-message prefilling for its text models (console.groq.com/docs/prefilling).
    capabilities: ['chat', 'prefill'],
    defaultReasoningEffort: 'minimal',
    quota: { defaults: (model) => GROQ_FREE[model], day: 'utc' },
    create: async (settings) =>
      (await import('./openai-compatible/groq.ts')).createGroqProvider({
        apiKey: settings.apiKey ?? '',
        model: settings.model,
        baseUrl: settings.baseUrl,
        userAgent: USER_AGENT,
        reasoningEffort: settings.reasoningEffort,
      }),
  },
  {
    name: 'openrouter',
    wire: 'openrouter',
    defaultModel: 'openrouter/free',
    defaultBaseUrl: 'https://openrouter.ai/api/v1',
    keyRequired: true,
    // No 'prefill': its default model (openrouter/free) routes each call to some free model, and
    // whether that model's host continues a partial turn or starts over cannot be known here.
    capabilities: ['chat'],
    defaultReasoningEffort: 'minimal',
    options: {
      // Sent as HTTP-Referer and X-OpenRouter-Title: OpenRouter lists the app under them.
      APP_URL: headerValue.optional(),
      APP_TITLE: headerValue.default('secure-llm-router'),
    },
    quota: { defaults: (model) => (isOpenRouterFree(model) ? OPENROUTER_FREE : undefined), day: 'utc' },
    create: async (settings) =>
      (await import('./openai-compatible/openrouter.ts')).createOpenRouterProvider({
        apiKey: settings.apiKey ?? '',
        model: settings.model,
        baseUrl: settings.baseUrl,
        userAgent: USER_AGENT,
        appUrl: settings.options.APP_URL,
        appTitle: settings.options.APP_TITLE,
        reasoningEffort: settings.reasoningEffort,
      }),
  },
];

export const BUILT_IN_NAMES: readonly string[] = BUILT_IN_PROVIDERS.map((row) => row.name);

export const builtInRow = (name: string): ProviderRow | undefined => BUILT_IN_PROVIDERS.find((row) => row.name === name);

/** The prefix of a provider's variables: "groq" reads GROQ_API_KEY, GROQ_MODEL, ... */
export const envPrefix = (name: string): string => name.toUpperCase();

/**
 * The providers the cascade may use, in PROVIDER_ORDER: each one named there that has a key, or
 * needs none. A hosted provider without a key is left out (and shown as not configured by /health).
 */
export async function createProviders(config: Config): Promise<Provider[]> {
  const providers: Provider[] = [];
  for (const name of config.providerOrder) {
    const settings = config.providers.get(name);
    if (settings !== undefined && isConfigured(settings)) providers.push(await settings.row.create(settings));
  }
  return providers;
}

export const isConfigured = (settings: ProviderSettings): boolean => settings.apiKey !== undefined || !settings.row.keyRequired;
