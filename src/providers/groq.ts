// Groq through groq-sdk. The wire protocol is the shared OpenAI-compatible one; this file only
// builds the client.
import Groq from 'groq-sdk';
import type { Provider } from './types.ts';
import { createHttpAgent, sdkTransport } from './http-agent.ts';
import { SDK_TIMEOUT_MS, createOpenAICompatibleProvider } from './openai-compatible.ts';

export interface GroqSettings {
  apiKey: string;
  model: string;
  /** Without `/openai/v1`: groq-sdk appends it (e.g. https://api.groq.com). */
  baseUrl: string;
}

export function createGroqProvider(settings: GroqSettings): Provider {
  const agent = createHttpAgent();
  const client = new Groq({
    apiKey: settings.apiKey,
    baseURL: settings.baseUrl,
    // The cascade retries and fails over; groq-sdk would otherwise sleep for any Retry-After, uncapped.
    maxRetries: 0,
    timeout: SDK_TIMEOUT_MS,
    // Failures reach our logs as ProviderError; the SDK's console output would bypass redaction.
    logLevel: 'off',
    ...sdkTransport(agent),
  });
  return createOpenAICompatibleProvider({
    name: 'groq',
    model: settings.model,
    send: (body, signal) => client.chat.completions.create(body, { signal }),
    errors: Groq,
    close: () => agent.close(),
  });
}
