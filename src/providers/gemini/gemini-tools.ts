// Function calling and structured output in Gemini's wire shapes (googleapis/js-genai src/types.ts:
// FunctionDeclaration.parametersJsonSchema, ToolConfig.functionCallingConfig {mode, allowedFunctionNames},
// Part.functionCall / functionResponse / thoughtSignature, GenerationConfig.responseMimeType and
// responseJsonSchema). Pure translation; no I/O.
import { randomUUID } from 'node:crypto';
import { ProviderError } from '../provider-error.ts';
import { splitToolCallId, toolCallId } from '../tool-call-id.ts';
import type { ChatMessage, CompletionRequest, ToolCall } from '../types.ts';

export interface FunctionCallPart {
  functionCall: { name: string; args: Record<string, unknown>; id?: string };
  thoughtSignature?: string;
}
export interface FunctionResponsePart {
  functionResponse: { name: string; response: Record<string, unknown>; id?: string };
}

export interface GeminiToolFields {
  tools?: Array<{ functionDeclarations: Array<{ name: string; description?: string; parametersJsonSchema?: Record<string, unknown> }> }>;
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
}

export interface GeminiOutputFields {
  responseMimeType?: 'application/json';
  responseJsonSchema?: Record<string, unknown>;
}

/**
 * JSON Schema keywords whose meaning Gemini's parametersJsonSchema / responseJsonSchema does not
 * keep (it supports a subset: type, properties, required, items, enum, anyOf, $ref, $defs, formats
 * and bounds). Sent anyway, the constraint would be dropped silently; refused instead.
 */
const INEXPRESSIBLE = ['not', 'if', 'then', 'else', 'patternProperties', 'dependentSchemas', 'dependentRequired', 'unevaluatedProperties', 'unevaluatedItems', 'contains'];

/** The first place in a schema Gemini cannot express, as a path below `at`; undefined when there is none. */
export function inexpressible(schema: unknown, at: string, depth = 0): string | undefined {
  if (typeof schema !== 'object' || schema === null || depth > 32) return undefined;
  if (Array.isArray(schema)) {
    for (const [i, item] of schema.entries()) {
      const found = inexpressible(item, `${at}[${i}]`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, value] of Object.entries(schema)) {
    if (INEXPRESSIBLE.includes(key)) return `${at}.${key}`;
    // enum and const hold values, not schemas.
    if (key === 'enum' || key === 'const' || key === 'default' || key === 'examples') continue;
    const found = inexpressible(value, `${at}.${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The request's tools as functionDeclarations and its tool_choice as functionCallingConfig. */
export function toGeminiTools(request: CompletionRequest): GeminiToolFields {
  const { tools, toolChoice } = request;
  if (tools === undefined || tools.length === 0) return {};
  const declarations = tools.map((tool, i) => {
    const problem = inexpressible(tool.parameters, `tools[${i}].function.parameters`);
    if (problem) throw new ProviderError('gemini', 'rejected', `Gemini cannot express ${problem}`);
    return {
      name: tool.name,
      ...(tool.description !== undefined && { description: tool.description }),
      ...(tool.parameters !== undefined && { parametersJsonSchema: tool.parameters }),
    };
  });
  const mode = toolChoice === undefined || toolChoice === 'auto' ? 'AUTO' : toolChoice === 'none' ? 'NONE' : 'ANY';
  const allowed = typeof toolChoice === 'object' ? [toolChoice.name] : undefined;
  return {
    tools: [{ functionDeclarations: declarations }],
    toolConfig: { functionCallingConfig: { mode, ...(allowed && { allowedFunctionNames: allowed }) } },
  };
}

/** response_format as generationConfig fields: JSON, and the schema it must conform to. */
export function toGeminiOutput(request: CompletionRequest): GeminiOutputFields {
  const format = request.responseFormat;
  if (format === undefined) return {};
  if (format.type === 'json_object') return { responseMimeType: 'application/json' };
  const problem = inexpressible(format.schema, 'response_format.json_schema.schema');
  if (problem) throw new ProviderError('gemini', 'rejected', `Gemini cannot express ${problem}`);
  return { responseMimeType: 'application/json', responseJsonSchema: format.schema };
}

/**
 * What Google's thought-signature guide says to send for calls Gemini did not make (a trace from
 * another model, or calls the client made itself): its validator then lets them through.
 */
export const UNSIGNED_CALL = 'skip_thought_signature_validator';

/**
 * An assistant turn's calls as functionCall parts, each with its signature back on it. A model
 * that signs its calls (`signs`: Gemini 3) refuses a turn whose first call is unsigned, as one
 * another provider made after a fallback is: that one gets Google's stand-in.
 */
export function functionCallParts(calls: readonly ToolCall[], signs = false): FunctionCallPart[] {
  return calls.map((call, i) => {
    const { id, signature } = splitToolCallId(call.id);
    const thoughtSignature = signature ?? (signs && i === 0 ? UNSIGNED_CALL : undefined);
    return { functionCall: { name: call.name, args: argumentsObject(call.arguments), id }, ...(thoughtSignature !== undefined && { thoughtSignature }) };
  });
}

/** A tool turn as a functionResponse part, named after the call it answers (the route checked there is one). */
export function functionResponsePart(message: ChatMessage, names: ReadonlyMap<string, string>): FunctionResponsePart {
  const { id } = splitToolCallId(message.toolCallId ?? '');
  const name = names.get(id);
  if (name === undefined) throw new ProviderError('gemini', 'rejected', 'A tool message answers no function call of the conversation');
  return { functionResponse: { name, response: responseObject(message.content), id } };
}

/** Every call's bare id → its function name, for the tool turns that answer them. */
export function callNames(messages: readonly ChatMessage[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const message of messages) for (const call of message.toolCalls ?? []) names.set(splitToolCallId(call.id).id, call.name);
  return names;
}

/**
 * A function's result as Gemini's `response` object: a JSON object as it is; anything else under
 * "output", the key Gemini reads as the function's output.
 */
function responseObject(content: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(content);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    return { output: value };
  } catch {
    return { output: content };
  }
}

function argumentsObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text === '' ? '{}' : text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A functionCall part Gemini sent, read as our call; undefined for any other part. */
export function readFunctionCall(part: unknown): ToolCall | undefined {
  if (typeof part !== 'object' || part === null) return undefined;
  const { functionCall, thoughtSignature } = part as { functionCall?: { name?: unknown; args?: unknown; id?: unknown }; thoughtSignature?: unknown };
  if (typeof functionCall !== 'object' || functionCall === null) return undefined;
  if (typeof functionCall.name !== 'string' || functionCall.name === '') throw new ProviderError('gemini', 'bad_response', 'Gemini sent a function call without a name');
  // Gemini gives calls an id on newer models; otherwise one is made, kept with the call from then on.
  const id = typeof functionCall.id === 'string' && functionCall.id !== '' && !functionCall.id.includes('.') ? functionCall.id : `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  const args = typeof functionCall.args === 'object' && functionCall.args !== null ? functionCall.args : {};
  return { id: toolCallId(id, typeof thoughtSignature === 'string' ? thoughtSignature : undefined), name: functionCall.name, arguments: JSON.stringify(args) };
}
