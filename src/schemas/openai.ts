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
/** At most this many tools in one request (OpenAI's own limit). */
export const MAX_TOOLS = 128;
/** At most this many calls in one assistant message. */
export const MAX_TOOL_CALLS = 64;
/** A function or schema name, as OpenAI allows it. */
export const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

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

const toolCallSchema = z
  .object({
    id: z.string().min(1).max(32_768).describe('The call\'s id, sent back verbatim (a Gemini call\'s id carries its thought signature)'),
    type: z.literal('function', { error: 'only function tool calls are supported' }),
    function: z.object({ name: z.string().regex(NAME, 'must be 1 to 64 letters, digits, _ or -'), arguments: z.string().max(32_768).describe('JSON text') }),
  })
  .describe('A function call the model made');

const messageSchema = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool'], {
      error: 'must be system, developer, user, assistant or tool',
    }),
    content: z
      .union([z.string(), z.array(contentPart).min(1)], { error: 'must be a string or a non-empty array of text parts' })
      .nullish()
      .describe('A string, or text parts (joined with a newline); an assistant message may leave it null'),
    name: z.string().max(256).nullish().describe('Accepted and ignored'),
    // Fields an assistant message carries when a client sends a previous answer back.
    refusal: z.string().nullish().describe('Stands for the content of an assistant message whose content is null; otherwise ignored'),
    tool_calls: z.array(toolCallSchema).max(MAX_TOOL_CALLS).nullish().describe(`An assistant message's function calls (at most ${MAX_TOOL_CALLS})`),
    tool_call_id: z.string().min(1).max(32_768).nullish().describe('A tool message: the id of the call whose result it is'),
    function_call: z.unknown().optional().describe('Not supported unless null'),
    audio: z.unknown().optional().describe('Not supported unless null'),
  })
  // OpenAI's assistant message (a previous answer sent back, a refusal) may have no content; every
  // other message must.
  .refine((message) => message.content != null || message.role === 'assistant', {
    path: ['content'],
    error: 'must be a string or a non-empty array of text parts',
  })
  .describe('A chat message; "developer" is treated as "system"; "tool" carries a function\'s result');

/** A JSON Schema as the route accepts it: an object (checked further by schemaProblem). */
const jsonSchemaObject = z.record(z.string(), z.unknown());

const toolSchema = z
  .object({
    type: z.literal('function', { error: 'only function tools are supported' }),
    function: z.object({
      name: z.string().regex(NAME, 'must be 1 to 64 letters, digits, _ or -'),
      description: z.string().max(4096).nullish(),
      parameters: jsonSchemaObject.nullish().describe('A JSON Schema of type "object"'),
      strict: z.boolean().nullish(),
    }),
  })
  .describe('A function the model may call');

const toolChoiceSchema = z
  .union(
    [
      z.enum(['none', 'auto', 'required']),
      z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1).max(64) }) }),
    ],
    { error: 'must be "none", "auto", "required" or {"type": "function", "function": {"name": …}}' },
  )
  .describe('"auto" (default), "none", "required", or one named function');

const responseFormatSchema = z
  .discriminatedUnion(
    'type',
    [
      z.object({ type: z.literal('text') }),
      z.object({ type: z.literal('json_object') }),
      z.object({
        type: z.literal('json_schema'),
        json_schema: z.object({
          name: z.string().regex(NAME, 'must be 1 to 64 letters, digits, _ or -'),
          description: z.string().max(4096).nullish(),
          schema: jsonSchemaObject.nullish(),
          strict: z.boolean().nullish(),
        }),
      }),
    ],
    { error: 'type must be "text", "json_object" or "json_schema"' },
  )
  .describe('"text", "json_object" (any JSON object) or "json_schema" (JSON conforming to json_schema.schema)');

const SCHEMA_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
/** Keywords whose value is one schema, a map of schemas, or a list of schemas. */
const ONE_SCHEMA = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems'];
const SCHEMA_MAPS = ['properties', '$defs', 'definitions', 'patternProperties', 'dependentSchemas'];
const SCHEMA_LISTS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const MAX_SCHEMA_DEPTH = 32;

