// How the fake providers decide to call functions and write JSON, the same for every wire form:
// with tools given and a user message last, the model calls a function (the one tool_choice names,
// or each tool the user's message names when parallel calls are allowed, or the first one), with
// arguments built from its schema's required properties; after a tool's result it answers in text
// that quotes the result. A JSON response format gets a JSON object with the schema's properties.

export interface FakeTool {
  name: string;
  schema: unknown;
}

export interface FakeCall {
  name: string;
  args: Record<string, unknown>;
}

export type FakeChoice = 'auto' | 'none' | 'required' | { name: string };

/** The calls the fake model makes, or none (then it answers in text). */
export function decideCalls(tools: readonly FakeTool[], choice: FakeChoice, parallel: boolean, lastUserText: string | undefined): FakeCall[] {
  if (tools.length === 0 || choice === 'none' || lastUserText === undefined) return [];
  if (typeof choice === 'object') {
    const tool = tools.find((t) => t.name === choice.name);
    return tool ? [callOf(tool)] : [];
  }
  const named = tools.filter((t) => lastUserText.includes(t.name));
  if (named.length > 1 && parallel) return named.map(callOf);
  const first = named[0] ?? tools[0];
  return first ? [callOf(first)] : [];
}

function callOf(tool: FakeTool): FakeCall {
  const value = valueFor(tool.schema, tool.name, 0);
  return { name: tool.name, args: typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {} };
}

/** The text the fake model answers with after tool results. */
export const afterToolsText = (results: readonly string[]): string => `The tools answered: ${results.join('; ')}`;

/** A JSON answer conforming to `schema` (its required properties, or all of them when none are required). */
export function jsonAnswer(schema: unknown, topic: string): string {
  const value = schema === undefined ? { answer: topic } : valueFor(schema, 'answer', 0);
  return JSON.stringify(value);
}

/** `value`, moved inside the schema's minimum and maximum. */
function within(node: Record<string, unknown>, value: number): number {
  const low = typeof node.minimum === 'number' ? Math.max(value, node.minimum) : value;
  return typeof node.maximum === 'number' ? Math.min(low, node.maximum) : low;
}

/** A value of the schema's type; strings say which property they fill. */
function valueFor(schema: unknown, name: string, depth: number): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 8) return name;
  const node = schema as Record<string, unknown>;
  if (Array.isArray(node.enum) && node.enum.length > 0) return node.enum[0];
  if (node.const !== undefined) return node.const;
  const options = (node.anyOf ?? node.oneOf) as unknown[] | undefined;
  if (Array.isArray(options) && options.length > 0) return valueFor(options[0], name, depth + 1);
  const type = Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : node.type;
  switch (type) {
    case 'integer':
      return Math.ceil(within(node, 1));
    case 'number':
      return within(node, 1.5);
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array':
      return typeof node.minItems === 'number' && node.minItems > 0 ? Array.from({ length: node.minItems }, () => valueFor(node.items, name, depth + 1)) : [valueFor(node.items, name, depth + 1)];
    case 'string':
      return `${name}-value`;
    default: {
      const properties = typeof node.properties === 'object' && node.properties !== null ? (node.properties as Record<string, unknown>) : {};
      const required = Array.isArray(node.required) ? (node.required as string[]) : Object.keys(properties);
      return Object.fromEntries(required.map((key) => [key, valueFor(properties[key], key, depth + 1)]));
    }
  }
}
