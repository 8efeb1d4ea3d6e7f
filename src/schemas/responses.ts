// POST /v1/responses: OpenAI's Responses API, stateless. The same policy as the chat route
// (schemas/openai.ts): fields the gateway honours are validated; harmless fields are accepted and
// ignored; fields it cannot honour, and anything that needs a response kept on the server, are
// refused with a 400 that names them. Field list: the openai SDK's ResponseCreateParamsBase.
import { z } from 'zod';
import { compiled } from './compiled.ts';
import { DEFAULT_MAX_TOKENS, MAX_MESSAGES, MAX_OUTPUT_TOKENS, MAX_TOOLS, modelField, NAME, schemaProblem } from './openai.ts';

export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high'] as const;

const STATELESS = 'is not supported: this gateway is stateless and keeps no responses or conversations; send the whole conversation in input';
const NO_HOSTED_TOOLS = 'only function tools are supported (no hosted tools such as web_search, file_search or code_interpreter)';

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
    type: z.string().optional().describe('"message" (or absent), "function_call" or "function_call_output"; other item types are refused'),
    role: z.string().optional().describe('user, system, developer (read as system) or assistant'),
    content: z
      .union([z.string(), z.array(contentPart).min(1)], { error: 'must be a string or a non-empty array of text parts' })
      .optional()
      .describe('A string, or text parts (joined with a newline)'),
    call_id: z.string().min(1).max(32_768).optional().describe('function_call and function_call_output: the call\'s id'),
    name: z.string().optional().describe('function_call: the function called'),
    arguments: z.string().optional().describe('function_call: its arguments as JSON text'),
    output: z
      .union([z.string(), z.array(contentPart).min(1)], { error: 'must be a string or a non-empty array of text parts' })
      .optional()
      .describe('function_call_output: the function\'s result, a string or text parts'),
  })
  .describe(
    'A message item, a function_call item (a previous answer\'s call sent back) or a function_call_output item (its result); ' +
      'id, status and phase are accepted and ignored',
  );

const MESSAGE_ROLES = new Set(['user', 'system', 'developer', 'assistant']);

/** Why an input item that is not a message is refused. */
function itemTypeProblem(type: string): string {
  if (type === 'item_reference') return `item_reference ${STATELESS}`;
  if (type.endsWith('_call') || type.endsWith('_call_output')) return `${type} items are not supported: ${NO_HOSTED_TOOLS}`;
  return 'only message, function_call and function_call_output items are supported';
}

/** A function the model may call, in the Responses shape (flat: no nested `function`). */
const functionTool = z
  .object({
    type: z.literal('function', { error: NO_HOSTED_TOOLS }),
    name: z.string().regex(NAME, 'must be 1 to 64 letters, digits, _ or -'),
    description: z.string().max(4096).nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish().describe('A JSON Schema of type "object"'),
    strict: z.boolean().nullish(),
  })
  .describe('A function tool');

const toolChoice = z
  .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), name: z.string().min(1).max(64) })], {
    error: 'must be "none", "auto", "required" or {"type": "function", "name": …}',
  })
  .describe('"auto" (default), "none", "required", or one named function');

const textFormat = z
  .discriminatedUnion(
    'type',
    [
      z.object({ type: z.literal('text') }),
      z.object({ type: z.literal('json_object') }),
      z.object({
        type: z.literal('json_schema'),
        name: z.string().regex(NAME, 'must be 1 to 64 letters, digits, _ or -'),
        description: z.string().max(4096).nullish(),
        schema: z.record(z.string(), z.unknown()),
        strict: z.boolean().nullish(),
      }),
    ],
    { error: 'type must be "text", "json_object" or "json_schema"' },
  )
  .describe('"text", "json_object" (any JSON object) or "json_schema" (JSON conforming to schema)');

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
      format: textFormat.nullish(),
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
  parallel_tool_calls: z.boolean().nullish().describe('false: at most one function call per answer'),
  max_tool_calls: z.int().min(1).nullish().describe('Accepted and ignored (it bounds hosted tool calls, which the gateway has none of)'),
  truncation: z.literal('disabled', { error: 'only "disabled" is supported' }).nullish().describe('Only "disabled"'),
  service_tier: z.enum(['auto', 'default'], { error: 'only "auto" or "default" is supported' }).nullish().describe('Only "auto" or "default"'),
  top_logprobs: z.literal(0, { error: 'logprobs are not supported by this gateway' }).nullish().describe('Only 0'),
  tools: z.array(functionTool).max(MAX_TOOLS, `at most ${MAX_TOOLS} tools`).nullish().describe(`Functions the model may call (at most ${MAX_TOOLS})`),
  tool_choice: toolChoice.nullish(),
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
      checkTools(body, issue);
      if (body.include?.includes('message.output_text.logprobs')) issue(['include'], 'logprobs are not supported by this gateway');
      if (typeof body.input === 'string') return;
      const calls = new Set<string>();
      for (const [i, item] of body.input.entries()) {
        if (item.type === 'function_call') {
          checkCall(item, i, issue);
          if (item.call_id !== undefined) calls.add(item.call_id);
          continue;
        }
        if (item.type === 'function_call_output') {
          if (item.call_id === undefined) issue(['input', i, 'call_id'], 'a function_call_output needs the call_id of the call it answers');
          else if (!calls.has(item.call_id)) issue(['input', i, 'call_id'], 'answers no function_call item earlier in input');
          checkParts(item.output, ['input', i, 'output'], issue);
          continue;
        }
        if (item.type !== undefined && item.type !== 'message') {
          issue(['input', i, 'type'], itemTypeProblem(item.type));
          continue;
        }
        if (item.role === undefined || !MESSAGE_ROLES.has(item.role)) {
          issue(['input', i, 'role'], 'must be user, system, developer or assistant');
        }
        checkParts(item.content, ['input', i, 'content'], issue);
      }
    })
    .describe('CreateResponse'),
);

