// Groq: the shared OpenAI-compatible wire (openai-compatible.ts) under Groq's `/openai/v1`.
import type { Provider } from '../types.ts';
import { createOpenAICompatibleProvider } from './openai-compatible.ts';

export interface GroqSettings {
  apiKey: string;
  model: string;
  /** Without `/openai/v1`, as Groq's own SDK takes it (e.g. https://api.groq.com). */
  baseUrl: string;
  userAgent: string;
}

export function createGroqProvider(settings: GroqSettings): Provider {
  return createOpenAICompatibleProvider({
    name: 'groq',
    model: settings.model,
    url: `${settings.baseUrl.replace(/\/+$/, '')}/openai/v1/chat/completions`,
    apiKey: settings.apiKey,
    userAgent: settings.userAgent,
  });
}
