// The OpenAI-compatible API under /v1: what a caller may send and what it gets back.
// Fields the gateway honours are validated; harmless fields OpenAI clients commonly send are
// accepted and ignored; fields it cannot honour are rejected with a 400 that names them, so a
// caller never gets an answer that silently ignored what it asked for.
import { z } from 'zod';
import { ERROR_TABLE } from '../errors.ts';
import { compiled } from './compiled.ts';

/** Upper bound for max_tokens / max_completion_tokens. */
export const MAX_OUTPUT_TOKENS = 8192;
/** Used when the caller sets neither max_tokens nor max_completion_tokens. */
export const DEFAULT_MAX_TOKENS = 1024;
export const MAX_MESSAGES = 256;
export const MAX_EMBEDDING_INPUTS = 100;
export const MAX_EMBEDDING_INPUT_CHARS = 8000;

export const modelField = z
  .string()
  .min(1)
  .max(256)
  .describe('"auto" (the cascade, default), a provider name ("groq": the cascade starting there), or "provider/model-id" (that model only, no fallback); GET /v1/models lists them');

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions

const contentPart = z
  .looseObject({
    type: z.string().describe('Only "text" is supported'),
    text: z.string().optional(),
  })
  .describe('A content part; only {type: "text", text} is supported');

const messageSchema = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant'], {
      error: 'must be system, developer, user or assistant (tool messages are not supported)',
    }),
    content: z
      .union([z.string(), z.array(contentPart).min(1)], { error: 'must be a string or a non-empty array of text parts' })
      .nullish()
      .describe('A string, or text parts (joined with a newline); an assistant message may leave it null'),
    name: z.string().max(256).nullish().describe('Accepted and ignored'),
    // Fields an assistant message carries when a client sends a previous answer back.
    refusal: z.string().nullish().describe('Stands for the content of an assistant message whose content is null; otherwise ignored'),
    tool_calls: z.array(z.unknown()).nullish().describe('Not supported unless empty'),
    function_call: z.unknown().optional().describe('Not supported unless null'),
    audio: z.unknown().optional().describe('Not supported unless null'),
  })
  // OpenAI's assistant message (a previous answer sent back, a refusal) may have no content; every
  // other message must.
  .refine((message) => message.content != null || message.role === 'assistant', {
    path: ['content'],
    error: 'must be a string or a non-empty array of text parts',
  })
  .describe('A chat message; "developer" is treated as "system"');

/** Present in the schema only so a request using them gets a clear 400 naming the field. */
const UNSUPPORTED_FIELDS = {
  tools: 'tool calling is not supported by this gateway',
  tool_choice: 'tool calling is not supported by this gateway',
  functions: 'function calling is not supported by this gateway',
  function_call: 'function calling is not supported by this gateway',
  top_logprobs: 'logprobs are not supported by this gateway',
  audio: 'audio output is not supported by this gateway',
  prediction: 'predicted outputs are not supported by this gateway',
  web_search_options: 'web search is not supported by this gateway',
  reasoning_effort: 'reasoning_effort is not supported by this gateway',
} as const;

const unsupported = (why: string) => z.unknown().optional().describe(`Not supported: any value but null is rejected (${why})`);

