// POST /v1/responses: OpenAI's Responses API, stateless. The same policy as the chat route
// (schemas/openai.ts): fields the gateway honours are validated; harmless fields are accepted and
// ignored; fields it cannot honour, and anything that needs a response kept on the server, are
// refused with a 400 that names them. Field list: the openai SDK's ResponseCreateParamsBase.
import { z } from 'zod';
import { compiled } from './compiled.ts';
import { DEFAULT_MAX_TOKENS, MAX_MESSAGES, MAX_OUTPUT_TOKENS, modelField } from './openai.ts';

export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high'] as const;

const STATELESS = 'is not supported: this gateway is stateless and keeps no responses or conversations; send the whole conversation in input';
const NO_TOOLS = 'tool calling is not supported by this gateway yet';

/** Text, in any of the part types a message may carry; other types are refused in the refinement. */
const contentPart = z
  .looseObject({
    type: z.string().describe('input_text or output_text (text), refusal (refusal); no images, audio or files'),
    text: z.string().optional(),
    refusal: z.string().optional(),
  })
  .describe('A content part; only text is supported');

const TEXT_PARTS = new Set(['input_text', 'output_text', 'refusal']);

const inputItem = z
  .looseObject({
    type: z.string().optional().describe('"message" (or absent); other item types are refused'),
    role: z.string().optional().describe('user, system, developer (read as system) or assistant'),
    content: z
      .union([z.string(), z.array(contentPart).min(1)], { error: 'must be a string or a non-empty array of text parts' })
      .optional()
      .describe('A string, or text parts (joined with a newline)'),
  })
  .describe('A message item; id, status and phase (as in a previous answer sent back) are accepted and ignored');

const MESSAGE_ROLES = new Set(['user', 'system', 'developer', 'assistant']);

/** Why an input item that is not a message is refused. */
function itemTypeProblem(type: string): string {
  if (type === 'item_reference') return `item_reference ${STATELESS}`;
  if (type.endsWith('_call') || type.endsWith('_call_output')) return `${type} items are not supported: ${NO_TOOLS}`;
  return 'only message items are supported';
}

const stateful = z.unknown().optional().describe(`Not supported: any value but null is rejected (the gateway is stateless)`);
const ignored = (description = 'Accepted and ignored') => z.string().max(256).nullish().describe(description);

const responseFields = {
  model: modelField.nullish(),
  input: z
    .union([z.string(), z.array(inputItem).min(1).max(MAX_MESSAGES)], {
      error: `must be a string or an array of 1 to ${MAX_MESSAGES} message items`,
    })
    .describe('A string (one user message), or message items with role and content'),
  instructions: z.string().nullish().describe('A system message placed before the input'),
  max_output_tokens: z
    .int()
    .min(1)
    .max(MAX_OUTPUT_TOKENS)
    .nullish()
    .describe(`Upper bound on the answer length in tokens (default ${DEFAULT_MAX_TOKENS}); reaching it ends the answer with status "incomplete"`),
  temperature: z.number().min(0).max(2).nullish().describe("Sampling temperature; unset: the provider's own default"),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish().describe('Answer as server-sent events (response.created … response.completed)'),
  stream_options: z
    .strictObject({ include_obfuscation: z.boolean().nullish().describe('Accepted and ignored (no obfuscation field is sent)') })
    .nullish(),
  reasoning: z
    .strictObject({
      effort: z
        .enum(REASONING_EFFORTS, { error: `must be one of ${REASONING_EFFORTS.join(', ')}` })
        .nullish()
        .describe("How hard a reasoning model may think; unset: the provider's default"),
      summary: z.enum(['auto', 'concise', 'detailed']).nullish().describe('Accepted and ignored: no reasoning summary is returned'),
      generate_summary: z.enum(['auto', 'concise', 'detailed']).nullish().describe('Accepted and ignored (deprecated form of summary)'),
    })
    .nullish(),
  text: z
    .strictObject({
      // Structured output plugs in here (json_schema, json_object) once the chat route serves it.
      format: z.looseObject({ type: z.string() }).nullish().describe('Only {"type": "text"}'),
      verbosity: z.literal('medium', { error: 'is not supported; only "medium" (the default) is accepted' }).nullish().describe('Only "medium"'),
    })
    .nullish(),
  // OpenAI's own limits, which matter here since the answer echoes it.
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((pairs) => Object.keys(pairs).length <= 16, 'may hold at most 16 pairs')
    .nullish()
    .describe('Up to 16 pairs (keys up to 64 characters, values up to 512); echoed in the answer, not kept'),
  user: ignored(),
  safety_identifier: ignored(),
  prompt_cache_key: ignored(),
  prompt_cache_retention: z.enum(['in_memory', '24h']).nullish().describe('Accepted and ignored'),
  store: z.boolean().nullish().describe('Accepted; nothing is ever stored, and the answer says store: false'),
  include: z.array(z.string().max(128)).max(16).nullish().describe('Accepted and ignored (the outputs they name are never produced), except message.output_text.logprobs'),
  parallel_tool_calls: z.boolean().nullish().describe('Accepted and ignored (no tools)'),
  max_tool_calls: z.int().min(1).nullish().describe('Accepted and ignored (no tools)'),
  truncation: z.literal('disabled', { error: 'only "disabled" is supported' }).nullish().describe('Only "disabled"'),
  service_tier: z.enum(['auto', 'default'], { error: 'only "auto" or "default" is supported' }).nullish().describe('Only "auto" or "default"'),
  top_logprobs: z.literal(0, { error: 'logprobs are not supported by this gateway' }).nullish().describe('Only 0'),
  // Tool calling plugs in here once the chat route serves it (tools, tool_choice, function_call items).
  tools: z.array(z.unknown()).nullish().describe(`Only [] (${NO_TOOLS})`),
  tool_choice: z.unknown().optional().describe('Only "auto" or "none" (no tools)'),
  // Server-side state.
  previous_response_id: stateful,
  conversation: stateful,
  prompt: stateful.describe('Not supported: stored prompts need server-side state'),
  background: z.boolean().nullish().describe('Only false (a background response must be kept to be fetched later)'),
  context_management: stateful,
};

