// The gateway with its provider swapped for another way of calling upstream, to see where a
// request's time goes. Started by bench/run.ts in place of src/server.ts when --variant is given;
// everything else (config, logger, plugins, routes, cascade, reading the answer) is the real thing.
//
//   framework      a provider that answers at once: Fastify, auth, rate limit, validation,
//                  cascade and logging, with no upstream call at all
//   sdk-in-memory  the openai SDK with a fetch that answers from memory: the SDK's own cost
//   sdk-fetch      the openai SDK over undici's WHATWG fetch
//   sdk            the openai SDK over the lean fetch in src/providers/http-agent.ts (how the
//                  gateway called Groq and OpenRouter before it spoke the wire itself)
//   http           the provider exactly as src/providers builds it (same as no --variant)
import OpenAI from 'openai';
import { fetch as undiciFetch } from 'undici';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import type { ChatCompletionsTransport } from '../src/providers/chat-completions-http.ts';
import { createFetch, createHttpAgent } from '../src/providers/http-agent.ts';
import { providerOver } from '../src/providers/openai-compatible.ts';
import { createProviders } from '../src/providers/registry.ts';
import type { Provider } from '../src/providers/types.ts';
import { VARIANTS, type Variant } from './options.ts';

const MODEL = 'bench/fake-model';
const ANSWER = JSON.stringify({
  id: 'gen-bench-0001',
  object: 'chat.completion',
  created: 1_767_225_600,
  model: MODEL,
  choices: [{ index: 0, message: { role: 'assistant', content: 'Paris is the capital of France.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 16, completion_tokens: 7, total_tokens: 23 },
});
const EVENTS = [
  { model: MODEL, choices: [{ index: 0, delta: { role: 'assistant', content: 'Paris is' }, finish_reason: null }] },
  { model: MODEL, choices: [{ index: 0, delta: { content: ' the capital of France.' }, finish_reason: 'stop' }] },
  { model: MODEL, choices: [], usage: { prompt_tokens: 16, completion_tokens: 7, total_tokens: 23 } },
];

const inMemory: ChatCompletionsTransport = {
  complete: async () => JSON.parse(ANSWER) as unknown,
  async *stream() {
    yield* EVENTS;
  },
  close: async () => undefined,
};

function overSdk(client: OpenAI, close: () => Promise<void>): ChatCompletionsTransport {
  const create = (body: object, signal: AbortSignal) => client.chat.completions.create(body as never, { signal }) as Promise<unknown>;
  return {
    complete: create,
    async *stream(body, signal) {
      yield* (await create(body, signal)) as AsyncIterable<unknown>;
    },
    close,
  };
}

function openRouterVariant(variant: Exclude<Variant, 'http'>, baseUrl: string, model: string): Provider {
  if (variant === 'framework') return providerOver('openrouter', model, inMemory);
  const agent = createHttpAgent();
  const fetch =
    variant === 'sdk-in-memory'
      ? async () => new Response(ANSWER, { headers: { 'content-type': 'application/json' } })
      : variant === 'sdk-fetch'
        ? ((input: string | URL | Request, init?: RequestInit) => undiciFetch(input as string, { ...init, dispatcher: agent } as never)) as unknown as typeof globalThis.fetch
        : createFetch(agent);
  const client = new OpenAI({
    apiKey: 'bench',
    baseURL: baseUrl,
    adminAPIKey: null,
    organization: null,
    project: null,
    maxRetries: 0,
    timeout: 10 * 60_000,
    logLevel: 'off',
    fetch,
  });
  return providerOver('openrouter', model, overSdk(client, () => agent.close()));
}

if (import.meta.main) {
  const variant = (process.env.BENCH_VARIANT ?? 'http') as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`BENCH_VARIANT must be one of ${VARIANTS.join(', ')}`);
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const settings = config.providers.openrouter;
  const providers = variant === 'http' ? await createProviders(config) : [openRouterVariant(variant, settings.baseUrl, settings.model)];
  const app = await buildApp(config, { providers, logger });
  const address = await app.listen({ port: config.port, host: config.host });
  // The same line src/server.ts writes; bench/processes.ts waits for it.
  logger.info({ address, variant }, 'listening');
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