const chatFields = {
  model: modelField.nullish(),
  messages: z.array(messageSchema).min(1).max(MAX_MESSAGES),
  max_tokens: z.int().min(1).max(MAX_OUTPUT_TOKENS).nullish().describe(`Upper bound on the answer length in tokens (default ${DEFAULT_MAX_TOKENS})`),
  max_completion_tokens: z.int().min(1).max(MAX_OUTPUT_TOKENS).nullish().describe('Same as max_tokens'),
  temperature: z.number().min(0).max(2).nullish().describe("Sampling temperature; unset: the provider's own default (Google recommends leaving Gemini 3's at its default)"),
  top_p: z.number().min(0).max(1).nullish(),
  stop: z
    .union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).max(4)])
    .nullish()
    .describe('Up to 4 stop sequences'),
  stream: z.boolean().nullish().describe('Answer as server-sent events (chat.completion.chunk), ending with data: [DONE]'),
  stream_options: z
    .object({ include_usage: z.boolean().nullish() })
    .nullish()
    .describe('include_usage: a last chunk with empty choices and the token usage, before [DONE]'),
  // Accepted and ignored, or accepted only with the value that changes nothing.
  user: z.string().max(256).nullish().describe('Accepted and ignored'),
  n: z.literal(1, { error: 'only n = 1 is supported' }).nullish().describe('Only 1'),
  presence_penalty: z.literal(0, { error: 'is not supported; only 0 is accepted' }).nullish().describe('Only 0'),
  frequency_penalty: z.literal(0, { error: 'is not supported; only 0 is accepted' }).nullish().describe('Only 0'),
  logprobs: z.literal(false, { error: 'logprobs are not supported by this gateway' }).nullish().describe('Only false'),
  logit_bias: z
    .record(z.string(), z.number())
    .refine((bias) => Object.keys(bias).length === 0, 'is not supported; only {} is accepted')
    .nullish()
    .describe('Only {}'),
  response_format: z
    .object({ type: z.literal('text', { error: 'only {"type": "text"} is supported' }) })
    .nullish()
    .describe('Only {"type": "text"}'),
  modalities: z
    .array(z.literal('text', { error: 'only text output is supported' }))
    .nullish()
    .describe('Only ["text"]'),
  seed: z.int().nullish().describe('Accepted and ignored (OpenAI treats it as best effort too)'),
  store: z.boolean().nullish().describe('Accepted and ignored: nothing is stored'),
  metadata: z.record(z.string(), z.string()).nullish().describe('Accepted and ignored'),
  parallel_tool_calls: z.boolean().nullish().describe('Accepted and ignored (no tools)'),
  tools: unsupported(UNSUPPORTED_FIELDS.tools),
  tool_choice: unsupported(UNSUPPORTED_FIELDS.tool_choice),
  functions: unsupported(UNSUPPORTED_FIELDS.functions),
  function_call: unsupported(UNSUPPORTED_FIELDS.function_call),
  top_logprobs: unsupported(UNSUPPORTED_FIELDS.top_logprobs),
  audio: unsupported(UNSUPPORTED_FIELDS.audio),
  prediction: unsupported(UNSUPPORTED_FIELDS.prediction),
  web_search_options: unsupported(UNSUPPORTED_FIELDS.web_search_options),
  reasoning_effort: unsupported(UNSUPPORTED_FIELDS.reasoning_effort),
};

export const chatCompletionBodySchema = compiled(
  z
    .strictObject(chatFields)
    .superRefine((body, ctx) => {
      for (const [field, why] of Object.entries(UNSUPPORTED_FIELDS)) {
        const value = body[field as keyof typeof UNSUPPORTED_FIELDS];
        if (value !== undefined && value !== null) ctx.addIssue({ code: 'custom', path: [field], message: why });
      }
      if (body.max_tokens != null && body.max_completion_tokens != null && body.max_tokens !== body.max_completion_tokens) {
        ctx.addIssue({ code: 'custom', path: ['max_tokens'], message: 'differs from max_completion_tokens; send one of them' });
      }
      for (const [i, message] of body.messages.entries()) {
        if (message.tool_calls != null && message.tool_calls.length > 0) {
          ctx.addIssue({ code: 'custom', path: ['messages', i, 'tool_calls'], message: 'tool calling is not supported by this gateway' });
        }
        for (const field of ['function_call', 'audio'] as const) {
          if (message[field] != null) {
            ctx.addIssue({ code: 'custom', path: ['messages', i, field], message: `${field} is not supported by this gateway` });
          }
        }
        if (message.content == null || typeof message.content === 'string') continue;
        for (const [j, part] of message.content.entries()) {
          if (part.type !== 'text') {
            ctx.addIssue({
              code: 'custom',
              path: ['messages', i, 'content', j, 'type'],
              message: 'only text content parts are supported (no images, audio or files)',
            });
          } else if (typeof part.text !== 'string') {
            ctx.addIssue({ code: 'custom', path: ['messages', i, 'content', j, 'text'], message: 'must be a string' });
          }
        }
      }
    })
    .describe('ChatCompletionRequest'),
);

export type ChatCompletionBody = z.output<typeof chatCompletionBodySchema>;

const openAiUsageSchema = z.object({
  prompt_tokens: z.int(),
  completion_tokens: z.int(),
  total_tokens: z.int(),
});

export const OPENAI_FINISH_REASONS = ['stop', 'length', 'content_filter'] as const;

export const chatCompletionSchema = z
  .object({
    id: z.string().describe('chatcmpl-…'),
    object: z.literal('chat.completion'),
    created: z.int().describe('Unix seconds'),
    model: z.string().describe('"provider/model" that answered'),
    choices: z.array(
      z.object({
        index: z.int(),
        message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.null() }),
        logprobs: z.null(),
        finish_reason: z.enum(OPENAI_FINISH_REASONS),
      }),
    ),
    usage: openAiUsageSchema.describe('Token counts as the provider reported them; 0 where it reported none'),
  })
  .describe(
    'ChatCompletion. With stream: true the 200 is instead text/event-stream: data: lines with chat.completion.chunk objects ' +
      '(the first with delta.role "assistant"), ending with data: [DONE]. If the provider fails after the stream began, ' +
      'the last event is data: {"error": {…}} and there is no [DONE].',
  );