/** What is wrong with a JSON Schema, as [path below it, reason]; undefined when it is well formed. */
export function schemaProblem(schema: unknown, depth = 0): [Array<string | number>, string] | undefined {
  if (typeof schema === 'boolean') return undefined;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return [[], 'must be a JSON Schema object'];
  if (depth > MAX_SCHEMA_DEPTH) return [[], `is nested more than ${MAX_SCHEMA_DEPTH} levels deep`];
  const node = schema as Record<string, unknown>;
  const types = Array.isArray(node.type) ? node.type : node.type === undefined ? [] : [node.type];
  if (!types.every((t) => typeof t === 'string' && SCHEMA_TYPES.has(t))) return [['type'], 'must be object, array, string, number, integer, boolean or null'];
  if (node.required !== undefined && !(Array.isArray(node.required) && node.required.every((r) => typeof r === 'string'))) return [['required'], 'must be a list of property names'];
  if (node.enum !== undefined && !(Array.isArray(node.enum) && node.enum.length > 0)) return [['enum'], 'must be a non-empty list'];
  const nested = (path: Array<string | number>, value: unknown): [Array<string | number>, string] | undefined => {
    const found = schemaProblem(value, depth + 1);
    return found && [[...path, ...found[0]], found[1]];
  };
  for (const key of ONE_SCHEMA) {
    if (node[key] === undefined) continue;
    const found = nested([key], node[key]);
    if (found) return found;
  }
  for (const key of SCHEMA_MAPS) {
    const map = node[key];
    if (map === undefined) continue;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) return [[key], 'must be an object of schemas'];
    for (const [name, value] of Object.entries(map)) {
      const found = nested([key, name], value);
      if (found) return found;
    }
  }
  for (const key of SCHEMA_LISTS) {
    const list = node[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) return [[key], 'must be a non-empty list of schemas'];
    for (const [i, value] of list.entries()) {
      const found = nested([key, i], value);
      if (found) return found;
    }
  }
  return undefined;
}

/** Present in the schema only so a request using them gets a clear 400 naming the field. */
const UNSUPPORTED_FIELDS = {
  functions: 'the deprecated functions field is not supported; send tools',
  function_call: 'the deprecated function_call field is not supported; send tool_choice',
  top_logprobs: 'logprobs are not supported by this gateway',
  audio: 'audio output is not supported by this gateway',
  prediction: 'predicted outputs are not supported by this gateway',
  web_search_options: 'web search is not supported by this gateway',
} as const;

/** OpenAI's efforts (openai's ReasoningEffort type); xhigh and max are read as high, the most every provider takes. */
export const CHAT_REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'] as const;

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
  response_format: responseFormatSchema.nullish(),
  modalities: z
    .array(z.literal('text', { error: 'only text output is supported' }))
    .nullish()
    .describe('Only ["text"]'),
  seed: z.int().nullish().describe('Accepted and ignored (OpenAI treats it as best effort too)'),
  store: z.boolean().nullish().describe('Accepted and ignored: nothing is stored'),
  metadata: z.record(z.string(), z.string()).nullish().describe('Accepted and ignored'),
  tools: z.array(toolSchema).min(1).max(MAX_TOOLS, `at most ${MAX_TOOLS} tools`).nullish().describe(`Functions the model may call (1 to ${MAX_TOOLS})`),
  tool_choice: toolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish().describe('false: at most one call per answer'),
  functions: unsupported(UNSUPPORTED_FIELDS.functions),
  function_call: unsupported(UNSUPPORTED_FIELDS.function_call),
  top_logprobs: unsupported(UNSUPPORTED_FIELDS.top_logprobs),
  audio: unsupported(UNSUPPORTED_FIELDS.audio),
  prediction: unsupported(UNSUPPORTED_FIELDS.prediction),
  web_search_options: unsupported(UNSUPPORTED_FIELDS.web_search_options),
  reasoning_effort: z
    .enum(CHAT_REASONING_EFFORTS, { error: `must be one of ${CHAT_REASONING_EFFORTS.join(', ')}` })
    .nullish()
    .describe(
      "How hard a reasoning model may think; each provider gets its own control (Gemini's thinkingConfig, Groq's reasoning_effort, " +
        "OpenRouter's reasoning.effort); xhigh and max are sent as high; unset: the provider's configured default",
    ),
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
      checkTools(body, ctx);
      const calls = new Set<string>();
      for (const [i, message] of body.messages.entries()) {
        if (message.tool_calls != null && message.tool_calls.length > 0) {
          if (message.role !== 'assistant') ctx.addIssue({ code: 'custom', path: ['messages', i, 'tool_calls'], message: 'only an assistant message may carry tool_calls' });
          for (const call of message.tool_calls) calls.add(call.id);
        }
        if (message.role === 'tool') {
          if (message.tool_call_id == null) ctx.addIssue({ code: 'custom', path: ['messages', i, 'tool_call_id'], message: 'a tool message needs the tool_call_id of the call it answers' });
          else if (!calls.has(message.tool_call_id)) {
            ctx.addIssue({ code: 'custom', path: ['messages', i, 'tool_call_id'], message: 'answers no tool call of an earlier assistant message' });
          }
        } else if (message.tool_call_id != null) {
          ctx.addIssue({ code: 'custom', path: ['messages', i, 'tool_call_id'], message: 'only a tool message may carry tool_call_id' });
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

type ChatFields = z.output<z.ZodObject<typeof chatFields>>;

/** Tool names unique, tool_choice naming one of them, and every schema well formed. */
function checkTools(body: ChatFields, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  for (const [i, tool] of (body.tools ?? []).entries()) {
    const { name, parameters } = tool.function;
    if (names.has(name)) ctx.addIssue({ code: 'custom', path: ['tools', i, 'function', 'name'], message: 'names a function an earlier tool already names' });
    names.add(name);
    if (parameters == null) continue;
    const problem = schemaProblem(parameters);
    if (problem) ctx.addIssue({ code: 'custom', path: ['tools', i, 'function', 'parameters', ...problem[0]], message: problem[1] });
    else if (parameters.type !== undefined && parameters.type !== 'object') {
      ctx.addIssue({ code: 'custom', path: ['tools', i, 'function', 'parameters', 'type'], message: 'a function\'s parameters must be a schema of type "object"' });
    }
  }
  const choice = body.tool_choice;
  if (choice != null && body.tools == null && choice !== 'none') {
    ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: 'needs tools to choose from' });
  } else if (typeof choice === 'object' && choice !== null && !names.has(choice.function.name)) {
    ctx.addIssue({ code: 'custom', path: ['tool_choice', 'function', 'name'], message: 'names no function in tools' });
  }
  const format = body.response_format;
  if (format?.type === 'json_schema' && format.json_schema.schema != null) {
    const problem = schemaProblem(format.json_schema.schema);
    if (problem) ctx.addIssue({ code: 'custom', path: ['response_format', 'json_schema', 'schema', ...problem[0]], message: problem[1] });
  }
}

