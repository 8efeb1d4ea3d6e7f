// Gemini's start-up check: does the key work, and do the configured chat and embedding models
// exist? One `GET /v1beta/models?pageSize=1000` lists the models (50 by default, 1000 at most, so
// one page holds them all); a "-latest" alias and a tuned model are not listed by their own names,
// so each of those is asked for with `GET /v1beta/models/{id}` (or `tunedModels/{id}`), all at once.
// Shapes and sources: docs/operations.md ("Start-up check of keys and models").
import { compareModels, getJson, statusOutcome, worst, type Fetched } from '../model-check.ts';
import type { UpstreamPool } from '../transport/upstream-http.ts';
import type { MissingModel, ProviderCheck } from '../types.ts';

export interface GeminiCheckTarget {
  pool: UpstreamPool;
  /** "/v1beta/" under the base URL's path. */
  root: string;
  headers: Record<string, string>;
  chatModel: string;
  embeddingModel: string;
}

/** Asked for one by one: aliases (repointed by Google at each release) and tuned models. */
const askedAlone = (id: string): boolean => id.endsWith('-latest') || id.includes('/');

export async function checkGemini(target: GeminiCheckTarget, signal: AbortSignal): Promise<ProviderCheck> {
  const { pool, root, headers } = target;
  const wanted: Array<Omit<MissingModel, 'nearest'>> = [
    { model: target.chatModel, use: 'chat' },
    { model: target.embeddingModel, use: 'embeddings' },
  ];
  const alone = wanted.filter(({ model }) => askedAlone(model));
  const resource = (id: string) => (id.includes('/') ? id : `models/${id}`);
  const [list, ...single] = await Promise.all([
    getJson(pool, `${root}models?pageSize=1000`, headers, signal),
    ...alone.map(({ model }) => getJson(pool, `${root}${resource(model)}`, headers, signal)),
  ]);

  // A single model's 404 says that model is missing (read below); any other failure says more.
  const hard = [failure(list), ...single.map((answer) => ('status' in answer && answer.status === 404 ? undefined : failure(answer)))];
  const failures = hard.filter((f): f is ProviderCheck => f !== undefined);
  if (failures.length > 0) return worst(failures);

  const listed = 'status' in list ? namesIn(list.body) : undefined;
  if (listed === undefined) return { outcome: 'unknown', detail: 'model list not readable' };
  // Found alone (200) counts as listed; a 404 leaves it missing.
  const foundAlone = alone.filter((_, i) => {
    const answer = single[i];
    return answer !== undefined && 'status' in answer && answer.status === 200;
  });
  return compareModels(wanted, [...listed, ...foundAlone.map(({ model }) => model)]);
}

/** What a fetch that did not give a 200 means; undefined for a 200. */
function failure(fetched: Fetched): ProviderCheck | undefined {
  if ('failed' in fetched) return fetched.failed;
  if (fetched.status === 200) return undefined;
  // Gemini refuses a wrong key with a 400 whose ErrorInfo reason is API_KEY_INVALID; a Standard
  // key no longer accepted gets a 401, a blocked one a 403.
  if (fetched.status === 400 && refusesKey(fetched.body)) return { outcome: 'key_rejected', detail: 'HTTP 400 (API_KEY_INVALID)' };
  return statusOutcome(fetched.status);
}

function refusesKey(body: unknown): boolean {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  return Array.isArray(details) && details.some((d) => typeof d === 'object' && d !== null && (d as { reason?: unknown }).reason === 'API_KEY_INVALID');
}

/** The ids a models page lists: "models/gemini-x" as "gemini-x", and each baseModelId. */
function namesIn(body: unknown): string[] | undefined {
  const models = (body as { models?: unknown } | undefined)?.models;
  if (!Array.isArray(models)) return undefined;
  const names: string[] = [];
  for (const entry of models as Array<{ name?: unknown; baseModelId?: unknown }>) {
    if (typeof entry?.name === 'string') names.push(entry.name.replace(/^models\//, ''));
    if (typeof entry?.baseModelId === 'string') names.push(entry.baseModelId);
  }
  return names;
}