export type ResponseBody = z.output<typeof responseBodySchema>;

type Issue = (path: PropertyKey[], message: string) => void;
type Fields = z.output<z.ZodObject<typeof responseFields>>;
type Item = z.output<typeof inputItem>;

/** A message's content or a call's output: a string or text parts only. */
function checkParts(content: Item['content'], path: PropertyKey[], issue: Issue): void {
  if (content === undefined) issue(path, 'must be a string or a non-empty array of text parts');
  if (content === undefined || typeof content === 'string') return;
  for (const [j, part] of content.entries()) {
    const field = part.type === 'refusal' ? 'refusal' : 'text';
    if (!TEXT_PARTS.has(part.type)) {
      issue([...path, j, 'type'], 'only text content parts are supported (input_text, output_text, refusal; no images, audio or files)');
    } else if (typeof part[field] !== 'string') {
      issue([...path, j, field], 'must be a string');
    }
  }
}

/** A function_call item sent back: the call's id, the function's name and its arguments' JSON text. */
function checkCall(item: Item, i: number, issue: Issue): void {
  if (item.call_id === undefined) issue(['input', i, 'call_id'], 'a function_call needs its call_id');
  if (item.name === undefined || !NAME.test(item.name)) issue(['input', i, 'name'], 'must be 1 to 64 letters, digits, _ or -');
  if (item.arguments === undefined) issue(['input', i, 'arguments'], 'must be the call\'s arguments as JSON text');
}

/** The chat route's rules in the Responses shape: names unique, tool_choice naming a tool, every schema well formed. */
function checkTools(body: Fields, issue: Issue): void {
  const names = new Set<string>();
  for (const [i, tool] of (body.tools ?? []).entries()) {
    if (names.has(tool.name)) issue(['tools', i, 'name'], 'names a function an earlier tool already names');
    names.add(tool.name);
    if (tool.parameters == null) continue;
    const problem = schemaProblem(tool.parameters);
    if (problem) issue(['tools', i, 'parameters', ...problem[0]], problem[1]);
    else if (tool.parameters.type !== undefined && tool.parameters.type !== 'object') {
      issue(['tools', i, 'parameters', 'type'], 'a function\'s parameters must be a schema of type "object"');
    }
  }
  const choice = body.tool_choice;
  if (choice != null && choice !== 'none' && choice !== 'auto' && names.size === 0) issue(['tool_choice'], 'needs tools to choose from');
  else if (typeof choice === 'object' && choice !== null && !names.has(choice.name)) issue(['tool_choice', 'name'], 'names no function in tools');
  const format = body.text?.format;
  if (format?.type === 'json_schema') {
    const problem = schemaProblem(format.schema);
    if (problem) issue(['text', 'format', 'schema', ...problem[0]], problem[1]);
  }
}

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

export const outputFunctionCallSchema = z.object({
  id: z.string().describe('fc_…'),
  type: z.literal('function_call'),
  status: z.enum(['in_progress', 'completed', 'incomplete']),
  call_id: z.string().describe('Send it back in the function_call_output item that answers this call'),
  name: z.string(),
  arguments: z.string().describe('JSON text'),
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
    output: z
      .array(z.union([outputMessageSchema, outputFunctionCallSchema]))
      .describe('The assistant message (when it has text), then its function calls'),
    parallel_tool_calls: z.boolean(),
    previous_response_id: z.null(),
    reasoning: z.object({ effort: z.enum(REASONING_EFFORTS).nullable(), summary: z.null() }),
    store: z.literal(false).describe('Nothing is stored, whatever the request said'),
    temperature: z.number().nullable(),
    text: z.object({ format: textFormat }).describe('The format asked for (default text)'),
    tool_choice: toolChoice,
    tools: z.array(functionTool).describe('The tools sent, echoed'),
    top_p: z.number().nullable(),
    truncation: z.literal('disabled'),
    usage: responseUsageSchema.nullable().describe('null until a stream has finished'),
  })
  .describe(
    'Response. With stream: true the 200 is instead text/event-stream: `event:` and `data:` lines with sequence_number, ' +
      'response.created, response.in_progress, response.output_item.added, response.content_part.added, ' +
      'response.output_text.delta…, response.output_text.done, response.content_part.done, response.output_item.done, then ' +
      'response.completed (or response.incomplete). A function call is its own item: response.output_item.added, ' +
      'response.function_call_arguments.delta…, response.function_call_arguments.done, response.output_item.done. If the provider fails after the stream began, it ends with an error event ' +
      'and response.failed instead.',
  );

export type ResponseObject = z.output<typeof responseObjectSchema>;
