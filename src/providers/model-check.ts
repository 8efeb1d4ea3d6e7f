// What every provider's start-up check shares: one bounded GET for a model list or key page, the
// outcome a failed one means, and which listed names are nearest to a model that is not listed.
// Each wire's own check (gemini/gemini-check.ts, openai-compatible/model-list-check.ts) says
// where to ask and how to read the answer.
import type { OutgoingHttpHeaders } from 'node:http';
import { readAll, utf8Text } from './transport/response-body.ts';
import type { UpstreamPool } from './transport/upstream-http.ts';
import type { CheckOutcome, MissingModel, ProviderCheck } from './types.ts';

/** OpenRouter's whole model list is a few MB; nothing larger is a model list. */
export const MAX_LIST_BYTES = 8 * 1024 * 1024;
/** How many listed names a missing model's report suggests. */
const NEAREST_COUNT = 3;

export type Fetched = { status: number; body: unknown } | { failed: ProviderCheck };

/**
 * GETs a JSON page. A 2xx answer's body is parsed (undefined when it is not JSON or too large);
 * another status gives its status, and a 400 its parsed body too (Gemini refuses a key with a
 * 400 only its details tell apart); the body is never logged or shown. A connection that fails
 * or a signal that fires is `unreachable`. Never rejects.
 */
export async function getJson(pool: UpstreamPool, path: string, headers: OutgoingHttpHeaders, signal: AbortSignal): Promise<Fetched> {
  try {
    const answer = await pool.get(path, headers, signal);
    if (answer.status < 200 || answer.status >= 300) {
      // Small error bodies are read so the connection goes back to the pool; larger ones are cut.
      const bytes = await readAll(answer.body, 16 * 1024).catch(() => undefined);
      return { status: answer.status, body: answer.status === 400 && bytes !== undefined ? parseJson(utf8Text(bytes)) : undefined };
    }
    const bytes = await readAll(answer.body, MAX_LIST_BYTES);
    return { status: answer.status, body: bytes === undefined ? undefined : parseJson(utf8Text(bytes)) };
  } catch {
    return { failed: { outcome: 'unreachable', detail: signal.aborted ? 'no answer in time' : 'connection failed' } };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A status that is not 2xx: 401 and 403 refuse the key; anything else cannot tell. */
export function statusOutcome(status: number): ProviderCheck {
  if (status === 401 || status === 403) return { outcome: 'key_rejected', detail: `HTTP ${status}` };
  return { outcome: 'unknown', detail: `HTTP ${status}` };
}

/** The worst of several findings about one provider: a refused key says the most, then a missing model. */
const SEVERITY: readonly CheckOutcome[] = ['key_rejected', 'model_missing', 'unreachable', 'unknown', 'ok'];

export function worst(checks: ProviderCheck[]): ProviderCheck {
  const sorted = [...checks].sort((a, b) => SEVERITY.indexOf(a.outcome) - SEVERITY.indexOf(b.outcome));
  return sorted[0] ?? { outcome: 'unknown' };
}

/** The result of comparing configured models with the listed ones. */
export function compareModels(wanted: Array<Omit<MissingModel, 'nearest'>>, listed: readonly string[], replacements: Readonly<Record<string, string>> = {}): ProviderCheck {
  const names = new Set(listed);
  const missing = wanted
    .filter(({ model }) => !names.has(model))
    .map(({ model, use }) => ({ model, use, nearest: nearestNames(model, listed, replacements[model]) }));
  return missing.length === 0 ? { outcome: 'ok' } : { outcome: 'model_missing', missing };
}

/**
 * The listed names nearest to `wanted`: a provider's named replacement first (when listed), then
 * the names sharing the longest prefix with it (without the "owner/" part), then the smallest
 * edit distance. Pure: the same list gives the same answer.
 */
export function nearestNames(wanted: string, listed: readonly string[], replacement?: string): string[] {
  const target = bare(wanted);
  const ranked = [...new Set(listed)]
    .filter((name) => name !== wanted && name !== replacement)
    .map((name) => ({ name, prefix: sharedPrefix(target, bare(name)), distance: editDistance(target, bare(name)) }))
    .sort((a, b) => Number(b.prefix >= 4) - Number(a.prefix >= 4) || b.prefix - a.prefix || a.distance - b.distance || a.name.localeCompare(b.name))
    .map((entry) => entry.name);
  const first = replacement !== undefined && listed.includes(replacement) ? [replacement] : [];
  return [...first, ...ranked].slice(0, NEAREST_COUNT);
}

/** "openai/gpt-oss-20b" compares as "gpt-oss-20b"; "models/gemini-x" as "gemini-x". */
const bare = (name: string): string => name.slice(name.lastIndexOf('/') + 1).toLowerCase();

function sharedPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
  return i;
}

/** Levenshtein distance, two rows at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
