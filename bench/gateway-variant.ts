// The gateway with its provider swapped for another way of calling upstream, to see where a
// request's time goes. Started by bench/run.ts in place of src/server.ts when --variant is given;
// everything else (config, logger, plugins, routes, cascade, reading the answer) is the real thing.
//
//   framework      a provider that answers at once: Fastify, auth, rate limit, validation,
//                  cascade and logging, with no upstream call at all
//   sdk-in-memory  the openai SDK with a fetch that answers from memory: the SDK's own cost
//   sdk-fetch      the openai SDK over Node's fetch (undici's WHATWG fetch)
//   undici         the gateway's own Chat Completions wire sent with undici's request() on an
//                  undici Agent (how it called upstream before Node's http client)
//   http           the provider exactly as src/providers builds it (same as no --variant)
import OpenAI from 'openai';
import { Agent } from 'undici';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { createChatCompletionsHttp, type ChatCompletionsTransport, type ChunkReader } from '../src/providers/openai-compatible/chat-completions-http.ts';
import { providerOver } from '../src/providers/openai-compatible/openai-compatible.ts';
import { decode } from '../src/providers/transport/response-body.ts';
import type { UpstreamPool } from '../src/providers/transport/upstream-http.ts';
import { USER_AGENT } from '../src/version.ts';
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

/** A source of parsed events through a stream's reader, as the HTTP transport reads them. */
async function* readThrough<T>(events: () => Promise<AsyncIterable<unknown> | Iterable<unknown>>, reader: ChunkReader<T>): AsyncGenerator<T> {
  try {
    for await (const event of await events()) {
      const item = reader.data(event);
      if (item !== undefined) yield item;
    }
    const last = reader.end();
    if (last !== undefined) yield last;
  } catch (error) {
    throw reader.fail(error);
  }
}

const inMemory: ChatCompletionsTransport = {
  complete: async () => JSON.parse(ANSWER) as unknown,
  stream: (_body, _signal, reader) => readThrough(async () => EVENTS, reader),
  close: async () => undefined,
};

function overSdk(client: OpenAI, close: () => Promise<void>): ChatCompletionsTransport {
  const create = (body: object, signal: AbortSignal) => client.chat.completions.create(body as never, { signal }) as Promise<unknown>;
  return {
    complete: create,
    stream: (body, signal, reader) => readThrough(async () => (await create(body, signal)) as AsyncIterable<unknown>, reader),
    close,
  };
}

/** The UpstreamPool interface over an undici Agent: what the gateway used before Node's http client. */
function undiciPool(baseUrl: string): UpstreamPool {
  const agent = new Agent({ keepAliveTimeout: 4_000, connections: 64, pipelining: 1 });
  const origin = new URL(baseUrl).origin;
  return {
    async post(path, headers, body, signal) {
      signal.throwIfAborted();
      const answer = await agent.request({ origin, path, method: 'POST', headers: headers as Record<string, string>, body, signal });
      return { status: answer.statusCode, headers: answer.headers, body: decode(answer.body, answer.headers['content-encoding']) };
    },
    async get(path, headers, signal) {
      signal.throwIfAborted();
      const answer = await agent.request({ origin, path, method: 'GET', headers: headers as Record<string, string>, signal });
      return { status: answer.statusCode, headers: answer.headers, body: decode(answer.body, answer.headers['content-encoding']) };
    },
    close: () => agent.close(),
  };
}

function openRouterVariant(variant: Exclude<Variant, 'http'>, baseUrl: string, model: string): Provider {
  if (variant === 'framework') return providerOver('openrouter', model, inMemory);
  if (variant === 'undici') {
    const url = `${baseUrl}/chat/completions`;
    return providerOver('openrouter', model, createChatCompletionsHttp({ name: 'openrouter', url, apiKey: 'bench', userAgent: USER_AGENT, pool: undiciPool(url) }));
  }
  const fetch =
    variant === 'sdk-in-memory'
      ? async () => new Response(ANSWER, { headers: { 'content-type': 'application/json' } })
      : globalThis.fetch;
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
  return providerOver('openrouter', model, overSdk(client, async () => undefined));
}

if (import.meta.main) {
  const variant = (process.env.BENCH_VARIANT ?? 'http') as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`BENCH_VARIANT must be one of ${VARIANTS.join(', ')}`);
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.logLevel });
  const settings = config.providers.get('openrouter')!;
  const providers = variant === 'http' ? await createProviders(config) : [openRouterVariant(variant, settings.baseUrl, settings.model)];
  const app = await buildApp(config, { providers, logger });
  const address = await app.listen({ port: config.port, host: config.host });
  // The same line src/server.ts writes; bench/processes.ts waits for it.
  logger.info({ address, variant }, 'listening');
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
