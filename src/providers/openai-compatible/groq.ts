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

export function createGroqProvider(settings: GroqSettings): Provider {
  return createOpenAICompatibleProvider({
    name: 'groq',
    model: settings.model,
    url: `${settings.baseUrl.replace(/\/+$/, '')}/openai/v1/chat/completions`,
    apiKey: settings.apiKey,
    userAgent: settings.userAgent,
    dialect: GROQ_DIALECT,
    reasoningEffort: settings.reasoningEffort ?? 'minimal',
  });
}
