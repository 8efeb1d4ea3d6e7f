// The gateway with its provider taken apart, to see where a request's time goes. Started by
// bench/run.ts in place of src/server.ts when --variant is given; everything but the provider
// (config, logger, plugins, routes, cascade) is the real thing.
//
//   framework       a provider that answers at once: Fastify, auth, rate limit, validation,
//                   cascade and logging, with no upstream call at all
//   undici-request  the upstream call as one bare undici request(), no SDK
//   sdk-in-memory   the SDK with a fetch that answers from memory: the SDK's own cost, no network
//   sdk-fetch       the SDK over undici's WHATWG fetch (how the gateway called upstream before)
//   sdk             the provider exactly as src/providers builds it (same as no --variant)
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch, request } from 'undici';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { createOpenAICompatibleProvider, type ChatBody } from '../src/providers/openai-compatible.ts';
import { createProviders } from '../src/providers/registry.ts';
import type { Provider } from '../src/providers/types.ts';
import { VARIANTS, type Variant } from './options.ts';


const ANSWER = JSON.stringify({
  id: 'gen-bench-0001',
  object: 'chat.completion',
  created: 1_767_225_600,
  model: 'bench/fake-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Paris is the capital of France.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 16, completion_tokens: 7, total_tokens: 23 },
});

function openRouterVariant(variant: Variant, baseUrl: string, model: string): Provider {
  const agent = new Agent({ keepAliveTimeout: 4_000, connections: 64 });
  const wire = { name: 'openrouter' as const, model, errors: OpenAI, close: () => agent.close() };
  if (variant === 'framework') {
    return createOpenAICompatibleProvider({ ...wire, send: async () => JSON.parse(ANSWER) as unknown });
  }
  if (variant === 'undici-request') {
    return createOpenAICompatibleProvider({
      ...wire,
      send: async (body: ChatBody, signal: AbortSignal) => {
        const answer = await request(`${baseUrl}/chat/completions`, {
          dispatcher: agent,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
          body: JSON.stringify(body),
          signal,
        });
        return answer.body.json();
      },
    });
  }
  const inMemory = async () => new Response(ANSWER, { headers: { 'content-type': 'application/json' } });
  const client = new OpenAI({
    apiKey: 'bench',
    baseURL: baseUrl,
    adminAPIKey: null,
    organization: null,
    project: null,
    maxRetries: 0,
    logLevel: 'off',
    ...(variant === 'sdk-in-memory'
      ? { fetch: inMemory }
      : { fetch: undiciFetch as unknown as typeof globalThis.fetch, fetchOptions: { dispatcher: agent as never } }),
  });
  return createOpenAICompatibleProvider({ ...wire, send: (body, signal) => client.chat.completions.create(body, { signal }) });
}

if (import.meta.main) {
  const variant = (process.env.BENCH_VARIANT ?? 'sdk') as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`BENCH_VARIANT must be one of ${VARIANTS.join(', ')}`);
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const settings = config.providers.openrouter;
  const providers = variant === 'sdk' ? await createProviders(config) : [openRouterVariant(variant, settings.baseUrl, settings.model)];
  const app = await buildApp(config, { providers, logger });
  const address = await app.listen({ port: config.port, host: config.host });
  // The same line src/server.ts writes; bench/processes.ts waits for it.
  logger.info({ address, variant }, 'listening');
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