export type ChatCompletion = z.output<typeof chatCompletionSchema>;

// ---------------------------------------------------------------------------------------------
// GET /v1/models

export const modelListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        id: z.string().describe('"auto", a provider name, or "provider/model-id"'),
        object: z.literal('model'),
        created: z.int().describe('Unix seconds (when this gateway started)'),
        owned_by: z.string(),
      }),
    ),
  })
  .describe('ModelList');

// ---------------------------------------------------------------------------------------------
// POST /v1/embeddings

const embeddingInput = z.string().min(1).max(MAX_EMBEDDING_INPUT_CHARS);

export const embeddingBodySchema = compiled(
  z
    .strictObject({
      input: z
        .union([embeddingInput, z.array(embeddingInput).min(1).max(MAX_EMBEDDING_INPUTS)], {
          error: `must be a non-empty string or an array of 1 to ${MAX_EMBEDDING_INPUTS} non-empty strings (at most ${MAX_EMBEDDING_INPUT_CHARS} characters each)`,
        })
        .describe(`A string, or 1 to ${MAX_EMBEDDING_INPUTS} strings; token arrays are not supported`),
      model: modelField.nullish(),
      encoding_format: z
        .enum(['float', 'base64'])
        .nullish()
        .describe('float (default) or base64 (little-endian float32, which the OpenAI SDKs request by default)'),
      dimensions: z.unknown().optional().describe('Not supported: any value but null is rejected'),
      user: z.string().max(256).nullish().describe('Accepted and ignored'),
    })
    .superRefine((body, ctx) => {
      if (body.dimensions !== undefined && body.dimensions !== null) {
        ctx.addIssue({ code: 'custom', path: ['dimensions'], message: 'is not supported; the model decides the vector length' });
      }
    })
    .describe('EmbeddingRequest'),
);

export type EmbeddingBody = z.output<typeof embeddingBodySchema>;

export const embeddingListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        object: z.literal('embedding'),
        index: z.int(),
        embedding: z.union([z.array(z.number()), z.string()]).describe('Numbers, or base64 of float32 values'),
      }),
    ),
    model: z.string().describe('"provider/model" that answered'),
    usage: z.object({ prompt_tokens: z.int(), total_tokens: z.int() }).describe('0 where the provider reported none'),
  })
  .describe('EmbeddingList');

// ---------------------------------------------------------------------------------------------
// Errors, in OpenAI's shape (see openAiErrorBody in errors.ts)

const codes = Object.keys(ERROR_TABLE) as [keyof typeof ERROR_TABLE, ...(keyof typeof ERROR_TABLE)[]];

export const openAiErrorSchema = z
  .object({
    error: z.object({
      message: z.string().describe('Safe, human-readable explanation'),
      type: z.string().describe('invalid_request_error, authentication_error, not_found_error, rate_limit_error, server_error, service_unavailable_error'),
      code: z.enum(codes).describe('Stable machine-readable code'),
      param: z.string().nullable().describe('The request field at fault, when there is one'),
      request_id: z.string().describe('Same as the x-request-id response header'),
    }),
  })
  .describe('OpenAIError');

const base = {
  401: openAiErrorSchema.describe('Missing or wrong API key (Authorization: Bearer or X-API-Key)'),
  403: openAiErrorSchema.describe("forbidden_route / forbidden_model: the client's tier (KEYS_FILE) does not allow this route / this model (param: model)"),
  429: openAiErrorSchema.describe('rate_limited: the per-key rate limit (see Retry-After and x-ratelimit-* headers); too_many_concurrent_requests: the key already has MAX_CONCURRENT_PER_KEY requests in flight (Retry-After: 1); quota_exceeded: the client tier\'s tokens for the day are spent (Retry-After: seconds to 00:00 UTC)'),
  500: openAiErrorSchema.describe('A bug in the gateway; the cause is logged, never returned'),
};

/** The error responses of GET routes under /v1. */
export const openAiReadErrorResponses = base;

/** The error responses of POST routes under /v1. */
export const openAiErrorResponses = {
  400: openAiErrorSchema.describe('Malformed JSON, a schema violation or an unsupported field; param names the field'),
  ...base,
  404: openAiErrorSchema.describe('model_not_found: unknown or unconfigured provider, or a model the provider does not serve'),
  413: openAiErrorSchema.describe('Body larger than 64 KiB'),
  415: openAiErrorSchema.describe('Body is not application/json'),
  503: openAiErrorSchema.describe('No provider could answer (all failed, cooling down or unconfigured); Retry-After when known'),
  504: openAiErrorSchema.describe('The providers did not answer within the request budget'),
};
