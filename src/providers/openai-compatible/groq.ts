// Groq: the shared OpenAI-compatible wire (openai-compatible.ts) under Groq's `/openai/v1`, with
// Groq's token-limit field and reasoning control (dialects.ts).
import type { ReasoningSetting } from '../registry.ts';
import type { Provider } from '../types.ts';
import { GROQ_DIALECT } from './dialects.ts';
import { createOpenAICompatibleProvider } from './openai-compatible.ts';

export interface GroqSettings {
  apiKey: string;
  model: string;
  /** Without `/openai/v1`, as Groq's own SDK takes it (e.g. https://api.groq.com). */
  baseUrl: string;
  userAgent: string;
  /** When a request names none; the least each model allows by default. */
  reasoningEffort?: ReasoningSetting;
}

/**
 * Groq's named successors of the models it retired for free and developer accounts on 2026-08-16
 * (console.groq.com/docs/deprecations): suggested first when the configured model is gone.
 */
export const GROQ_REPLACEMENTS: Readonly<Record<string, string>> = {
  'llama-3.1-8b-instant': 'openai/gpt-oss-20b',
  'llama-3.3-70b-versatile': 'openai/gpt-oss-120b',
};

export function createGroqProvider(settings: GroqSettings): Provider {
  const base = `${settings.baseUrl.replace(/\/+$/, '')}/openai/v1`;
  return createOpenAICompatibleProvider({
    name: 'groq',
    model: settings.model,
    url: `${base}/chat/completions`,
    check: { modelsUrl: `${base}/models`, listNeedsKey: true, replacements: GROQ_REPLACEMENTS },
    apiKey: settings.apiKey,
    userAgent: settings.userAgent,
    dialect: GROQ_DIALECT,
    reasoningEffort: settings.reasoningEffort ?? 'minimal',
  });
}