const openAiUsageSchema = z.object({
  prompt_tokens: z.int(),
  completion_tokens: z.int().describe('Includes the reasoning tokens'),
  total_tokens: z.int(),
  completion_tokens_details: z
    .object({ reasoning_tokens: z.int().describe('Tokens the model spent thinking; 0 where the provider reported none') })
    .describe("OpenAI's breakdown of completion_tokens"),
});

export const OPENAI_FINISH_REASONS = ['stop', 'length', 'content_filter', 'tool_calls'] as const;

export const chatCompletionSchema = z
  .object({
    id: z.string().describe('chatcmpl-…'),
    object: z.literal('chat.completion'),
    created: z.int().describe('Unix seconds'),
    model: z.string().describe('"provider/model" that answered'),
    choices: z.array(
      z.object({
        index: z.int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable().describe('null when the answer only calls functions'),
          refusal: z.null(),
          tool_calls: z.array(toolCallSchema).optional().describe('The functions the model calls; finish_reason is then "tool_calls"'),
        }),
        logprobs: z.null(),
        finish_reason: z.enum(OPENAI_FINISH_REASONS),
      }),
    ),
    usage: openAiUsageSchema.describe('Token counts as the provider reported them; 0 where it reported none'),
  })
  .describe(
    'ChatCompletion. With stream: true the 200 is instead text/event-stream: data: lines with chat.completion.chunk objects ' +
      '(the first with delta.role "assistant"), ending with data: [DONE]. Function calls come as delta.tool_calls pieces ' +
      '(index, id and name first, then arguments in pieces) and finish_reason "tool_calls". If the provider fails after the stream began, ' +
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
  400: openAiErrorSchema.describe('invalid_request: malformed JSON, a schema violation or an unsupported field (param names the field); content_filtered: a provider refused the request on content grounds (the message names it)'),
  ...base,
  404: openAiErrorSchema.describe('model_not_found: unknown or unconfigured provider, or a model the provider does not serve'),
  413: openAiErrorSchema.describe('Body larger than 64 KiB'),
  415: openAiErrorSchema.describe('Body is not application/json'),
  503: openAiErrorSchema.describe('No provider could answer (all failed, cooling down or unconfigured); Retry-After when known'),
  504: openAiErrorSchema.describe('The providers did not answer within the request budget'),
};