const STATEFUL_FIELDS = ['previous_response_id', 'conversation', 'prompt', 'context_management'] as const;

export const responseBodySchema = compiled(
  z
    .strictObject(responseFields)
    .superRefine((body, ctx) => {
      const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
      for (const field of STATEFUL_FIELDS) {
        if (body[field] !== undefined && body[field] !== null) issue([field], STATELESS);
      }
      if (body.background === true) issue(['background'], STATELESS);
      if (body.tools != null && body.tools.length > 0) issue(['tools'], NO_TOOLS);
      if (body.tool_choice != null && body.tool_choice !== 'auto' && body.tool_choice !== 'none') issue(['tool_choice'], NO_TOOLS);
      const format = body.text?.format?.type;
      if (format === 'json_schema' || format === 'json_object') {
        issue(['text', 'format'], 'structured output is not supported by this gateway yet; only {"type": "text"}');
      } else if (format != null && format !== 'text') {
        issue(['text', 'format'], 'only {"type": "text"} is supported');
      }
      if (body.include?.includes('message.output_text.logprobs')) issue(['include'], 'logprobs are not supported by this gateway');
      if (typeof body.input === 'string') return;
      for (const [i, item] of body.input.entries()) {
        if (item.type !== undefined && item.type !== 'message') {
          issue(['input', i, 'type'], itemTypeProblem(item.type));
          continue;
        }
        if (item.role === undefined || !MESSAGE_ROLES.has(item.role)) {
          issue(['input', i, 'role'], 'must be user, system, developer or assistant');
        }
        if (item.content === undefined) issue(['input', i, 'content'], 'must be a string or a non-empty array of text parts');
        if (item.content === undefined || typeof item.content === 'string') continue;
        for (const [j, part] of item.content.entries()) {
          const field = part.type === 'refusal' ? 'refusal' : 'text';
          if (!TEXT_PARTS.has(part.type)) {
            issue(['input', i, 'content', j, 'type'], 'only text content parts are supported (input_text, output_text, refusal; no images, audio or files)');
          } else if (typeof part[field] !== 'string') {
            issue(['input', i, 'content', j, field], 'must be a string');
          }
        }
      }
    })
    .describe('CreateResponse'),
);

export type ResponseBody = z.output<typeof responseBodySchema>;

// ---------------------------------------------------------------------------------------------
// The answer: a `response` object

export const RESPONSE_STATUSES = ['completed', 'incomplete', 'failed', 'in_progress'] as const;

const outputText = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.never()).describe('Always empty'),
  logprobs: z.array(z.never()).describe('Always empty'),
});

export const outputMessageSchema = z.object({
  id: z.string().describe('msg_…'),
  type: z.literal('message'),
  status: z.enum(['in_progress', 'completed', 'incomplete']),
  role: z.literal('assistant'),
  content: z.array(outputText),
});

export const responseUsageSchema = z
  .object({
    input_tokens: z.int(),
    input_tokens_details: z.object({ cached_tokens: z.int().describe('Always 0') }),
    output_tokens: z.int().describe('Includes reasoning tokens'),
    output_tokens_details: z.object({ reasoning_tokens: z.int() }),
    total_tokens: z.int(),
  })
  .describe('Token counts as the provider reported them; 0 where it reported none');

export const responseObjectSchema = z
  .object({
    id: z.string().describe('resp_…'),
    object: z.literal('response'),
    created_at: z.int().describe('Unix seconds'),
    status: z.enum(RESPONSE_STATUSES).describe('completed; incomplete when cut by max_output_tokens or a content filter'),
    completed_at: z.int().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).nullable().describe('Set only in a stream\'s response.failed event'),
    incomplete_details: z.object({ reason: z.enum(['max_output_tokens', 'content_filter']) }).nullable(),
    instructions: z.string().nullable(),
    max_output_tokens: z.int().nullable(),
    metadata: z.record(z.string(), z.string()),
    model: z.string().describe('"provider/model" that answered'),
    output: z.array(outputMessageSchema).describe('One assistant message'),
    parallel_tool_calls: z.boolean(),
    previous_response_id: z.null(),
    reasoning: z.object({ effort: z.enum(REASONING_EFFORTS).nullable(), summary: z.null() }),
    store: z.literal(false).describe('Nothing is stored, whatever the request said'),
    temperature: z.number().nullable(),
    text: z.object({ format: z.object({ type: z.literal('text') }) }),
    tool_choice: z.enum(['auto', 'none']),
    tools: z.array(z.never()),
    top_p: z.number().nullable(),
    truncation: z.literal('disabled'),
    usage: responseUsageSchema.nullable().describe('null until a stream has finished'),
  })
  .describe(
    'Response. With stream: true the 200 is instead text/event-stream: `event:` and `data:` lines with sequence_number, ' +
      'response.created, response.in_progress, response.output_item.added, response.content_part.added, ' +
      'response.output_text.delta…, response.output_text.done, response.content_part.done, response.output_item.done, then ' +
      'response.completed (or response.incomplete). If the provider fails after the stream began, it ends with an error event ' +
      'and response.failed instead.',
  );

export type ResponseObject = z.output<typeof responseObjectSchema>;
