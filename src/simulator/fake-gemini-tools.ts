// Function calling and JSON output in the fake Gemini, on Gemini's wire: functionDeclarations
// (parametersJsonSchema or parameters), toolConfig.functionCallingConfig, functionCall parts with a
// thoughtSignature on the first one (Gemini 3, a thinking model, signs its calls and refuses the
// next turn when a call comes back unsigned), functionResponse parts, and responseMimeType
// application/json with responseJsonSchema.
import { randomBytes } from 'node:crypto';
import { afterToolsText, decideCalls, jsonAnswer, type FakeChoice } from './fake-tools.ts';
import { refusesTrailingModelTurn } from './fake-gemini-thinking.ts';

type Json = Record<string, unknown>;

/** What the model does with the tools or the JSON format: call functions, write text, or nothing special. */
export type ToolOutcome = { calls: Array<{ functionCall: Json; thoughtSignature?: string }> } | { text: string } | undefined;

/** The real API's message for an unsigned call on a Gemini 3 model (docs: thought-signatures). */
export const MISSING_SIGNATURE = 'Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly.';

/** The outcome, or the message of the request's 400. */
export function toolOutcome(request: Json | undefined, model: string, fallbackText: string): ToolOutcome | string {
  const contents = (Array.isArray(request?.contents) ? request.contents : []) as Array<{ role?: unknown; parts?: Json[] }>;
  // Gemini 3 checks the signatures of the current turn: the calls after the last user text.
  const lastText = contents.findLastIndex((c) => c.role !== 'model' && (c.parts ?? []).some((p) => typeof p.text === 'string'));
  if (refusesTrailingModelTurn(model)) {
    for (const content of contents.slice(lastText + 1)) {
      const firstCall = (content.parts ?? []).find((p) => p.functionCall !== undefined);
      if (content.role === 'model' && firstCall !== undefined && typeof firstCall.thoughtSignature !== 'string') return MISSING_SIGNATURE;
    }
  }
  const last = contents.at(-1);
  const responses = (last?.parts ?? []).filter((p) => p.functionResponse !== undefined);
  if (responses.length > 0) {
    const previous = contents.at(-2);
    const asked = (previous?.parts ?? []).filter((p) => p.functionCall !== undefined).length;
    if (previous?.role !== 'model' || asked !== responses.length) {
      return 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.';
    }
    return { text: afterToolsText(responses.map((p) => JSON.stringify((p.functionResponse as Json).response))) };
  }
  const declarations = ((Array.isArray(request?.tools) ? request.tools : []) as Json[]).flatMap((tool) =>
    Array.isArray(tool.functionDeclarations) ? (tool.functionDeclarations as Json[]) : [],
  );
  const lastUserText = last?.role === 'user' ? (last.parts ?? []).map((p) => (typeof p.text === 'string' ? p.text : '')).join('') : undefined;
  const config = ((request?.toolConfig as Json | undefined)?.functionCallingConfig ?? {}) as { mode?: unknown; allowedFunctionNames?: unknown };
  const allowed = Array.isArray(config.allowedFunctionNames) ? (config.allowedFunctionNames as string[]) : [];
  const choice: FakeChoice = config.mode === 'NONE' ? 'none' : config.mode === 'ANY' ? (allowed.length === 1 ? { name: allowed[0] as string } : 'required') : 'auto';
  const tools = declarations.map((d) => ({ name: String(d.name), schema: d.parametersJsonSchema ?? d.parameters }));
  const calls = decideCalls(tools, choice, true, lastUserText);
  if (calls.length > 0) {
    // A thinking model signs the first call of its turn.
    const signature = refusesTrailingModelTurn(model) ? randomBytes(24).toString('base64') : undefined;
    return { calls: calls.map((call, i) => ({ functionCall: { name: call.name, args: call.args }, ...(i === 0 && signature && { thoughtSignature: signature }) })) };
  }
  const generation = (request?.generationConfig ?? {}) as Json;
  if (generation.responseMimeType === 'application/json') return { text: jsonAnswer(generation.responseJsonSchema ?? generation.responseSchema, fallbackText) };
  return undefined;
}
