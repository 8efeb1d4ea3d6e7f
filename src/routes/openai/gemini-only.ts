// A schema Gemini cannot express, on a request that may only go to Gemini: the caller's 400,
// naming the field in the route's own shape. With other providers behind Gemini, the cascade
// moves on to them instead, so nothing is refused here.
import { GatewayError } from '../../errors.ts';
import { inexpressible } from '../../providers/gemini/gemini-tools.ts';
import type { CompletionRequest, Provider } from '../../providers/types.ts';

/** Where a route's body carries tool i's parameters and the response format's schema. */
export interface SchemaPaths {
  tool: (index: number) => string;
  format: string;
}

export function refuseInexpressible(providers: readonly Provider[], completion: CompletionRequest, paths: SchemaPaths): void {
  if (providers.length !== 1 || providers[0]?.name !== 'gemini') return;
  const problem =
    completion.tools?.map((tool, i) => inexpressible(tool.parameters, paths.tool(i))).find((found) => found !== undefined) ??
    (completion.responseFormat?.type === 'json_schema' ? inexpressible(completion.responseFormat.schema, paths.format) : undefined);
  if (problem === undefined) return;
  const param = problem.replace(/\[(\d+)\]/g, '.$1');
  throw new GatewayError('invalid_request', { message: `Gemini cannot express ${param} (JSON Schema's not, if/then/else, patternProperties, dependent*, unevaluated* and contains are not supported).`, param });
}
