// What the OpenAPI document cannot learn from the routes' schemas: the headers every answer
// carries, and that /v1/chat/completions and /v1/responses answer a stream as text/event-stream. Fastify's response
// schemas describe bodies only, so these are added to the finished document.

interface OpenApiResponse {
  description?: string;
  headers?: Record<string, unknown>;
  content?: Record<string, unknown>;
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { security?: unknown; responses?: Record<string, OpenApiResponse> }>>;
}

const header = (description: string, type: 'string' | 'integer' = 'string') => ({ description, schema: { type } });

const REQUEST_ID = header('The request id: the caller\'s own when it is sane, otherwise a new UUID. Also in every error body and log line.');
const RATE_LIMIT = {
  'x-ratelimit-limit': header('Requests this key may make per minute.', 'integer'),
  'x-ratelimit-remaining': header('Requests left in the current minute.', 'integer'),
  'x-ratelimit-reset': header('Seconds until the minute resets.', 'integer'),
};
const RETRY_AFTER = header('Seconds to wait before trying again (on 429, and on 503 when the first cooldown end is known).', 'integer');
const PROVIDER = header('The provider that answered.');

/** Routes whose answers name the provider that gave them. */
const ANSWERING_ROUTES = new Set(['/query', '/v1/chat/completions', '/v1/embeddings', '/v1/responses']);

/** What each streaming route's text/event-stream answer holds. */
const EVENT_STREAMS: Record<string, string> = {
  '/v1/chat/completions':
    'With "stream": true: one `data: {chat.completion.chunk}` line per event, ending in `data: [DONE]`, ' +
    'or, if the provider fails after the first token, in an error event without [DONE].',
  '/v1/responses':
    'With "stream": true: an `event: <type>` line and a `data: {…}` line per event, each with its sequence_number: ' +
    'response.created, response.in_progress, response.output_item.added, response.content_part.added, ' +
    'response.output_text.delta…, response.output_text.done, response.content_part.done, response.output_item.done, ' +
    'then response.completed (response.incomplete after a length cut or a filter). If the provider fails after the ' +
    'first token: an error event, then response.failed, and never response.completed.',
};

export function addResponseHeaders<T>(document: T): T {
  const paths = (document as OpenApiDocument).paths ?? {};
  for (const [path, operations] of Object.entries(paths)) {
    for (const operation of Object.values(operations)) {
      const keyed = operation.security !== undefined;
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const code = Number(status);
        response.headers = {
          ...response.headers,
          'x-request-id': REQUEST_ID,
          // The per-key limit runs once the key is known, so it counts every keyed answer after that.
          ...(keyed && code !== 401 ? RATE_LIMIT : {}),
          ...(code === 429 || code === 503 ? { 'retry-after': RETRY_AFTER } : {}),
          ...(code === 200 && ANSWERING_ROUTES.has(path) ? { 'x-llm-provider': PROVIDER } : {}),
        };
        const events = EVENT_STREAMS[path];
        if (events !== undefined && code === 200) {
          response.content = { ...response.content, 'text/event-stream': { schema: { type: 'string', description: events } } };
        }
      }
    }
  }
  return document;
}
