// Shared by the OpenAI-compatible API tests: the official SDK pointed at the gateway, a raw POST
// for checking bytes and headers, and a strict reader of server-sent events.
import OpenAI from 'openai';
import { KEY, type TestGateway } from '../helpers/gateway.ts';

/** The official SDK, as a user would configure it: only the base URL and the key changed. */
export function sdk(gateway: TestGateway, apiKey: string = KEY): OpenAI {
  return new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey, maxRetries: 0, timeout: 15_000 });
}

/** POST a JSON body under /v1 with the key as a Bearer token, like the SDKs send it. */
export function post(gateway: TestGateway, path: string, body: unknown, init: { signal?: AbortSignal; key?: string } = {}): Promise<Response> {
  return fetch(`${gateway.url}/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${init.key ?? KEY}` },
    body: JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
}

/**
 * The data payloads of an SSE body, checking the framing on the way: every event is exactly one
 * `data: ` line followed by a blank line, and nothing else is in the body.
 */
export function sseData(text: string): string[] {
  if (!text.endsWith('\n\n')) throw new Error(`the body does not end with a blank line: ${JSON.stringify(text.slice(-80))}`);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      if (!event.startsWith('data: ') || event.includes('\n')) throw new Error(`not a single data: line: ${JSON.stringify(event)}`);
      return event.slice('data: '.length);
    });
}

/** Parsed events of an SSE body, "[DONE]" left as the string. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function sseEvents(text: string): any[] {
  return sseData(text).map((data) => (data === '[DONE]' ? data : JSON.parse(data)));
}

export const USER_HELLO = [{ role: 'user' as const, content: 'Say hello' }];

/** An SSE body as named events, checking the framing: `event: <type>` then one `data:` line, and a blank line. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function namedEvents(body: string): any[] {
  if (!body.endsWith('\n\n')) throw new Error(`the body does not end with a blank line: ${JSON.stringify(body.slice(-80))}`);
  return body
    .slice(0, -2)
    .split('\n\n')
    .map((block) => {
      const match = /^event: ([a-z_.]+)\ndata: (.+)$/.exec(block);
      if (!match) throw new Error(`not an event line and a data line: ${JSON.stringify(block)}`);
      const data = JSON.parse(match[2]!);
      if (data.type !== match[1]) throw new Error(`event ${match[1]} carries type ${data.type}`);
      return data;
    });
}
