// One Chat Completions call on the wire: POST the body through the provider's own connection
// pool (undici's request()), then hand back the parsed JSON answer or the parsed events of a
// server-sent-event stream. What the answer means is read in openai-compatible.ts.
//
// Why not the openai or groq-sdk client: with every feature we use turned off (retries, SDK
// timeouts, logging), their request pipeline (header merging through WHATWG Headers, request
// controllers, response wrapping) still cost more CPU per call than the rest of the gateway put
// together (docs/performance.md). The wire itself is small and stable: a JSON POST with a bearer
// key, answered by JSON or by `data:` events ending in `[DONE]`.
import type { Readable } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Dispatcher } from 'undici';
import type { ProviderName } from '../config.ts';
import { decode, readAll, utf8Text } from './http-agent.ts';
import { ProviderError, kindForStatus, parseRetryAfter } from './provider-error.ts';

export interface ChatCompletionsEndpoint {
  name: ProviderName;
  /** Where chat completions are posted, e.g. https://openrouter.ai/api/v1/chat/completions. */
  url: string;
  apiKey: string;
  /** Sent with every call (OpenRouter's attribution headers). */
  headers?: Record<string, string>;
  userAgent: string;
  dispatcher: Dispatcher;
}

/** How the Chat Completions body reaches a provider: over HTTP here, or in-process in the benchmark. */
export interface ChatCompletionsTransport {
  /** Resolves to the parsed body of a 2xx answer; rejects with a ProviderError for any HTTP error. */
  complete(body: object, signal: AbortSignal): Promise<unknown>;
  /** Yields each event's parsed JSON, up to `[DONE]` or the end of the answer. */
  stream(body: object, signal: AbortSignal): AsyncIterable<unknown>;
  close(): Promise<void>;
}

/** No answer of ours comes near this; a larger one is a broken upstream, not a completion. */
export const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** One event's data, likewise. */
const MAX_EVENT_CHARS = 1024 * 1024;

export function createChatCompletionsHttp(endpoint: ChatCompletionsEndpoint): ChatCompletionsTransport {
  const { name, dispatcher } = endpoint;
  const url = new URL(endpoint.url);
  const origin = url.origin;
  const path = `${url.pathname}${url.search}`;
  // Built once: the same headers go with every call.
  const common = [
    'authorization', `Bearer ${endpoint.apiKey}`,
    'content-type', 'application/json',
    'user-agent', endpoint.userAgent,
    ...Object.entries(endpoint.headers ?? {}).flat(),
  ];
  const jsonHeaders = [...common, 'accept', 'application/json'];
  const streamHeaders = [...common, 'accept', 'text/event-stream'];

  async function post(body: object, headers: string[], signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    // An aborted signal rejects before anything is sent.
    signal.throwIfAborted();
    const answer = await dispatcher.request({ origin, path, method: 'POST', headers, body: JSON.stringify(body), signal });
    if (answer.statusCode >= 200 && answer.statusCode < 300) return answer;
    // The error body is not read: upstream messages can quote the key, and the status says enough.
    answer.body.dump().catch(() => undefined);
    throw new ProviderError(name, kindForStatus(answer.statusCode), `${name} answered HTTP ${answer.statusCode}`, {
      status: answer.statusCode,
      retryAfterMs: retryAfterMs(answer.headers),
    });
  }

  return {
    async complete(body, signal) {
      const answer = await post(body, jsonHeaders, signal);
      const bytes = await readAll(decode(answer.body, answer.headers['content-encoding']), MAX_ANSWER_BYTES);
      if (bytes === undefined) throw new ProviderError(name, 'bad_response', `${name} sent an answer larger than ${MAX_ANSWER_BYTES} bytes`);
      try {
        return JSON.parse(utf8Text(bytes));
      } catch (error) {
        throw new ProviderError(name, 'bad_response', `${name} sent malformed JSON`, { cause: error });
      }
    },
    async *stream(body, signal) {
      const answer = await post(body, streamHeaders, signal);
      yield* readEvents(name, decode(answer.body, answer.headers['content-encoding']));
    },
    close: () => dispatcher.close(),
  };
}

/**
 * The parsed data of each event. An `error` event comes out as `{ error }`, the shape a failed
 * chunk has, so one reader handles both. After `[DONE]` the rest of the answer is drained rather
 * than cut, so its connection goes back to the pool.
 */
async function* readEvents(name: ProviderName, body: Readable): AsyncGenerator<unknown> {
  const parsed: EventSourceMessage[] = [];
  let overflow = false;
  const parser = createParser({
    onEvent: (event) => void parsed.push(event),
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') overflow = true;
    },
    maxBufferSize: MAX_EVENT_CHARS,
  });
  body.setEncoding('utf8');
  let finished = false;
  try {
    // Not destroyed on an early return: `finally` decides between draining and cutting.
    for await (const text of body.iterator({ destroyOnReturn: false }) as AsyncIterable<string>) {
      parser.feed(text);
      if (overflow) throw new ProviderError(name, 'bad_response', `${name} sent an event larger than ${MAX_EVENT_CHARS} characters`);
      for (let i = 0; i < parsed.length; i += 1) {
        const event = parsed[i] as EventSourceMessage;
        if (event.data === '[DONE]') {
          finished = true;
          return;
        }
        yield toData(name, event);
      }
      parsed.length = 0;
    }
    // An answer may end without a blank line after its last event.
    parser.feed('\n\n');
    for (const event of parsed) {
      if (event.data === '[DONE]') return;
      yield toData(name, event);
    }
  } finally {
    if (!body.readableEnded) {
      // Nobody listens any more: a later failure of this body must not become an uncaught error.
      body.on('error', () => undefined);
      if (finished) body.resume();
      else body.destroy();
    }
  }
}

function toData(name: ProviderName, event: EventSourceMessage): unknown {
  let data: unknown;
  try {
    data = JSON.parse(event.data);
  } catch (error) {
    throw new ProviderError(name, 'bad_response', `${name} sent malformed JSON`, { cause: error });
  }
  if (event.event !== 'error') return data;
  return { error: (data as { error?: unknown } | null)?.error ?? data };
}

/** `retry-after-ms` (sent by some OpenAI-style servers) is more precise, so it wins. */
function retryAfterMs(headers: Dispatcher.ResponseData['headers']): number | undefined {
  const ms = headers['retry-after-ms'];
  if (typeof ms === 'string' && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms.trim()));
  const seconds = headers['retry-after'];
  return parseRetryAfter(typeof seconds === 'string' ? seconds : undefined);
}
