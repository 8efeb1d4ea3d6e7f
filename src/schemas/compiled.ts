// Request bodies are parsed on every call. Zod's ahead-of-time compiler turns a schema into one
// generated function: the same output and the same issues (an invalid body is parsed again by
// the regular parser for its error report), without dispatching node by node.
import { z } from 'zod';

/**
 * The schema, compiled. `strict`: a schema the compiler cannot model throws here, when the
 * module loads, rather than quietly falling back to the slower parser.
 */
export function compiled<T extends z.ZodType>(schema: T): T {
  return z.compile(schema, { strict: true });
}
